//! Display text to normalised words.
//!
//! Matching works on words, not characters: a query term matches whole words, phrases match
//! consecutive words, and `NEAR/n` counts words. The normaliser therefore turns each field's
//! display text into a stream of folded words, written into one buffer with a single space
//! between words and a line break between fields. Every word remembers the byte range of the
//! display text it came from, which is how evidence offsets stay exact.
//!
//! Folding: Unicode compatibility decomposition (NFKD, so full-width letters and ligatures fold
//! to plain ones), combining diacritics of the Latin, Greek and Cyrillic blocks dropped (é = e,
//! ё = е; й is kept, it is a letter of its own), lowercase. Hangul syllables are kept whole so
//! that 북한 stays 북한. Han ideographs and kana become one word each, since those scripts do
//! not separate words with spaces. Soft hyphens and zero-width characters are ignored. Any
//! other character that is not a letter, digit or mark separates words, which is what makes
//! hyphens and spaces equivalent ("Jong-un" = "Jong un").

use std::sync::OnceLock;

use super::Field;
use super::lang::ScriptTally;

#[cfg(test)]
mod reference;

/// One word of the normalised stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    /// Byte range of the folded word in [`Analyzed::norm`].
    pub norm_start: u32,
    pub norm_end: u32,
    /// Byte range of the original word in its field's display text.
    pub disp_start: u32,
    pub disp_end: u32,
}

/// The words of one field, as a range of [`Analyzed::tokens`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldRun {
    pub field: Field,
    pub first_token: u32,
    pub end_token: u32,
    /// Byte range of this field in [`Analyzed::norm`].
    pub norm_start: u32,
    pub norm_end: u32,
}

/// The normalised form of an item's fields. Reused between items to avoid allocation.
#[derive(Clone, Debug, Default)]
pub struct Analyzed {
    /// Folded words, one space between words, one `\n` between fields: UTF-8, kept as bytes
    /// because the matcher reads it as bytes, and because bytes can be written eight at a
    /// time and cut back, which a `String` cannot be.
    pub norm: Vec<u8>,
    pub tokens: Vec<Token>,
    pub fields: Vec<FieldRun>,
    /// The tokens that are one Chinese or Japanese character, in order: about half a word of
    /// their language each, which is how `NEAR` counts them (see [`is_unspaced_word`]). Kept
    /// as the folding makes them, so that an item without them costs `NEAR` nothing.
    pub unspaced_tokens: Vec<u32>,
}

impl Analyzed {
    pub fn clear(&mut self) {
        self.norm.clear();
        self.tokens.clear();
        self.fields.clear();
        self.unspaced_tokens.clear();
    }

    /// Index of the field run that holds `token`.
    pub fn field_of_token(&self, token: u32) -> &FieldRun {
        let index = self.fields.partition_point(|run| run.end_token <= token);
        &self.fields[index]
    }

    /// Index of the token that starts at `norm_offset`, if any.
    pub fn token_starting_at(&self, norm_offset: u32) -> Option<u32> {
        let index = self
            .tokens
            .partition_point(|token| token.norm_start < norm_offset);
        (self.tokens.get(index)?.norm_start == norm_offset).then_some(index as u32)
    }

    /// Index of the token of `run` whose display range holds `disp_offset` (or the next one).
    pub fn token_at_display(&self, run: &FieldRun, disp_offset: u32) -> Option<u32> {
        let tokens = &self.tokens[run.first_token as usize..run.end_token as usize];
        let index = tokens.partition_point(|token| token.disp_end <= disp_offset);
        (index < tokens.len()).then_some(run.first_token + index as u32)
    }

    /// Appends one field's display text. Empty fields add nothing.
    pub fn push_field(&mut self, field: Field, display: &str) {
        self.push_field_with(field, display, &mut NoCount);
    }

    /// [`Analyzed::push_field`], counting the letters of the field's first `limit` bytes by
    /// script into `tally` on the way (whole characters only, as `text::lang` cuts its
    /// samples): language identification's census, taken from the characters this pass
    /// decodes anyway rather than from a second pass over the text.
    pub fn push_field_counting(
        &mut self,
        field: Field,
        display: &str,
        tally: &mut ScriptTally,
        limit: usize,
    ) {
        self.push_field_with(field, display, &mut CountTo { tally, limit });
    }

    fn push_field_with<C: LetterCount>(&mut self, field: Field, display: &str, count: &mut C) {
        if display.is_empty() {
            return;
        }
        // Folding rarely makes text longer; one reservation spares most growth checks a copy.
        self.norm.reserve(display.len() + 1);
        if !self.norm.is_empty() {
            self.norm.push(b'\n');
        }
        let norm_start = self.norm.len() as u32;
        let first_token = self.tokens.len() as u32;
        let mut words = WordWriter {
            out: self,
            first_token,
            current: None,
        };
        let mut block = AsciiBlock::default();
        // Identification looks at a field's first bytes only: past them the walk goes on
        // without the census, whose checks cost more than they count.
        let counted = count.stop().min(display.len());
        let i = fold_span(&mut words, display, 0, counted, count, &mut block);
        fold_span(
            &mut words,
            display,
            i,
            display.len(),
            &mut NoCount,
            &mut block,
        );
        words.separator();
        let end_token = self.tokens.len() as u32;
        if end_token == first_token {
            // No words: drop the field separator too, so empty fields leave no trace.
            self.norm.truncate(norm_start as usize);
            if self.norm.ends_with(b"\n") {
                self.norm.pop();
            }
            return;
        }
        self.fields.push(FieldRun {
            field,
            first_token,
            end_token,
            norm_start,
            norm_end: self.norm.len() as u32,
        });
    }
}

/// Folds the display bytes of `display` from `start` into `words` until at least `stop`,
/// counting letters into `count`; returns where it stopped (a run or block may take it past
/// `stop`, never past the end).
#[inline(always)]
fn fold_span<C: LetterCount>(
    words: &mut WordWriter<'_>,
    display: &str,
    start: usize,
    stop: usize,
    count: &mut C,
    block: &mut AsciiBlock,
) -> usize {
    let bytes = display.as_bytes();
    let table = fold_table();
    let mut i = start;
    while i < stop {
        let byte = bytes[i];
        if byte < 0x80 {
            if bytes.get(i + 1).is_none_or(|next| *next >= 0x80) {
                // One ASCII byte alone, most often the space between two words in another
                // script: not worth a block.
                if byte.is_ascii_alphanumeric() {
                    count.ascii_block(
                        i,
                        1,
                        u64::from(byte.is_ascii_alphabetic()),
                        u64::from(byte.is_ascii_uppercase()),
                    );
                    words.letter(i, i + 1, char::from(byte.to_ascii_lowercase()));
                } else {
                    words.separator();
                }
                i += 1;
                continue;
            }
            // Most text is ASCII: classify up to 64 bytes at once and take their words
            // from the block's bit masks.
            i += words.ascii_block(i, &bytes[i..], block, count);
            continue;
        }
        let c = display[i..]
            .chars()
            .next()
            .expect("index is a char boundary");
        if is_hangul_syllable(c) {
            // Hangul is kept as written: take a whole run of syllables at once.
            let run = i + hangul_run_len(&bytes[i..]);
            count.hangul_run(i, run);
            words.open(i, run);
            let norm = &mut words.out.norm;
            match bytes.get(i..run + COPY) {
                // Kept as written: copied in whole pieces while the text has room past
                // the run, as most words do.
                Some(from) => copy_in_pieces(from, run - i, norm),
                None => norm.extend_from_slice(&bytes[i..run]),
            }
            i = run;
            continue;
        }
        if unspaced_run_char(&bytes[i..]).is_some() {
            // Chinese and Japanese: every character a word of its own, kept as written, a
            // whole run at once.
            i = words.unspaced_run(bytes, i, count);
            continue;
        }
        if let Some(folded) = table.word(c) {
            // Cyrillic, Greek and accented Latin words: fold a whole run of table letters
            // at once.
            let start = i;
            i += c.len_utf8();
            count.char(i, c as u32);
            words.letters(start, i, folded);
            // The folded letters gather in a small buffer that goes into the text in whole
            // pieces: a growth check and a length update for every letter cost more than
            // the letter's own folding.
            let mut piece = [0u8; RUN_PIECE + COPY];
            let mut filled = 0;
            // Every table character is two bytes long in UTF-8, decoded here in place.
            while let [lead @ 0xC2..=0xDF, next, ..] = bytes[i..] {
                let code = (u32::from(lead) & 0x1F) << 6 | (u32::from(next) & 0x3F);
                let packed = table.short_words[code as usize & 0x7FF];
                if packed == ShortWord::default() {
                    break;
                }
                count.class(i + 2, packed.census_class());
                // Written whole, the bytes past the fold overwritten by the next letter.
                piece[filled..filled + 4].copy_from_slice(&packed.utf8());
                filled += packed.len();
                i += 2;
                if filled > RUN_PIECE - 4 {
                    copy_in_pieces(&piece, filled, &mut words.out.norm);
                    filled = 0;
                }
            }
            copy_in_pieces(&piece, filled, &mut words.out.norm);
            // Stretches the open word's display range over the run.
            words.ignorable(i);
            continue;
        }
        let end = i + c.len_utf8();
        count.char(end, c as u32);
        fold_char(c, words, table, i, end);
        i = end;
    }
    i
}

/// What the normaliser counts for language identification while it walks a field.
trait LetterCount {
    /// Bytes of the field from which nothing is counted.
    fn stop(&self) -> usize;
    /// Whether anything at byte `start` or past it is counted: when not, the ASCII blocks
    /// skip their letter masks.
    fn wants(&self, start: usize) -> bool;
    /// The ASCII letters (`letters`, bit k for byte `start + k`) and capitals among them of
    /// a block of `len` ASCII bytes at byte `start`.
    fn ascii_block(&mut self, start: usize, len: usize, letters: u64, capitals: u64);
    /// A run of Hangul syllables at bytes `start..end`.
    fn hangul_run(&mut self, start: usize, end: usize);
    /// A character outside ASCII (not a Hangul syllable) ending at byte `end`.
    fn char(&mut self, end: usize, code: u32);
    /// The same, its census class already looked up.
    fn class(&mut self, end: usize, class: u8);
}

/// Counts nothing: matching alone.
struct NoCount;

impl LetterCount for NoCount {
    #[inline(always)]
    fn stop(&self) -> usize {
        0
    }
    #[inline(always)]
    fn wants(&self, _: usize) -> bool {
        false
    }
    #[inline(always)]
    fn ascii_block(&mut self, _: usize, _: usize, _: u64, _: u64) {}
    #[inline(always)]
    fn hangul_run(&mut self, _: usize, _: usize) {}
    #[inline(always)]
    fn char(&mut self, _: usize, _: u32) {}
    #[inline(always)]
    fn class(&mut self, _: usize, _: u8) {}
}

/// Counts the characters that end within the first `limit` bytes.
struct CountTo<'a> {
    tally: &'a mut ScriptTally,
    limit: usize,
}

impl LetterCount for CountTo<'_> {
    #[inline(always)]
    fn stop(&self) -> usize {
        self.limit
    }
    #[inline(always)]
    fn wants(&self, start: usize) -> bool {
        start < self.limit
    }

    #[inline(always)]
    fn ascii_block(&mut self, start: usize, len: usize, letters: u64, capitals: u64) {
        if start >= self.limit {
            return;
        }
        let within = len.min(self.limit - start);
        // `within` is 1..=64: the mask of its low bits, without a shift by 64.
        let keep = u64::MAX >> (64 - within);
        self.tally.ascii_counts(
            (letters & keep).count_ones(),
            (capitals & keep).count_ones(),
        );
    }

    #[inline]
    fn hangul_run(&mut self, start: usize, end: usize) {
        // Three bytes a syllable.
        let within = end.min(self.limit).saturating_sub(start) / 3;
        self.tally.hangul_syllables(within);
    }

    #[inline(always)]
    fn char(&mut self, end: usize, code: u32) {
        if end <= self.limit {
            self.tally.char(code);
        }
    }

    #[inline(always)]
    fn class(&mut self, end: usize, class: u8) {
        if end <= self.limit {
            self.tally.class(class);
        }
    }
}

/// Normalises a query term or list entry to its folded words.
pub fn normalize_words(text: &str) -> Vec<String> {
    let mut analyzed = Analyzed::default();
    analyzed.push_field(Field::Title, text);
    analyzed
        .tokens
        .iter()
        .map(|t| {
            String::from_utf8_lossy(&analyzed.norm[t.norm_start as usize..t.norm_end as usize])
                .into_owned()
        })
        .collect()
}

/// Bytes an ASCII block classifies at once: one bit each in a `u64`.
const BLOCK: usize = 64;
/// Bytes copied at once from a block's lowered text: most words are shorter.
const COPY: usize = 16;
/// Bytes of folded letters gathered before they go into the text.
const RUN_PIECE: usize = 64;

/// Up to [`BLOCK`] ASCII bytes, classified eight at a time, their verdicts gathered into bit
/// masks (bit k for byte k) so that words are found by counting zeros rather than by a
/// branch a byte, which mispredicts at nearly every word end.
struct AsciiBlock {
    /// The block lowercased, with room behind it for a [`COPY`]-byte copy from any offset
    /// (what lies past the block is left from blocks before: copied, then cut off).
    lowered: [u8; BLOCK + COPY],
    /// ASCII bytes the text starts with, at most [`BLOCK`].
    len: usize,
    /// Letters and digits among them.
    word: u64,
    /// Letters (either case) and capitals among them, filled only when asked for (left
    /// empty otherwise).
    letters: u64,
    capitals: u64,
}

const HIGH: u64 = 0x8080_8080_8080_8080;
const LOW: u64 = 0x7F7F_7F7F_7F7F_7F7F;

const fn splat(byte: u8) -> u64 {
    u64::from_ne_bytes([byte; 8])
}

/// Per byte of `x` (high bits clear), the high bit set when `lo <= byte <= hi`: with high bits
/// cleared first, no addition carries into the next byte.
#[inline(always)]
fn in_range(x: u64, lo: u8, hi: u8) -> u64 {
    x.wrapping_add(splat(0x80 - lo)) & !x.wrapping_add(splat(0x7F - hi)) & HIGH
}

/// The high bits of the eight bytes of `mask` (nothing else set) as the low eight bits: each
/// byte's bit lands in the top byte of the product at its own place, and no two partial
/// products share a bit position, so nothing carries.
#[inline(always)]
fn gather_high_bits(mask: u64) -> u64 {
    ((mask >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

/// Appends the first `len` bytes of `from` to `out` in whole copies of [`COPY`] bytes, cut
/// back after: a copy of a length known only at run time costs a call. `from` holds at least
/// `len + COPY` bytes.
#[inline(always)]
fn copy_in_pieces(from: &[u8], len: usize, out: &mut Vec<u8>) {
    let at = out.len();
    let mut copied = 0;
    while copied < len {
        out.extend_from_slice(&from[copied..copied + COPY]);
        copied += COPY;
    }
    out.truncate(at + len);
}

impl AsciiBlock {
    /// Classifies the ASCII bytes `bytes` starts with (its first byte is ASCII), up to
    /// [`BLOCK`] of them; their letters and capitals too when `count_letters` (a constant
    /// where this is inlined, so the masks cost nothing when not wanted).
    #[inline(always)]
    fn classify(&mut self, bytes: &[u8], count_letters: bool) {
        let block = self;
        block.len = 0;
        block.word = 0;
        block.letters = 0;
        block.capitals = 0;
        match bytes.first_chunk::<BLOCK>() {
            // Most blocks have a whole block of text ahead: read from an array of known
            // length, the chunks unroll with no bounds check and no padding.
            Some(whole) => {
                for (at, chunk) in (0..BLOCK).step_by(8).zip(whole.as_chunks::<8>().0) {
                    if block.chunk(at, u64::from_le_bytes(*chunk), count_letters) {
                        break;
                    }
                }
            }
            None => {
                for at in (0..bytes.len()).step_by(8) {
                    let x = match bytes.get(at..at + 8) {
                        Some(chunk) => u64::from_le_bytes(chunk.try_into().expect("eight bytes")),
                        None => {
                            // A byte from 0x80 up pads the last chunk: it ends the block.
                            let mut chunk = [0x80u8; 8];
                            chunk[..bytes.len() - at].copy_from_slice(&bytes[at..]);
                            u64::from_le_bytes(chunk)
                        }
                    };
                    if block.chunk(at, x, count_letters) {
                        break;
                    }
                }
            }
        }
        // Bits past the block's end (a non-ASCII byte's continuation bytes can look like
        // letters once their high bit is dropped) must not count.
        let keep = u64::MAX
            .checked_shr((BLOCK - block.len) as u32)
            .unwrap_or(0);
        block.word &= keep;
        block.letters &= keep;
        block.capitals &= keep;
    }

    /// Classifies the eight bytes `x` at offset `at` of the block; true when one of them is
    /// not ASCII, which ends the block there.
    #[inline(always)]
    fn chunk(&mut self, at: usize, x: u64, count_letters: bool) -> bool {
        let low = x & LOW;
        let upper = in_range(low, b'A', b'Z') & !x;
        let letter = in_range(low | splat(0x20), b'a', b'z') & !x;
        let word = letter | (in_range(low, b'0', b'9') & !x);
        // 0x80 >> 2 is the 0x20 between a capital and its small letter.
        self.lowered[at..at + 8].copy_from_slice(&(x | upper >> 2).to_le_bytes());
        self.word |= gather_high_bits(word) << at;
        if count_letters {
            self.letters |= gather_high_bits(letter) << at;
            self.capitals |= gather_high_bits(upper) << at;
        }
        let not_ascii = x & HIGH;
        if not_ascii != 0 {
            self.len = at + (not_ascii.trailing_zeros() / 8) as usize;
            return true;
        }
        self.len = at + 8;
        false
    }
}

impl Default for AsciiBlock {
    fn default() -> Self {
        AsciiBlock {
            lowered: [0; BLOCK + COPY],
            len: 0,
            word: 0,
            letters: 0,
            capitals: 0,
        }
    }
}

/// Builds words into an [`Analyzed`], tracking the display range of the open word.
struct WordWriter<'a> {
    out: &'a mut Analyzed,
    first_token: u32,
    current: Option<Token>,
}

impl WordWriter<'_> {
    /// Adds a folded character that belongs to a word, from display bytes `start..end`.
    fn letter(&mut self, start: usize, end: usize, folded: char) {
        match &mut self.current {
            Some(token) => token.disp_end = end as u32,
            None => {
                if self.out.tokens.len() as u32 > self.first_token {
                    self.out.norm.push(b' ');
                }
                self.current = Some(Token {
                    norm_start: self.out.norm.len() as u32,
                    norm_end: 0,
                    disp_start: start as u32,
                    disp_end: end as u32,
                });
            }
        }
        push_char(&mut self.out.norm, folded);
    }

    /// Takes the words of the ASCII bytes `bytes` (display bytes from `start`, the first
    /// one ASCII) starts with, up to [`BLOCK`] of them, classified into `block`, counting
    /// their letters into `count`, and returns how many bytes it took.
    #[inline(always)]
    fn ascii_block<C: LetterCount>(
        &mut self,
        start: usize,
        bytes: &[u8],
        block: &mut AsciiBlock,
        count: &mut C,
    ) -> usize {
        block.classify(bytes, count.wants(start));
        count.ascii_block(start, block.len, block.letters, block.capitals);
        let len = block.len;
        let mut word = block.word;
        // The open word (from the block before, or letters outside ASCII) goes on into the
        // block, or ends before it.
        if let Some(token) = &mut self.current {
            // At most `len`: bits past the block are clear.
            let run = (!word).trailing_zeros() as usize;
            token.disp_end = (start + run) as u32;
            copy_in_pieces(&block.lowered[..run + COPY], run, &mut self.out.norm);
            if run < len {
                self.separator();
            }
            word &= u64::MAX.checked_shl(run as u32).unwrap_or(0);
        }
        if word == 0 {
            return len;
        }
        // Every other word lies in the block, so it is written and recorded here without the
        // open word's bookkeeping; only the last may go on past the block and stays open.
        let Analyzed { norm, tokens, .. } = &mut *self.out;
        let mut space = tokens.len() as u32 > self.first_token;
        let base = norm.len();
        // Room for the block's words, a space before each (one more than the block's
        // separators at most) and the overshoot of the last copy; cut back below.
        norm.resize(base + len + 1 + COPY, 0);
        let out = &mut norm[base..];
        let mut written = 0;
        let mut starts = word & !(word << 1);
        let mut ends = word & !(word >> 1);
        loop {
            let first = starts.trailing_zeros() as usize;
            let end = ends.trailing_zeros() as usize + 1;
            starts &= starts - 1;
            ends &= ends - 1;
            // Written always, kept only when a word came before.
            out[written] = b' ';
            written += usize::from(space);
            space = true;
            let norm_start = base + written;
            let mut copied = 0;
            while copied < end - first {
                out[written + copied..written + copied + COPY]
                    .copy_from_slice(&block.lowered[first + copied..first + copied + COPY]);
                copied += COPY;
            }
            written += end - first;
            let token = Token {
                norm_start: norm_start as u32,
                norm_end: (base + written) as u32,
                disp_start: (start + first) as u32,
                disp_end: (start + end) as u32,
            };
            if starts == 0 {
                if end == len {
                    self.current = Some(Token {
                        norm_end: 0,
                        ..token
                    });
                } else {
                    tokens.push(token);
                }
                break;
            }
            tokens.push(token);
        }
        norm.truncate(base + written);
        len
    }

    /// Makes a word of each character of the run of [`unspaced_run_char`]s at display byte
    /// `start` of `bytes`, counting them into `count`, and returns where the run ends: what
    /// [`unspaced_word`] does for each, without its open-word bookkeeping per character.
    #[inline(always)]
    fn unspaced_run<C: LetterCount>(&mut self, bytes: &[u8], start: usize, count: &mut C) -> usize {
        self.separator();
        let Analyzed {
            norm,
            tokens,
            unspaced_tokens,
            ..
        } = &mut *self.out;
        let mut i = start;
        while let Some(code) = unspaced_run_char(&bytes[i..]) {
            let end = i + 3;
            count.char(end, code);
            if tokens.len() as u32 > self.first_token {
                norm.push(b' ');
            }
            let norm_start = norm.len() as u32;
            norm.extend_from_slice(&bytes[i..end]);
            unspaced_tokens.push(tokens.len() as u32);
            tokens.push(Token {
                norm_start,
                norm_end: norm_start + 3,
                disp_start: i as u32,
                disp_end: end as u32,
            });
            i = end;
        }
        i
    }

    /// Adds folded text that belongs to a word, from display bytes `start..end`.
    fn letters(&mut self, start: usize, end: usize, folded: &str) {
        self.open(start, end);
        self.out.norm.extend_from_slice(folded.as_bytes());
    }

    /// Opens a word at display byte `start`, or extends the open one, to display byte `end`.
    #[inline(always)]
    fn open(&mut self, start: usize, end: usize) {
        match &mut self.current {
            Some(token) => token.disp_end = end as u32,
            None => {
                if self.out.tokens.len() as u32 > self.first_token {
                    self.out.norm.push(b' ');
                }
                self.current = Some(Token {
                    norm_start: self.out.norm.len() as u32,
                    norm_end: 0,
                    disp_start: start as u32,
                    disp_end: end as u32,
                });
            }
        }
    }

    /// A character that vanishes (diacritic, soft hyphen): it stays inside the open word's
    /// display range, so the evidence for "Pokémon" includes its accent.
    fn ignorable(&mut self, end: usize) {
        if let Some(token) = &mut self.current {
            token.disp_end = end as u32;
        }
    }

    #[inline(always)]
    fn separator(&mut self) {
        if let Some(mut token) = self.current.take() {
            token.norm_end = self.out.norm.len() as u32;
            self.out.tokens.push(token);
        }
    }
}

/// Appends `c` in UTF-8: four bytes written, then cut back, rather than a copy of a length
/// known only at run time.
#[inline]
fn push_char(out: &mut Vec<u8>, c: char) {
    let mut utf8 = [0u8; 4];
    let len = c.encode_utf8(&mut utf8).len();
    let at = out.len();
    out.extend_from_slice(&utf8);
    out.truncate(at + len);
}

/// The length of the run of Hangul syllables (U+AC00..=U+D7A3) that `bytes` starts with,
/// read from the UTF-8 bytes rather than decoded character by character.
fn hangul_run_len(bytes: &[u8]) -> usize {
    // UTF-8 keeps code point order, so the syllables' encodings are exactly the three-byte
    // values from EA B0 80 (U+AC00) to ED 9E A3 (U+D7A3): one comparison a syllable, where a
    // test per lead byte mispredicts on every change of lead in a run.
    const FIRST: u32 = 0xEA_B0_80;
    const LAST: u32 = 0xED_9E_A3;
    let mut len = 0;
    while let [lead, second, third, ..] = bytes[len..] {
        let encoded = u32::from_be_bytes([0, lead, second, third]);
        if encoded.wrapping_sub(FIRST) > LAST - FIRST {
            break;
        }
        len += 3;
    }
    len
}

/// The code point of the character `bytes` starts with when it is one of the three-byte
/// characters of [`is_unspaced_script`] (kana, Han and its extension A and compatibility
/// ideographs: all of Chinese and Japanese text but the rare ideographs of the supplementary
/// planes), which fold to themselves. UTF-8 keeps code point order, so each block is one
/// range of three-byte values.
#[inline(always)]
fn unspaced_run_char(bytes: &[u8]) -> Option<u32> {
    const BLOCKS: [(u32, u32); 4] = [
        (0xE3_81_80, 0xE3_83_BF), // U+3040..=U+30FF, kana
        (0xE3_90_80, 0xE4_B6_BF), // U+3400..=U+4DBF, Han extension A
        (0xE4_B8_80, 0xE9_BF_BF), // U+4E00..=U+9FFF, Han
        (0xEF_A4_80, 0xEF_AB_BF), // U+F900..=U+FAFF, compatibility ideographs
    ];
    let [lead, second, third, ..] = *bytes else {
        return None;
    };
    let encoded = u32::from_be_bytes([0, lead, second, third]);
    BLOCKS
        .iter()
        .any(|(first, last)| encoded.wrapping_sub(*first) <= last - first)
        .then(|| {
            u32::from(lead & 0x0F) << 12 | u32::from(second & 0x3F) << 6 | u32::from(third & 0x3F)
        })
}

fn is_hangul_syllable(c: char) -> bool {
    ('\u{AC00}'..='\u{D7A3}').contains(&c)
}

/// Whether a normalised word is one character of a script written without spaces (Chinese,
/// Japanese), which the normaliser makes a word of its own: such a character is about half a
/// word of the language, which is how `NEAR` counts it.
pub fn is_unspaced_word(word: &[u8]) -> bool {
    let mut chars = std::str::from_utf8(word).unwrap_or("").chars();
    matches!((chars.next(), chars.next()), (Some(c), None) if is_unspaced_script(c))
}

/// Scripts written without spaces between words: each character is a word of its own.
fn is_unspaced_script(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF        // hiragana, katakana
        | 0x3400..=0x4DBF      // Han extension A
        | 0x4E00..=0x9FFF      // Han unified ideographs
        | 0xF900..=0xFAFF      // Han compatibility ideographs
        | 0x20000..=0x3134F) // Han extensions B-G
}

fn is_ignorable(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}'
    )
}

fn is_dropped_diacritic(c: char) -> bool {
    ('\u{0300}'..='\u{036F}').contains(&c)
}

fn fold_char(c: char, words: &mut WordWriter<'_>, table: &FoldTable, start: usize, end: usize) {
    // The table first: it covers the Cyrillic, Greek and accented Latin of European text.
    if let Some((kind, folded)) = table.lookup(c) {
        match kind {
            FoldKind::Word => {
                words.letters(start, end, folded);
            }
            FoldKind::Separator => words.separator(),
            FoldKind::Vanishes => words.ignorable(end),
            FoldKind::Mixed => {
                for f in folded.chars() {
                    classify_folded(f, words, start, end);
                }
            }
        }
        return;
    }
    if is_hangul_syllable(c) {
        words.letter(start, end, c);
        return;
    }
    if is_unspaced_script(c) {
        unspaced_word(c, words, start, end);
        return;
    }
    if is_ignorable(c) {
        words.ignorable(end);
        return;
    }
    if ('\u{2000}'..='\u{206F}').contains(&c) || ('\u{3000}'..='\u{303F}').contains(&c) {
        // General and CJK punctuation (quotes, dashes, ellipses, ideographic space): frequent
        // in news text and never part of a word.
        words.separator();
        return;
    }
    let mut emitted = false;
    fold_slow(c, |f| {
        emitted = true;
        classify_folded(f, words, start, end);
    });
    if !emitted {
        words.ignorable(end);
    }
}

/// A Chinese or Japanese character, from display bytes `start..end`: a word of its own, listed
/// in [`Analyzed::unspaced_tokens`].
fn unspaced_word(c: char, words: &mut WordWriter<'_>, start: usize, end: usize) {
    words.separator();
    words.letter(start, end, c);
    words.separator();
    // The character is the token just closed.
    let token = words.out.tokens.len() as u32 - 1;
    words.out.unspaced_tokens.push(token);
}

fn classify_folded(f: char, words: &mut WordWriter<'_>, start: usize, end: usize) {
    if is_unspaced_script(f) {
        // A compatibility form that folds to one ("㈫" to "(火)"), a word like the others.
        unspaced_word(f, words, start, end);
    } else if f.is_alphanumeric() || (words.current.is_some() && is_mark(f)) {
        words.letter(start, end, f);
    } else {
        words.separator();
    }
}

fn is_mark(c: char) -> bool {
    unicode_normalization::char::is_combining_mark(c)
}

/// Folds one character: compatibility decomposition, dropped diacritics, lowercase.
fn fold_slow(c: char, mut emit: impl FnMut(char)) {
    match c {
        'ß' | 'ẞ' => {
            emit('s');
            emit('s');
        }
        'й' | 'Й' => emit('й'),
        'ў' | 'Ў' => emit('ў'),
        _ => unicode_normalization::char::decompose_compatible(c, |d| {
            if !is_dropped_diacritic(d) {
                d.to_lowercase().for_each(&mut emit);
            }
        }),
    }
}

/// How a table character's fold behaves, decided once when the table is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FoldKind {
    /// Folds to letters or digits only.
    Word,
    /// Folds to one character that separates words.
    Separator,
    /// Folds to nothing (a lone diacritic).
    Vanishes,
    /// Anything else: classify each folded character.
    Mixed,
}

/// Precomputed folds for U+0080..U+07FF, every character UTF-8 writes in two bytes (Latin-1,
/// Latin Extended, Greek, Cyrillic, Armenian, Hebrew, Arabic, ...): the non-ASCII letters of
/// most news text outside East Asia, looked up instead of decomposed each time.
struct FoldTable {
    /// Per character, from [`TABLE_FIRST`].
    entries: Vec<Fold>,
    /// Per character below [`TABLE_END`], for the letters that fold to letters or digits of
    /// four bytes at most (nearly all of them): the fold and the character's census class in
    /// one word, read by the loop over a run of such letters; zero for every other character.
    short_words: Box<[ShortWord; TABLE_END as usize]>,
}

/// A fold's UTF-8 zero-padded in the low four bytes, its length in the fifth, the folded
/// character's census class in the sixth; zero when there is none.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct ShortWord(u64);

impl ShortWord {
    fn new(fold: &str, census_class: u8) -> Option<Self> {
        let mut utf8 = [0u8; 4];
        utf8.get_mut(..fold.len())?.copy_from_slice(fold.as_bytes());
        (!fold.is_empty()).then(|| {
            ShortWord(
                u64::from(u32::from_le_bytes(utf8))
                    | (fold.len() as u64) << 32
                    | u64::from(census_class) << 40,
            )
        })
    }

    #[inline(always)]
    fn utf8(self) -> [u8; 4] {
        (self.0 as u32).to_le_bytes()
    }

    #[inline(always)]
    fn len(self) -> usize {
        (self.0 >> 32) as usize & 0xFF
    }

    #[inline(always)]
    fn census_class(self) -> u8 {
        (self.0 >> 40) as u8
    }
}

/// How one table character folds.
struct Fold {
    kind: FoldKind,
    /// Kept apart for each character, so that a lookup slices nothing.
    text: Box<str>,
}

const TABLE_FIRST: u32 = 0x80;
const TABLE_END: u32 = 0x800;

impl FoldTable {
    fn build() -> Self {
        let mut entries = Vec::with_capacity((TABLE_END - TABLE_FIRST) as usize);
        let mut short_words = Box::new([ShortWord::default(); TABLE_END as usize]);
        for code in TABLE_FIRST..TABLE_END {
            let mut folded = String::new();
            // Ignorable characters (the soft hyphen) vanish from the word they are in.
            if let Some(c) = char::from_u32(code).filter(|c| !is_ignorable(*c)) {
                fold_slow(c, |f| folded.push(f));
            }
            let chars: Vec<char> = folded.chars().collect();
            let kind = match chars.as_slice() {
                [] => FoldKind::Vanishes,
                all if all.iter().all(|f| f.is_alphanumeric()) => FoldKind::Word,
                [one] if !is_mark(*one) => FoldKind::Separator,
                _ => FoldKind::Mixed,
            };
            if kind == FoldKind::Word
                && let Some(word) = ShortWord::new(&folded, super::lang::census_class(code))
            {
                short_words[code as usize] = word;
            }
            entries.push(Fold {
                kind,
                text: folded.into_boxed_str(),
            });
        }
        FoldTable {
            entries,
            short_words,
        }
    }

    fn lookup(&self, c: char) -> Option<(FoldKind, &str)> {
        let fold = self
            .entries
            .get((c as u32).wrapping_sub(TABLE_FIRST) as usize)?;
        Some((fold.kind, &fold.text))
    }

    /// The fold of a table character that folds to letters or digits only.
    fn word(&self, c: char) -> Option<&str> {
        self.word_fold(c as u32).map(|fold| &*fold.text)
    }

    fn word_fold(&self, code: u32) -> Option<&Fold> {
        self.entries
            .get(code.wrapping_sub(TABLE_FIRST) as usize)
            .filter(|fold| fold.kind == FoldKind::Word)
    }
}

fn fold_table() -> &'static FoldTable {
    static TABLE: OnceLock<FoldTable> = OnceLock::new();
    TABLE.get_or_init(FoldTable::build)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        normalize_words(text)
    }

    #[test]
    fn folds_case_width_diacritics_and_splits_on_punctuation() {
        let cases: &[(&str, &[&str])] = &[
            ("North Korea", &["north", "korea"]),
            ("Kim Jong-un", &["kim", "jong", "un"]),
            ("KIM JONG UN", &["kim", "jong", "un"]),
            ("Pokémon Café", &["pokemon", "cafe"]),
            ("Poke\u{301}mon", &["pokemon"]),
            ("ＩＣＢＭ launch", &["icbm", "launch"]),
            ("ﬁnal", &["final"]),
            ("Straße", &["strasse"]),
            ("Ёлка КНДР", &["елка", "кндр"]),
            ("Южной Кореи", &["южной", "кореи"]),
            ("북한은 정찰위성을", &["북한은", "정찰위성을"]),
            ("朝鲜发射", &["朝", "鲜", "发", "射"]),
            ("satel\u{AD}lite", &["satellite"]),
            ("U.S.-ROK", &["u", "s", "rok"]),
            ("ICBMs, ICBM.", &["icbms", "icbm"]),
            ("  \n\t ", &[]),
            ("İstanbul", &["istanbul"]),
            ("x²", &["x2"]),
        ];
        for (input, want) in cases {
            assert_eq!(words(input), *want, "input {input:?}");
        }
    }

    #[test]
    fn a_run_of_table_letters_folds_each_letter_as_alone() {
        // The run after a word's first letter decodes its bytes in place: every two-byte
        // character must fold there as it does through the general path.
        for code in TABLE_FIRST..TABLE_END {
            let Some(c) = char::from_u32(code) else {
                continue;
            };
            if fold_table().word(c).is_none() {
                continue;
            }
            let mut alone = String::new();
            fold_slow(c, |f| alone.push(f));
            assert_eq!(
                words(&format!("д{c}ж")),
                [format!("д{alone}ж")],
                "U+{code:04X}"
            );
        }
    }

    #[test]
    fn hangul_runs_end_exactly_where_the_syllables_end() {
        let edges = [
            '\u{ABFF}', '\u{AC00}', '\u{AFFF}', '\u{B000}', '\u{CFFF}', '\u{D000}', '\u{D7A3}',
            '\u{D7A4}', '\u{E000}', 'a', 'ы',
        ];
        for first in edges {
            for second in edges {
                let text: String = [first, second, '한'].iter().collect();
                let naive: usize = text
                    .chars()
                    .take_while(|c| is_hangul_syllable(*c))
                    .map(char::len_utf8)
                    .sum();
                assert_eq!(hangul_run_len(text.as_bytes()), naive, "{text:?}");
            }
        }
    }

    #[test]
    fn gathered_high_bits_land_on_their_own_bits() {
        for bits in 0..=255u64 {
            let spread = (0..8)
                .filter(|k| bits >> k & 1 == 1)
                .fold(0u64, |mask, k| mask | 0x80 << (8 * k));
            assert_eq!(gather_high_bits(spread), bits, "{bits:#b}");
        }
    }

    #[test]
    fn ascii_blocks_classify_every_byte_as_a_byte_scan_does() {
        // Each byte value at each place of a block, in texts ending at every length.
        let base = *b"aZ0bY9cXdWeVfUgThSiR jK-LmNo pQr.StU vWx yz AB CD 12 34 qq zz 00 ab";
        for byte in 0..=255u8 {
            for at in 0..base.len() {
                let mut bytes = base;
                bytes[at] = byte;
                for len in [at.max(1), at + 1, 8, 9, 63, 64, 65, base.len()] {
                    let bytes = &bytes[..len.min(base.len())];
                    let mut block = AsciiBlock::default();
                    block.classify(bytes, true);
                    let ascii = bytes
                        .iter()
                        .take(BLOCK)
                        .take_while(|b| b.is_ascii())
                        .count();
                    assert_eq!(block.len, ascii, "{byte:#x} at {at}, {len} bytes");
                    let mask = |keep: fn(&u8) -> bool| {
                        (0..ascii)
                            .filter(|&k| keep(&bytes[k]))
                            .fold(0u64, |mask, k| mask | 1 << k)
                    };
                    assert_eq!(block.word, mask(u8::is_ascii_alphanumeric));
                    assert_eq!(block.letters, mask(u8::is_ascii_alphabetic));
                    assert_eq!(block.capitals, mask(u8::is_ascii_uppercase));
                    let lowered: Vec<u8> =
                        bytes[..ascii].iter().map(u8::to_ascii_lowercase).collect();
                    assert_eq!(block.lowered[..ascii], lowered[..]);
                }
            }
        }
    }

    #[test]
    fn token_display_ranges_cover_the_original_words() {
        let display = "<Pokémon> Kim Jong‑un, 북한은 «КНДР»";
        let mut analyzed = Analyzed::default();
        analyzed.push_field(Field::Summary, display);
        let spans: Vec<&str> = analyzed
            .tokens
            .iter()
            .map(|t| &display[t.disp_start as usize..t.disp_end as usize])
            .collect();
        assert_eq!(spans, ["Pokémon", "Kim", "Jong", "un", "북한은", "КНДР"]);
    }

    #[test]
    fn fields_are_separated_and_empty_fields_leave_no_trace() {
        let mut analyzed = Analyzed::default();
        analyzed.push_field(Field::Title, "A b");
        analyzed.push_field(Field::Summary, " -- ");
        analyzed.push_field(Field::Content, "c");
        assert_eq!(analyzed.norm, b"a b\nc");
        assert_eq!(analyzed.fields.len(), 2);
        assert_eq!(analyzed.fields[1].field, Field::Content);
        assert_eq!(analyzed.field_of_token(2).field, Field::Content);
        assert_eq!(analyzed.token_starting_at(4), Some(2));
        assert_eq!(analyzed.token_starting_at(3), None);
    }
}
