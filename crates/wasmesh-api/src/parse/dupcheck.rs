//! A first pass over a document that reads every value and fails on a mapping with the
//! same key twice. Typed maps (`BTreeMap`, JSON objects) would silently keep the last one.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::{collections::HashSet, fmt};

/// Deserializes anything; fails on duplicate keys.
pub(crate) struct DupCheck;

/// The message of a duplicate-key error starts with this, so it can be told apart.
pub(crate) const DUPLICATE_KEY: &str = "duplicate key ";

impl<'de> Deserialize<'de> for DupCheck {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AnyVisitor)
    }
}

struct AnyVisitor;

macro_rules! accept {
    ($($name:ident: $ty:ty),*) => {
        $(fn $name<E: de::Error>(self, _: $ty) -> Result<DupCheck, E> { Ok(DupCheck) })*
    };
}

impl<'de> Visitor<'de> for AnyVisitor {
    type Value = DupCheck;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    accept!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_i128: i128, visit_u128: u128,
            visit_f64: f64, visit_str: &str, visit_bytes: &[u8]);

    fn visit_unit<E: de::Error>(self) -> Result<DupCheck, E> {
        Ok(DupCheck)
    }

    fn visit_none<E: de::Error>(self) -> Result<DupCheck, E> {
        Ok(DupCheck)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<DupCheck, D::Error> {
        DupCheck::deserialize(d)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<DupCheck, D::Error> {
        DupCheck::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<DupCheck, A::Error> {
        while seq.next_element::<DupCheck>()?.is_some() {}
        Ok(DupCheck)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DupCheck, A::Error> {
        let mut seen = HashSet::new();
        while let Some(KeyText(key)) = map.next_key()? {
            if let Some(key) = key {
                if !seen.insert(key.clone()) {
                    return Err(de::Error::custom(format!("{DUPLICATE_KEY}{key}")));
                }
            }
            map.next_value::<DupCheck>()?;
        }
        Ok(DupCheck)
    }
}

/// A mapping key as text; `None` for keys that are not scalars.
struct KeyText(Option<String>);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = KeyText;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyText, E> {
        Ok(KeyText(Some(v.to_string())))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<KeyText, E> {
        Ok(KeyText(Some(v.to_string())))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyText, E> {
        Ok(KeyText(Some(v.to_string())))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyText, E> {
        Ok(KeyText(Some(v.to_string())))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<KeyText, E> {
        Ok(KeyText(Some(v.to_string())))
    }

    fn visit_unit<E: de::Error>(self) -> Result<KeyText, E> {
        Ok(KeyText(Some("null".to_string())))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<KeyText, A::Error> {
        AnyVisitor.visit_seq(seq).map(|_| KeyText(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<KeyText, A::Error> {
        AnyVisitor.visit_map(map).map(|_| KeyText(None))
    }
}
