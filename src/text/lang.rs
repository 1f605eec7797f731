//! Which language an item is written in, as an ISO 639-1 code, from its own text.
//!
//! Pure and bounded: only the first 200 bytes of the title and the first [`SAMPLE_BYTES`] of
//! the body are looked at, so a 10 MB item costs what a headline costs. One pass over those
//! bytes counts letters by script, eight ASCII bytes at a time, and classifies the other
//! characters by tables built at compile time. A text whose main script has under three
//! quarters of the letters is in several languages, so none is claimed. A script that only one
//! language of the news writes in decides at once (Hangul → `ko`, kana → `ja`, Han without
//! kana → `zh`, whatever the Chinese script, Greek, Thai, Georgian, Armenian). Cyrillic with
//! letters only Ukrainian or only Russian writes is decided by those letters. Latin text is
//! read word by word against short lists of function words of ten languages of the news
//! (English, German, French, Spanish, Portuguese, Italian, Dutch, Polish, Turkish,
//! Indonesian): words that no other language writes as words, so that a text dense with one
//! list's words, with next to none of the other lists' and no letter foreign to that
//! language, is in it. A Latin or Cyrillic text that neither its words nor its letters
//! settle, beside a passage in another script or with two languages' words (or Russian's
//! and Ukrainian's letters) side by side, is in several languages too: nothing is claimed.
//! Everything else (a Latin text too short or too mixed to say, other Latin languages, the
//! rest of Cyrillic, Arabic, Devanagari, Hebrew, ...) goes to
//! [whatlang]'s trigram models, which cost 60–100 µs an item against well under 1 µs for the
//! paths above: hence the paths. On real news the paths were never wrong (`tests/langid.rs`
//! checks it); every wrong answer was the models'.
//!
//! Honest about uncertainty: too few letters, mixed scripts, a script no model covers, or a
//! whatlang guess with low confidence on a short text give `None` ("und" where it is stored),
//! never a guess dressed as a finding. README.md ("Language identification") has the accuracy
//! on real news and the costs.

use std::fmt;

/// Bytes of the body (summary, else content) looked at after the title: enough for the
/// shortcuts to find their letters and words in most items, little enough that the census
/// stays a small part of matching.
pub const SAMPLE_BYTES: usize = 320;

/// Bytes of title and body given to whatlang's models, the title first: their cost grows
/// with their text, and on the development set their answers did not change past this.
const MODEL_BYTES: usize = 240;

/// Bytes of the title looked at: a title is a line, but feeds put whole articles there.
pub const TITLE_BYTES: usize = 200;

/// Fewer letters than this (a CJK character counts as two) and nothing is claimed: "BBC",
/// "2026-12-06", "!!!" name no language.
const MIN_LETTERS: usize = 8;

/// Under this many letters a whatlang guess must be confident: on a headline alone its
/// trigram models guess wrong about one time in twenty, and say so through a low confidence.
const SHORT_TEXT_LETTERS: usize = 60;

/// The confidence whatlang must give on a short text.
const SHORT_TEXT_CONFIDENCE: f64 = 0.3;

/// An ISO 639-1 language code: two lowercase ASCII letters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Lang([u8; 2]);

impl Lang {
    /// A code as stored or written by hand; `None` unless two ASCII letters.
    pub fn parse(code: &str) -> Option<Lang> {
        match code.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Some(Lang([a.to_ascii_lowercase(), b.to_ascii_lowercase()]))
            }
            _ => None,
        }
    }

    pub fn as_str(&self) -> &str {
        // Always two ASCII letters (the only constructors check or use literals).
        std::str::from_utf8(&self.0).unwrap_or("und")
    }

    const fn of(code: &[u8; 2]) -> Lang {
        Lang(*code)
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Lang({})", self.as_str())
    }
}

/// What is stored and shown when the language could not be told: ISO 639-2's "undetermined".
pub const UNDETERMINED: &str = "und";

/// The stored form of a detection: the code, or [`UNDETERMINED`].
pub fn stored(lang: &Option<Lang>) -> &str {
    match lang {
        Some(lang) => lang.as_str(),
        None => UNDETERMINED,
    }
}

/// The language of an item from its title and body (summary, else content), or `None` when
/// the text does not say.
pub fn detect(title: &str, body: &str) -> Option<Lang> {
    detect_how(title, body).0
}

/// What decided a detection: for `watchfloor bench langid`, which reports how often the
/// models were needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Route {
    /// Too few letters to say anything.
    TooShort,
    /// No script has three quarters of the letters: several languages, none of them the
    /// item's.
    Mixed,
    /// Latin or Cyrillic text that neither its words nor its letters settle, beside a
    /// passage in another script ([`SECOND_SCRIPT_LETTERS`]): several languages too.
    SecondScript,
    /// Latin text with the function words of two languages, or Cyrillic text with the letters
    /// of both Russian and Ukrainian, each in numbers no quoted name brings
    /// ([`SEVERAL_LISTS_WORDS`], [`SEVERAL_ALPHABETS_LETTERS`]): several languages in one
    /// script, where the models would name one of them or a third.
    SeveralLanguages,
    /// The script alone (Hangul, kana, Han, Greek, ...).
    Script,
    /// Letters only one language writes: Russian or Ukrainian among the Cyrillic
    /// languages, Arabic among those written in Arabic script.
    Letters(Lang),
    /// Function words of one language (English, German, French, ...) and no letter foreign
    /// to it.
    Words(Lang),
    /// whatlang's trigram models.
    Models,
}

impl Route {
    pub fn name(self) -> &'static str {
        match self {
            Route::TooShort => "too short",
            Route::Mixed => "mixed scripts",
            Route::SecondScript => "second script",
            Route::SeveralLanguages => "several languages",
            Route::Script => "script",
            Route::Letters(lang) => match lang.as_str() {
                "ru" => "Russian letters",
                "uk" => "Ukrainian letters",
                "ar" => "Arabic letters",
                _ => "letters",
            },
            Route::Words(lang) => word_list(lang).map_or("function words", |list| list.route),
            Route::Models => "whatlang models",
        }
    }
}

/// [`detect`], and what decided it.
pub fn detect_how(title: &str, body: &str) -> (Option<Lang>, Route) {
    let title = prefix(title, TITLE_BYTES);
    let body = prefix(body, SAMPLE_BYTES);
    let mut census = Census::default();
    if census.count(title, body.len()) || census.count(body, 0) {
        return (None, Route::Mixed);
    }
    decide(census, title, body, false)
}

/// [`detect`] from letters already counted by the normaliser as it folded the same text
/// ([`ScriptTally`], filled by [`crate::text::Analyzed::push_field_counting`] with the title's
/// first [`TITLE_BYTES`] and the body's first [`SAMPLE_BYTES`]): the matcher walks every
/// character of an item anyway, so the census costs it a table lookup a character instead of a
/// second pass. The answer is the one [`detect`] gives (a test checks it on arbitrary text).
pub fn detect_tallied(tally: &ScriptTally, title: &str, body: &str) -> Option<Lang> {
    detect_tallied_how(tally, title, body).0
}

/// [`detect_tallied`], and what decided it.
pub fn detect_tallied_how(tally: &ScriptTally, title: &str, body: &str) -> (Option<Lang>, Route) {
    decide(
        tally.census(),
        prefix(title, TITLE_BYTES),
        prefix(body, SAMPLE_BYTES),
        true,
    )
}

/// The decision from the census of `title` and `body` (already cut to what is looked at).
/// `cyrillic_counted`: the census already tells the Cyrillic letters apart (a class tally
/// does; [`Census::count`] leaves that to [`Census::count_cyrillic_letters`]).
fn decide(
    mut census: Census,
    title: &str,
    body: &str,
    cyrillic_counted: bool,
) -> (Option<Lang>, Route) {
    if census.letters() < MIN_LETTERS {
        return (None, Route::TooShort);
    }
    let Some((script, main)) = census.dominant() else {
        return (None, Route::TooShort);
    };
    if main * 4 < census.letters() * 3 {
        return (None, Route::Mixed);
    }
    let by_script = |code: &[u8; 2]| (Some(Lang::of(code)), Route::Script);
    match script {
        Script::Hangul => by_script(b"ko"),
        Script::Cjk => {
            // Kana is Japanese only; a Chinese text quoting one "の" still reads as Chinese.
            let japanese = census.kana > 0 && census.kana * 20 >= census.han + census.kana;
            by_script(if japanese { b"ja" } else { b"zh" })
        }
        Script::Greek => by_script(b"el"),
        Script::Thai => by_script(b"th"),
        Script::Georgian => by_script(b"ka"),
        Script::Armenian => by_script(b"hy"),
        Script::Cyrillic => {
            if !cyrillic_counted {
                census.count_cyrillic_letters(title);
                census.count_cyrillic_letters(body);
            }
            match census.cyrillic_by_letters() {
                // Taken for Russian by its length alone: a Bulgarian sample may end before its
                // first ъ, but not before its own function words.
                Some(lang)
                    if lang.as_str() == "ru"
                        && census.russian_by_length_alone()
                        && (has_bulgarian_word(title) || has_bulgarian_word(body)) =>
                {
                    (models(title, body, &census), Route::Models)
                }
                Some(lang) => (Some(lang), Route::Letters(lang)),
                None if census.has_second_script(main) => (None, Route::SecondScript),
                None if census.has_both_alphabets() => (None, Route::SeveralLanguages),
                None => (models(title, body, &census), Route::Models),
            }
        }
        Script::Latin => {
            let mut words = WordCounts::default();
            words.scan(title);
            words.scan(body);
            match words.language(census.latin) {
                Some(lang) => (Some(lang), Route::Words(lang)),
                None if census.has_second_script(main) => (None, Route::SecondScript),
                None if words.has_several_lists() => (None, Route::SeveralLanguages),
                None => (models(title, body, &census), Route::Models),
            }
        }
        // Nothing but the letters of the Arabic alphabet and its vowel signs: no other
        // language writing in Arabic script does without letters beyond them.
        Script::Other
            if census.arabic >= MIN_LETTERS
                && census.arabic + census.arabic_marks == census.other =>
        {
            (Some(Lang::of(b"ar")), Route::Letters(Lang::of(b"ar")))
        }
        Script::Other => (models(title, body, &census), Route::Models),
    }
}

/// Letters by class ([`class_of`]), counted by the normaliser while it folds an item's title
/// and body: what [`Census::count`] and [`Census::count_cyrillic_letters`] would count on the
/// same bytes, without a second walk over them. Cleared for each item.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScriptTally {
    /// Per class; the slot of [`NOT_A_LETTER`] gathers what is no letter.
    classes: [u32; CLASSES],
    ascii_letters: u32,
    ascii_capitals: u32,
}

impl ScriptTally {
    pub fn clear(&mut self) {
        *self = ScriptTally::default();
    }

    /// Counts `letters` ASCII letters, `capitals` of them capitals: the normaliser finds them
    /// with the bit masks it classifies its ASCII blocks into anyway.
    #[inline(always)]
    pub(crate) fn ascii_counts(&mut self, letters: u32, capitals: u32) {
        self.ascii_letters += letters;
        self.ascii_capitals += capitals;
    }

    /// Counts `count` Hangul syllables (U+AC00 to U+D7A3).
    #[inline]
    pub(crate) fn hangul_syllables(&mut self, count: usize) {
        self.classes[usize::from(HANGUL)] += count as u32;
    }

    /// Counts one character outside ASCII. Inlined into the normaliser's loops, where a
    /// call per Cyrillic letter cost more than the count itself.
    #[inline(always)]
    pub(crate) fn char(&mut self, code: u32) {
        self.classes[usize::from(letter_class(code))] += 1;
    }

    /// Counts one character of census class `class`, as [`census_class`] gives it: for the
    /// normaliser's fold table, which looks the class up with the fold.
    #[inline(always)]
    pub(crate) fn class(&mut self, class: u8) {
        self.classes[usize::from(class)] += 1;
    }

    /// The census these counts make.
    fn census(&self) -> Census {
        let of = |class: u8| self.classes[usize::from(class)] as usize;
        Census {
            latin: self.ascii_letters as usize + of(LATIN_EXTENDED),
            latin_extended: of(LATIN_EXTENDED),
            latin_capitals: self.ascii_capitals as usize,
            cyrillic: (CYRILLIC..=CYRILLIC_OTHER).map(of).sum(),
            greek: of(GREEK),
            hangul: of(HANGUL),
            han: of(HAN),
            kana: of(KANA),
            thai: of(THAI),
            georgian: of(GEORGIAN),
            armenian: of(ARMENIAN),
            other: of(OTHER) + of(ARABIC) + of(ARABIC_MARK),
            arabic: of(ARABIC),
            arabic_marks: of(ARABIC_MARK),
            ukrainian_only: of(UKRAINIAN_ONLY),
            cyrillic_i: of(CYRILLIC_I),
            russian_marks: of(RUSSIAN_MARK),
            yo: of(YO),
            hard_sign: of(HARD_SIGN),
            cyrillic_other: of(CYRILLIC_OTHER),
        }
    }
}

/// The class [`ScriptTally::char`] counts a character outside ASCII in, for tables that
/// keep it beside other facts about the character.
pub(crate) fn census_class(code: u32) -> u8 {
    letter_class(code)
}

/// The class of a character outside ASCII, letters of unnamed blocks resolved.
#[inline(always)]
fn letter_class(code: u32) -> u8 {
    let class = match code {
        0..0x800 => LOW[code as usize],
        0x800..0x10000 => match PAGES[(code >> 8) as usize] {
            MIXED_PAGE => class_of(code),
            class => class,
        },
        _ => class_of(code),
    };
    match class {
        IF_ALPHABETIC if is_alphabetic(code) => OTHER,
        IF_ALPHABETIC => NOT_A_LETTER,
        class => class,
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// whatlang on the sample; its guess only when the text is long enough or it is sure.
fn models(title: &str, body: &str, census: &Census) -> Option<Lang> {
    let body = prefix(body, MODEL_BYTES.saturating_sub(title.len()));
    let mut sample = String::with_capacity(title.len() + body.len() + 1);
    sample.push_str(title);
    sample.push('\n');
    sample.push_str(body);
    let info = whatlang::detect(&sample)?;
    if census.letters() < SHORT_TEXT_LETTERS
        && !info.is_reliable()
        && info.confidence() < SHORT_TEXT_CONFIDENCE
    {
        return None;
    }
    iso_639_1(info.lang())
}

/// whatlang names languages by ISO 639-3; Mandarin is `zh`, whatever the script.
fn iso_639_1(lang: whatlang::Lang) -> Option<Lang> {
    use whatlang::Lang as W;
    let code: &[u8; 2] = match lang {
        W::Afr => b"af",
        W::Aka => b"ak",
        W::Amh => b"am",
        W::Ara => b"ar",
        W::Aze => b"az",
        W::Bel => b"be",
        W::Ben => b"bn",
        W::Bul => b"bg",
        W::Cat => b"ca",
        W::Ces => b"cs",
        W::Cmn => b"zh",
        W::Cym => b"cy",
        W::Dan => b"da",
        W::Deu => b"de",
        W::Ell => b"el",
        W::Eng => b"en",
        W::Epo => b"eo",
        W::Est => b"et",
        W::Fin => b"fi",
        W::Fra => b"fr",
        W::Guj => b"gu",
        W::Heb => b"he",
        W::Hin => b"hi",
        W::Hrv => b"hr",
        W::Hun => b"hu",
        W::Hye => b"hy",
        W::Ind => b"id",
        W::Ita => b"it",
        W::Jav => b"jv",
        W::Jpn => b"ja",
        W::Kan => b"kn",
        W::Kat => b"ka",
        W::Khm => b"km",
        W::Kor => b"ko",
        W::Lat => b"la",
        W::Lav => b"lv",
        W::Lit => b"lt",
        W::Mal => b"ml",
        W::Mar => b"mr",
        W::Mkd => b"mk",
        W::Mya => b"my",
        W::Nep => b"ne",
        W::Nld => b"nl",
        W::Nob => b"nb",
        W::Ori => b"or",
        W::Pan => b"pa",
        W::Pes => b"fa",
        W::Pol => b"pl",
        W::Por => b"pt",
        W::Ron => b"ro",
        W::Rus => b"ru",
        W::Sin => b"si",
        W::Slk => b"sk",
        W::Slv => b"sl",
        W::Sna => b"sn",
        W::Spa => b"es",
        W::Srp => b"sr",
        W::Swe => b"sv",
        W::Tam => b"ta",
        W::Tel => b"te",
        W::Tgl => b"tl",
        W::Tha => b"th",
        W::Tuk => b"tk",
        W::Tur => b"tr",
        W::Ukr => b"uk",
        W::Urd => b"ur",
        W::Uzb => b"uz",
        W::Vie => b"vi",
        W::Yid => b"yi",
        W::Zul => b"zu",
        // A language added to whatlang after this table: not a code we can vouch for.
        #[allow(unreachable_patterns)]
        _ => return None,
    };
    Some(Lang::of(code))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Script {
    Latin,
    Cyrillic,
    Greek,
    Hangul,
    /// Han and kana together: Japanese writes both.
    Cjk,
    Thai,
    Georgian,
    Armenian,
    /// Arabic, Hebrew, Devanagari and other scripts whatlang's models tell apart.
    Other,
}

// What a character outside ASCII counts as in the census: an index into `Census::count`'s
// tally. ASCII letters are counted apart, eight bytes at a time.
const NOT_A_LETTER: u8 = 0;
/// Latin letters outside ASCII (é, ß, ł, ğ).
const LATIN_EXTENDED: u8 = 1;
/// The letters of the Russian alphabet that tell nothing about the language.
const CYRILLIC: u8 = 2;
/// є ї ґ.
const UKRAINIAN_ONLY: u8 = 3;
/// і.
const CYRILLIC_I: u8 = 4;
/// ы э.
const RUSSIAN_MARK: u8 = 5;
/// ё.
const YO: u8 = 6;
/// ъ.
const HARD_SIGN: u8 = 7;
/// Any other Cyrillic letter (ў, ђ, ј, ә, ...).
const CYRILLIC_OTHER: u8 = 8;
const GREEK: u8 = 9;
const HANGUL: u8 = 10;
const HAN: u8 = 11;
const KANA: u8 = 12;
const THAI: u8 = 13;
const GEORGIAN: u8 = 14;
const ARMENIAN: u8 = 15;
/// A letter of another script.
const OTHER: u8 = 16;
/// The 28 letters of the Arabic alphabet (with hamza forms, alef maksura, teh marbuta and
/// tatweel), U+0621 to U+064A: all that Arabic writes, while Persian, Urdu, Pashto, Kurdish
/// and Uyghur each write letters beyond them (ی ک گ پ چ ے ە ې). Letters of another script
/// too, as before.
const ARABIC: u8 = 17;
/// The Arabic vowel signs (harakat) and dagger alef, U+064B to U+065F but U+0658, and U+0670:
/// Unicode calls them alphabetic, so they count as letters of another script, as before.
const ARABIC_MARK: u8 = 18;
const CLASSES: usize = 19;
/// Not a class: a letter of another script if `char::is_alphabetic` says so, which only a
/// run-time call can tell (it is not `const`).
const IF_ALPHABETIC: u8 = 19;
/// Not a class: in [`PAGES`], a block whose characters are not all of one class.
const MIXED_PAGE: u8 = 20;

/// The class of a character outside ASCII, by block. This is the definition; [`LOW`] and
/// [`PAGES`] are built from it at compile time, and a test checks every character against it.
/// Blocks are told apart by ranges, not `char::is_alphabetic`, which searches Unicode's tables
/// for every character: only characters of the blocks not named here ask it.
const fn class_of(code: u32) -> u8 {
    match code {
        // Latin-1 punctuation and symbols, general punctuation, symbols and arrows, CJK
        // punctuation, full-width forms, private use, emoji: no language's letters.
        0x0080..=0x00BF
        | 0x00D7
        | 0x00F7
        | 0x2000..=0x2BFF
        | 0x3000..=0x303F
        | 0xE000..=0xF8FF
        | 0xFE00..=0xFE6F
        | 0xFF00..=0xFF65
        | 0xFFF0..=0xFFFF
        | 0x1F000..=0x1FAFF => NOT_A_LETTER,
        0x00C0..=0x024F | 0x1E00..=0x1EFF => LATIN_EXTENDED,
        // Signs and combining marks of the Cyrillic block.
        0x0482..=0x0489 => NOT_A_LETTER,
        0x0400..=0x052F => match code {
            // Є є Ї ї Ґ ґ
            0x0404 | 0x0454 | 0x0407 | 0x0457 | 0x0490 | 0x0491 => UKRAINIAN_ONLY,
            // І і
            0x0406 | 0x0456 => CYRILLIC_I,
            // Ы ы Э э
            0x042B | 0x044B | 0x042D | 0x044D => RUSSIAN_MARK,
            // Ё ё
            0x0401 | 0x0451 => YO,
            // Ъ ъ
            0x042A | 0x044A => HARD_SIGN,
            // А–Я, а–я
            0x0410..=0x044F => CYRILLIC,
            _ => CYRILLIC_OTHER,
        },
        0x0370..=0x03FF | 0x1F00..=0x1FFF => GREEK,
        0xAC00..=0xD7AF | 0x1100..=0x11FF | 0x3130..=0x318F => HANGUL,
        // The prolonged sound mark and middle dot sit in the kana block but are punctuation
        // to Chinese too.
        0x30FB | 0x30FC => NOT_A_LETTER,
        0x3040..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9F => KANA,
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0xF900..=0xFAFF | 0x20000..=0x3FFFF => HAN,
        0x0E00..=0x0E7F => THAI,
        0x10A0..=0x10FF | 0x1C90..=0x1CBF => GEORGIAN,
        0x0530..=0x058F => ARMENIAN,
        0x0621..=0x064A => ARABIC,
        0x064B..=0x0657 | 0x0659..=0x065F | 0x0670 => ARABIC_MARK,
        _ => IF_ALPHABETIC,
    }
}

/// The class of every code point below U+0800: the two-byte sequences of UTF-8 (Latin-1,
/// Latin Extended, Greek, Cyrillic, Armenian, Hebrew, Arabic).
const LOW: [u8; 0x800] = {
    let mut table = [NOT_A_LETTER; 0x800];
    let mut code = 0x80;
    while code < 0x800 {
        table[code] = class_of(code as u32);
        code += 1;
    }
    table
};

/// The class of each block of 256 code points of the Basic Multilingual Plane (the three-byte
/// sequences of UTF-8), or [`MIXED_PAGE`]: Hangul syllables and Han come out whole.
const PAGES: [u8; 256] = {
    let mut table = [MIXED_PAGE; 256];
    let mut page = 0;
    while page < 256 {
        let first = class_of((page as u32) << 8);
        let mut uniform = true;
        let mut low = 1;
        while low < 256 {
            uniform &= class_of((page as u32) << 8 | low) == first;
            low += 1;
        }
        if uniform {
            table[page] = first;
        }
        page += 1;
    }
    table
};

/// The class of the character whose UTF-8 sequence starts at `bytes[at]` (a lead byte, not
/// ASCII).
#[inline]
fn class_at(bytes: &[u8], at: usize) -> u8 {
    // Continuation bits; a missing byte (not in valid UTF-8) reads as zero.
    let next = |k: usize| u32::from(bytes.get(at + k).copied().unwrap_or(0) & 0x3F);
    let lead = u32::from(bytes[at]);
    let (code, class) = if lead < 0xE0 {
        let code = (lead & 0x1F) << 6 | next(1);
        (code, LOW[code as usize & 0x7FF])
    } else if lead < 0xF0 {
        let code = (lead & 0x0F) << 12 | next(1) << 6 | next(2);
        match PAGES[(code >> 8) as usize & 0xFF] {
            MIXED_PAGE => (code, class_of(code)),
            class => (code, class),
        }
    } else {
        let code = (lead & 0x07) << 18 | next(1) << 12 | next(2) << 6 | next(3);
        (code, class_of(code))
    };
    match class {
        IF_ALPHABETIC if is_alphabetic(code) => OTHER,
        IF_ALPHABETIC => NOT_A_LETTER,
        class => class,
    }
}

/// `char::is_alphabetic` below U+1000 (Arabic, Hebrew, Devanagari, ...), from a bitmap made
/// on first use: the standard library searches its tables for every character, which cost a
/// tenth of the census on text with an Arabic sentence.
static ALPHABETIC_LOW: std::sync::LazyLock<[u64; 64]> = std::sync::LazyLock::new(|| {
    let mut bits = [0u64; 64];
    for c in (0..0x1000).filter_map(char::from_u32) {
        if c.is_alphabetic() {
            bits[c as usize / 64] |= 1 << (c as usize % 64);
        }
    }
    bits
});

fn is_alphabetic(code: u32) -> bool {
    match code {
        0..0x1000 => ALPHABETIC_LOW[code as usize / 64] & 1 << (code % 64) != 0,
        _ => char::from_u32(code).is_some_and(char::is_alphabetic),
    }
}

/// Bits of each class's field in the census's register: 19 fields fit in 128 bits.
const FIELD_BITS: u32 = 6;
const FIELD_MAX: usize = (1 << FIELD_BITS) - 1;
/// Bytes after which the register is emptied: they hold at most half as many characters
/// of two bytes or more, so no field can overflow.
const FLUSH_BYTES: usize = 64;
const _: () = assert!(CLASSES as u32 * FIELD_BITS <= 128 && FLUSH_BYTES / 2 <= FIELD_MAX);

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The ASCII bytes of `word` (eight bytes) that lie in `low..=high` (both below 0x80), as the
/// high bit of each. No byte carries into the next: each sum stays below 0x100.
const fn ascii_in(word: u64, low: u8, high: u8) -> u64 {
    let seven = word & !HIGH_BITS;
    let at_least_low = seven + (0x80 - low as u64) * ONES;
    let above_high = seven + (0x7F - high as u64) * ONES;
    at_least_low & !above_high & !word & HIGH_BITS
}

/// The bytes of `word` from 0x80 up that lie in `low..=high`, as the high bit of each.
const fn high_in(word: u64, low: u8, high: u8) -> u64 {
    ascii_in(word ^ HIGH_BITS, low ^ 0x80, high ^ 0x80)
}

/// Letters of the sample by script, and the few letters that tell languages apart.
#[derive(Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct Census {
    latin: usize,
    /// Latin letters outside ASCII (é, ß, ł, ğ): English text has almost none.
    latin_extended: usize,
    /// ASCII capitals: acronyms and names that texts in every script quote.
    latin_capitals: usize,
    cyrillic: usize,
    greek: usize,
    hangul: usize,
    han: usize,
    kana: usize,
    thai: usize,
    georgian: usize,
    armenian: usize,
    /// Letters of other scripts, [`Census::arabic`] and [`Census::arabic_marks`] among them.
    other: usize,
    /// Letters of the Arabic alphabet proper (U+0621 to U+064A).
    arabic: usize,
    /// Arabic vowel signs.
    arabic_marks: usize,
    /// є ї ґ: Ukrainian alone.
    ukrainian_only: usize,
    /// і: Ukrainian, Belarusian, Kazakh; never Russian or Bulgarian.
    cyrillic_i: usize,
    /// ы э: Russian and Belarusian.
    russian_marks: usize,
    /// ё: Russian and Belarusian: rules out Ukrainian.
    yo: usize,
    /// ъ: Russian (rare) and Bulgarian (common): rules out Ukrainian.
    hard_sign: usize,
    /// ў, Serbian and Macedonian letters, Kazakh and other Cyrillic letters: left to the models.
    cyrillic_other: usize,
}

impl Census {
    /// Counts the letters of `text`, eight bytes at a time: ASCII letters and capitals, and
    /// the lead bytes of the commonest Han, Hangul and Cyrillic characters and punctuation,
    /// by bit arithmetic on the whole word; every other character outside ASCII by its
    /// block, through [`LOW`] and [`PAGES`], visiting its lead byte only. Classes are tallied in the 7-bit fields of a
    /// register, emptied every [`FLUSH_BYTES`] (a run of Hangul incrementing one counter in
    /// memory waited on each store).
    ///
    /// `later` is how many bytes will be counted after `text`. When the letters so far are so
    /// mixed that no script could reach three quarters of them, whatever the bytes still to
    /// come, the count stops and says so: the text is mixed, and the rest would not change
    /// that.
    fn count(&mut self, text: &str, later: usize) -> bool {
        let bytes = text.as_bytes();
        let mut fields = 0u128;
        let mut start = 0;
        while start < bytes.len() {
            let word = match bytes.get(start..start + 8) {
                Some(chunk) => {
                    let mut word = [0u8; 8];
                    word.copy_from_slice(chunk);
                    u64::from_le_bytes(word)
                }
                None => {
                    // Zero bytes pad the last word: neither letters nor lead bytes.
                    let mut word = [0u8; 8];
                    word[..bytes.len() - start].copy_from_slice(&bytes[start..]);
                    u64::from_le_bytes(word)
                }
            };
            let upper = ascii_in(word, b'A', b'Z');
            let lower = ascii_in(word, b'a', b'z');
            self.latin_capitals += upper.count_ones() as usize;
            self.latin += (upper | lower).count_ones() as usize;
            let mut leads = word & (word << 1) & HIGH_BITS;
            if leads != 0 {
                // Lead bytes whose class the lead byte, or the lead and the byte after it, tell
                // are counted by the same arithmetic. A lead's second byte sits one place on,
                // in `next` (none for the last place: that lead is visited).
                let next = word >> 8;
                // U+5000 to U+9FFF: Han.
                let han = high_in(word, 0xE5, 0xE9);
                // U+AC00 to U+D77F: Hangul syllables.
                let hangul = high_in(word, 0xEB, 0xEC)
                    | high_in(word, 0xEA, 0xEA) & high_in(next, 0xB0, 0xBF)
                    | high_in(word, 0xED, 0xED) & high_in(next, 0x80, 0x9D);
                // U+0400 to U+047F: Cyrillic letters, counted here as such; which of them tell
                // Russian from Ukrainian is looked up only for a Cyrillic text
                // ([`Census::count_cyrillic_letters`]).
                let cyrillic = high_in(word, 0xD0, 0xD1);
                // U+0080 to U+00BF and U+2000 to U+2BFF: punctuation and symbols.
                let skipped = high_in(word, 0xC2, 0xC2)
                    | high_in(word, 0xE2, 0xE2) & high_in(next, 0x80, 0xAF);
                fields += u128::from(han.count_ones()) << (FIELD_BITS * u32::from(HAN));
                fields += u128::from(hangul.count_ones()) << (FIELD_BITS * u32::from(HANGUL));
                fields += u128::from(cyrillic.count_ones()) << (FIELD_BITS * u32::from(CYRILLIC));
                leads &= !(han | hangul | cyrillic | skipped);
                while leads != 0 {
                    let at = start + (leads.trailing_zeros() / 8) as usize;
                    fields += 1 << (FIELD_BITS * u32::from(class_at(bytes, at)));
                    leads &= leads - 1;
                }
            }
            start += 8;
            if start % FLUSH_BYTES == 0 || start >= bytes.len() {
                self.add(fields);
                fields = 0;
                let rest = bytes.len().saturating_sub(start).saturating_add(later);
                if self.surely_mixed(rest) {
                    return true;
                }
            }
        }
        false
    }

    /// Counts the Cyrillic letters of `text` from U+0400 to U+047F that tell languages
    /// apart ([`Census::count`] counted them as Cyrillic only): for a Cyrillic text, after
    /// the count.
    fn count_cyrillic_letters(&mut self, text: &str) {
        for c in text.chars().filter(|c| ('\u{400}'..='\u{47F}').contains(c)) {
            match class_of(c as u32) {
                UKRAINIAN_ONLY => self.ukrainian_only += 1,
                CYRILLIC_I => self.cyrillic_i += 1,
                RUSSIAN_MARK => self.russian_marks += 1,
                YO => self.yo += 1,
                HARD_SIGN => self.hard_sign += 1,
                CYRILLIC_OTHER => self.cyrillic_other += 1,
                _ => {}
            }
        }
    }

    /// Adds the classes tallied in `fields`.
    fn add(&mut self, fields: u128) {
        let of = |class: u8| (fields >> (FIELD_BITS * u32::from(class))) as usize & FIELD_MAX;
        self.latin += of(LATIN_EXTENDED);
        self.latin_extended += of(LATIN_EXTENDED);
        self.ukrainian_only += of(UKRAINIAN_ONLY);
        self.cyrillic_i += of(CYRILLIC_I);
        self.russian_marks += of(RUSSIAN_MARK);
        self.yo += of(YO);
        self.hard_sign += of(HARD_SIGN);
        self.cyrillic_other += of(CYRILLIC_OTHER);
        self.cyrillic += (CYRILLIC..=CYRILLIC_OTHER).map(of).sum::<usize>();
        self.greek += of(GREEK);
        self.hangul += of(HANGUL);
        self.han += of(HAN);
        self.kana += of(KANA);
        self.thai += of(THAI);
        self.georgian += of(GEORGIAN);
        self.armenian += of(ARMENIAN);
        self.arabic += of(ARABIC);
        self.arabic_marks += of(ARABIC_MARK);
        self.other += of(OTHER) + of(ARABIC) + of(ARABIC_MARK);
    }

    /// Whether no script can end with three quarters of the letters, whatever `rest` more
    /// bytes hold. A byte adds at most one to a script's weighted letters (a CJK character
    /// is three bytes for two), and letters added to another script only lower its share: so
    /// a script with `main` of `letters` cannot make it once `4 × main + rest < 3 × letters`.
    fn surely_mixed(&self, rest: usize) -> bool {
        let letters = self.letters();
        let main = [
            self.latin_weighted(),
            self.cyrillic,
            self.greek,
            2 * self.hangul,
            2 * (self.han + self.kana),
            self.thai,
            self.georgian,
            self.armenian,
            self.other,
        ]
        .into_iter()
        .max()
        .unwrap_or(0);
        letters >= MIN_LETTERS && main.saturating_mul(4).saturating_add(rest) < letters * 3
    }

    /// Latin letters, an ASCII capital counting half: "ICBM", "NATO", "KCNA" in a Korean or
    /// Russian headline are quotations, not the headline's language.
    fn latin_weighted(&self) -> usize {
        self.latin - self.latin_capitals / 2
    }

    /// Letters, a CJK character or Hangul syllable counting as two: it carries about what
    /// two letters of an alphabet do, so a Korean text with "ICBM" in it stays Korean.
    fn letters(&self) -> usize {
        self.latin_weighted()
            + self.cyrillic
            + self.greek
            + self.thai
            + self.georgian
            + self.armenian
            + self.other
            + 2 * (self.hangul + self.han + self.kana)
    }

    /// The script with the most letters, and its letters (weighted as in
    /// [`Census::letters`]).
    fn dominant(&self) -> Option<(Script, usize)> {
        let candidates = [
            (Script::Latin, self.latin_weighted()),
            (Script::Cyrillic, self.cyrillic),
            (Script::Greek, self.greek),
            (Script::Hangul, 2 * self.hangul),
            (Script::Cjk, 2 * (self.han + self.kana)),
            (Script::Thai, self.thai),
            (Script::Georgian, self.georgian),
            (Script::Armenian, self.armenian),
            (Script::Other, self.other),
        ];
        // A plain loop, ties going to the later script as `max_by_key` gives them: the
        // iterator chain kept its running maximum in a packed pair on the stack, and reading
        // it back stalled on every step (3% of the match bench's time in a profile).
        let mut best = candidates[0];
        for candidate in &candidates[1..] {
            if candidate.1 >= best.1 {
                best = *candidate;
            }
        }
        (best.1 > 0).then_some(best)
    }

    /// Whether, beside its main script's `main` letters, the text holds a passage in another
    /// named script (Latin, Cyrillic, Greek, Hangul, Han and kana, Thai, Georgian,
    /// Armenian): [`SECOND_SCRIPT_LETTERS`] letters and one in [`SECOND_SCRIPT_SHARE`] at
    /// least. Letters of other scripts do not count: among them are the Latin letters beyond
    /// the Latin blocks (Azerbaijani ə, the ɛ and ɔ of West African alphabets), part of a
    /// Latin text's own language.
    fn has_second_script(&self, main: usize) -> bool {
        let second = self.letters() - main - self.other;
        second >= SECOND_SCRIPT_LETTERS && second * SECOND_SCRIPT_SHARE >= self.letters()
    }

    /// Whether both the letters only Ukrainian writes and those only Russian writes come
    /// [`SEVERAL_ALPHABETS_LETTERS`] times or more: a Ukrainian text names a Russian place in
    /// its own spelling, so that many of each is two languages side by side.
    fn has_both_alphabets(&self) -> bool {
        self.cyrillic_other == 0
            && self.ukrainian_only + self.cyrillic_i >= SEVERAL_ALPHABETS_LETTERS
            && self.russian_marks + self.yo + self.hard_sign >= SEVERAL_ALPHABETS_LETTERS
    }

    /// Whether [`Census::cyrillic_by_letters`] says Russian from the text's length alone,
    /// without a letter only Russian (or Russian and Belarusian) writes.
    fn russian_by_length_alone(&self) -> bool {
        self.russian_marks == 0 && self.yo == 0 && self.hard_sign == 0
    }

    /// Russian or Ukrainian when the letters leave no doubt; `None` leaves it to the models.
    /// Of the languages written in Cyrillic, only Russian and Bulgarian use no letter beyond
    /// the 32 of the Russian alphabet and ё, and Bulgarian text is full of ъ: so a longer text
    /// with neither a letter of another language nor ъ is Russian, even before an ы shows.
    fn cyrillic_by_letters(&self) -> Option<Lang> {
        if self.cyrillic_other > 0 {
            return None;
        }
        let ukrainian = self.ukrainian_only + self.cyrillic_i;
        let russian = self.russian_marks + self.yo + self.hard_sign;
        if ukrainian > 0 && russian == 0 && (self.ukrainian_only > 0 || self.cyrillic_i >= 2) {
            Some(Lang::of(b"uk"))
        } else if ukrainian == 0
            && (self.russian_marks > 0 || (self.hard_sign == 0 && self.cyrillic >= RUSSIAN_LETTERS))
        {
            Some(Lang::of(b"ru"))
        } else {
            None
        }
    }
}

/// Letters (weighted as in [`Census::letters`]) of named scripts other than the main one
/// from which a text holds a passage in another script rather than a quoted name: about four
/// words of an alphabet, ten Hangul syllables or Han characters. "Kim Jong Un", "Reuters",
/// "习近平" or "ICBM" stay below it.
const SECOND_SCRIPT_LETTERS: usize = 20;

/// ... when they are also at least one letter in this many.
const SECOND_SCRIPT_SHARE: usize = 10;

/// Frequent Bulgarian words that Russian does not write as words ("която" where Russian writes
/// "которая", "според" for "по словам"), lowercase.
const BULGARIAN_WORDS: [&str; 12] = [
    "която",
    "които",
    "който",
    "което",
    "според",
    "това",
    "тази",
    "този",
    "беше",
    "бяха",
    "са",
    "ще",
];

/// Whether `text` (a sample, at most a few hundred bytes) holds a word of [`BULGARIAN_WORDS`].
fn has_bulgarian_word(text: &str) -> bool {
    text.split(|c: char| !c.is_alphabetic())
        // The longest listed word is six letters, twelve bytes.
        .filter(|word| !word.is_empty() && word.len() <= 12)
        .any(|word| BULGARIAN_WORDS.contains(&word.to_lowercase().as_str()))
}

/// Cyrillic letters after which a text with no ы, э, ъ and no letter of another language is
/// taken for Russian: about fifteen words: a Bulgarian text mostly shows its first ъ well
/// before (when it does not, its function words send it to the models), a Ukrainian one its
/// first і.
const RUSSIAN_LETTERS: usize = 80;

/// Letters only Ukrainian writes (є, ї, ґ) and letters only Russian writes (ы, э, ё, ъ) from
/// which a Cyrillic text holds both languages: more than a name or two of the other.
const SEVERAL_ALPHABETS_LETTERS: usize = 4;

/// Distinct function words of a second list from which a Latin text the lists do not settle
/// holds two languages: more than a quoted title or a name ("Le Monde", "De Gaulle") brings.
const SEVERAL_LISTS_WORDS: u32 = 3;

/// A language's function words, for [`WordCounts`].
struct WordList {
    lang: Lang,
    /// The route's name in `watchfloor bench langid` and `bench match`.
    route: &'static str,
    /// Frequent words of its news prose that no other language of the news writes as a word
    /// (not even a rare one), lowercase, at most eight bytes and 64 words; a word in two
    /// lists fails the build. An elided article or possessive keeps its apostrophe ("d'").
    words: &'static [&'static str],
    /// The letters outside ASCII it writes, lowercase, from Latin-1 and Latin Extended-A.
    /// Every other Latin letter outside ASCII is foreign to it.
    native: &'static str,
}

/// The languages whose function words are counted; English first, "the" first in it.
const WORD_LISTS: [WordList; 10] = [
    WordList {
        lang: Lang::of(b"en"),
        route: "English words",
        // Not "in", "to", "was", "will", "also", "over", "for", "on", "we", "her", "more":
        // words of Dutch, German, French, Finnish, the Scandinavian languages or Croatian.
        words: &[
            "the", "of", "and", "that", "with", "from", "said", "this", "which", "who", "been",
            "their", "has", "were", "would", "its", "about", "after", "they", "than", "says",
            "could", "have", "had", "not", "but", "into", "when", "what", "there", "while",
            "against", "amid", "told", "his", "it", "these", "those", "such", "should", "because",
            "where",
        ],
        native: "",
    },
    WordList {
        lang: Lang::of(b"de"),
        route: "German words",
        // Not "der", "den", "dem", "die", "das", "des" (Danish, Dutch, Swedish, Portuguese,
        // French), "er", "es", "an", "am", "als", "wie", "war", "werden", "worden", "alle",
        // "um", "vor".
        words: &[
            "und", "nicht", "ist", "sich", "mit", "auch", "wird", "eine", "einer", "einem",
            "eines", "einen", "dass", "für", "über", "wurde", "wurden", "sind", "nach", "bei",
            "zum", "zur", "vom", "von", "noch", "oder", "aber", "seit", "gegen", "durch", "auf",
            "aus", "sei", "soll", "sollen", "hatte", "haben", "hat", "sagte", "laut", "sowie",
            "bereits", "zu", "sie", "im", "ins", "nur", "kein", "keine", "schon", "dieser",
            "diese", "dieses", "jetzt", "unter", "wegen", "bis", "ihre", "seine", "mehr", "wieder",
        ],
        native: "äöüß",
    },
    WordList {
        lang: Lang::of(b"fr"),
        route: "French words",
        // Not "la", "de", "que", "un", "en", "a", "à", "l'", "il", "ce", "se", "ne", "son",
        // "sa", "mais", "ou", "entre", "qui": Spanish, Italian, Catalan, Portuguese, Romanian,
        // Latin or Slavic words as well.
        words: &[
            "les", "des", "du", "le", "d'", "qu'", "n'", "s'", "est", "une", "pour", "dans", "sur",
            "pas", "par", "aux", "avec", "cette", "ces", "ils", "elle", "elles", "sont", "été",
            "ont", "plus", "où", "selon", "après", "leur", "leurs", "lors", "ses", "nous", "vous",
            "était", "avait", "sera", "être", "fait", "depuis", "contre", "sans", "sous", "dont",
            "aussi", "ainsi", "déjà", "alors", "très", "tout", "tous", "toute", "comme", "au",
            "et",
        ],
        native: "àâæçéèêëîïôœùûÿ",
    },
    WordList {
        lang: Lang::of(b"es"),
        route: "Spanish words",
        // Not "de", "la", "que", "en", "a", "del", "al", "se", "su", "con", "por", "para",
        // "como", "un", "una", "es", "son", "ha", "han", "este", "esta", "desde", "sobre",
        // "entre", "dos": Portuguese, Italian, Catalan, French, Romanian or Swedish words
        // too.
        words: &[
            "el", "los", "las", "y", "sus", "fue", "pero", "más", "muy", "también", "según",
            "hasta", "tras", "dijo", "cuando", "donde", "hay", "mientras", "sin", "había", "ello",
            "esto", "ese", "esa", "cual", "unos", "unas", "ayer", "hoy", "estos", "ya", "hacia",
            "aunque", "están", "tiene", "tienen", "puede", "otros", "otras", "después", "además",
        ],
        native: "áéíóúñü",
    },
    WordList {
        lang: Lang::of(b"pt"),
        route: "Portuguese words",
        // Not "o", "a", "e", "de", "do", "da", "das", "dos", "no", "na", "que", "por", "para",
        // "como", "mais", "está", "segundo", "quando", "sobre": words of Spanish, Italian,
        // French, German, Polish or the Slavic languages too.
        words: &[
            "não", "são", "uma", "os", "ao", "aos", "às", "pelo", "pela", "pelos", "pelas", "foi",
            "também", "isso", "disse", "até", "após", "então", "ainda", "já", "onde", "essa",
            "esse", "estão", "têm", "tem", "muito", "foram", "nesta", "neste", "num", "numa",
            "seu", "sua", "seus", "suas", "em", "com",
        ],
        native: "áâãàçéêíóôõúü",
    },
    WordList {
        lang: Lang::of(b"it"),
        route: "Italian words",
        // Not "di" (Indonesian), "la", "le", "lo", "i", "e", "a", "da", "in", "un", "una",
        // "del", "al", "con", "su", "ha", "ma", "come", "sul" (Portuguese for "south"),
        // "alle" (German).
        words: &[
            "il", "che", "della", "dello", "delle", "degli", "dei", "nella", "nelle", "negli",
            "nei", "nel", "alla", "agli", "dal", "dalla", "dai", "sulla", "sui", "anche", "più",
            "è", "sono", "hanno", "essere", "stato", "stata", "stati", "questo", "questa",
            "questi", "dopo", "secondo", "tra", "gli", "loro", "ancora", "già", "aveva", "però",
            "senza", "contro", "dell'", "nell'", "all'", "sull'", "dall'", "un'", "ed", "per",
            "non", "sia", "cui", "quale", "viene", "nuovo", "nuova", "molto", "tutti", "perché",
            "oggi", "ieri", "verso",
        ],
        native: "àèéìíîòóùú",
    },
    WordList {
        lang: Lang::of(b"nl"),
        route: "Dutch words",
        // Not "de", "en", "van" (Hungarian), "is", "in", "te", "er", "om", "al", "als",
        // "die", "dan", "kan", "ze", "nu", "over", "werden", "worden", nor the words Afrikaans
        // writes as Dutch does: "het", "een", "op", "met", "dat", "wat", "aan", "ook", "maar",
        // "nog", "uit", "dit", "geen", "waar", "haar", "wel", "meer", "moet", "volgens".
        words: &[
            "niet", "zijn", "wordt", "werd", "heeft", "hebben", "naar", "bij", "door", "deze",
            "tegen", "zegt", "zich", "hun", "hij", "zei", "zou", "wij", "kunnen", "terwijl",
            "echter", "vanwege", "zo", "mijn", "gaat",
        ],
        native: "áéèëíïóöüú",
    },
    WordList {
        lang: Lang::of(b"pl"),
        route: "Polish words",
        // Not "i", "z", "o", "a", "na", "do", "od", "po", "ze", "to", "jak", "aby", "jako",
        // "tej", "ma", "pod", "nad": Czech, Slovak, Croatian, Italian or English words too.
        // Slovak writes "nie" too, and many letters foreign to Polish (á, č, š, ž, ý).
        words: &[
            "w", "się", "że", "przez", "oraz", "jest", "dla", "został", "została", "zostały",
            "może", "tylko", "już", "także", "być", "był", "była", "było", "jego", "jej", "tym",
            "tego", "które", "który", "która", "których", "którzy", "przy", "nie", "według",
            "jednak", "są", "gdy", "czy", "bardzo", "więc", "wraz", "wobec",
        ],
        native: "ąćęłńóśźż",
    },
    WordList {
        lang: Lang::of(b"tr"),
        route: "Turkish words",
        // Not "de", "da", "ki", "en", nor what Azerbaijani, Uzbek or Turkmen write alike:
        // "bir", "bu", "olan", "daha", "sonra", "dedi", "olduğu", "yeni", "hem". Azerbaijani
        // also writes ə, foreign to Turkish.
        words: &[
            "ve", "ile", "için", "olarak", "değil", "çok", "gibi", "ancak", "ise", "kadar", "göre",
            "yönelik", "karşı", "ayrıca", "şu", "diye", "ama", "veya", "ettiği", "eden", "üzere",
        ],
        native: "çğıöşüâîû",
    },
    WordList {
        lang: Lang::of(b"id"),
        route: "Indonesian words",
        // Not "di" (Italian), "ke", "se", "para" (Spanish, Portuguese). Malay shares most of
        // these; whatlang has no Malay either and calls it Indonesian.
        words: &[
            "yang", "dan", "dengan", "untuk", "dari", "pada", "tidak", "akan", "dalam", "telah",
            "oleh", "juga", "bahwa", "adalah", "sebagai", "tersebut", "karena", "ini", "itu",
            "mereka", "kata", "sudah", "atau", "menurut", "saat", "bisa", "kami", "kita", "lebih",
            "setelah", "bagi", "serta", "antara", "masih", "belum", "hingga", "sejak", "namun",
            "secara", "seperti", "terhadap", "tentang", "sekitar",
        ],
        native: "",
    },
];

/// Frequent English words that other languages write too ("in", "is", "a", "to", "was"):
/// they never decide, but once English's own words have shown they count towards its share
/// of the text, so that a plain report light in "the" and "of" need not go to the models.
const ENGLISH_SHARED: &[&str] = &[
    "a", "an", "in", "on", "to", "for", "by", "at", "as", "is", "are", "was", "will", "be", "or",
    "over", "also", "more", "up", "out", "new", "last", "two", "first", "no", "he", "we", "her",
    "can", "may", "all", "one", "during", "under", "other", "some", "most", "many", "so", "if",
    "how", "our", "you", "did", "do", "does", "being", "before", "between", "since", "until",
    "just", "only", "very", "then", "now", "them", "him", "she", "any", "each", "both",
];

const LISTS: usize = WORD_LISTS.len();
/// [`WORD_LISTS`]'s index of English, whose "the" alone can decide (see
/// [`WordCounts::language`]).
const ENGLISH: usize = 0;

/// The list of a language, if it has one.
fn word_list(lang: Lang) -> Option<&'static WordList> {
    WORD_LISTS.iter().find(|list| list.lang == lang)
}

/// How a word is packed to be looked up: one byte of its UTF-8 a byte, the last lowest; the
/// longest words listed are eight bytes.
const fn pack(word: &[u8]) -> u64 {
    let mut packed = 0u64;
    let mut i = 0;
    while i < word.len() {
        packed = packed << 8 | word[i] as u64;
        i += 1;
    }
    packed
}

const TABLE_BITS: u32 = 12;
const TABLE_SLOTS: usize = 1 << TABLE_BITS;

/// Every listed word, by open addressing: a multiply, a shift and one or two compares a word.
struct WordTable {
    /// Packed words; 0 (which no word packs to) for an empty slot.
    keys: [u64; TABLE_SLOTS],
    /// The word's list (high byte) and its place in the list (low byte).
    entries: [u16; TABLE_SLOTS],
    /// Which slots hold a word, a bit each: most words are in no list, and their first slot
    /// is empty. Asked here (512 bytes, which stay in cache), that answer spares a load from
    /// the keys (32 kilobytes, which the matcher's walks push out of the nearest cache).
    used: [u64; TABLE_SLOTS / 64],
}

const fn slot(key: u64) -> usize {
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - TABLE_BITS)) as usize
}

static WORD_TABLE: WordTable = {
    let mut table = WordTable {
        keys: [0; TABLE_SLOTS],
        entries: [0; TABLE_SLOTS],
        used: [0; TABLE_SLOTS / 64],
    };
    let mut total = 0;
    let mut list = 0;
    while list <= LISTS {
        // The lists, then the words English shares, as list number `LISTS`.
        let words = if list < LISTS {
            WORD_LISTS[list].words
        } else {
            ENGLISH_SHARED
        };
        assert!(words.len() <= 64, "a word list has more than 64 words");
        let mut index = 0;
        while index < words.len() {
            let word = words[index].as_bytes();
            assert!(
                !word.is_empty() && word.len() <= 8,
                "a listed word is over 8 bytes"
            );
            let mut i = 0;
            while i < word.len() {
                assert!(
                    !word[i].is_ascii_uppercase(),
                    "a listed word is not lowercase"
                );
                i += 1;
            }
            let key = pack(word);
            let mut at = slot(key);
            while table.keys[at] != 0 {
                assert!(table.keys[at] != key, "a word is listed twice");
                at = (at + 1) % TABLE_SLOTS;
            }
            table.keys[at] = key;
            table.entries[at] = (list as u16) << 8 | index as u16;
            table.used[at / 64] |= 1 << (at % 64);
            index += 1;
            total += 1;
        }
        list += 1;
    }
    // Seven slots in eight empty at least, so that the search for a word not listed, as
    // most words are, mostly ends at its first slot.
    assert!(total * 8 <= TABLE_SLOTS, "the word table is too full");
    table
};

impl WordTable {
    /// The list and the place in it of a packed word.
    fn find(&self, key: u64) -> Option<(usize, usize)> {
        let mut at = slot(key);
        if self.used[at / 64] & 1 << (at % 64) == 0 {
            return None;
        }
        for _ in 0..TABLE_SLOTS {
            match self.keys[at] {
                0 => return None,
                found if found == key => {
                    let entry = self.entries[at];
                    return Some((usize::from(entry >> 8), usize::from(entry & 0xFF)));
                }
                _ => at = (at + 1) % TABLE_SLOTS,
            }
        }
        None
    }
}

/// For each lowercase letter from U+00C0 to U+017F, the lists whose language writes it (bit
/// `i` for `WORD_LISTS[i]`).
static NATIVE: [u16; 0xC0] = {
    let mut table = [0u16; 0xC0];
    let mut list = 0;
    while list < LISTS {
        let letters = WORD_LISTS[list].native.as_bytes();
        let mut i = 0;
        while i < letters.len() {
            // Two-byte sequences only: U+0080 to U+07FF.
            assert!(
                letters[i] >> 5 == 0b110,
                "a native letter is not from U+00C0 to U+017F"
            );
            let code = ((letters[i] & 0x1F) as usize) << 6 | (letters[i + 1] & 0x3F) as usize;
            assert!(
                code >= 0xC0 && code < 0x180,
                "a native letter is not from U+00C0 to U+017F"
            );
            table[code - 0xC0] |= 1 << list;
            i += 2;
        }
        list += 1;
    }
    table
};

/// Latin letters outside ASCII, as the census counts them.
fn is_latin_extended(c: char) -> bool {
    matches!(c, '\u{C0}'..='\u{24F}' | '\u{1E00}'..='\u{1EFF}') && c != '×' && c != '÷'
}

/// The letter a word holds for `c` (lowercase), and the lists to which `c` is native.
fn fold(c: char) -> (char, u16) {
    // Turkish İ lowercases to i and a combining dot: words hold the plain i, and it is as
    // Turkish a letter as ı.
    if c == 'İ' {
        return ('i', NATIVE[0x131 - 0xC0]);
    }
    let lower = c.to_lowercase().next().unwrap_or(c);
    let native = match lower as usize {
        code @ 0xC0..0x180 => NATIVE[code - 0xC0],
        _ => 0,
    };
    (lower, native)
}

/// A word being read, packed as [`pack`] packs the listed words.
#[derive(Clone, Copy, Default)]
struct Word {
    /// Its last eight bytes at most: a longer word is no listed word.
    packed: u64,
    len: usize,
}

impl Word {
    /// Appends `count` bytes (one to eight), given as [`pack`] packs them.
    #[inline]
    fn push_bytes(&mut self, bytes: u64, count: usize) {
        self.packed = match count {
            8 => bytes,
            _ => self.packed << (8 * count) | bytes,
        };
        self.len += count;
    }

    /// Appends the `count` ASCII letters (one or more) at `bytes[start..]`, lowercased.
    #[inline]
    fn push_run(&mut self, bytes: &[u8], start: usize, count: usize) {
        let end = start + count;
        self.packed = if count >= 8 {
            // Only the last eight bytes are kept.
            load_lowercase(bytes, end - 8, 8)
        } else {
            self.packed << (8 * count) | load_lowercase(bytes, start, count)
        };
        self.len += count;
    }
}

/// The bit that tells an ASCII capital from its small letter, in each byte of a `u64`.
const CASE_BITS: u64 = 0x20 * ONES;

/// The apostrophe in each byte of a `u64`.
const APOSTROPHES: u64 = b'\'' as u64 * ONES;

/// The `count` ASCII letters (one to eight) at `bytes[start..]`, lowercased and packed as
/// [`pack`] packs them.
#[inline]
fn load_lowercase(bytes: &[u8], start: usize, count: usize) -> u64 {
    let end = start + count;
    // Or-ing 0x20 makes a capital small and leaves a small letter as it is.
    let low_bytes = |count: usize| match count {
        8 => u64::MAX,
        _ => (1u64 << (8 * count)) - 1,
    };
    if let Some(eight) = bytes.get(start..start + 8) {
        let eight = u64::from_be_bytes(eight.try_into().expect("eight bytes"));
        (eight | CASE_BITS) >> (64 - 8 * count)
    } else if let Some(eight) = end.checked_sub(8).and_then(|from| bytes.get(from..end)) {
        let eight = u64::from_be_bytes(eight.try_into().expect("eight bytes"));
        (eight | CASE_BITS) & low_bytes(count)
    } else {
        pack(&bytes[start..end]) | (CASE_BITS & low_bytes(count))
    }
}

/// Bytes a word scan classifies at once: a bit each in a `u64`.
const BLOCK_BYTES: usize = 64;

/// For the block of up to [`BLOCK_BYTES`] at `bytes[base..]`, bit `i` for `bytes[base + i]`:
/// the ASCII letters, and the bytes that may be an apostrophe or start a Latin letter outside
/// ASCII: the apostrophe, the lead bytes of U+00C0 to U+027F, and those of U+1000 to U+1FFF
/// (Latin Extended Additional) and U+2000 to U+2FFF (the right single quotation mark). Bits
/// past the end of `bytes` are clear.
///
/// Any other byte from 0x80 up is neither: [`WordCounts::scan_byte`] would only end the word
/// there, as the ASCII scan does. Making every such byte special, to spare the two range
/// tests, cost more than it saved: Latin text beside a passage in another script has many.
#[inline]
fn block_masks(bytes: &[u8], base: usize) -> (u64, u64) {
    let mut letters = 0;
    let mut special = 0;
    for part in 0..BLOCK_BYTES / 8 {
        let start = base + 8 * part;
        let word = match bytes.get(start..start + 8) {
            Some(eight) => u64::from_le_bytes(eight.try_into().expect("eight bytes")),
            None if start < bytes.len() => {
                // Zero bytes pad the last word: neither letters nor special.
                let mut eight = [0u8; 8];
                eight[..bytes.len() - start].copy_from_slice(&bytes[start..]);
                u64::from_le_bytes(eight)
            }
            None => break,
        };
        // Seven low bits of each byte: sums of them stay within their byte.
        let seven = word & !HIGH_BITS;
        let high = word & HIGH_BITS;
        // Or-ing 0x20 makes capitals small; no other ASCII byte becomes a letter, and no byte
        // from 0x80 up is taken for one.
        let small = seven | CASE_BITS;
        let letter = (small + (0x80 - u64::from(b'a')) * ONES)
            & !(small + (0x7F - u64::from(b'z')) * ONES)
            & !high
            & HIGH_BITS;
        // A byte whose seven low bits are those of the apostrophe, and no high bit.
        let apostrophe = !((seven ^ APOSTROPHES) + 0x7F * ONES) & !high & HIGH_BITS;
        // Most eight bytes of Latin text are ASCII: the lead bytes are looked for in the rest.
        let leads = match high {
            0 => 0,
            _ => high_in(word, 0xC3, 0xC9) | high_in(word, 0xE1, 0xE2),
        };
        letters |= high_bits_to_mask(letter) << (8 * part);
        special |= high_bits_to_mask(apostrophe | leads) << (8 * part);
    }
    (letters, special)
}

/// The high bits of the eight bytes of `word` (little-endian; no other bit set), as bits 0 to
/// 7: each byte's bit, shifted down to bit `8 × k`, is carried to bit `56 + k` by the one term
/// of the multiplier that puts it there; every other product lands on a bit of its own below
/// 56 (no carry reaches 56) or past 63.
#[inline]
const fn high_bits_to_mask(word: u64) -> u64 {
    (word >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// The function words of each list found in a Latin text, and its letters foreign to each
/// language.
#[derive(Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct WordCounts {
    /// Runs of Latin letters, apostrophes splitting them ("l'", "'s").
    words: usize,
    /// Words of each list, every occurrence counted.
    hits: [usize; LISTS],
    /// Which words of each list were seen (bit `i` for its `i`th word).
    seen: [u64; LISTS],
    /// Letters outside ASCII foreign to each list's language.
    foreign: [usize; LISTS],
    /// How often "the" came.
    the: usize,
    /// Words of [`ENGLISH_SHARED`], and which of them were seen.
    shared: usize,
    shared_seen: u64,
}

/// A language is claimed only if its words outnumber every other list's words together this
/// many times: mixed or unclear text goes to the models.
const MARGIN: usize = 3;

/// ... and are at least one word in this many.
const DENSITY: usize = 20;

/// Words from which a text is taken for a report rather than a headline (see
/// [`WordCounts::language`]).
const REPORT_WORDS: usize = 20;

/// ... and its foreign letters at most one Latin letter in this many (a name or two: "Erdoğan"
/// in German, "São Paulo" in English).
const FOREIGN_SHARE: usize = 50;

impl WordCounts {
    /// Words are runs of Latin letters, lowercased: ASCII letters, and the letters outside
    /// ASCII that the census counts as Latin. Any other character ends a word; an apostrophe
    /// between letters ends one and begins the next (see [`WordCounts::scan_byte`]).
    ///
    /// A block of [`BLOCK_BYTES`] at a time: two bit masks, a bit a byte, say which bytes are
    /// ASCII letters and which may be an apostrophe or start a Latin letter outside ASCII
    /// ([`block_masks`]). Between two such bytes only ASCII letters are letters, so the words
    /// there are found from the first mask alone, a word per step
    /// ([`WordCounts::scan_ascii`]); each of those bytes is read as a character by
    /// [`WordCounts::scan_byte`], and may end past the block, in the next one. Every byte
    /// thus meets the treatment a byte-by-byte scan gives it (the tests compare the two).
    fn scan(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let mut word = Word::default();
        // Where the next character starts: at most three bytes into the next block.
        let mut at = 0;
        let mut base = 0;
        while base < bytes.len() {
            let (letters, special) = block_masks(bytes, base);
            let len = (bytes.len() - base).min(BLOCK_BYTES);
            let mut place = at - base;
            while place < len {
                // Bits past the text are clear: the ASCII stretch stops at the text's end.
                let stretch_end = match special >> place {
                    0 => len,
                    rest => place + rest.trailing_zeros() as usize,
                };
                if stretch_end > place {
                    self.scan_ascii(bytes, base, letters, place..stretch_end, &mut word);
                }
                if stretch_end == len {
                    place = len;
                } else {
                    place = self.scan_byte(text, base + stretch_end, &mut word) - base;
                }
            }
            at = base + place;
            base += BLOCK_BYTES;
        }
        self.finish(word);
    }

    /// The bytes `base + range` (within one block, none of them special), of which the ASCII
    /// letters, bit `i` of `letters` for byte `base + i`, are the only letters: each run of
    /// them joins the word at once; any other byte ends the word, as a byte of punctuation,
    /// a digit, or a byte of a character of another script would.
    #[inline]
    fn scan_ascii(
        &mut self,
        bytes: &[u8],
        base: usize,
        letters: u64,
        range: std::ops::Range<usize>,
        word: &mut Word,
    ) {
        let start = base + range.start;
        let len = range.end - range.start;
        // The letters of the stretch, its first byte lowest; bits past it clear.
        let letters = match len {
            BLOCK_BYTES => letters,
            _ => (letters >> range.start) & ((1 << len) - 1),
        };
        let mut place = 0;
        loop {
            let ahead = letters >> place;
            let run = ahead.trailing_ones() as usize;
            if run > 0 {
                word.push_run(bytes, start + place, run);
                place += run;
                if place == len {
                    return;
                }
            }
            // The byte at `place` is no letter.
            self.finish(std::mem::take(word));
            let ahead = letters >> place;
            if ahead == 0 {
                // No letter in the rest: each of its bytes would end an empty word.
                return;
            }
            place += ahead.trailing_zeros() as usize;
        }
    }

    /// The byte at `at`; where the next step begins. An ASCII letter joins the word
    /// lowercased; a character that may be a Latin letter or an apostrophe is decoded (its
    /// lead byte is a character boundary), and a Latin letter joins the word lowercased. Any
    /// other byte ends the word: a byte of a character of another script, whether its lead
    /// or not, as the whole character would.
    fn scan_byte(&mut self, text: &str, at: usize, word: &mut Word) -> usize {
        let bytes = text.as_bytes();
        let byte = bytes[at];
        if byte.is_ascii_alphabetic() {
            word.push_bytes(u64::from(byte.to_ascii_lowercase()), 1);
            return at + 1;
        }
        if !matches!(byte, b'\'' | 0xC3..=0xC9 | 0xE1 | 0xE2) {
            self.finish(std::mem::take(word));
            return at + 1;
        }
        let c = text[at..].chars().next().unwrap_or(' ');
        let at = at + c.len_utf8();
        if is_latin_extended(c) {
            let (lower, native) = fold(c);
            for (list, foreign) in self.foreign.iter_mut().enumerate() {
                *foreign += usize::from(native & 1 << list == 0);
            }
            let mut utf8 = [0u8; 4];
            for &b in lower.encode_utf8(&mut utf8).as_bytes() {
                word.push_bytes(u64::from(b), 1);
            }
            return at;
        }
        let letter_follows = bytes
            .get(at)
            .is_some_and(|b| b.is_ascii_alphabetic() || (0xC3..=0xC9).contains(b));
        if (c == '\'' || c == '\u{2019}') && word.len > 0 && letter_follows {
            // An elision or a possessive: "l'", "dell'", "qu'" end a word with the
            // apostrophe, "'s" begins one.
            let mut elided = *word;
            elided.push_bytes(u64::from(b'\''), 1);
            self.finish(elided);
            *word = Word::default();
            word.push_bytes(u64::from(b'\''), 1);
            return at;
        }
        self.finish(std::mem::take(word));
        at
    }

    fn finish(&mut self, word: Word) {
        if word.len == 0 {
            return;
        }
        self.words += 1;
        if word.len > 8 {
            return;
        }
        if let Some((list, index)) = WORD_TABLE.find(word.packed) {
            if list == LISTS {
                self.shared += 1;
                self.shared_seen |= 1 << index;
                return;
            }
            self.hits[list] += 1;
            self.seen[list] |= 1 << index;
            if list == ENGLISH && index == 0 {
                self.the += 1;
            }
        }
    }

    /// Whether two lists' words each came [`SEVERAL_LISTS_WORDS`] distinct times or more.
    fn has_several_lists(&self) -> bool {
        self.seen
            .iter()
            .filter(|seen| seen.count_ones() >= SEVERAL_LISTS_WORDS)
            .count()
            >= 2
    }

    /// The language whose words the text is full of, if one clearly is; `latin` is the
    /// census's count of Latin letters. Its words must outnumber all the other lists' words
    /// together [`MARGIN`] times, be two distinct words at least and one word in
    /// [`DENSITY`], and the text must have next to no letter foreign to it ([`FOREIGN_SHARE`]).
    /// For English, the words it shares with other languages ([`ENGLISH_SHARED`]) count too
    /// once two of its own have shown, or in a text of [`REPORT_WORDS`] words once one has
    /// beside three distinct shared ones. "the", English's commonest word (about one in
    /// seventeen of running text) and no other language's, twice and one word in
    /// thirty-three, is English however few other function words a headline-like text has.
    fn language(&self, latin: usize) -> Option<Lang> {
        let top = *self.hits.iter().max()?;
        if top == 0 || self.hits.iter().filter(|hits| **hits == top).count() > 1 {
            return None;
        }
        let best = self.hits.iter().position(|hits| *hits == top)?;
        let others = self.hits.iter().sum::<usize>() - top;
        let mut distinct = self.seen[best].count_ones() as usize;
        let mut top = top;
        // English's shared words join its own once two of its own have shown, or in a text
        // of some length (a report, not a headline) once one has and three shared ones.
        let shared = self.shared_seen.count_ones() as usize;
        if best == ENGLISH && (distinct >= 2 || (self.words >= REPORT_WORDS && shared >= 3)) {
            top += self.shared;
            distinct += shared;
        }
        if top < MARGIN * others || self.foreign[best] * FOREIGN_SHARE > latin {
            return None;
        }
        let dense = distinct >= 2 && top * DENSITY >= self.words;
        let the = best == ENGLISH && self.the >= 2 && self.the * 33 >= self.words;
        (dense || the).then_some(WORD_LISTS[best].lang)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(title: &str, body: &str) -> String {
        stored(&detect(title, body)).to_owned()
    }

    /// Short texts written for these tests (not taken from any feed), one per case.
    #[test]
    fn short_news_texts_in_many_languages() {
        let cases = [
            (
                "en",
                "Officials said the talks with their neighbours would resume after the holiday.",
                "",
            ),
            (
                "ko",
                "북한, 정찰위성 발사 예고",
                "정부는 북한이 이번 주 안에 위성을 쏘아 올릴 가능성이 높다고 밝혔다.",
            ),
            (
                "ja",
                "北朝鮮が衛星を打ち上げ",
                "政府によると、発射は午前中に行われた。",
            ),
            (
                "zh",
                "朝鲜发射侦察卫星",
                "据报道，朝鲜当天凌晨发射了一枚卫星运载火箭。",
            ),
            (
                "zh",
                "北韓發射偵察衛星",
                "據報導，北韓當天凌晨發射了一枚衛星運載火箭。",
            ),
            (
                "ru",
                "Правительство обсудило меры поддержки",
                "Центробанк сохранил ключевую ставку без изменений, сообщили в пресс-службе.",
            ),
            (
                "uk",
                "Уряд обговорив заходи підтримки",
                "Національний банк зберіг облікову ставку без змін, повідомили в пресслужбі.",
            ),
            (
                "de",
                "Die Regierung will die Hilfe für die Ukraine aufstocken",
                "Der Minister sagte am Montag, dass weitere Lieferungen geplant seien.",
            ),
            (
                "fr",
                "Le gouvernement annonce une nouvelle aide pour les agriculteurs",
                "Le ministre a précisé que les fonds seraient versés avant la fin du mois.",
            ),
            (
                "es",
                "El gobierno anuncia nuevas ayudas para los agricultores",
                "El ministro explicó que los fondos llegarán antes de que termine el mes.",
            ),
            ("el", "Η κυβέρνηση ανακοίνωσε νέα μέτρα στήριξης", ""),
            (
                "ar",
                "أعلنت الحكومة عن إجراءات جديدة لدعم المزارعين في المناطق الريفية",
                "",
            ),
        ];
        for (want, title, body) in cases {
            assert_eq!(code(title, body), want, "{title}");
        }
    }

    #[test]
    fn too_little_text_is_undetermined() {
        for (title, body) in [
            ("", ""),
            ("BBC", ""),
            ("2026-12-06 14:00", "+++ 1,234.5 % !!!"),
            ("...", "—— ·· ——"),
            ("\u{200f}\u{202e}\u{0}", "\u{feff}"),
        ] {
            assert_eq!(detect(title, body), None, "{title:?} {body:?}");
        }
    }

    #[test]
    fn a_korean_text_quoting_latin_acronyms_stays_korean() {
        assert_eq!(code("북한 ICBM 발사, NATO 규탄", ""), "ko");
    }

    /// Sentences written for these tests, in the style of news reports.
    #[test]
    fn function_words_decide_the_frequent_latin_languages() {
        let cases = [
            (
                "en",
                "The minister said that the aid would arrive after the talks.",
            ),
            (
                "de",
                "Die Regierung hat beschlossen, was im Frühjahr mit der Hilfe geschieht.",
            ),
            (
                "de",
                "Der Minister sagte, dass die Lieferungen nach den Gesprächen in Berlin \
                 fortgesetzt werden sollen.",
            ),
            (
                "fr",
                "Le ministre a indiqué que les livraisons reprendraient après les discussions \
                 avec les partenaires européens.",
            ),
            (
                "es",
                "El ministro dijo que los envíos se reanudarán tras las conversaciones con \
                 los socios europeos.",
            ),
            (
                "pt",
                "O ministro disse que as entregas serão retomadas após as conversas com os \
                 parceiros, que ainda não foram marcadas.",
            ),
            (
                "it",
                "Il ministro ha detto che le consegne riprenderanno dopo i colloqui con gli \
                 alleati della regione.",
            ),
            (
                "nl",
                "De regering zegt dat de steun niet wordt verlengd, omdat het geld volgens de \
                 minister op is.",
            ),
            (
                "pl",
                "Minister powiedział, że dostawy zostaną wznowione po rozmowach, które \
                 odbędą się w przyszłym tygodniu.",
            ),
            (
                "tr",
                "Bakan, görüşmelerin ardından teslimatların yeniden başlayacağını ve \
                 bunun için bir takvim hazırlandığını söyledi.",
            ),
            (
                "id",
                "Menteri mengatakan bahwa pengiriman akan dilanjutkan setelah perundingan \
                 dengan negara mitra yang dijadwalkan pekan depan.",
            ),
        ];
        for (want, text) in cases {
            let (got, route) = detect_how(text, "");
            let want = Lang::parse(want);
            assert_eq!((got, route), (want, Route::Words(want.unwrap())), "{text}");
        }
    }

    /// Languages without a list, and close relatives of the listed ones: the lists and the
    /// Arabic letters must not claim them (the models may).
    #[test]
    fn the_shortcuts_leave_other_languages_to_the_models() {
        for text in [
            // Norwegian, Danish, Swedish.
            "Regjeringen har sagt at den vil gi mer hjelp til Ukraina for vinteren.",
            "Regeringen har meddelt, at den vil give mere hjælp til Ukraine inden vinteren.",
            "Regeringen har meddelat att den ska ge mer hjälp till Ukraina före vintern.",
            // Catalan, Galician, Romanian.
            "El govern ha decidit que les ajudes arribaran abans de l'estiu, segons el ministre.",
            "O goberno decidiu que as axudas chegarán antes do verán, segundo o ministro.",
            "Guvernul a decis că ajutoarele vor ajunge înainte de vară, a spus ministrul.",
            // Czech, Slovenian, Croatian, Hungarian.
            "Vláda rozhodla, že pomoc dorazí ještě před létem, uvedl ministr.",
            "Vlada je odločila, da bo pomoč prispela pred poletjem, je dejal minister.",
            "Vlada je odlučila da će pomoć stići prije ljeta, rekao je ministar.",
            "A kormány úgy döntött, hogy a segély még a nyár előtt megérkezik.",
            // Dutch, but with two of its own words only, against an English "of".
            "De regering heeft besloten of de steun in het voorjaar wordt verlengd.",
            // Persian and Urdu beside Arabic.
            "دولت اعلام کرد که کمک‌ها پیش از تابستان می‌رسد.",
            "حکومت نے کہا ہے کہ امداد گرمیوں سے پہلے پہنچ جائے گی۔",
            // Azerbaijani beside Turkish.
            "Nazir bildirib ki, danışıqlardan sonra çatdırılmalar yenidən başlayacaq və bu \
             barədə qərar veriləcək.",
        ] {
            let (got, route) = detect_how(text, "");
            assert!(
                matches!(route, Route::Models | Route::Mixed),
                "{text}: {got:?} by {route:?}"
            );
        }
    }

    #[test]
    fn a_bulgarian_sample_without_a_hard_sign_is_not_taken_for_russian() {
        // Long enough for the length rule, and no ъ among the bytes looked at: Bulgarian's
        // own words must still keep it from the Russian answer.
        let bulgarian = "Нови снимки на корабостроителницата показват активност около \
                         подводница, която според анализатори е готова за изпитание на ракета.";
        let (got, route) = detect_how(bulgarian, "");
        assert_ne!(got, Some(Lang::of(b"ru")), "{route:?}");
        assert_eq!(route, Route::Models);
        // A Russian sentence of the same length with no ы, э, ё or ъ stays Russian by its
        // letters, and so does a Ukrainian one that says "ще" (still).
        let russian = "Новая верфь на побережье показала активность около подводной лодки, \
                       как сообщили аналитики агентства в понедельник утром.";
        assert_eq!(
            detect_how(russian, ""),
            (Some(Lang::of(b"ru")), Route::Letters(Lang::of(b"ru")))
        );
        let ukrainian = "Нові знімки верфі показали, що підводний човен ще готують до \
                         випробування ракети, кажуть аналітики.";
        assert_eq!(detect_how(ukrainian, "").0, Some(Lang::of(b"uk")));
    }

    /// The census as it was first written, a character at a time: the tables and the
    /// eight-byte steps must count exactly as it does.
    fn count_slowly(census: &mut Census, text: &str) {
        for c in text.chars() {
            if c.is_ascii() {
                if c.is_ascii_alphabetic() {
                    census.latin += 1;
                    census.latin_capitals += usize::from(c.is_ascii_uppercase());
                }
                continue;
            }
            let class = match class_of(c as u32) {
                IF_ALPHABETIC if c.is_alphabetic() => OTHER,
                IF_ALPHABETIC => NOT_A_LETTER,
                class => class,
            };
            match class {
                LATIN_EXTENDED => {
                    census.latin += 1;
                    census.latin_extended += 1;
                }
                CYRILLIC..=CYRILLIC_OTHER => {
                    census.cyrillic += 1;
                    match class {
                        UKRAINIAN_ONLY => census.ukrainian_only += 1,
                        CYRILLIC_I => census.cyrillic_i += 1,
                        RUSSIAN_MARK => census.russian_marks += 1,
                        YO => census.yo += 1,
                        HARD_SIGN => census.hard_sign += 1,
                        CYRILLIC_OTHER => census.cyrillic_other += 1,
                        _ => {}
                    }
                }
                GREEK => census.greek += 1,
                HANGUL => census.hangul += 1,
                HAN => census.han += 1,
                KANA => census.kana += 1,
                THAI => census.thai += 1,
                GEORGIAN => census.georgian += 1,
                ARMENIAN => census.armenian += 1,
                OTHER => census.other += 1,
                ARABIC => {
                    census.other += 1;
                    census.arabic += 1;
                }
                ARABIC_MARK => {
                    census.other += 1;
                    census.arabic_marks += 1;
                }
                _ => {}
            }
        }
    }

    #[test]
    fn the_block_tables_agree_with_the_definition_for_every_character() {
        let mut utf8 = [0u8; 4];
        for c in ('\u{80}'..=char::MAX).filter(|c| !c.is_ascii()) {
            let want = match class_of(c as u32) {
                IF_ALPHABETIC if c.is_alphabetic() => OTHER,
                IF_ALPHABETIC => NOT_A_LETTER,
                class => class,
            };
            let bytes = c.encode_utf8(&mut utf8).as_bytes();
            assert_eq!(class_at(bytes, 0), want, "{c:?} U+{:04X}", c as u32);
            // Arabic letters and vowel signs are counted apart, but still as letters of
            // another script, exactly the characters Unicode calls alphabetic.
            if matches!(want, ARABIC | ARABIC_MARK) {
                assert!(c.is_alphabetic(), "{c:?}");
            }
        }
    }

    #[test]
    fn the_census_counts_as_a_character_by_character_count_does() {
        let texts = [
            "",
            "a",
            "ABCDEFGH",
            "Officials said the talks would go on. @[`{ AZaz",
            "북한 ICBM 발사, NATO 규탄 — «КНДР» ё ъ і є Ґ ў ђ",
            "北朝鮮が衛星を打ち上げ・ー 朝鲜发射 𠀀𠀁 🚀🛰️",
            "Ελλάδα ภาษาไทย ქართული Հայերեն العربية עברית हिन्दी",
            "Zürich, Łódź, Erdoğan, São Paulo, Ærø, İstanbul, ẞ, ×÷ \u{301}\u{200d}",
        ];
        for text in texts {
            // Every alignment against the eight-byte steps.
            for start in 0..8.min(text.len() + 1) {
                let text = format!("{}{text}", "x".repeat(start));
                let mut fast = Census::default();
                assert!(!fast.count(&text, usize::MAX));
                fast.count_cyrillic_letters(&text);
                let mut slow = Census::default();
                count_slowly(&mut slow, &text);
                assert_eq!(fast, slow, "{text}");
            }
        }
    }

    #[test]
    fn stopping_early_on_mixed_text_changes_no_answer() {
        let parts = [
            "북한이 정찰위성을 발사했다고 밝혔다. ",
            "North Korea said it had launched a satellite. ",
            "КНДР сообщила о запуске спутника. ",
            "朝鲜宣布发射了一颗卫星。",
            "ICBM NATO KCNA ",
            "1234 — !!! ",
        ];
        for a in parts {
            for b in parts {
                for c in parts {
                    for d in parts {
                        let title = format!("{a}{b}");
                        let body = format!("{c}{d}{c}{b}{d}{a}{c}");
                        let mut whole = Census::default();
                        whole.count(prefix(&title, TITLE_BYTES), usize::MAX);
                        whole.count(prefix(&body, SAMPLE_BYTES), usize::MAX);
                        let mixed = whole.letters() >= MIN_LETTERS
                            && whole
                                .dominant()
                                .is_some_and(|(_, main)| main * 4 < whole.letters() * 3);
                        let route = detect_how(&title, &body).1;
                        assert_eq!(route == Route::Mixed, mixed, "{title} | {body}");
                    }
                }
            }
        }
    }

    /// The normaliser's tally of a title and body, as the matcher takes it.
    fn tallied(title: &str, body: &str) -> ScriptTally {
        use crate::text::{Analyzed, Field};
        let mut analyzed = Analyzed::default();
        let mut tally = ScriptTally::default();
        analyzed.push_field_counting(Field::Title, title, &mut tally, TITLE_BYTES);
        analyzed.push_field_counting(Field::Summary, body, &mut tally, SAMPLE_BYTES);
        tally
    }

    #[test]
    fn the_normalisers_tally_counts_what_the_census_counts() {
        let texts = [
            "",
            "a",
            "ABCDEFGH 12 ab9c",
            "Officials said the talks would go on. @[`{ AZaz",
            "북한 ICBM 발사, NATO 규탄 — «КНДР» ё ъ і є Ґ ў ђ",
            "北朝鮮が衛星を打ち上げ・ー 朝鲜发射 𠀀𠀁 🚀🛰️",
            "Ελλάδα ภาษาไทย ქართული Հայերեն العربية عَرَبِيّ עברית हिन्दी ١٢٣",
            "Zürich, Łódź, Erdoğan, São Paulo, Ærø, İstanbul, ẞ, ×÷ \u{301}\u{200d}\u{AD}",
            "\u{D7A4}\u{D7AF}\u{3131}ｶﾀｶﾅ ＡＢＣ ﬁ ²",
        ];
        for text in texts {
            // Every length around the cuts, so that characters of one, two, three and four
            // bytes straddle them.
            for pad in 0..8 {
                for repeat in [1, 9, 40] {
                    let long = format!("{}{}", "x".repeat(pad), text.repeat(repeat));
                    for (title, body) in
                        [(&long[..], text), (text, &long[..]), (&long[..], &long[..])]
                    {
                        let mut slow = Census::default();
                        count_slowly(&mut slow, prefix(title, TITLE_BYTES));
                        count_slowly(&mut slow, prefix(body, SAMPLE_BYTES));
                        assert_eq!(tallied(title, body).census(), slow, "{title} | {body}");
                    }
                }
            }
        }
    }

    #[test]
    fn identifying_from_the_tally_gives_the_answers_of_the_census() {
        let parts = [
            "북한이 정찰위성을 발사했다고 밝혔다. ",
            "North Korea said it had launched a satellite. ",
            "КНДР сообщила о запуске спутника. ",
            "Україна отримала нову партію допомоги. ",
            "朝鲜宣布发射了一颗卫星。",
            "Die Regierung hat die Pläne bestätigt. ",
            "أعلنت كوريا الشمالية إطلاق قمر صناعي. ",
            "ICBM NATO KCNA 1234 — !!! ",
        ];
        for a in parts {
            for b in parts {
                for c in parts {
                    let title = format!("{a}{b}");
                    let body = format!("{c}{b}{c}{a}{c}{b}{a}");
                    for (title, body) in
                        [(&title[..], &body[..]), (&title[..], ""), ("", &body[..])]
                    {
                        assert_eq!(
                            detect_tallied_how(&tallied(title, body), title, body),
                            detect_how(title, body),
                            "{title} | {body}"
                        );
                    }
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn tally_and_census_agree_on_arbitrary_text(
            title in "[a-zA-Z0-9 .,'’éßłğ가-힣ㄱ-ㆎ一-龥ぁ-ゟ\u{400}-\u{52F}α-ω\u{600}-\u{6FF}\u{900}-\u{97F}\u{2000}-\u{206F}🚀]{0,80}",
            body in "[a-zA-Z0-9 .,'’éßłğ가-힣ㄱ-ㆎ一-龥ぁ-ゟ\u{400}-\u{52F}α-ω\u{600}-\u{6FF}\u{900}-\u{97F}\u{2000}-\u{206F}🚀]{0,200}",
        ) {
            let mut slow = Census::default();
            count_slowly(&mut slow, prefix(&title, TITLE_BYTES));
            count_slowly(&mut slow, prefix(&body, SAMPLE_BYTES));
            let tally = tallied(&title, &body);
            proptest::prop_assert_eq!(tally.census(), slow);
            proptest::prop_assert_eq!(
                detect_tallied_how(&tally, &title, &body),
                detect_how(&title, &body)
            );
        }
    }

    proptest::proptest! {
        /// Counts from 0 to 3 make ties between scripts common: the later script must win
        /// them, as the first definition (an iterator's `max_by_key`) let it.
        #[test]
        fn the_main_script_is_the_one_with_most_letters_the_later_on_a_tie(
            counts in proptest::collection::vec(0usize..4, 10),
        ) {
            let census = Census {
                latin: counts[0] + counts[9],
                latin_capitals: counts[9],
                cyrillic: counts[1],
                greek: counts[2],
                hangul: counts[3],
                han: counts[4],
                thai: counts[5],
                georgian: counts[6],
                armenian: counts[7],
                other: counts[8],
                ..Census::default()
            };
            let by_definition = [
                (Script::Latin, census.latin_weighted()),
                (Script::Cyrillic, census.cyrillic),
                (Script::Greek, census.greek),
                (Script::Hangul, 2 * census.hangul),
                (Script::Cjk, 2 * (census.han + census.kana)),
                (Script::Thai, census.thai),
                (Script::Georgian, census.georgian),
                (Script::Armenian, census.armenian),
                (Script::Other, census.other),
            ]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .max_by_key(|(_, n)| *n);
            proptest::prop_assert_eq!(census.dominant(), by_definition);
        }
    }

    /// The word scan as it was first written, a byte at a time: the eight-byte steps must
    /// find the same words and foreign letters.
    fn scan_slowly(counts: &mut WordCounts, text: &str) {
        let bytes = text.as_bytes();
        let mut word = Word::default();
        let mut at = 0;
        while at < bytes.len() {
            let byte = bytes[at];
            if byte.is_ascii_alphabetic() {
                word.packed = word.packed << 8 | u64::from(byte.to_ascii_lowercase());
                word.len += 1;
                at += 1;
                continue;
            }
            let c = text[at..].chars().next().expect("a character");
            at += c.len_utf8();
            if is_latin_extended(c) {
                let (lower, native) = fold(c);
                for (list, foreign) in counts.foreign.iter_mut().enumerate() {
                    *foreign += usize::from(native & 1 << list == 0);
                }
                for b in lower.to_string().bytes() {
                    word.packed = word.packed << 8 | u64::from(b);
                    word.len += 1;
                }
                continue;
            }
            let letter_follows = bytes
                .get(at)
                .is_some_and(|b| b.is_ascii_alphabetic() || (0xC3..=0xC9).contains(b));
            if (c == '\'' || c == '’') && word.len > 0 && letter_follows {
                counts.finish(Word {
                    packed: word.packed << 8 | u64::from(b'\''),
                    len: word.len + 1,
                });
                word = Word {
                    packed: u64::from(b'\''),
                    len: 1,
                };
                continue;
            }
            counts.finish(word);
            word = Word::default();
        }
        counts.finish(word);
    }

    fn assert_scan_matches_reference(text: &str) {
        let mut fast = WordCounts::default();
        fast.scan(text);
        let mut slow = WordCounts::default();
        scan_slowly(&mut slow, text);
        assert_eq!(fast, slow, "{text:?}");
    }

    fn assert_scans_alike(text: &str) {
        // Alignments of the text against the eight-byte parts of a block, at the start of a
        // block and just before its end (the filler's 58 bytes end in a word that runs on).
        let near_block_end = format!("{}Ab", "z. ".repeat(19));
        for pad in [
            "", " ", "a", "ab ", "The ", "d'", "x’", "Straße ", "가", "가a", "ж", "—", "ả",
        ] {
            assert_scan_matches_reference(&format!("{pad}{text}"));
            assert_scan_matches_reference(&format!("{near_block_end}{pad}{text}"));
        }
    }

    /// `text` after every number of bytes of each filler up to past a block: each of its
    /// bytes meets each place of a block, the first and last included.
    fn assert_scans_alike_at_every_offset(text: &str) {
        for filler in [
            "a", " ", "Q", "'", "’", "é", "É", "ж", "가", "1", "\u{0}", "ẞ",
        ] {
            let mut pad = String::new();
            while pad.len() <= BLOCK_BYTES + 8 {
                assert_scan_matches_reference(&format!("{pad}{text}"));
                assert_scan_matches_reference(&format!("{pad}{text}{pad}"));
                pad.push_str(filler);
            }
        }
    }

    /// The block scan against the byte scan where blocks meet: words of every length across
    /// the end of a block, apostrophes and letters outside ASCII on either side of it, a
    /// character of three bytes starting on any of the block's last bytes.
    #[test]
    fn the_block_word_scan_finds_what_a_byte_scan_finds_at_every_place() {
        let texts = [
            "the",
            "The of AND",
            "l'été d'Été qu’il x’y it's '",
            "dell'Italia’s ÀÉÎÕÜ àéîõü ßẞ İı ×÷ ḀỸ",
            "a’ ’a '' ’’ a'é é'a a’’b",
            "—“the”— «of» …and… ‘s’",
            "Центробанк the 朝鲜 of 가a",
            "\u{0}\u{7f}\u{80}\u{ff}\u{100}\u{24f}\u{250}\u{27f}\u{1e00}\u{1fff}\u{2000}\u{2fff}",
        ];
        for text in texts {
            assert_scans_alike_at_every_offset(text);
        }
        // Runs of letters of every length up to three blocks, alone and between words.
        let mut long = String::new();
        for len in 0..3 * BLOCK_BYTES + 2 {
            assert_scan_matches_reference(&long);
            assert_scan_matches_reference(&format!("the {long} of"));
            assert_scan_matches_reference(&format!("é{long}’s"));
            long.push(if len % 3 == 0 { 'A' } else { 'x' });
        }
        for len in [1, 7, 8, 9, 15, 16, 17, 63, 64, 65] {
            assert_scans_alike_at_every_offset(&"Wörter".repeat(len));
            assert_scans_alike_at_every_offset(&"aB".repeat(len));
        }
    }

    /// Item text of the feed corpus (titles, summaries and contents, from the start and cut
    /// at arbitrary character boundaries): the block scan finds what a byte scan finds.
    #[test]
    fn the_word_scans_agree_on_the_feed_corpus() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/feeds");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            eprintln!("skipped: no feed corpus at {}", dir.display());
            return;
        };
        let mut texts = 0;
        for entry in entries {
            let bytes = std::fs::read(entry.expect("a corpus entry").path()).expect("a feed file");
            let Ok(feed) = crate::parse::parse_feed(&bytes, None, "https://example.com/feed")
            else {
                continue;
            };
            for item in feed.items {
                for field in [&item.title, &item.summary, &item.content] {
                    let field = prefix(field, 4 * SAMPLE_BYTES);
                    assert_scans_alike(field);
                    // From a place that falls anywhere in a block.
                    let from = (texts * 7) % (field.len() + 1);
                    let from = (from..=field.len())
                        .find(|&at| field.is_char_boundary(at))
                        .unwrap_or(field.len());
                    assert_scan_matches_reference(&field[from..]);
                    texts += 1;
                }
            }
        }
        assert!(texts >= 1000, "{texts} texts");
    }

    #[test]
    fn the_eight_byte_word_scan_finds_what_a_byte_scan_finds() {
        let texts = [
            "",
            "a",
            "abcdefgh",
            "abcdefghi the",
            "The minister said that the aid would arrive after the talks.",
            "THE UN's envoy, l'ONU, dell'Italia, qu'il n'a pas d'eau — it’s “the” ’end' '",
            "Die Regierung hat beschlossen, was im Frühjahr mit der Hilfe geschieht.",
            "São Paulo, Łódź, Erdoğan, İstanbul, ẞ, ×÷, Ærø 123abc4de5 @[`{ AZaz",
            "북한 ICBM 발사, NATO 규탄 — «КНДР» the of and 朝鲜 the",
            "정부는a 다음b 달부터the청년of주거 Центробанк,сохранил the ставку 🚀the🛰️of",
            "Việt Nam đã nói rằng ẞtraße Ḁ ḁ ỹ the ’tis ‘the’ — “of” …and",
            "supercalifragilistic antidisestablishment the''the ''' 'the 'S",
            "a\u{301}b\u{200d}the\u{AD}of\u{feff}and\u{0}with\u{7f}from",
        ];
        for text in texts {
            assert_scans_alike(text);
            assert_scans_alike(&text.repeat(7));
        }
        // Every cut of a text with apostrophes and letters outside ASCII near each place.
        let text = "it's the d'Été l'été x’y of and’ ";
        for cut in (0..=text.len()).filter(|&cut| text.is_char_boundary(cut)) {
            assert_scans_alike(&text[..cut]);
            assert_scans_alike(&text[cut..]);
        }
    }

    #[test]
    fn the_word_scans_agree_on_real_news() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut texts = 0;
        for file in [
            "../shared/labelled/news_dev.jsonl",
            "tests/data/news_own.jsonl",
            "tests/data/dev.jsonl",
        ] {
            let Ok(lines) = std::fs::read_to_string(root.join(file)) else {
                eprintln!("{file} is absent: its items are not compared");
                continue;
            };
            for line in lines.lines().filter(|l| !l.trim().is_empty()) {
                let item: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
                for field in ["title", "summary"] {
                    assert_scans_alike(item[field].as_str().unwrap_or(""));
                    texts += 1;
                }
            }
        }
        assert!(texts >= 500, "{texts} texts");
    }

    proptest::proptest! {
        #[test]
        fn the_word_scans_agree_on_arbitrary_text(
            text in "[a-zA-Z '’.,;éÉßłğİıñçÀ-ɏ\u{1E00}-\u{1EFF}ə가-힣а-я0-9\u{0}-\u{7f}]{0,300}",
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
        ) {
            assert_scans_alike(&text);
            assert_scans_alike(&String::from_utf8_lossy(&bytes));
        }
    }

    /// Two languages of one script side by side, each with more of its own words or letters
    /// than a quotation brings, are several languages; a name or a title of the other
    /// language inside a text its words settle is not.
    #[test]
    fn two_languages_of_one_script_side_by_side_are_undetermined() {
        let english = "Officials said the plan, which had been delayed, would go ahead.";
        let german = "Die Regierung hat sich mit den Ländern auf eine Reform geeinigt.";
        assert_eq!(detect_how(english, german), (None, Route::SeveralLanguages));
        let ukrainian = "Уряд погодив нову програму підтримки для її регіонів і громад.";
        let russian = "Правительство обсудило меры поддержки малых предприятий в этом году и вынесло решение.";
        assert_eq!(
            detect_how(ukrainian, russian),
            (None, Route::SeveralLanguages)
        );
        // A German title quoted in an English report: the English words settle it.
        let report = "The ministry said that the law, known as \"Gesetz über die Reform\", \
                      would be debated after the summer, and that the opposition had \
                      rejected it because of its costs.";
        assert_eq!(
            detect_how(report, ""),
            (Lang::parse("en"), Route::Words(Lang::parse("en").unwrap()))
        );
        // A Russian name spelled with ы in a Ukrainian sentence is one letter, not a language.
        let with_name = "Уряд погодив нову програму для її регіонів, заявив Рыков.";
        assert_eq!(detect_how(with_name, "").0, Lang::parse("uk"));
    }

    /// A Latin text its words cannot settle, beside a sentence in another script, is in
    /// several languages; a name in another script is not enough, nor are letters beyond the
    /// Latin blocks (Azerbaijani ə), which belong to the Latin text.
    #[test]
    fn a_passage_in_a_second_script_leaves_unsettled_text_undetermined() {
        let korean = "청년 주거 지원 예산을 늘리기로";
        let russian = "Центробанк сохранил ставку.";
        let mixed_latin = "Seoul weist Kiews Wunsch nach Luftabwehrraketen zurück. \
                           Shares in technology companies rose after quarterly earnings.";
        for second in [korean, russian] {
            let (got, route) = detect_how(mixed_latin, second);
            assert_eq!((got, route), (None, Route::SecondScript), "{second}");
        }
        // Words that settle the Latin text still do.
        let english = "Officials said the talks with their neighbours would resume after the \
                       holiday, and that the aid had been agreed.";
        assert_eq!(
            detect_how(english, korean),
            (Lang::parse("en"), Route::Words(Lang::parse("en").unwrap()))
        );
        // A quoted name is no passage.
        assert_eq!(
            detect_how(mixed_latin, "习近平").1,
            Route::Models,
            "a Chinese name"
        );
        // Nor are letters beyond the Latin blocks.
        let azerbaijani = "Nazir bildirib ki, danışıqlardan sonra çatdırılmalar yenidən \
                           başlayacaq və bu barədə qərar veriləcək.";
        assert_eq!(detect_how(azerbaijani, "").1, Route::Models);
        // Cyrillic that its letters cannot settle, beside a Korean sentence.
        let cyrillic = "Північна Корея повідомила Японію про вікно для запуску. В Москве \
                        открылась международная выставка современного искусства.";
        assert_eq!(detect_how(cyrillic, korean), (None, Route::SecondScript));
    }

    #[test]
    fn every_listed_word_is_found_in_the_table() {
        for (list, words) in WORD_LISTS.iter().enumerate() {
            for (index, word) in words.words.iter().enumerate() {
                assert_eq!(
                    WORD_TABLE.find(pack(word.as_bytes())),
                    Some((list, index)),
                    "{word}"
                );
            }
        }
        assert_eq!(WORD_TABLE.find(pack(b"zzz")), None);
    }

    #[test]
    fn only_the_start_of_a_huge_item_is_read() {
        let huge = "Officials said the talks would go on. ".repeat(300_000);
        let started = std::time::Instant::now();
        assert_eq!(code(&huge, &huge), "en");
        // A generous bound: the point is that 11 MB are not scanned (that takes ~10 ms).
        assert!(started.elapsed() < std::time::Duration::from_millis(200));
    }

    #[test]
    fn cuts_fall_on_character_boundaries() {
        let text = "가".repeat(1000);
        for max in 0..10 {
            let cut = prefix(&text, max);
            assert!(cut.len() <= max && text.starts_with(cut));
        }
        assert_eq!(
            code(&"é".repeat(5000), &"ж".repeat(5000)),
            code(&"é".repeat(100), &"ж".repeat(160))
        );
    }

    #[test]
    fn codes_parse_and_print() {
        assert_eq!(Lang::parse("KO").map(|l| l.to_string()), Some("ko".into()));
        assert_eq!(Lang::parse("und"), None);
        assert_eq!(Lang::parse("k1"), None);
        assert_eq!(Lang::parse("가나"), None);
        assert_eq!(stored(&Lang::parse("ko")), "ko");
        assert_eq!(stored(&None), "und");
    }
}
