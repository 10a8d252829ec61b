//! With `--kubernetes`: this gateway's plugins, as `/plugins` shows them, reported for the
//! WasmPlugins' `status` (docs/kubernetes.md, "Status"). The report is made again every
//! second, so a VM that fails later shows too; only a change is published.

use std::sync::Arc;
use std::time::Duration;

use wasmesh_kube::status::{
    GatewayReport, PluginReport, PluginState, PolicyReport, ServedReport, StatusReporter,
};
use wasmesh_wasm::VmState;

use crate::plugin::status::{PluginEntry, PluginStatus};
use crate::run::{lock, AppliedPolicy, Shared};

const EVERY: Duration = Duration::from_secs(1);

/// Reports this gateway's plugins to `reporter` until the proxy stops; nothing before the
/// first snapshot is in force (a gateway that runs nothing yet is not counted). With
/// `--gateway`, the Gateway served (`served`, `namespace/name`) and whether it is
/// programmed — `/ready`'s answer: every worker runs the newest snapshot, every listener
/// is bound (docs/gateway-api.md, "Status").
pub async fn run(shared: Arc<Shared>, reporter: StatusReporter, served: Option<String>) {
    loop {
        if shared.snapshots.borrow().version > 0 {
            let plugins = lock(&shared.status).plugins.clone();
            let mut report = report(&plugins);
            let (generation, policies) = {
                let status = lock(&shared.status);
                (status.proxy_generation, status.policies.clone())
            };
            report.policies = policies.iter().map(policy).collect();
            report.gateway = served.clone().map(|gateway| ServedReport {
                gateway,
                generation,
                not_ready: shared.readiness().err(),
            });
            reporter.report(report);
        }
        tokio::time::sleep(EVERY).await;
    }
}

/// A policy the snapshot in force applies, as the report names it.
fn policy(p: &AppliedPolicy) -> PolicyReport {
    PolicyReport {
        kind: p.kind.to_string(),
        namespace: p.namespace.clone(),
        name: p.name.clone(),
        generation: p.generation,
    }
}

/// Each plugin of the workload: pending, ready with its module's digest, or failed.
pub fn report(status: &PluginStatus) -> GatewayReport {
    let plugins = status
        .entries
        .iter()
        .filter_map(|e| {
            // `<namespace>.<name>`: a namespace has no dot
            let (namespace, name) = e.name.split_once('.')?;
            Some(PluginReport {
                namespace: namespace.to_string(),
                name: name.to_string(),
                generation: e.generation,
                state: state(e),
            })
        })
        .collect();
    GatewayReport {
        plugins,
        policies: Vec::new(),
        gateway: None,
    }
}

fn failed(reason: &str, message: String) -> PluginState {
    PluginState::Failed {
        reason: reason.to_string(),
        message,
    }
}

fn state(e: &PluginEntry) -> PluginState {
    let Some(loaded) = &e.loaded else {
        if !e.tried {
            return PluginState::Pending;
        }
        let message = e
            .record
            .last_error
            .as_ref()
            .map_or_else(|| "not loaded".to_string(), |l| l.message.clone());
        let reason = if message.contains("digest mismatch") {
            "DigestMismatch"
        } else if message.contains("signature check failed") {
            "SignatureInvalid"
        } else if e.record.retry.is_some() {
            "FetchFailed"
        } else {
            "LoadFailed"
        };
        return failed(reason, message);
    };
    let workers = loaded.plugin.vm_health();
    let worst = |wanted: fn(&VmState) -> bool| workers.iter().find(|w| wanted(&w.state));
    let error = |w: &wasmesh_wasm::VmHealth, otherwise: &str| {
        w.last_error
            .as_ref()
            .map_or_else(|| otherwise.to_string(), |l| l.message.clone())
    };
    if let Some(w) = worst(|s| matches!(s, VmState::ConfigureRejected)) {
        return failed(
            "ConfigureRejected",
            error(w, "proxy_on_vm_start or proxy_on_configure returned false"),
        );
    }
    if let Some(w) = worst(|s| matches!(s, VmState::Failed | VmState::Reloading { .. })) {
        return failed("PluginFailed", error(w, "the plugin's VM failed"));
    }
    let digest = loaded.plugin.spec().sha256.trim_start_matches("sha256:");
    PluginState::Ready {
        digest: format!("sha256:{digest}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::status::{LoadRecord, Retry};
    use serde_json::json;
    use std::time::Instant;

    fn entry(name: &str, tried: bool, error: Option<&str>, retry: bool) -> PluginEntry {
        let mut record = LoadRecord::default();
        if let Some(e) = error {
            record.failed(e);
        }
        record.retry = retry.then(|| Retry {
            attempt: 1,
            at: Instant::now(),
        });
        PluginEntry {
            name: format!("web.{name}"),
            resource: json!({}),
            loaded: None,
            tried,
            record,
            generation: Some(7),
        }
    }

    #[test]
    fn a_plugin_not_loaded_is_reported_with_the_reason_of_its_error() {
        let status =
            PluginStatus {
                entries: vec![
                entry("new", false, None, false),
                entry(
                    "sum",
                    true,
                    Some("module file:///m.wasm: module digest mismatch: expected sha256:00, got sha256:11"),
                    true,
                ),
                entry("gone", true, Some("module file:///m.wasm: cannot read /m.wasm"), true),
                entry("bad", true, Some("plugin web.bad: module sha256:11 could not be compiled"), false),
            ],
                host: None,
            };
        let report = report(&status);
        let states: Vec<_> = report
            .plugins
            .iter()
            .map(|p| (p.namespace.as_str(), p.name.as_str(), p.generation, &p.state))
            .collect();
        assert_eq!(states[0], ("web", "new", Some(7), &PluginState::Pending));
        let reason = |i: usize| match &report.plugins[i].state {
            PluginState::Failed { reason, .. } => reason.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            [reason(1), reason(2), reason(3)],
            ["DigestMismatch", "FetchFailed", "LoadFailed"]
        );
    }
}
