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
