//! The feed list as other tools see it: OPML 2.0 in and out, and new feeds written into
//! `indicators.yaml` by editing its text, so that the analysts' comments, order and layout
//! stay as they wrote them.
//!
//! Nothing here decides whether a feed list is valid: an edited file is handed to
//! [`Indicators::parse`] before it replaces the old one, and it must give the old feeds plus
//! exactly the new ones, or it is not written.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use quick_xml::events::{BytesStart, Event};

use super::indicators::{Feed, Indicators};

/// An OPML file larger than this is refused: a reader's subscription list is kilobytes.
pub const MAX_OPML_BYTES: usize = 16 * 1024 * 1024;
/// At most this many feeds are taken from one OPML file.
pub const MAX_OPML_FEEDS: usize = 10_000;
/// Outlines nested deeper than this are refused (folders in readers are one or two deep).
pub const MAX_OPML_DEPTH: usize = 64;
/// Feed ids made from titles keep at most this many bytes.
const MAX_ID_BYTES: usize = 48;

#[derive(Debug, thiserror::Error)]
pub enum FeedListError {
    #[error("{path}: {size} bytes; an OPML file may hold at most {MAX_OPML_BYTES}")]
    TooLarge { path: PathBuf, size: usize },
    #[error("{path}: not OPML: {reason}")]
    NotOpml { path: PathBuf, reason: String },
    #[error("{path}, byte {offset}: {reason}")]
    Xml {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("{path}: outlines nested deeper than {MAX_OPML_DEPTH}")]
    TooDeep { path: PathBuf },
    #[error("{path}: more than {MAX_OPML_FEEDS} feeds")]
    TooMany { path: PathBuf },
    #[error("{path}: {reason}")]
    NotWritten { path: PathBuf, reason: String },
}

/// A feed to add to the list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewFeed {
    pub id: String,
    pub url: String,
    pub title: Option<String>,
    pub tags: Vec<String>,
}

/// A feed as an OPML outline gives it: its address, its name, and the folders and categories
/// it was filed under (as tags).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpmlFeed {
    pub url: String,
    pub title: Option<String>,
    pub tags: Vec<String>,
}

/// The feeds of an OPML document: every outline with an `xmlUrl`, at any depth. The folders
/// around an outline and its `category` attribute become its tags. Entities other than XML's
/// five are not expanded (a DTD is never read), so no document can grow in the reading.
pub fn read_opml(bytes: &[u8], path: &Path) -> Result<Vec<OpmlFeed>, FeedListError> {
    if bytes.len() > MAX_OPML_BYTES {
        return Err(FeedListError::TooLarge {
            path: path.to_owned(),
            size: bytes.len(),
        });
    }
    let text =
        std::str::from_utf8(bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes)).map_err(|e| {
            FeedListError::NotOpml {
                path: path.to_owned(),
                reason: format!("not UTF-8 (invalid byte at offset {})", e.valid_up_to()),
            }
        })?;
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let xml_error = |reader: &quick_xml::Reader<&[u8]>, reason: String| FeedListError::Xml {
        path: path.to_owned(),
        offset: reader.buffer_position(),
        reason,
    };
    let mut feeds = Vec::new();
    // The folder names (tags) of the open outlines; `None` for an outline that is a feed.
    let mut folders: Vec<Option<String>> = Vec::new();
    let mut saw_opml = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| xml_error(&reader, e.to_string()))?;
        let (start, empty) = match &event {
            Event::Start(start) => (start, false),
            Event::Empty(start) => (start, true),
            Event::End(end) => {
                if end.local_name().as_ref() == "outline" {
                    folders.pop();
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        match start.local_name().as_ref() {
            "opml" => saw_opml = true,
            "outline" => {
                let outline =
                    outline_attributes(start).map_err(|reason| xml_error(&reader, reason))?;
                let folder = match outline.xml_url {
                    Some(url) => {
                        if feeds.len() == MAX_OPML_FEEDS {
                            return Err(FeedListError::TooMany {
                                path: path.to_owned(),
                            });
                        }
                        let mut tags: Vec<String> = folders.iter().flatten().cloned().collect();
                        for category in &outline.categories {
                            push_unique(&mut tags, category.clone());
                        }
                        feeds.push(OpmlFeed {
                            url,
                            title: outline.title,
                            tags,
                        });
                        None
                    }
                    None => outline.title.as_deref().and_then(tag_of),
                };
                if !empty {
                    if folders.len() == MAX_OPML_DEPTH {
                        return Err(FeedListError::TooDeep {
                            path: path.to_owned(),
                        });
                    }
                    folders.push(folder);
                }
            }
            _ => {}
        }
    }
    if !saw_opml {
        return Err(FeedListError::NotOpml {
            path: path.to_owned(),
            reason: "no <opml> element".to_owned(),
        });
    }
    Ok(feeds)
}

struct Outline {
    xml_url: Option<String>,
    title: Option<String>,
    categories: Vec<String>,
}

fn outline_attributes(start: &BytesStart<'_>) -> Result<Outline, String> {
    let mut outline = Outline {
        xml_url: None,
        title: None,
        categories: Vec::new(),
    };
    let mut text = None;
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| e.to_string())?;
        let value = attribute
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| e.to_string())?
            .trim()
            .to_owned();
        if value.is_empty() {
            continue;
        }
        match attribute.key.local_name().as_ref() {
            "xmlUrl" => outline.xml_url = Some(value),
            "title" => outline.title = Some(value),
            "text" => text = Some(value),
            // Comma-separated; each may be a path ("/News/Korea"), whose parts are tags.
            "category" => {
                for part in value.split([',', '/']) {
                    if let Some(tag) = tag_of(part) {
                        push_unique(&mut outline.categories, tag);
                    }
                }
            }
            _ => {}
        }
    }
    // Readers write the name in `text` (required) and often repeat it in `title`.
    outline.title = outline.title.or(text);
    Ok(outline)
}

fn push_unique(list: &mut Vec<String>, value: String) {
    if !list.contains(&value) {
        list.push(value);
    }
}

/// A tag from a folder or category name: lowercase ASCII words joined by `-`; `None` when
/// nothing of it is ASCII.
fn tag_of(name: &str) -> Option<String> {
    let slug = slug(name, 32);
    (!slug.is_empty()).then_some(slug)
}

/// Lowercase ASCII letters and digits, other runs become one `-`, at most `max` bytes.
fn slug(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if out.len() >= max {
            break;
        }
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// An id for a new feed that no feed in `taken` has: from its title when that has ASCII
/// words, else from its address's host and path; `-2`, `-3`… when that is taken.
pub fn feed_id_for(title: Option<&str>, url: &str, taken: &HashSet<String>) -> String {
    let from_title = title.map(|t| slug(t, MAX_ID_BYTES)).unwrap_or_default();
    let base = if from_title.len() >= 3 {
        from_title
    } else {
        let address = url::Url::parse(url).ok();
        let host = address
            .as_ref()
            .and_then(|u| u.host_str())
            .unwrap_or("feed")
            .trim_start_matches("www.");
        let path = address.as_ref().map_or("", |u| u.path());
        let host = host.rsplit_once('.').map_or(host, |(name, _tld)| name);
        let made = slug(&format!("{host} {path}"), MAX_ID_BYTES);
        let made = made
            .trim_end_matches("-rss")
            .trim_end_matches("-feed")
            .trim_end_matches("-xml")
            .to_owned();
        if made.is_empty() {
            "feed".to_owned()
        } else {
            made
        }
    };
    if !taken.contains(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|id| !taken.contains(id))
        .expect("some suffix is free")
}

/// The feed list as OPML 2.0, one outline per feed, tags in `category`.
pub fn write_opml(feeds: &[Feed], title: &str, created: chrono::DateTime<chrono::Utc>) -> String {
    use quick_xml::escape::escape;
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n");
    out.push_str(&format!(
        "  <head>\n    <title>{}</title>\n    <dateCreated>{}</dateCreated>\n  </head>\n  <body>\n",
        escape(title),
        created.to_rfc2822()
    ));
    for feed in feeds {
        let name = feed.title.as_deref().unwrap_or(&feed.id);
        out.push_str(&format!(
            "    <outline type=\"rss\" text=\"{name}\" title=\"{name}\" xmlUrl=\"{url}\"",
            name = escape(name),
            url = escape(&feed.url),
        ));
        if !feed.tags.is_empty() {
            out.push_str(&format!(" category=\"{}\"", escape(feed.tags.join(","))));
        }
        out.push_str("/>\n");
    }
    out.push_str("  </body>\n</opml>\n");
    out
}

/// The YAML of `feeds` as items of the `feeds:` list, each line starting with `indent`.
pub fn yaml_items(feeds: &[NewFeed], indent: &str, newline: &str) -> String {
    // Titles and addresses are quoted as JSON strings, which YAML reads as double-quoted
    // scalars: a `#`, `: ` or quote in a title can then never end or comment out the value.
    let quote = |s: &str| serde_json::to_string(s).expect("a string serialises");
    let mut out = String::new();
    for feed in feeds {
        out.push_str(&format!("{indent}- id: {}{newline}", feed.id));
        if let Some(title) = &feed.title {
            out.push_str(&format!("{indent}  title: {}{newline}", quote(title)));
        }
        out.push_str(&format!("{indent}  url: {}{newline}", quote(&feed.url)));
        if !feed.tags.is_empty() {
            out.push_str(&format!(
                "{indent}  tags: [{}]{newline}",
                feed.tags.join(", ")
            ));
        }
    }
    out
}

/// `text` (an indicators file) with `feeds` appended to its `feeds:` list, everything else
/// byte for byte as it was; `Err` with the reason when the list is written in a way this
/// cannot extend (a flow list, say), and the caller shows the YAML to paste instead.
pub fn insert_feeds(text: &str, feeds: &[NewFeed]) -> Result<String, String> {
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let is_top_level_key = |line: &str| {
        let line = line.trim_end();
        !line.is_empty() && !line.starts_with([' ', '\t', '#', '-']) && line != "---"
    };
    let Some(start) = lines.iter().position(|l| {
        l.trim_end() == "feeds:" || l.starts_with("feeds:") && after_key_is_comment(l)
    }) else {
        if lines.iter().any(|l| l.starts_with("feeds:")) {
            return Err("its `feeds:` list is not written as a block list".to_owned());
        }
        let mut out = text.to_owned();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push_str(newline);
        }
        out.push_str(&format!("feeds:{newline}"));
        out.push_str(&yaml_items(feeds, "  ", newline));
        return Ok(out);
    };
    let end = lines[start + 1..]
        .iter()
        .position(|l| is_top_level_key(l))
        .map_or(lines.len(), |n| start + 1 + n);
    // After the last line with content in the block: blank lines and comments that follow
    // it belong to whatever comes next.
    let last = (start + 1..end)
        .rev()
        .find(|&i| {
            let trimmed = lines[i].trim();
            !trimmed.is_empty() && !trimmed.starts_with('#')
        })
        .unwrap_or(start);
    let indent = (start + 1..end)
        .find_map(|i| {
            let line = lines[i];
            let content = line.trim_start_matches(' ');
            content
                .starts_with("- ")
                .then(|| line[..line.len() - content.len()].to_owned())
        })
        .unwrap_or_else(|| "  ".to_owned());
    let mut out = String::with_capacity(text.len() + 256);
    for line in &lines[..=last] {
        out.push_str(line);
    }
    if !out.ends_with('\n') {
        out.push_str(newline);
    }
    out.push_str(&yaml_items(feeds, &indent, newline));
    for line in &lines[last + 1..] {
        out.push_str(line);
    }
    Ok(out)
}

fn after_key_is_comment(line: &str) -> bool {
    line["feeds:".len()..].trim_start().starts_with('#')
}

/// Appends `feeds` to the indicators file at `path`: the edited text must load, and give the
/// feeds it gave before plus exactly these; then it replaces the file whole (written beside
/// it, synced, renamed over it, with the file's permissions). A daemon that runs keeps its
/// rules until it is told to reload.
pub fn add_to_file(path: &Path, feeds: &[NewFeed]) -> Result<(), FeedListError> {
    let not_written = |reason: String| FeedListError::NotWritten {
        path: path.to_owned(),
        reason,
    };
    // Read as the daemon reads it: a rules file past its limit is refused, not held whole.
    let text = Indicators::read_text(path).map_err(|e| not_written(format!("{e}")))?;
    let before = Indicators::parse(&text, path).map_err(|e| not_written(format!("{e}")))?;
    let edited = insert_feeds(&text, feeds).map_err(&not_written)?;
    let after = Indicators::parse(&edited, path)
        .map_err(|e| not_written(format!("the edited file would not load: {e}")))?;
    let expected: Vec<(&str, &str)> = before
        .feeds
        .iter()
        .map(|f| (f.id.as_str(), f.url.as_str()))
        .chain(feeds.iter().map(|f| (f.id.as_str(), f.url.as_str())))
        .collect();
    let got: Vec<(&str, &str)> = after
        .feeds
        .iter()
        .map(|f| (f.id.as_str(), f.url.as_str()))
        .collect();
    if got != expected {
        return Err(not_written(
            "its layout is one this cannot extend safely".to_owned(),
        ));
    }
    let permissions = std::fs::metadata(path).ok().map(|m| m.permissions());
    crate::files::write_whole(path, edited.as_bytes(), permissions)
        .map_err(|e| not_written(e.to_string()))
}

#[cfg(test)]
mod tests;
