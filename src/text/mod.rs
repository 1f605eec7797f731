//! Text handling shared by the stages: HTML to display text, display text to the normalised
//! word stream that indicators are matched against, the language a text is written in, and
//! (`safe`) feed text made safe to show in mail, pages and the terminal.

pub mod html;
pub mod lang;
pub mod normalize;
pub mod safe;
pub mod segments;

pub use html::{html_to_text, html_to_text_into, plain_to_text};
pub use normalize::{Analyzed, FieldRun, Token, is_unspaced_word, normalize_words};

use std::fmt;
use std::str::FromStr;

/// A searchable field of an item. Queries scope terms to fields (`title:(...)`); evidence names
/// the field its offsets refer to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Title,
    Summary,
    Content,
    Author,
    Category,
    Link,
}

impl Field {
    pub const ALL: [Field; 6] = [
        Field::Title,
        Field::Summary,
        Field::Content,
        Field::Author,
        Field::Category,
        Field::Link,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Summary => "summary",
            Field::Content => "content",
            Field::Author => "author",
            Field::Category => "category",
            Field::Link => "link",
        }
    }

    pub fn bit(self) -> FieldMask {
        FieldMask(1 << self as u8)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Field {
    type Err = ();

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Field::ALL.into_iter().find(|f| f.name() == name).ok_or(())
    }
}

impl serde::Serialize for Field {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Field {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const NAMES: &[&str] = &["title", "summary", "content", "author", "category", "link"];
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        name.parse()
            .map_err(|()| serde::de::Error::unknown_variant(&name, NAMES))
    }
}

/// A set of fields, one bit each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FieldMask(pub u8);

impl FieldMask {
    /// Where an unscoped term looks: the text a reader sees, plus the publisher's categories.
    /// Author and link only match when a query names them.
    pub const DEFAULT: FieldMask = FieldMask(
        1 << Field::Title as u8
            | 1 << Field::Summary as u8
            | 1 << Field::Content as u8
            | 1 << Field::Category as u8,
    );

    pub fn contains(self, field: Field) -> bool {
        self.0 & field.bit().0 != 0
    }
}
