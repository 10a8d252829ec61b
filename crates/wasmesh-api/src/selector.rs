//! How a resource says which workloads it applies to: Istio's `WorkloadSelector` and the
//! Gateway API's `PolicyTargetReference`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `selector`: the workload's labels must include every one of `matchLabels`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkloadSelector {
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
}

impl WorkloadSelector {
    /// True when every label of the selector is on the workload with the same value.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k).is_some_and(|have| have == v))
    }
}

/// `targetRef` / `targetRefs[]`: a resource the policy attaches to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicyTargetReference {
    /// API group of the target; `gateway.networking.k8s.io` for Gateway and GatewayClass,
    /// empty for Service, `networking.istio.io` for ServiceEntry.
    #[serde(default)]
    pub group: String,
    /// `Gateway`, `GatewayClass`, `Service` or `ServiceEntry`.
    pub kind: String,
    pub name: String,
    /// Must be empty or the policy's own namespace (cross-namespace references are not
    /// allowed, as in Istio).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// The label Gateway API implementations put on a Gateway's workload.
pub const GATEWAY_NAME_LABEL: &str = "gateway.networking.k8s.io/gateway-name";
/// The label naming the GatewayClass of a Gateway's workload.
pub const GATEWAY_CLASS_LABEL: &str = "gateway.networking.k8s.io/gateway-class-name";
/// The API group of Gateway and GatewayClass.
pub const GATEWAY_API_GROUP: &str = "gateway.networking.k8s.io";
