//! Configuration errors that name the place.

use std::fmt;
use std::path::{Path, PathBuf};

/// One thing wrong in a configuration file, with its location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub path: PathBuf,
    /// 1-based; 0 when the problem concerns the whole file.
    pub line: u64,
    pub column: u64,
    /// The indicator (or list) the problem belongs to, when there is one.
    pub context: Option<String>,
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
        f.write_str(&self.message)?;
        if let Some(detail) = &self.detail {
            write!(f, "\n{detail}")?;
        }
        Ok(())
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
        ConfigError::Invalid {
            problems: vec![Problem {
                path: path.to_owned(),
                line: location.map_or(0, |l| l.line()),
                column: location.map_or(0, |l| l.column()),
                context: None,
                message: message.to_owned(),
                detail: (!detail.is_empty()).then(|| detail.join("\n")),
            }],
        }
    }
}
