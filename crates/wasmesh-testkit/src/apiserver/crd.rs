//! What a `CustomResourceDefinition` write does beyond storing the object: the status a
//! real server gives an accepted CRD, and the names that cannot change once it serves them.

use serde_json::{json, Value};

use super::kinds::{ResourceKind, CRD_GROUP, CRD_PLURAL};
use super::meta::now_rfc3339;
use super::status::ApiError;

/// Whether `kind` is `CustomResourceDefinition`.
pub fn is_crd(kind: &ResourceKind) -> bool {
    kind.group == CRD_GROUP && kind.plural == CRD_PLURAL
}

/// 422 when an update of the CRD `old` would move what it serves to another group or plural
/// (immutable on a real server).
pub fn check_unchanged_names(old: &Value, defined: &ResourceKind) -> Result<(), ApiError> {
    let before = ResourceKind::from_crd(old)?;
    if (&defined.group, &defined.plural) == (&before.group, &before.plural) {
        return Ok(());
    }
    Err(ApiError::Invalid {
        kind: "CustomResourceDefinition.apiextensions.k8s.io".to_string(),
        name: old["metadata"]["name"].as_str().unwrap_or_default().to_string(),
        detail: "spec.group, spec.names.plural: Invalid value: field is immutable".to_string(),
    })
}

/// The status a real server gives a CRD it accepted: `NamesAccepted` and `Established`,
/// which `kubectl wait` and kube-rs's `conditions::is_crd_established` look for.
pub fn established(crd: &mut Value, defined: &ResourceKind) {
    let now = now_rfc3339();
    let condition = |kind: &str, reason: &str| json!({ "type": kind, "status": "True", "lastTransitionTime": now, "reason": reason, "message": "" });
    crd["status"] = json!({
        "acceptedNames": {
            "plural": defined.plural,
            "singular": defined.singular,
            "kind": defined.kind,
            "listKind": defined.list_kind,
            "shortNames": defined.short_names,
        },
        "conditions": [condition("NamesAccepted", "NoConflicts"), condition("Established", "InitialNamesAccepted")],
        "storedVersions": [defined.versions[0]],
    });
}
