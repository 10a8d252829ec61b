//! Writes straight into the store, without HTTP: a benchmark or a test that needs a
//! thousand objects in place before its client starts loads them here in milliseconds,
//! with the same rules (names, namespaces, versions, watch events) as a request would meet.

use serde_json::Value;

use super::kinds::ResourceKind;
use super::patch::merge;
use super::status::ApiError;
use super::store::Store;

/// The served resource of `object`'s `apiVersion` and `kind`.
fn kind_of(store: &Store, object: &Value) -> Result<(ResourceKind, String), ApiError> {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    store
        .registry()
        .all()
        .iter()
        .find(|k| k.group == group && k.kind == kind && k.versions.iter().any(|v| v == version))
        .map(|k| (k.clone(), version.to_string()))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "no resource of kind {kind:?} is served at {api_version:?} (is its CRD created?)"
            ))
        })
}

fn namespace_of(kind: &ResourceKind, object: &Value) -> String {
    if kind.namespaced {
        object["metadata"]["namespace"]
            .as_str()
            .filter(|ns| !ns.is_empty())
            .unwrap_or("default")
            .to_string()
    } else {
        String::new()
    }
}

/// Creates `object` (its `apiVersion`, `kind` and `metadata.namespace` say where), as a
/// `POST` would.
pub fn create(store: &mut Store, object: Value) -> Result<Value, ApiError> {
    let (kind, _) = kind_of(store, &object)?;
    let namespace = namespace_of(&kind, &object);
    store.create(&kind, &namespace, object)
}

/// Applies the JSON merge patch `patch` to the object that `patch`'s `apiVersion`, `kind`,
/// `metadata.namespace` and `metadata.name` name, as a `PATCH` of the main path would.
pub fn merge_patch(store: &mut Store, patch: &Value) -> Result<Value, ApiError> {
    let (kind, _) = kind_of(store, patch)?;
    let namespace = namespace_of(&kind, patch);
    let name = patch["metadata"]["name"].as_str().unwrap_or_default();
    let mut object = store.get(&kind, &namespace, name)?;
    merge(&mut object, patch);
    // the patch names the object; a stale version in it is not a precondition here
    object["metadata"]["resourceVersion"] = Value::Null;
    store.update(&kind, &namespace, name, object, super::store::Part::Main)
}
