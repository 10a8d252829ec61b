//! A route's header edits (`routes[].requestHeaders`, `responseHeaders`;
//! docs/proxy.md): remove, then set, then add — names without case, as `http`'s header
//! names are lower case.

use http::header::{HeaderMap, HeaderName, HeaderValue};

/// Header edits, compiled.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct HeaderEdits {
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "pairs")]
    pub set: Vec<(HeaderName, HeaderValue)>,
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "pairs")]
    pub add: Vec<(HeaderName, HeaderValue)>,
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "names")]
    pub remove: Vec<HeaderName>,
}

impl HeaderEdits {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.add.is_empty() && self.remove.is_empty()
    }

    /// Applies the edits to `headers`.
    pub fn apply(&self, headers: &mut HeaderMap) {
        for name in &self.remove {
            headers.remove(name);
        }
        for (name, value) in &self.set {
            headers.insert(name.clone(), value.clone());
        }
        for (name, value) in &self.add {
            headers.append(name.clone(), value.clone());
        }
    }
}

fn pairs<S: serde::Serializer>(v: &[(HeaderName, HeaderValue)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(v.len()))?;
    for (n, val) in v {
        seq.serialize_element(&serde_json::json!({
            "name": n.as_str(),
            "value": String::from_utf8_lossy(val.as_bytes()),
        }))?;
    }
    seq.end()
}

fn names<S: serde::Serializer>(v: &[HeaderName], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(HeaderName::as_str))
}
