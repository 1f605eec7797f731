//! Configuration errors that name the place.

use std::fmt;
use std::path::{Path, PathBuf};

use super::values::redact_url_passwords;

/// What kind of thing is wrong, said without quoting the file: what `/healthz` shows, which
/// anyone who can reach the listener reads, while the whole message goes to the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// Not UTF-8 text.
    NotText,
    /// Longer than a file of its kind may be.
    TooLarge,
    /// Not YAML, or YAML of the wrong shape (a value of the wrong type, a missing key).
    Yaml,
    /// A key the file may not have.
    UnknownKey,
    /// A key written twice in one mapping.
    DuplicateKey,
    /// A query that does not parse or compile.
    Query,
    /// A cron expression that does not parse.
    Schedule,
    /// An indicator, list or feed that breaks a rule of `indicators.yaml` (a duplicate id, a
    /// bad URL or regex, an unknown list, ...).
    Definition,
    /// A setting with a value it may not have.
    Setting,
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProblemKind::NotText => "not UTF-8 text",
            ProblemKind::TooLarge => "a file too large",
            ProblemKind::Yaml => "invalid YAML or a value of the wrong type",
            ProblemKind::UnknownKey => "an unknown key",
            ProblemKind::DuplicateKey => "a duplicate key",
            ProblemKind::Query => "a query that does not compile",
            ProblemKind::Schedule => "an invalid schedule",
            ProblemKind::Definition => "an invalid definition",
            ProblemKind::Setting => "an invalid value",
        })
    }
}

/// One thing wrong in a configuration file, with its location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub path: PathBuf,
    /// 1-based; 0 when the problem concerns the whole file.
    pub line: u64,
    pub column: u64,
    /// The indicator (or list) the problem belongs to, when there is one.
    pub context: Option<String>,
    pub kind: ProblemKind,
    pub message: String,
    /// Extra lines shown under the message: the offending text with a caret.
    pub detail: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        f.write_str(": ")?;
        if let Some(context) = &self.context {
            write!(f, "{context}: ")?;
        }
        // Messages quote what was written, which may be a URL with its password in it.
        f.write_str(&redact_url_passwords(&self.message))?;
        if let Some(detail) = &self.detail {
            write!(f, "\n{}", redact_url_passwords(detail))?;
        }
        Ok(())
    }
}

impl Problem {
    /// The place and the kind of problem, quoting nothing the file says beyond the ids in
    /// `context`: for readers who may not see the configuration (`/healthz`).
    pub fn summary(&self) -> String {
        let mut summary = self.path.display().to_string();
        if self.line > 0 {
            summary.push_str(&format!(":{}:{}", self.line, self.column));
        }
        summary.push_str(": ");
        if let Some(context) = &self.context {
            summary.push_str(context);
            summary.push_str(": ");
        }
        summary.push_str(&self.kind.to_string());
        summary
    }
}

/// Why a configuration file was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid { problems: Vec<Problem> },
}

impl ConfigError {
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid { problems } => problems,
            ConfigError::Read { .. } => &[],
        }
    }

    /// Each problem's [`Problem::summary`], the first few of them, quoting nothing from the
    /// files; the log has the whole messages.
    pub fn summary(&self) -> String {
        /// A page is not the place for a hundred problems; the count says there are more.
        const SHOWN: usize = 5;
        match self {
            ConfigError::Read { path, .. } => format!("{}: cannot read", path.display()),
            ConfigError::Invalid { problems } => {
                let mut lines: Vec<String> =
                    problems.iter().take(SHOWN).map(Problem::summary).collect();
                if problems.len() > SHOWN {
                    lines.push(format!("and {} more", problems.len() - SHOWN));
                }
                lines.join("; ")
            }
        }
    }
}

/// Reads a configuration file no further than `limit` bytes: a longer one is refused before
/// it is parsed, so a wrong file (a log, a dump) cannot take the memory of the daemon that
/// reloads it. `files` names the kind of file in the message, `room` what the limit leaves.
pub(super) fn read_bounded(
    path: &Path,
    limit: u64,
    files: &str,
    room: &str,
) -> Result<Vec<u8>, ConfigError> {
    let read = super::values::read_at_most(path, limit).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let Some(bytes) = read else {
        return Err(ConfigError::Invalid {
            problems: vec![Problem {
                path: path.to_owned(),
                line: 0,
                column: 0,
                context: None,
                kind: ProblemKind::TooLarge,
                message: format!(
                    "longer than {} MiB: {files} are refused past that ({room}); is this the \
                     right file?",
                    limit >> 20
                ),
                detail: None,
            }],
        });
    };
    Ok(bytes)
}

/// [`read_bounded`], the bytes refused with a located `not UTF-8 text` problem when they are
/// not UTF-8: the settings and the rules alike, so that the same mistake (a binary or a
/// Latin-1 file named by accident) reads the same whichever file it is.
pub(super) fn read_text_bounded(
    path: &Path,
    limit: u64,
    files: &str,
    room: &str,
) -> Result<String, ConfigError> {
    String::from_utf8(read_bounded(path, limit, files, room)?).map_err(|e| ConfigError::Invalid {
        problems: vec![Problem {
            path: path.to_owned(),
            line: 0,
            column: 0,
            context: None,
            kind: ProblemKind::NotText,
            message: format!(
                "not UTF-8 text (invalid byte at offset {}); is this the right file?",
                e.utf8_error().valid_up_to()
            ),
            detail: None,
        }],
    })
}

/// A YAML syntax or schema error, with the library's snippet under our one-line message.
pub(super) fn yaml_error(path: &Path, error: &serde_saphyr::Error) -> ConfigError {
    {
        let rendered = error.to_string();
        let mut lines = rendered.lines();
        let first = lines.next().unwrap_or("invalid YAML");
        // The library's first line repeats the location we print ourselves.
        let first = first.strip_prefix("error: ").unwrap_or(first);
        let message = match first.find(": ") {
            Some(i) if first.starts_with("line ") => &first[i + 2..],
            _ => first,
        };
        let detail: Vec<String> = lines
            .map(|l| l.replace("<input>", &path.display().to_string()))
            .collect();
        let location = error.location();
        let kind = if message.starts_with("unknown field") {
            ProblemKind::UnknownKey
        } else if message.starts_with("duplicate mapping key") {
            ProblemKind::DuplicateKey
        } else {
            ProblemKind::Yaml
        };
        ConfigError::Invalid {
            problems: vec![Problem {
                path: path.to_owned(),
                line: location.map_or(0, |l| l.line()),
                column: location.map_or(0, |l| l.column()),
                context: None,
                kind,
                message: message.to_owned(),
                detail: (!detail.is_empty()).then(|| detail.join("\n")),
            }],
        }
    }
}
