//! What every resource carries: its kind, its Kubernetes-style metadata and the key it is
//! stored under.

use crate::timestamp::Timestamp;
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, fmt};

/// The namespace of a resource whose `metadata.namespace` is not set, as in Kubernetes.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Istio's default `meshConfig.rootNamespace`: plugins and policies there apply to every
/// namespace.
pub const DEFAULT_ROOT_NAMESPACE: &str = "istio-system";

/// Kubernetes object metadata. The fields wasmesh uses are typed; the others a
/// `kubectl get -o yaml` export carries are accepted and kept as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ObjectMeta {
    /// The resource's name (a DNS-1123 subdomain).
    pub name: String,
    /// The namespace; [`DEFAULT_NAMESPACE`] when unset. Use [`ObjectMeta::namespace`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Labels. On a `Proxy` these are the workload's labels that selectors match.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Used to break ties between plugins of equal phase and priority (older first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
    /// Kept as given; wasmesh does not use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_references: Option<serde_json::Value>,
    /// Kept as given; wasmesh does not use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_fields: Option<serde_json::Value>,
    /// Set by the API server on an object being deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_timestamp: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_grace_period_seconds: Option<i64>,
    /// The prefix the API server made `name` from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate_name: Option<String>,
    /// Deprecated in Kubernetes, still in older exports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_link: Option<String>,
}

impl ObjectMeta {
    /// The namespace, [`DEFAULT_NAMESPACE`] when unset.
    pub fn namespace(&self) -> &str {
        self.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE)
    }
}

/// The kinds of resource wasmesh understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    WasmPlugin,
    Secret,
    RequestAuthentication,
    AuthorizationPolicy,
    Proxy,
}

impl Kind {
    /// Every kind, in the order they are listed in messages.
    pub const ALL: [Kind; 5] = [
        Kind::WasmPlugin,
        Kind::Secret,
        Kind::RequestAuthentication,
        Kind::AuthorizationPolicy,
        Kind::Proxy,
    ];

    /// The kind's name as written in `kind:`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::WasmPlugin => "WasmPlugin",
            Kind::Secret => "Secret",
            Kind::RequestAuthentication => "RequestAuthentication",
            Kind::AuthorizationPolicy => "AuthorizationPolicy",
            Kind::Proxy => "Proxy",
        }
    }

    /// The `apiVersion`s accepted for this kind; the first is the one to write.
    pub fn api_versions(self) -> &'static [&'static str] {
        match self {
            Kind::WasmPlugin => &["extensions.istio.io/v1alpha1"],
            Kind::Secret => &["v1"],
            Kind::RequestAuthentication | Kind::AuthorizationPolicy => {
                &["security.istio.io/v1", "security.istio.io/v1beta1"]
            }
            Kind::Proxy => &["wasmesh.io/v1alpha1"],
        }
    }

    /// The kind named `name`, if wasmesh understands it.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The identity of a resource: what the store is keyed by. Ordered by kind, namespace,
/// then name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ResourceKey {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
}

impl ResourceKey {
    pub fn new(kind: Kind, namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ResourceKey {
            kind,
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// A namespace and name, as in `--workload NS/NAME`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NamespacedName {
    pub namespace: String,
    pub name: String,
}

impl std::str::FromStr for NamespacedName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('/') {
            Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
                Ok(NamespacedName {
                    namespace: ns.to_string(),
                    name: name.to_string(),
                })
            }
            _ => Err(format!("`{s}` is not NAMESPACE/NAME")),
        }
    }
}

impl fmt::Display for NamespacedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}
