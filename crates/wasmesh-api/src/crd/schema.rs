//! OpenAPI v3 schemas for CRDs, generated from the API types' `JsonSchema` derives and made
//! *structural*, as the API server requires of a CRD (docs/kubernetes.md): every node
//! typed, every subschema inline (no `$ref`), no `anyOf`/`oneOf`, no
//! `additionalProperties: false` (the server prunes and, with kubectl's strict field
//! validation, refuses unknown fields itself), and only the keywords of Kubernetes'
//! `JSONSchemaProps`. A free-form mapping (`pluginConfig`) keeps what it is given through
//! `x-kubernetes-preserve-unknown-fields`.

use schemars::{generate::SchemaSettings, JsonSchema};
use serde_json::{json, Map, Value};

/// The keywords of Kubernetes' `JSONSchemaProps` that the generated schemas may use.
pub const KEYWORDS: [&str; 17] = [
    "type",
    "format",
    "description",
    "properties",
    "additionalProperties",
    "items",
    "required",
    "enum",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-list-type",
];

/// Keywords the server knows that come from `#[schemars(extend(...))]`, kept as given.
const EXTENSIONS: [&str; 1] = ["x-kubernetes-list-map-keys"];

/// The `format`s the API server validates; others are dropped (schemars writes `uint16`
/// and the like, which the server would only ignore).
const FORMATS: [&str; 5] = ["int32", "int64", "double", "float", "date-time"];

/// The structural schema of `T`.
pub fn structural_schema<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::draft07()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let schema = generator.into_root_schema_for::<T>();
    let value = serde_json::to_value(&schema).expect("a schema is JSON");
    structural(value)
}

/// `node` rewritten as a structural schema (see the module's documentation).
pub fn structural(node: Value) -> Value {
    let mut map = match node {
        // `true`: anything, as a `serde_json::Value` field
        Value::Bool(true) => return preserve_unknown(Map::new()),
        Value::Object(map) => map,
        other => return other,
    };
    // an `Option<T>` is `T` or null; an unset optional field is left out, never written
    // as null, so it is `T`
    if let Some(Value::Array(types)) = map.get("type") {
        let types: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        if let [one] = &types[..] {
            map.insert("type".to_string(), one.clone());
        }
    }
    if let Some(Value::Array(variants)) = map.get("anyOf") {
        let not_null: Vec<&Value> = variants
            .iter()
            .filter(|v| v.get("type") != Some(&json!("null")))
            .collect();
        if let [one] = not_null[..] {
            let mut inner = match one.clone() {
                Value::Object(inner) => inner,
                _ => Map::new(),
            };
            map.remove("anyOf");
            // the field's own description wins over its type's
            for (k, v) in map {
                inner.insert(k, v);
            }
            return structural(Value::Object(inner));
        }
    }
    if map
        .get("enum")
        .and_then(Value::as_array)
        .is_some_and(|e| e.contains(&Value::Null))
    {
        if let Some(Value::Array(values)) = map.get_mut("enum") {
            values.retain(|v| !v.is_null());
        }
    }
    // an enum whose variants carry doc comments comes as one `const` per variant
    for junctor in ["oneOf", "anyOf"] {
        if let Some(Value::Array(variants)) = map.remove(junctor) {
            // undocumented variants come together as one `enum`
            let values: Vec<Value> = variants
                .iter()
                .flat_map(|v| match (v.get("const"), v.get("enum")) {
                    (Some(one), _) => vec![one.clone()],
                    (None, Some(Value::Array(many))) => many.clone(),
                    _ => panic!("only enums of plain strings are generated, not {v}"),
                })
                .collect();
            map.insert("type".to_string(), Value::String("string".to_string()));
            map.insert("enum".to_string(), Value::Array(values));
        }
    }
    if let Some(value) = map.remove("const") {
        map.insert("enum".to_string(), Value::Array(vec![value]));
    }
    if map
        .get("format")
        .and_then(Value::as_str)
        .is_some_and(|f| !FORMATS.contains(&f))
    {
        map.remove("format");
    }
    match map.remove("additionalProperties") {
        Some(Value::Bool(true)) => return preserve_unknown(map),
        Some(Value::Object(values)) if !map.contains_key("properties") => {
            map.insert(
                "additionalProperties".to_string(),
                structural(Value::Object(values)),
            );
        }
        // `false` (deny_unknown_fields): the server prunes and refuses unknown fields itself
        _ => {}
    }
    if let Some(Value::Object(properties)) = map.remove("properties") {
        let properties = properties.into_iter().map(|(k, v)| (k, structural(v))).collect();
        map.insert("properties".to_string(), Value::Object(properties));
    }
    if let Some(items) = map.remove("items") {
        map.insert("items".to_string(), structural(items));
    }
    if map
        .get("required")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
    {
        map.remove("required");
    }
    if let Some(Value::String(text)) = map.get_mut("description") {
        *text = plain_description(text);
    }
    map.retain(|k, _| KEYWORDS.contains(&k.as_str()) || EXTENSIONS.contains(&k.as_str()));
    Value::Object(map)
}

/// A doc comment as `kubectl explain` shows it: without rustdoc's links to Rust items
/// (`([`Cluster::DEFAULT_CONNECT_TIMEOUT`])` goes; `[`WasmPlugin`]` is `WasmPlugin`).
fn plain_description(text: &str) -> String {
    static RUST_ITEM: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r" ?\(\[`[A-Za-z_]+::[A-Za-z_:]+`\]\)").expect("a valid regex")
    });
    RUST_ITEM
        .replace_all(text, "")
        .replace("[`", "`")
        .replace("`]", "`")
}

/// A mapping of anything: kept as given by the server.
fn preserve_unknown(mut map: Map<String, Value>) -> Value {
    map.retain(|k, _| k == "description");
    map.insert("type".to_string(), Value::String("object".to_string()));
    map.insert(
        "x-kubernetes-preserve-unknown-fields".to_string(),
        Value::Bool(true),
    );
    Value::Object(map)
}
