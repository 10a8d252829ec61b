//! An API object as a resource: through the same validation as a file's document, its
//! origin naming kind, namespace, name and `resourceVersion`.

use kube::api::{ApiResource, DynamicObject};
use serde_json::Value;
use wasmesh_api::{parse_object, Origin, Parsed};

/// Parses `object`, of the kind `resource` is. What the API server adds and wasmesh does
/// not use is left out first: `status` (written by controllers, not an input),
/// `metadata.managedFields`, and `metadata.resourceVersion`, which goes to the origin
/// instead — so that a write to `status` alone is no change of the resource.
pub fn parse(resource: &ApiResource, object: &DynamicObject) -> Parsed {
    let namespace = object.metadata.namespace.clone().unwrap_or_default();
    let name = object.metadata.name.clone().unwrap_or_default();
    let origin = Origin::Object {
        kind: resource.kind.clone(),
        namespace,
        name,
        resource_version: object.metadata.resource_version.clone(),
    };
    let mut value = serde_json::to_value(object).unwrap_or(Value::Null);
    if let Some(map) = value.as_object_mut() {
        // list items come without them
        map.insert("apiVersion".into(), Value::String(resource.api_version.clone()));
        map.insert("kind".into(), Value::String(resource.kind.clone()));
        map.remove("status");
        if let Some(Value::Object(meta)) = map.get_mut("metadata") {
            meta.remove("managedFields");
            meta.remove("resourceVersion");
        }
    }
    parse_object(origin, &value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> DynamicObject {
        serde_json::from_value(value).expect("a DynamicObject")
    }

    #[test]
    fn an_object_as_the_server_sends_it_is_a_resource_named_by_its_origin() {
        let plugins = crate::kinds::followed().remove(0).resource;
        let sent = object(json!({
            "metadata": {"name": "auth", "namespace": "web", "resourceVersion": "41", "uid": "u",
                         "generation": 3, "managedFields": [{"manager": "kubectl", "operation": "Apply"}]},
            "spec": {"url": "file:///plugins/auth.wasm", "phase": "AUTHN"},
            "status": {"conditions": [{"type": "Accepted", "status": "True"}]},
        }));
        let doc = parse(&plugins, &sent).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(doc.origin.to_string(), "WasmPlugin web/auth (resourceVersion 41)");
        assert_eq!(doc.resource.metadata().resource_version, None);
        assert_eq!(doc.resource.metadata().generation, Some(3));

        let mut status_only = sent.clone();
        status_only.metadata.resource_version = Some("42".into());
        status_only.data["status"] = json!({"conditions": []});
        let again = parse(&plugins, &status_only).unwrap();
        assert_eq!(again.resource, doc.resource, "a write to status is no change");
    }

    #[test]
    fn a_bad_object_is_reported_with_its_field_path() {
        let proxies = crate::kinds::followed().pop().unwrap().resource;
        let sent = object(json!({
            "metadata": {"name": "gw", "namespace": "istio-system", "resourceVersion": "9"},
            "spec": {"listeners": [], "clusterz": []},
        }));
        let error = parse(&proxies, &sent).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("Proxy istio-system/gw (resourceVersion 9): spec"),
            "{error}"
        );
        assert!(error.to_string().contains("clusterz"), "{error}");
        assert_eq!(
            error.key.as_ref().map(ToString::to_string).as_deref(),
            Some("Proxy istio-system/gw")
        );
    }
}
