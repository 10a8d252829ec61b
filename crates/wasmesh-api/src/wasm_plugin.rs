//! Istio's `WasmPlugin` (`extensions.istio.io/v1alpha1`), every field of the current spec
//! plus the API reference's `pluginConfig.verificationKey`.

use crate::{
    meta::ObjectMeta,
    selector::{PolicyTargetReference, WorkloadSelector},
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A Proxy-Wasm plugin and where in the filter chain it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WasmPlugin {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: WasmPluginSpec,
    /// Written by a control plane (exports from Kubernetes carry it); kept as given, not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

/// `spec` of a [`WasmPlugin`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WasmPluginSpec {
    /// Which workloads of the plugin's namespace (all namespaces from the root namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<WorkloadSelector>,
    /// Deprecated single form of `targetRefs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ref: Option<PolicyTargetReference>,
    /// At most 16 references to Gateways (and GatewayClass, Service, ServiceEntry).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub target_refs: Vec<PolicyTargetReference>,
    /// `oci://` (the default when there is no scheme), `file://`, `http://` or `https://`.
    #[schemars(length(min = 1))]
    pub url: String,
    /// Lower-case hex sha256 of the module (for OCI: of the manifest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-f0-9]{64}$"))]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<PullPolicy>,
    /// Name of a `kubernetes.io/dockerconfigjson` Secret in the plugin's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub image_pull_secret: Option<String>,
    /// PEM public key the module's signature must verify with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_key: Option<String>,
    /// Passed to the plugin as JSON through `proxy_on_configure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin_config: Option<serde_json::Map<String, serde_json::Value>>,
    /// The plugin's root id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub plugin_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Higher runs first within a phase; unset counts as 0. An int32, checked by validation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = -2147483648, max = 2147483647), extend("format" = "int32"))]
    pub priority: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_strategy: Option<FailStrategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_config: Option<VmConfig>,
    /// Traffic the plugin applies to; entries are OR'd. Empty: all traffic.
    #[serde(default, rename = "match", skip_serializing_if = "Vec::is_empty")]
    pub r#match: Vec<TrafficSelector>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub plugin_type: Option<PluginType>,
}

impl WasmPlugin {
    /// The priority used for ordering: unset counts as 0, as the API reference says.
    pub fn effective_priority(&self) -> i64 {
        self.spec.priority.unwrap_or(0)
    }

    /// The phase, `UNSPECIFIED_PHASE` when unset.
    pub fn phase(&self) -> Phase {
        self.spec.phase.unwrap_or_default()
    }

    /// HTTP or NETWORK (unset and `UNSPECIFIED_PLUGIN_TYPE` mean HTTP).
    pub fn plugin_type(&self) -> PluginType {
        match self.spec.plugin_type {
            Some(PluginType::Network) => PluginType::Network,
            _ => PluginType::Http,
        }
    }

    /// FAIL_CLOSE when unset.
    pub fn fail_strategy(&self) -> FailStrategy {
        self.spec.fail_strategy.unwrap_or_default()
    }

    /// `spec.verificationKey`, else the API reference's `spec.pluginConfig.verificationKey`.
    pub fn verification_key(&self) -> Option<&str> {
        self.spec
            .verification_key
            .as_deref()
            .or_else(|| self.spec.plugin_config.as_ref()?.get("verificationKey")?.as_str())
    }

    /// The root id given to the plugin: `pluginName`, or empty.
    pub fn root_id(&self) -> &str {
        self.spec.plugin_name.as_deref().unwrap_or("")
    }

    /// `<namespace>.<name>`, the `plugin_name` property Envoy gives plugins.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.metadata.namespace(), self.metadata.name)
    }

    /// The URL with `oci://` added when it has no scheme.
    pub fn full_url(&self) -> String {
        if self.spec.url.contains("://") {
            self.spec.url.clone()
        } else {
            format!("oci://{}", self.spec.url)
        }
    }

    /// The pull policy in force: the one set, else `Always` for an OCI image tagged
    /// `:latest` (or not tagged at all, which means `:latest`) and `IfNotPresent` otherwise
    /// (Istio's and Kubernetes' default).
    pub fn effective_pull_policy(&self) -> PullPolicy {
        match self.spec.image_pull_policy {
            Some(p @ (PullPolicy::IfNotPresent | PullPolicy::Always)) => p,
            _ => {
                // An OCI reference without a tag means `:latest`, as in Kubernetes.
                let url = self.full_url();
                let is_latest = url.starts_with("oci://")
                    && !url.contains('@')
                    && url
                        .rsplit('/')
                        .next()
                        .is_some_and(|last| match last.split_once(':') {
                            Some((_, tag)) => tag == "latest",
                            None => true,
                        });
                if is_latest {
                    PullPolicy::Always
                } else {
                    PullPolicy::IfNotPresent
                }
            }
        }
    }
}

/// Where in the filter chain a plugin is injected.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum Phase {
    /// Before Istio's authentication filter.
    #[serde(rename = "AUTHN")]
    Authn,
    /// After authentication, before authorization.
    #[serde(rename = "AUTHZ")]
    Authz,
    /// After authorization, before stats.
    #[serde(rename = "STATS")]
    Stats,
    /// At the end of the chain, right before the router. `UNSPECIFIED`, the name
    /// `describe` and `/plugins` print, is accepted too, so that what they show can be
    /// written back (docs/api.md).
    #[default]
    #[serde(rename = "UNSPECIFIED_PHASE", alias = "UNSPECIFIED")]
    Unspecified,
}

impl Phase {
    /// The name `describe` and `/plugins` print: `AUTHN`, `AUTHZ`, `STATS`, `UNSPECIFIED`
    /// (also accepted in `phase`).
    pub fn describe_name(self) -> &'static str {
        match self {
            Phase::Authn => "AUTHN",
            Phase::Authz => "AUTHZ",
            Phase::Stats => "STATS",
            Phase::Unspecified => "UNSPECIFIED",
        }
    }
}

/// `imagePullPolicy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum PullPolicy {
    /// Istio's default: IfNotPresent, or Always for `:latest`.
    #[default]
    #[serde(rename = "UNSPECIFIED_POLICY")]
    Unspecified,
    IfNotPresent,
    Always,
}

/// `failStrategy`: what happens when the module can't be fetched or the plugin fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum FailStrategy {
    /// The request fails (503).
    #[default]
    #[serde(rename = "FAIL_CLOSE")]
    FailClose,
    /// The plugin is skipped.
    #[serde(rename = "FAIL_OPEN")]
    FailOpen,
    /// On a runtime error the VM is recreated (with backoff); otherwise like FAIL_CLOSE.
    #[serde(rename = "FAIL_RELOAD")]
    FailReload,
}

/// `type`: which filter chain the plugin belongs to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum PluginType {
    /// Means HTTP.
    #[default]
    #[serde(rename = "UNSPECIFIED_PLUGIN_TYPE")]
    Unspecified,
    #[serde(rename = "HTTP")]
    Http,
    #[serde(rename = "NETWORK")]
    Network,
}

/// `vmConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VmConfig {
    /// At most 256 variables, seen by the plugin through WASI `environ_get`.
    #[serde(default)]
    #[schemars(length(max = 256))]
    pub env: Vec<EnvVar>,
}

/// `vmConfig.env[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvVar {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<EnvValueSource>,
    /// At most 2048 bytes; not allowed with `valueFrom: HOST`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub value: Option<String>,
}

/// `vmConfig.env[].valueFrom`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum EnvValueSource {
    /// The value is given in `value`.
    #[default]
    #[serde(rename = "INLINE")]
    Inline,
    /// The value is the proxy's own environment variable of that name.
    #[serde(rename = "HOST")]
    Host,
}

/// `match[]`: the conditions of one selector are AND'd.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TrafficSelector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<WorkloadMode>,
    /// Empty: every port.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortSelector>,
}

/// `match[].mode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum WorkloadMode {
    /// Same as CLIENT_AND_SERVER.
    #[default]
    #[serde(rename = "UNDEFINED")]
    Undefined,
    /// Outbound traffic (listeners with `trafficDirection: CLIENT`).
    #[serde(rename = "CLIENT")]
    Client,
    /// Inbound traffic (listeners with `trafficDirection: SERVER`).
    #[serde(rename = "SERVER")]
    Server,
    #[serde(rename = "CLIENT_AND_SERVER")]
    ClientAndServer,
}

/// `match[].ports[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PortSelector {
    /// 1..=65535, checked by validation.
    #[schemars(range(min = 1, max = 65535))]
    pub number: i64,
}
