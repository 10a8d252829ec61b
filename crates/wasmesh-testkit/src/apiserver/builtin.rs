//! What the real server does to the built-in kinds on every write, so that clients read
//! objects as a cluster would give them: a Secret's `stringData` is folded into `data`
//! (base64, `stringData` winning) and dropped, and its `type` defaults to `Opaque`; a
//! Namespace always carries the label `kubernetes.io/metadata.name` set to its name.

use base64::Engine;
use serde_json::{json, Value};

use super::kinds::ResourceKind;

/// Normalizes `object` of `kind` before it is stored.
pub fn normalize(kind: &ResourceKind, object: &mut Value) {
    if kind.group.is_empty() && kind.plural == "namespaces" {
        name_label(object);
        return;
    }
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

/// The label the real server sets on every namespace to its name (and sets back when a
/// write changes or drops it).
fn name_label(object: &mut Value) {
    let Some(name) = object["metadata"]["name"].as_str().map(str::to_string) else {
        return;
    };
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let labels = metadata.entry("labels").or_insert_with(|| json!({}));
    if !labels.is_object() {
        *labels = json!({});
    }
    labels["kubernetes.io/metadata.name"] = json!(name);
}
