//! The CustomResourceDefinitions wasmesh needs, generated from the API types: its own
//! `Proxy` (`wasmesh.io/v1alpha1`) and, for clusters without Istio, Istio's `WasmPlugin`,
//! `RequestAuthentication` and `AuthorizationPolicy`. `wasmesh crds` prints them; the
//! schemas are structural ([`schema`]) with the enum and range checks the API server can
//! enforce, each kind has a `status` subresource whose schema is [`status::ResourceStatus`],
//! and printer columns show the conditions (docs/kubernetes.md).

pub mod schema;
pub mod status;
#[cfg(test)]
mod tests;

use crate::meta::Kind;
use serde_json::{json, Value};

/// One served version of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    pub name: &'static str,
    /// The version objects are stored at: exactly one per kind.
    pub storage: bool,
}

/// What a CRD defines for one kind.
#[derive(Debug, Clone, Copy)]
pub struct Definition {
    pub kind: Kind,
    pub group: &'static str,
    pub plural: &'static str,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub versions: &'static [Version],
    /// Whether an object must have a `spec` (it holds required fields).
    pub spec_required: bool,
    /// The structural schema of `spec`.
    spec_schema: fn() -> Value,
    /// Printer columns of this kind besides the conditions and the age.
    columns: fn() -> Vec<Value>,
}

const V1ALPHA1: &[Version] = &[Version {
    name: "v1alpha1",
    storage: true,
}];
/// Istio's security kinds: `v1` stored, `v1beta1` still served (the same schema).
const V1_AND_V1BETA1: &[Version] = &[
    Version {
        name: "v1",
        storage: true,
    },
    Version {
        name: "v1beta1",
        storage: false,
    },
];
const ISTIO_CATEGORIES: &[&str] = &["istio-io", "wasmesh"];

/// Every CRD `wasmesh crds` prints, in that order.
pub const DEFINITIONS: [Definition; 4] = [
    Definition {
        kind: Kind::Proxy,
        group: "wasmesh.io",
        plural: "proxies",
        short_names: &["wmproxy"],
        categories: &["wasmesh"],
        versions: V1ALPHA1,
        spec_required: true,
        spec_schema: schema::structural_schema::<crate::proxy::ProxySpec>,
        columns: || {
            vec![
                json!({"name": "Listeners", "type": "string", "jsonPath": ".spec.listeners[*].address", "description": "The addresses it listens on"}),
            ]
        },
    },
    Definition {
        kind: Kind::WasmPlugin,
        group: "extensions.istio.io",
        plural: "wasmplugins",
        short_names: &[],
        categories: ISTIO_CATEGORIES,
        versions: V1ALPHA1,
        spec_required: true,
        spec_schema: schema::structural_schema::<crate::wasm_plugin::WasmPluginSpec>,
        columns: || {
            vec![
                json!({"name": "Phase", "type": "string", "jsonPath": ".spec.phase", "description": "Where in the filter chain it runs"}),
                json!({"name": "Priority", "type": "integer", "jsonPath": ".spec.priority", "priority": 1, "description": "Higher runs first within a phase"}),
            ]
        },
    },
    Definition {
        kind: Kind::RequestAuthentication,
        group: "security.istio.io",
        plural: "requestauthentications",
        short_names: &["ra"],
        categories: ISTIO_CATEGORIES,
        versions: V1_AND_V1BETA1,
        spec_required: false,
        spec_schema: schema::structural_schema::<crate::request_authentication::RequestAuthenticationSpec>,
        columns: Vec::new,
    },
    Definition {
        kind: Kind::AuthorizationPolicy,
        group: "security.istio.io",
        plural: "authorizationpolicies",
        short_names: &["ap"],
        categories: ISTIO_CATEGORIES,
        versions: V1_AND_V1BETA1,
        spec_required: false,
        spec_schema: schema::structural_schema::<crate::authorization_policy::AuthorizationPolicySpec>,
        columns: || {
            vec![
                json!({"name": "Action", "type": "string", "jsonPath": ".spec.action", "description": "ALLOW, DENY, AUDIT or CUSTOM"}),
            ]
        },
    },
];

impl Definition {
    /// The definition of `kind`, when it is one a CRD defines (not `Secret`).
    pub fn of(kind: Kind) -> Option<&'static Definition> {
        DEFINITIONS.iter().find(|d| d.kind == kind)
    }

    /// `plural.group`, the CRD's name.
    pub fn name(&self) -> String {
        format!("{}.{}", self.plural, self.group)
    }

    /// The `CustomResourceDefinition` object (`apiextensions.k8s.io/v1`).
    pub fn to_crd(&self) -> Value {
        let kind = self.kind.as_str();
        let mut names = json!({
            "kind": kind,
            "listKind": format!("{kind}List"),
            "plural": self.plural,
            "singular": kind.to_lowercase(),
        });
        if !self.short_names.is_empty() {
            names["shortNames"] = json!(self.short_names);
        }
        names["categories"] = json!(self.categories);
        let schema = self.object_schema();
        let columns = self.printer_columns();
        let versions: Vec<Value> = self
            .versions
            .iter()
            .map(|v| {
                json!({
                    "name": v.name,
                    "served": true,
                    "storage": v.storage,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                })
            })
            .collect();
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {
                "name": self.name(),
                "labels": {"app.kubernetes.io/part-of": "wasmesh"},
            },
            "spec": {
                "group": self.group,
                "names": names,
                "scope": "Namespaced",
                "versions": versions,
            },
        })
    }

    /// The whole object's schema: `spec` from the API type, `status` from
    /// [`status::ResourceStatus`].
    pub fn object_schema(&self) -> Value {
        let mut schema = json!({
            "type": "object",
            "description": format!("{} ({}); see docs/api.md.", self.kind, self.kind.api_versions()[0]),
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
                "spec": (self.spec_schema)(),
                "status": schema::structural_schema::<status::ResourceStatus>(),
            },
        });
        if self.spec_required {
            schema["required"] = json!(["spec"]);
        }
        schema
    }

    fn printer_columns(&self) -> Vec<Value> {
        let condition = |kind: &str| {
            json!({
                "name": kind,
                "type": "string",
                "jsonPath": format!(".status.conditions[?(@.type==\"{kind}\")].status"),
                "description": format!("The {kind} condition (docs/kubernetes.md)"),
            })
        };
        let mut columns = (self.columns)();
        columns.push(condition("Accepted"));
        columns.push(condition("Ready"));
        columns.push(json!({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}));
        columns
    }
}

/// Every CRD, as objects.
pub fn definitions() -> Vec<Value> {
    DEFINITIONS.iter().map(Definition::to_crd).collect()
}

/// The CRDs as YAML documents separated by `---`, as `kubectl apply -f` reads them.
pub fn to_yaml() -> String {
    definitions()
        .iter()
        .map(|crd| serde_yaml_ng::to_string(crd).expect("a CRD is YAML"))
        .collect::<Vec<_>>()
        .join("---\n")
}

/// The CRDs as one JSON `v1 List`, as `kubectl apply -f` reads it.
pub fn to_json() -> String {
    let list = json!({"apiVersion": "v1", "kind": "List", "items": definitions()});
    let mut text = serde_json::to_string_pretty(&list).expect("a CRD is JSON");
    text.push('\n');
    text
}
