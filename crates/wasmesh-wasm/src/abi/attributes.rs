//! Envoy's attribute values as `proxy_get_property` hands them to a plugin
//! (docs/wasm-host.md, "Attributes"): strings raw, integers 8 bytes little-endian,
//! booleans one byte, timestamps nanoseconds since the Unix epoch and durations
//! nanoseconds (both as 8-byte integers), maps as the spec's serialized pairs, messages
//! (`node`) as protobuf. Pure: the lookups that pick a value live in `properties`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::pairs;
use crate::HeaderMap;

/// One attribute's value, typed as Envoy types it.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string or bytes: handed over raw.
    Bytes(Bytes),
    /// A signed integer (`response.code`, ports).
    Int(i64),
    /// An unsigned integer (`connection.id`).
    Uint(u64),
    /// One byte, 0 or 1 (`connection.mtls`).
    Bool(bool),
    /// A point in time (`request.time`).
    Time(SystemTime),
    /// A span of time (`request.duration`).
    Duration(Duration),
    /// A map of strings (`request.headers`).
    Map(HeaderMap),
}

impl Value {
    /// A string value.
    pub fn str(s: impl Into<Bytes>) -> Value {
        Value::Bytes(s.into())
    }

    /// The bytes the plugin receives.
    pub fn encode(&self) -> Bytes {
        match self {
            Value::Bytes(b) => b.clone(),
            Value::Int(i) => Bytes::copy_from_slice(&i.to_le_bytes()),
            Value::Uint(u) => Bytes::copy_from_slice(&u.to_le_bytes()),
            Value::Bool(b) => Bytes::copy_from_slice(&[*b as u8]),
            Value::Time(t) => {
                let nanos = match t.duration_since(UNIX_EPOCH) {
                    Ok(d) => nanos(d),
                    Err(before) => -nanos(before.duration()),
                };
                Bytes::copy_from_slice(&nanos.to_le_bytes())
            }
            Value::Duration(d) => Bytes::copy_from_slice(&nanos(*d).to_le_bytes()),
            Value::Map(m) => Bytes::from(pairs::serialize(m)),
        }
    }
}

/// Nanoseconds as Envoy counts them (an `int64`, saturating).
fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// Envoy's `listener_direction`: the number of `envoy.config.core.v3.TrafficDirection`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrafficDirection {
    /// `INBOUND` (1): an Istio `trafficDirection: SERVER` listener.
    Inbound = 1,
    /// `OUTBOUND` (2): a `CLIENT` listener.
    Outbound = 2,
}

/// What a proxy tells plugins about itself as Envoy's `node` (`envoy.config.core.v3.Node`):
/// its id, cluster, and Istio's node metadata (`NAME`, `NAMESPACE`, `LABELS`,
/// `WORKLOAD_NAME`, …).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeInfo {
    /// `node.id`.
    pub id: String,
    /// `node.cluster`.
    pub cluster: String,
    /// `node.metadata`, in order.
    pub metadata: Vec<(String, MetaValue)>,
}

/// One value of `node.metadata` (a `google.protobuf.Value`).
#[derive(Clone, Debug, PartialEq)]
pub enum MetaValue {
    /// A string.
    String(String),
    /// A struct of strings (`LABELS`).
    Map(Vec<(String, String)>),
}

impl NodeInfo {
    /// The value at `rest`, the path after `node.` (`""` for the node itself).
    pub fn lookup(&self, rest: &str) -> Option<Value> {
        let value = match rest {
            "" => Value::str(self.to_proto()),
            "id" => Value::str(self.id.clone()),
            "cluster" => Value::str(self.cluster.clone()),
            "metadata" => {
                let mut map = HeaderMap::new();
                for (k, v) in &self.metadata {
                    map.add(k, meta_bytes(v));
                }
                Value::Map(map)
            }
            _ => {
                let rest = rest.strip_prefix("metadata.")?;
                let (key, inner) = match rest.split_once('.') {
                    Some((k, i)) => (k, Some(i)),
                    None => (rest, None),
                };
                let value = &self.metadata.iter().find(|(k, _)| k == key)?.1;
                match (value, inner) {
                    (v, None) => Value::Bytes(meta_bytes(v)),
                    (MetaValue::Map(m), Some(inner)) => {
                        Value::str(m.iter().find(|(k, _)| k == inner)?.1.clone())
                    }
                    (MetaValue::String(_), Some(_)) => return None,
                }
            }
        };
        Some(value)
    }

    /// The node as protobuf (`id` = 1, `cluster` = 2, `metadata` = 3 as a
    /// `google.protobuf.Struct`), what Envoy returns for `node`.
    pub fn to_proto(&self) -> Vec<u8> {
        let mut out = Vec::new();
        proto::string(&mut out, 1, &self.id);
        proto::string(&mut out, 2, &self.cluster);
        if !self.metadata.is_empty() {
            let entries: Vec<(&str, Vec<u8>)> = self
                .metadata
                .iter()
                .map(|(k, v)| (k.as_str(), meta_proto(v)))
                .collect();
            proto::bytes(&mut out, 3, &proto::structure(&entries));
        }
        out
    }
}

/// A metadata value as a leaf of a path: a string raw, a struct as pairs.
fn meta_bytes(v: &MetaValue) -> Bytes {
    match v {
        MetaValue::String(s) => Bytes::from(s.clone()),
        MetaValue::Map(m) => {
            let mut map = HeaderMap::new();
            for (k, v) in m {
                map.add(k, Bytes::from(v.clone()));
            }
            Bytes::from(pairs::serialize(&map))
        }
    }
}

/// A `google.protobuf.Value`: `string_value` = 3, `struct_value` = 5.
fn meta_proto(v: &MetaValue) -> Vec<u8> {
    let mut out = Vec::new();
    match v {
        MetaValue::String(s) => proto::bytes(&mut out, 3, s.as_bytes()),
        MetaValue::Map(m) => {
            let entries: Vec<(&str, Vec<u8>)> = m
                .iter()
                .map(|(k, v)| {
                    let mut value = Vec::new();
                    proto::bytes(&mut value, 3, v.as_bytes());
                    (k.as_str(), value)
                })
                .collect();
            proto::bytes(&mut out, 5, &proto::structure(&entries));
        }
    }
    out
}

/// The few protobuf wire-format pieces the host writes and reads (Envoy's foreign
/// functions take their arguments as protobuf messages).
pub mod proto {
    /// Appends a varint.
    pub fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    /// Appends a length-delimited field.
    pub fn bytes(out: &mut Vec<u8>, field: u32, value: &[u8]) {
        varint(out, u64::from(field) << 3 | 2);
        varint(out, value.len() as u64);
        out.extend_from_slice(value);
    }

    /// Appends a string field, left out when empty (proto3).
    pub fn string(out: &mut Vec<u8>, field: u32, value: &str) {
        if !value.is_empty() {
            bytes(out, field, value.as_bytes());
        }
    }

    /// A `google.protobuf.Struct` whose `fields` (1) map keys to encoded `Value`s.
    pub fn structure(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (key, value) in entries {
            let mut entry = Vec::new();
            bytes(&mut entry, 1, key.as_bytes());
            bytes(&mut entry, 2, value);
            bytes(&mut out, 1, &entry);
        }
        out
    }

    /// One decoded field.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum Field<'a> {
        /// A varint (ints, bools, enums).
        Varint(u64),
        /// Length-delimited (strings, bytes, messages).
        Bytes(&'a [u8]),
    }

    fn read_varint(input: &mut &[u8]) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = input.split_first()?;
            *input = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    /// Every field of a message, in order; `None` when it is not protobuf (or uses the
    /// fixed-width or group wire types, which no argument message here has).
    pub fn fields(mut input: &[u8]) -> Option<Vec<(u32, Field<'_>)>> {
        let mut out = Vec::new();
        while !input.is_empty() {
            let key = read_varint(&mut input)?;
            let field = u32::try_from(key >> 3).ok()?;
            match key & 7 {
                0 => out.push((field, Field::Varint(read_varint(&mut input)?))),
                2 => {
                    let len = usize::try_from(read_varint(&mut input)?).ok()?;
                    if len > input.len() {
                        return None;
                    }
                    let (value, rest) = input.split_at(len);
                    input = rest;
                    out.push((field, Field::Bytes(value)));
                }
                _ => return None,
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests;
