//! The CRDs are structural, hold the checks the API server can enforce, and accept the
//! repository's examples as the server would: [`structural_errors`] checks Kubernetes'
//! rules for structural schemas, [`check`] validates an object against a schema (the
//! subset of OpenAPI the schemas use, unknown fields refused as kubectl's strict field
//! validation does).

use super::schema::KEYWORDS;
use super::status::{Condition, ConditionStatus, ConditionType, ResourceStatus};
use super::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Where a schema may keep unknown fields: only the free-form `pluginConfig`.
const PRESERVED: [&str; 1] = [".spec.pluginConfig"];

/// Every way `node` (at `path`) breaks Kubernetes' rules for a structural schema.
fn structural_errors(node: &Value, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Some(map) = node.as_object() else {
        return vec![format!("{path}: a schema must be a mapping, not {node}")];
    };
    for key in map.keys() {
        if !KEYWORDS.contains(&key.as_str()) && key != "x-kubernetes-list-map-keys" {
            out.push(format!("{path}: `{key}` is not allowed in a structural schema"));
        }
    }
    let preserved = map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    if preserved && !PRESERVED.contains(&path) {
        out.push(format!("{path}: keeps unknown fields where none are intended"));
    }
    let kind = map.get("type").and_then(Value::as_str);
    match kind {
        Some("object") => {
            if map.contains_key("properties") && map.contains_key("additionalProperties") {
                out.push(format!("{path}: properties and additionalProperties together"));
            }
            if path.ends_with(".metadata") && map.len() != 1 {
                out.push(format!("{path}: metadata may only be `type: object` here"));
            }
            let properties = map.get("properties").and_then(Value::as_object);
            for (name, child) in properties.into_iter().flatten() {
                out.extend(structural_errors(child, &format!("{path}.{name}")));
            }
            match map.get("additionalProperties") {
                Some(child @ Value::Object(_)) => out.extend(structural_errors(child, &format!("{path}.*"))),
                Some(other) => out.push(format!(
                    "{path}: additionalProperties must be a schema, not {other}"
                )),
                None => {}
            }
            for required in map
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = required.as_str().unwrap_or_default();
                if !properties.is_some_and(|p| p.contains_key(name)) {
                    out.push(format!("{path}: `{name}` is required but not a property"));
                }
            }
        }
        Some("array") => match map.get("items") {
            Some(items) => out.extend(structural_errors(items, &format!("{path}[]"))),
            None => out.push(format!("{path}: an array without items")),
        },
        Some("string" | "integer" | "number" | "boolean") => {
            for value in map.get("enum").and_then(Value::as_array).into_iter().flatten() {
                let fits = match kind {
                    Some("string") => value.is_string(),
                    Some("integer") => value.is_i64() || value.is_u64(),
                    Some("number") => value.is_number(),
                    _ => value.is_boolean(),
                };
                if !fits {
                    out.push(format!(
                        "{path}: enum value {value} is not a {}",
                        kind.unwrap_or_default()
                    ));
                }
            }
        }
        Some(other) => out.push(format!("{path}: unknown type `{other}`")),
        None => out.push(format!("{path}: no type")),
    }
    out
}

/// Every way `value` (at `path`) does not fit `schema`, as the API server would refuse it.
fn check(schema: &Value, value: &Value, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let preserved = schema["x-kubernetes-preserve-unknown-fields"] == Value::Bool(true);
    let fits = match schema["type"].as_str() {
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        _ => true,
    };
    if !fits {
        return vec![format!("{path}: must be of type {}", schema["type"])];
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            out.push(format!("{path}: Unsupported value: {value}"));
        }
    }
    if let Some(n) = value.as_f64() {
        if schema["minimum"].as_f64().is_some_and(|min| n < min)
            || schema["maximum"].as_f64().is_some_and(|max| n > max)
        {
            out.push(format!("{path}: {n} is out of range"));
        }
    }
    if let Some(text) = value.as_str() {
        let len = text.chars().count() as u64;
        if schema["minLength"].as_u64().is_some_and(|min| len < min)
            || schema["maxLength"].as_u64().is_some_and(|max| len > max)
        {
            out.push(format!("{path}: length {len} is out of range"));
        }
        if let Some(pattern) = schema["pattern"].as_str() {
            if !regex::Regex::new(pattern)
                .expect("a valid pattern")
                .is_match(text)
            {
                out.push(format!("{path}: {text:?} does not match {pattern}"));
            }
        }
    }
    if let Some(items) = value.as_array() {
        let len = items.len() as u64;
        if schema["minItems"].as_u64().is_some_and(|min| len < min)
            || schema["maxItems"].as_u64().is_some_and(|max| len > max)
        {
            out.push(format!("{path}: {len} items is out of range"));
        }
        for (i, item) in items.iter().enumerate() {
            out.extend(check(&schema["items"], item, &format!("{path}[{i}]")));
        }
    }
    if let Some(fields) = value.as_object() {
        for required in schema["required"].as_array().into_iter().flatten() {
            if !fields.contains_key(required.as_str().unwrap_or_default()) {
                out.push(format!(
                    "{path}.{}: Required value",
                    required.as_str().unwrap_or_default()
                ));
            }
        }
        for (name, field) in fields {
            let child = format!("{path}.{name}");
            if child == ".metadata" {
                // the server checks ObjectMeta itself, whatever the schema says
                continue;
            }
            match (schema["properties"].get(name), schema.get("additionalProperties")) {
                (Some(property), _) => out.extend(check(property, field, &child)),
                (None, Some(values)) => out.extend(check(values, field, &child)),
                (None, None) if preserved => {}
                (None, None) => out.push(format!("{child}: unknown field \"{name}\"")),
            }
        }
    }
    out
}

fn schema_of(kind: Kind) -> Value {
    Definition::of(kind).expect("a CRD kind").object_schema()
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

/// The objects of every YAML file under `dir` (list items one by one).
fn objects_under(dir: &Path) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            out.extend(objects_under(&path));
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a readable example");
        for document in serde_yaml_ng::Deserializer::from_str(&text) {
            use serde::Deserialize as _;
            let value = Value::deserialize(document).expect("YAML");
            let name = path.display().to_string();
            match value["items"].as_array() {
                Some(items) if value["kind"] == "List" => {
                    out.extend(items.iter().map(|i| (name.clone(), i.clone())))
                }
                _ if value.is_null() => {}
                _ => out.push((name, value)),
            }
        }
    }
    out
}

#[test]
fn every_crd_is_structural() {
    for crd in definitions() {
        for version in crd["spec"]["versions"].as_array().expect("versions") {
            let schema = &version["schema"]["openAPIV3Schema"];
            let errors = structural_errors(schema, "");
            assert!(errors.is_empty(), "{}: {errors:#?}", crd["metadata"]["name"]);
        }
    }
}

#[test]
fn the_structural_check_finds_what_the_server_refuses() {
    let bad = json!({"type": "object", "properties": {
        "metadata": {"type": "object", "properties": {"name": {"type": "string"}}},
        "spec": {"type": "object", "properties": {
            "untyped": {"description": "x"},
            "reference": {"$ref": "#/definitions/X", "type": "object"},
            "either": {"type": "string", "anyOf": [{"type": "string"}]},
            "list": {"type": "array"},
            "both": {"type": "object", "properties": {}, "additionalProperties": {"type": "string"}},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
            "closed": {"type": "object", "additionalProperties": false},
            "level": {"type": "integer", "enum": ["LOW"]},
        }, "required": ["missing"]},
    }});
    let errors = structural_errors(&bad, "");
    for expected in [
        ".metadata: metadata may only be `type: object` here",
        ".spec.untyped: no type",
        ".spec.reference: `$ref` is not allowed in a structural schema",
        ".spec.either: `anyOf` is not allowed in a structural schema",
        ".spec.list: an array without items",
        ".spec.both: properties and additionalProperties together",
        ".spec.free: keeps unknown fields where none are intended",
        ".spec.closed: additionalProperties must be a schema, not false",
        ".spec.level: enum value \"LOW\" is not a integer",
        ".spec: `missing` is required but not a property",
    ] {
        assert!(
            errors.iter().any(|e| e == expected),
            "{expected} not in {errors:#?}"
        );
    }
}

#[test]
fn every_kind_has_names_one_storage_version_a_status_subresource_and_condition_columns() {
    let crds = definitions();
    let names: Vec<&str> = crds
        .iter()
        .map(|c| c["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "proxies.wasmesh.io",
            "wasmplugins.extensions.istio.io",
            "requestauthentications.security.istio.io",
            "authorizationpolicies.security.istio.io"
        ]
    );
    for crd in &crds {
        let versions = crd["spec"]["versions"].as_array().unwrap();
        assert_eq!(
            versions.iter().filter(|v| v["storage"] == true).count(),
            1,
            "{crd}"
        );
        for v in versions {
            assert_eq!(v["subresources"], json!({"status": {}}), "{crd}");
            let columns: Vec<&str> = v["additionalPrinterColumns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap())
                .collect();
            assert!(columns.ends_with(&["Accepted", "Ready", "Age"]), "{columns:?}");
            let status = &v["schema"]["openAPIV3Schema"]["properties"]["status"];
            let condition = &status["properties"]["conditions"]["items"]["properties"];
            assert_eq!(condition["type"]["enum"], json!(["Accepted", "Ready"]));
            assert_eq!(condition["status"]["enum"], json!(["True", "False", "Unknown"]));
        }
    }
    let security: Vec<&str> = crds[2]["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(security, ["v1", "v1beta1"]);
    assert_eq!(crds[2]["spec"]["versions"][0]["storage"], true);
}

#[test]
fn every_example_and_exported_object_fits_its_schema() {
    let mut checked = 0;
    for dir in [
        "examples",
        "tests/fixtures/cli/kubectl-get",
        "tests/fixtures/cli/mesh",
    ] {
        for (file, object) in objects_under(&repo(dir)) {
            let Some(kind) = object["kind"].as_str().and_then(Kind::from_name) else {
                continue;
            };
            let Some(definition) = Definition::of(kind) else {
                continue;
            };
            let errors = check(&definition.object_schema(), &object, "");
            assert!(
                errors.is_empty(),
                "{file}: {} {}: {errors:#?}",
                kind,
                object["metadata"]["name"]
            );
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} objects checked");
}

#[test]
fn the_schemas_refuse_bad_enums_ranges_patterns_unknown_and_missing_fields() {
    let plugin = json!({
        "apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin", "metadata": {"name": "p"},
        "spec": {
            "phase": "LATE", "priority": 2147483648_i64, "sha256": "ABC", "pluginConfg": {},
            "failStrategy": "FAIL_OPEN", "match": [{"mode": "SERVER", "ports": [{"number": 0}]}],
            "pluginConfig": {"anything": [1, {"goes": true}]},
            "imagePullPolicy": "Always", "type": "NETWORK",
        },
    });
    let errors = check(&schema_of(Kind::WasmPlugin), &plugin, "");
    assert_eq!(
        errors,
        [
            ".spec.url: Required value",
            ".spec.phase: Unsupported value: \"LATE\"",
            ".spec.priority: 2147483648 is out of range",
            ".spec.sha256: \"ABC\" does not match ^[a-f0-9]{64}$",
            ".spec.pluginConfg: unknown field \"pluginConfg\"",
            ".spec.match[0].ports[0].number: 0 is out of range",
        ]
    );
    let proxy = json!({"apiVersion": "wasmesh.io/v1alpha1", "kind": "Proxy", "metadata": {"name": "p"},
        "spec": {"listeners": [{"name": "h", "address": "127.0.0.1:1", "protocol": "udp", "routes": [{"match": {}, "cluster": "b", "timeout": "15"}]}]}});
    assert_eq!(
        check(&schema_of(Kind::Proxy), &proxy, ""),
        [
            ".spec.listeners[0].protocol: Unsupported value: \"udp\"",
            ".spec.listeners[0].routes[0].timeout: \"15\" does not match ^(0|([0-9.]+(ns|us|µs|ms|s|m|h))+)$",
        ]
    );
    let policy = json!({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "metadata": {"name": "a"}, "spec": {"action": "PERMIT"}});
    assert_eq!(
        check(&schema_of(Kind::AuthorizationPolicy), &policy, ""),
        [".spec.action: Unsupported value: \"PERMIT\""]
    );
}

#[test]
fn a_status_the_status_writer_would_send_fits_and_reads_back() {
    let status = ResourceStatus {
        conditions: vec![
            Condition {
                kind: ConditionType::Accepted,
                status: ConditionStatus::False,
                reason: "Invalid".to_string(),
                message: "spec.url: missing; this field is required".to_string(),
                last_transition_time: "2026-12-01T09:14:05Z".parse().expect("a timestamp"),
                observed_generation: Some(3),
            },
            Condition {
                kind: ConditionType::Ready,
                status: ConditionStatus::Unknown,
                reason: "NotAccepted".to_string(),
                message: String::new(),
                last_transition_time: "2026-12-01T09:14:05Z".parse().expect("a timestamp"),
                observed_generation: Some(3),
            },
        ],
        observed_generation: Some(3),
    };
    let value = serde_json::to_value(&status).expect("JSON");
    assert_eq!(value["conditions"][0]["type"], "Accepted");
    assert_eq!(
        value["conditions"][0]["lastTransitionTime"],
        "2026-12-01T09:14:05Z"
    );
    let schema = &schema_of(Kind::WasmPlugin)["properties"]["status"];
    assert_eq!(check(schema, &value, ".status"), Vec::<String>::new());
    let back: ResourceStatus = serde_json::from_value(value).expect("reads back");
    assert_eq!(back, status);
    assert_eq!(
        back.condition(ConditionType::Ready).map(|c| c.status),
        Some(ConditionStatus::Unknown)
    );

    let bad = json!({"conditions": [{"type": "Healthy", "status": "Yes", "reason": "no spaces allowed", "lastTransitionTime": "x"}]});
    assert_eq!(
        check(schema, &bad, ".status"),
        [
            ".status.conditions[0].type: Unsupported value: \"Healthy\"",
            ".status.conditions[0].status: Unsupported value: \"Yes\"",
            ".status.conditions[0].reason: \"no spaces allowed\" does not match ^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
        ]
    );
}

#[test]
fn yaml_and_json_hold_the_same_crds() {
    let from_yaml: Vec<Value> = serde_yaml_ng::Deserializer::from_str(&to_yaml())
        .map(|d| {
            use serde::Deserialize as _;
            Value::deserialize(d).expect("YAML")
        })
        .collect();
    let list: Value = serde_json::from_str(&to_json()).expect("JSON");
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"].as_array().expect("items"), &from_yaml);
    assert_eq!(from_yaml, definitions());
}

#[test]
fn descriptions_name_no_rust_items() {
    let text = to_yaml();
    assert!(!text.contains("[`"), "rustdoc links left in the CRDs");
    assert!(!text.contains("DEFAULT_"), "Rust constants left in the CRDs");
    assert!(
        text.contains("Unset: 5s."),
        "the connect timeout's default is shown"
    );
}
