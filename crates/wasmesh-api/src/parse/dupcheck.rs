//! A first pass over a document that reads every value and notes each mapping that has
//! the same key twice (typed maps, `BTreeMap` and JSON objects, would silently keep the
//! last one). It fails only on a syntax error.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::{cell::RefCell, fmt};

/// A key that a mapping has more than once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Duplicate {
    /// The path of the mapping (`spec.match[0]`); empty for the document itself.
    pub mapping: String,
    pub key: String,
}

impl Duplicate {
    /// The path of the duplicated key itself.
    pub fn path(&self) -> String {
        if self.mapping.is_empty() {
            self.key.clone()
        } else {
            format!("{}.{}", self.mapping, self.key)
        }
    }
}

/// Reads any value at `path`, adding to `found` every duplicate key under it.
pub(crate) struct DupCheck<'a> {
    pub path: String,
    pub found: &'a RefCell<Vec<Duplicate>>,
}

impl<'de> DeserializeSeed<'de> for DupCheck<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

macro_rules! accept {
    ($($name:ident: $ty:ty),*) => {
        $(fn $name<E: de::Error>(self, _: $ty) -> Result<(), E> { Ok(()) })*
    };
}

impl<'de> Visitor<'de> for DupCheck<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    accept!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_i128: i128, visit_u128: u128,
            visit_f64: f64, visit_str: &str, visit_bytes: &[u8]);

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.deserialize(d)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while seq
            .next_element_seed(DupCheck {
                path: format!("{}[{index}]", self.path),
                found: self.found,
            })?
            .is_some()
        {
            index += 1;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        let key_seed = || {
            KeyText(DupCheck {
                path: format!("{}.?", self.path),
                found: self.found,
            })
        };
        while let Some(key) = map.next_key_seed(key_seed())? {
            let path = match &key {
                Some(key) if self.path.is_empty() => key.clone(),
                Some(key) => format!("{}.{key}", self.path),
                None => format!("{}.?", self.path),
            };
            if let Some(key) = key {
                if !seen.insert(key.clone()) {
                    self.found.borrow_mut().push(Duplicate {
                        mapping: self.path.clone(),
                        key,
                    });
                }
            }
            map.next_value_seed(DupCheck {
                path,
                found: self.found,
            })?;
        }
        Ok(())
    }
}

/// A mapping key as text; `None` for keys that are not scalars (read like any value).
struct KeyText<'a>(DupCheck<'a>);

impl<'de> DeserializeSeed<'de> for KeyText<'_> {
    type Value = Option<String>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<String>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeyText<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<String>, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Option<String>, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<String>, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<String>, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<String>, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<String>, E> {
        Ok(Some("null".to_string()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Option<String>, A::Error> {
        self.0.visit_seq(seq).map(|_| None)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<String>, A::Error> {
        self.0.visit_map(map).map(|_| None)
    }
}
