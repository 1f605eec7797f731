//! The item limit for JSON Feed documents: feed-rs deserialises every item of a document
//! before the first is converted, as the XML reader does (see [`super::repair::MAX_ENTRIES`]).

use std::fmt;

use serde::Deserializer as _;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::repair::MAX_ENTRIES;

/// A JSON Feed document cut to its first [`MAX_ENTRIES`] items.
pub struct Cut {
    pub text: String,
    pub kept: usize,
    pub cut: usize,
}

/// `json` without the items past [`MAX_ENTRIES`], or None when it has no more than that (or
/// is not a JSON object: the feed reader then says what is wrong with it). One pass that
/// allocates nothing per item: each item is only delimited, never built.
pub fn cut_items(json: &str) -> Option<Cut> {
    // Each item takes at least `{}` and a comma: a shorter document cannot hold too many.
    if json.len() < MAX_ENTRIES * 3 {
        return None;
    }
    let mut reader = serde_json::Deserializer::from_str(json);
    let span = reader.deserialize_map(TopLevel).ok()??;
    if span.count <= MAX_ENTRIES {
        return None;
    }
    let offset = |raw: &str| raw.as_ptr() as usize - json.as_ptr() as usize;
    let keep_end = offset(span.last_kept) + span.last_kept.len();
    let drop_end = offset(span.last) + span.last.len();
    let mut text = String::with_capacity(keep_end + json.len() - drop_end);
    text.push_str(&json[..keep_end]);
    text.push_str(&json[drop_end..]);
    Some(Cut {
        text,
        kept: MAX_ENTRIES,
        cut: span.count - MAX_ENTRIES,
    })
}

/// Where the items lie in the text: the last one kept, the last one, and how many.
struct ItemsSpan<'a> {
    last_kept: &'a str,
    last: &'a str,
    count: usize,
}

struct TopLevel;

impl<'de> Visitor<'de> for TopLevel {
    type Value = Option<ItemsSpan<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON Feed object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut items = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" && items.is_none() {
                items = map.next_value_seed(Items)?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(items)
    }
}

struct Items;

impl<'de> de::DeserializeSeed<'de> for Items {
    type Value = Option<ItemsSpan<'de>>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Items {
    type Value = Option<ItemsSpan<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of items")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut span: Option<ItemsSpan<'de>> = None;
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            let raw = raw.get();
            match &mut span {
                None => {
                    span = Some(ItemsSpan {
                        last_kept: raw,
                        last: raw,
                        count: 1,
                    })
                }
                Some(span) => {
                    span.count += 1;
                    if span.count <= MAX_ENTRIES {
                        span.last_kept = raw;
                    }
                    span.last = raw;
                }
            }
        }
        Ok(span)
    }

    // Anything else under "items" is for the feed reader to refuse.
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(items: usize) -> String {
        let items: Vec<String> = (0..items)
            .map(|n| format!("{{\"id\": \"k{n}\", \"title\": \"Entry \\\"{n}\\\"\"}}"))
            .collect();
        format!(
            "{{\"version\": \"https://jsonfeed.org/version/1.1\", \"items\": [{}], \"title\": \"t\"}}",
            items.join(", ")
        )
    }

    #[test]
    fn items_past_the_limit_are_cut_and_the_rest_of_the_object_kept() {
        let text = feed(MAX_ENTRIES + 25);
        let cut = cut_items(&text).expect("cut");
        assert_eq!((cut.kept, cut.cut), (MAX_ENTRIES, 25));
        let value: serde_json::Value = serde_json::from_str(&cut.text).expect("still JSON");
        let items = value["items"].as_array().expect("items");
        assert_eq!(items.len(), MAX_ENTRIES);
        assert_eq!(
            items[MAX_ENTRIES - 1]["id"],
            format!("k{}", MAX_ENTRIES - 1)
        );
        assert_eq!(value["title"], "t");
        assert!(cut_items(&feed(MAX_ENTRIES)).is_none());
        assert!(cut_items(&feed(3)).is_none());
    }

    #[test]
    fn what_is_not_a_feed_object_is_left_to_the_reader() {
        let long_list = format!("[{}]", "1,".repeat(MAX_ENTRIES * 2) + "1");
        assert!(cut_items(&long_list).is_none());
        let items_not_a_list = format!("{{\"items\": \"{}\"}}", "x".repeat(MAX_ENTRIES * 3));
        assert!(cut_items(&items_not_a_list).is_none());
        let broken = feed(MAX_ENTRIES + 1).replacen("\"k5\"", "k5", 1);
        assert!(cut_items(&broken).is_none());
    }
}
