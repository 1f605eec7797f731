//! Values every settings file handles: where a value came from (the file, with its place, or
//! an environment variable), and secrets that never print.
//!
//! A leaf of `config`: the settings files all use it and it uses none of them, which keeps
//! their imports free of cycles.

use std::fmt;

use serde_saphyr::Spanned;

/// A secret that never appears in logs or debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// `text` with the password of every URL in it (`scheme://user:password@host`) replaced by
/// `***`. For text that quotes what an operator wrote, which may not parse as a URL at all
/// (the case where it must be quoted to explain the error): a password must not reach the
/// log, the terminal or `/healthz` by way of an error message.
pub fn redact_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        // The authority ends where a URL's host would, or where the quoting around it does.
        let end = after
            .find(|c: char| matches!(c, '/' | '?' | '#' | '\'' | '"' | '`') || c.is_whitespace())
            .unwrap_or(after.len());
        let authority = &after[..end];
        match authority
            .rfind('@')
            .and_then(|at| authority[..at].find(':').map(|colon| (colon, at)))
        {
            Some((colon, at)) => {
                out.push_str(&authority[..=colon]);
                out.push_str("***");
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// The bytes of the file at `path` when it holds at most `limit`, or `None` when it holds
/// more: no more than `limit + 1` bytes are ever read, whatever the file is.
pub(super) fn read_at_most(path: &std::path::Path, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

/// A secret file longer than this holds no password, key or token: it is the wrong file.
pub(super) const SECRET_FILE_MAX: u64 = 16 * 1024;

/// The text of a secret file (a password, a token, a webhook key), read no further than
/// [`SECRET_FILE_MAX`] bytes. Anything but a regular file is refused before it is opened:
/// `/dev/zero` named by mistake would never end, and a FIFO would hold the reload that opened
/// it. The message names the file and says what is wrong; it never quotes the file.
pub(super) fn read_secret_file(path: &std::path::Path) -> Result<String, String> {
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let metadata = std::fs::metadata(path).map_err(cannot)?;
    if !metadata.is_file() {
        return Err(format!(
            "{} is not a regular file: a secret is read from a file",
            path.display()
        ));
    }
    let Some(bytes) = read_at_most(path, SECRET_FILE_MAX).map_err(cannot)? else {
        return Err(format!(
            "{} is longer than {SECRET_FILE_MAX} bytes: a secret file holds one password, key \
             or token; is this the right file?",
            path.display()
        ));
    };
    String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8 text", path.display()))
}

/// A setting's text and where it came from, for messages: a line and column in the file, or
/// the environment variable that set it.
pub(super) struct Sourced {
    pub value: String,
    pub line: u64,
    pub column: u64,
    pub from_file: bool,
}

impl Sourced {
    /// What a message says before the problem: the variable's name when the environment set
    /// the value (the line and column then say nothing).
    pub fn origin(&self, var: &str) -> String {
        if self.from_file {
            String::new()
        } else {
            format!("{var}: ")
        }
    }
}

/// A setting from `var` in the environment, else from the file.
pub(super) fn pick(
    env: &dyn Fn(&str) -> Option<String>,
    var: &str,
    file: &Option<Spanned<String>>,
) -> Option<Sourced> {
    if let Some(value) = env(var) {
        return Some(Sourced {
            value,
            line: 0,
            column: 0,
            from_file: false,
        });
    }
    file.as_ref().map(|s| Sourced {
        value: s.value.clone(),
        line: s.defined.line(),
        column: s.defined.column(),
        from_file: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_file_is_read_whole_up_to_its_limit_and_refused_past_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let at_limit = dir.path().join("at-limit");
        std::fs::write(&at_limit, "k".repeat(SECRET_FILE_MAX as usize)).unwrap();
        assert_eq!(
            read_secret_file(&at_limit).map(|text| text.len()),
            Ok(SECRET_FILE_MAX as usize)
        );

        let past = dir.path().join("past-limit");
        std::fs::write(&past, "k".repeat(SECRET_FILE_MAX as usize + 1)).unwrap();
        let refused = read_secret_file(&past).unwrap_err();
        assert!(
            refused.contains(&past.display().to_string())
                && refused.contains("longer than 16384 bytes"),
            "{refused}"
        );

        // Neither a device nor a folder is opened and read.
        for path in [std::path::Path::new("/dev/zero"), dir.path()] {
            let refused = read_secret_file(path).unwrap_err();
            assert!(refused.contains("is not a regular file"), "{refused}");
        }

        let binary = dir.path().join("binary");
        std::fs::write(&binary, [0xFF, 0xFE, b'k']).unwrap();
        let refused = read_secret_file(&binary).unwrap_err();
        assert!(refused.ends_with("is not UTF-8 text"), "{refused}");

        let missing = dir.path().join("missing");
        let refused = read_secret_file(&missing).unwrap_err();
        assert!(refused.starts_with(&format!("cannot read {}", missing.display())));
    }

    #[test]
    fn passwords_in_urls_are_redacted_wherever_the_text_quotes_them() {
        for (text, want) in [
            (
                "'smtps://wf:hunter2@mail example.org' is not a URL",
                "'smtps://wf:***@mail example.org' is not a URL",
            ),
            ("smtp://wf:p:a:ss@h:25/x", "smtp://wf:***@h:25/x"),
            ("smtp://wf@host:587", "smtp://wf@host:587"),
            (
                "smtp://host:587 and http://a:b@c",
                "smtp://host:587 and http://a:***@c",
            ),
            ("no url here: a:b@c", "no url here: a:b@c"),
            ("://x:y@z", "://x:***@z"),
            ("", ""),
        ] {
            assert_eq!(redact_url_passwords(text), want, "{text}");
        }
    }
}
