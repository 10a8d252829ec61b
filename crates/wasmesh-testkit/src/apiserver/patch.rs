//! The patch types the double takes. A JSON merge patch (RFC 7386) is exact. A strategic
//! merge patch, which `kubectl apply` sends for built-in kinds, is applied as a merge patch:
//! right for maps and for the Secrets and Namespaces built in here (whose lists kubectl
//! replaces whole), not for the keyed lists of other built-in kinds, and `$patch` directives
//! are not read. A server-side apply merges the applied object in (creating it if missing)
//! without field managers, so a field left out of a later apply stays.

use serde_json::Value;

use super::status::ApiError;

/// How a PATCH body is to be read, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Merge,
    Strategic,
    Apply,
}

impl PatchType {
    /// The patch type of a `Content-Type` header; a JSON patch (RFC 6902) is not taken.
    pub fn from_content_type(content_type: &str) -> Result<Self, ApiError> {
        let media = content_type.split(';').next().unwrap_or_default().trim();
        match media {
            "application/merge-patch+json" => Ok(PatchType::Merge),
            "application/strategic-merge-patch+json" => Ok(PatchType::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Ok(PatchType::Apply),
            _ => Err(ApiError::UnsupportedMediaType),
        }
    }
}

/// Applies `patch` to `target` as RFC 7386 says: objects merge key by key, `null` removes a
/// key, anything else replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let Value::Object(target) = target else {
        unreachable!("made an object above")
    };
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}
