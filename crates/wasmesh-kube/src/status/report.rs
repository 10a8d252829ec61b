//! What one gateway reports about the WasmPlugins it selects, and where: its own
//! `coordination.k8s.io/v1` Lease, `wasmesh-gateway-<identity>`, labelled
//! `wasmesh.io/gateway-report`, the report as JSON in the annotation `wasmesh.io/plugins`.
//! Each gateway writes only its own Lease, so no two writers meet on one object; the Lease's
//! `renewTime` says the gateway is alive (docs/kubernetes.md, "Status").

use serde::{Deserialize, Serialize};

/// The label that marks a gateway's report Lease.
pub const REPORT_LABEL: &str = "wasmesh.io/gateway-report";
/// The annotation that holds the report.
pub const REPORT_ANNOTATION: &str = "wasmesh.io/plugins";

/// One plugin as one gateway runs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginReport {
    pub namespace: String,
    pub name: String,
    /// The `metadata.generation` of the WasmPlugin the gateway runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    #[serde(flatten)]
    pub state: PluginState,
}

/// Where a plugin is on one gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum PluginState {
    /// Not tried yet.
    Pending,
    /// Loaded, its VMs running; `digest` is the module's `sha256:…`.
    Ready { digest: String },
    /// Not running: `reason` is one CamelCase word (`FetchFailed`, `DigestMismatch`,
    /// `SignatureInvalid`, `LoadFailed`, `ConfigureRejected`, `PluginFailed`), `message`
    /// the error as the gateway logs it.
    Failed { reason: String, message: String },
}

/// One RequestAuthentication or AuthorizationPolicy that one gateway's running snapshot
/// applies (its `authn` / `authz` filter enforces it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyReport {
    /// `RequestAuthentication` or `AuthorizationPolicy`.
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// The `metadata.generation` of the object the running snapshot was built from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
}

/// Every plugin one gateway selects (none: it selects none but is counted), the security
/// policies it applies, and with `--gateway` the Gateway it serves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayReport {
    pub plugins: Vec<PluginReport>,
    /// Absent from the reports of older gateways: read as none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<PolicyReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<ServedReport>,
}

/// The Gateway a gateway serves (`--gateway`), and whether it serves it: its workers run
/// its newest snapshot and every listener is bound (the Gateway's `Programmed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServedReport {
    /// `namespace/name`.
    pub gateway: String,
    /// The Gateway's `metadata.generation` its running Proxy was made from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// Why it is not programmed (`/ready`'s reason); `None` when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_ready: Option<String>,
}

/// The report Lease's name for `identity`: `wasmesh-gateway-` and the identity as a DNS
/// subdomain (lower case; anything else than letters, digits, `-` and `.` becomes `-`).
pub fn lease_name(identity: &str) -> String {
    let clean: String = identity
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let mut name = format!("wasmesh-gateway-{}", clean.trim_matches(|c| c == '-' || c == '.'));
    name.truncate(253);
    name.trim_end_matches(['-', '.']).to_string()
}

/// This gateway's identity: `POD_NAME` (the downward API, as deploy/ sets it), else the
/// host name and the process id, so that two gateways on one machine differ.
pub fn identity() -> String {
    if let Some(pod) = std::env::var("POD_NAME").ok().filter(|p| !p.is_empty()) {
        return pod;
    }
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|| "wasmesh".into());
    format!("{host}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_reads_back_as_written_and_a_lease_name_is_a_dns_name() {
        let report = GatewayReport {
            plugins: vec![
                PluginReport {
                    namespace: "web".into(),
                    name: "auth".into(),
                    generation: Some(2),
                    state: PluginState::Ready {
                        digest: "sha256:ab".into(),
                    },
                },
                PluginReport {
                    namespace: "web".into(),
                    name: "bad".into(),
                    generation: None,
                    state: PluginState::Failed {
                        reason: "DigestMismatch".into(),
                        message: "m".into(),
                    },
                },
            ],
            policies: vec![PolicyReport {
                kind: "AuthorizationPolicy".into(),
                namespace: "web".into(),
                name: "allow".into(),
                generation: Some(4),
            }],
            gateway: Some(ServedReport {
                gateway: "edge/public".into(),
                generation: Some(3),
                not_ready: Some("listener http: cannot bind".into()),
            }),
        };
        let text = serde_json::to_string(&report).unwrap();
        assert!(text.contains(r#""state":"ready","digest":"sha256:ab""#), "{text}");
        assert_eq!(serde_json::from_str::<GatewayReport>(&text).unwrap(), report);
        // an older gateway's report, without `policies`, still reads
        let old = r#"{"plugins":[{"namespace":"web","name":"a","state":"pending"}]}"#;
        let old: GatewayReport = serde_json::from_str(old).unwrap();
        assert!(old.policies.is_empty() && old.plugins.len() == 1);
        assert_eq!(lease_name("Host_A-12"), "wasmesh-gateway-host-a-12");
        assert_eq!(lease_name("gw-7d9f.x"), "wasmesh-gateway-gw-7d9f.x");
    }
}
