//! What the real server does to the built-in kinds on every write, so that clients read
//! objects as a cluster would give them: a Secret's `stringData` is folded into `data`
//! (base64, `stringData` winning) and dropped, and its `type` defaults to `Opaque`.

use base64::Engine;
use serde_json::{json, Value};

use super::kinds::ResourceKind;

/// Normalizes `object` of `kind` before it is stored.
pub fn normalize(kind: &ResourceKind, object: &mut Value) {
    if !(kind.group.is_empty() && kind.plural == "secrets") {
        return;
    }
    let Some(map) = object.as_object_mut() else { return };
    if let Some(Value::Object(plain)) = map.remove("stringData") {
        let data = map.entry("data").or_insert_with(|| json!({}));
        if !data.is_object() {
            *data = json!({});
        }
        for (key, value) in plain {
            let text = value
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| value.to_string());
            data[key] = json!(base64::engine::general_purpose::STANDARD.encode(text));
        }
    }
    if map.get("type").and_then(Value::as_str).is_none_or(str::is_empty) {
        map.insert("type".to_string(), json!("Opaque"));
    }
}
