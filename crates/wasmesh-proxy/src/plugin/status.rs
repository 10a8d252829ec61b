//! What the admin endpoint says about plugins (`/plugins`) and the same facts as metrics:
//! each plugin's state — `pending`, `loaded`, `configure-rejected`, `failed` or
//! `reloading (attempt n, next in t)` — per plugin and per worker, its failures and the last
//! one with its time (docs/filter-chain.md, "What happens on failure"). The loader makes a
//! new [`PluginStatus`] after each pass; the VMs' states are read live from their plugin's
//! health board, so a trap on a worker shows at once.

use serde_json::{json, Value};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use wasmesh_wasm::health::reloading;
use wasmesh_wasm::{LastError, VmHealth, VmState, WasmHost};

use super::WasmFilter;

/// A plugin's loading (fetch, checks, compile) as the loader keeps it across passes.
#[derive(Clone, Debug, Default)]
pub struct LoadRecord {
    /// Failed attempts since the proxy started (retries included).
    pub failures: u64,
    /// The last of them.
    pub last_error: Option<LastError>,
    /// The next try of a module that could not be fetched.
    pub retry: Option<Retry>,
}

impl LoadRecord {
    /// Counts a failed attempt.
    pub fn failed(&mut self, message: &str) {
        self.failures += 1;
        self.last_error = Some(LastError {
            message: message.to_owned(),
            at: SystemTime::now(),
        });
    }

    /// True when a retry is scheduled and its time has come.
    pub fn retry_due(&self, now: Instant) -> bool {
        self.retry.is_some_and(|r| now >= r.at)
    }
}

/// The next try of a fetch that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// Which retry it is (1 for the first after the failure).
    pub attempt: u32,
    /// When.
    pub at: Instant,
}

/// One plugin of the workload.
pub struct PluginEntry {
    /// `<namespace>.<name>`.
    pub name: String,
    /// What the resource says: name, namespace, url, phase, priority, failStrategy.
    pub resource: Value,
    /// The loaded plugin; `None` when it is not (see `record`) or not yet (`pending`).
    pub loaded: Option<Arc<WasmFilter>>,
    /// False until the loader has tried it.
    pub tried: bool,
    pub record: LoadRecord,
    /// The resource's `metadata.generation` (Kubernetes), for the status report
    /// (docs/kubernetes.md, "Status").
    pub generation: Option<i64>,
}

/// Every plugin of the workload, in name order.
#[derive(Default)]
pub struct PluginStatus {
    pub entries: Vec<PluginEntry>,
    /// For the run-time failures counted since the proxy started.
    pub host: Option<WasmHost>,
}

/// The states a plugin (or one of its VMs) can be in, as metric labels.
const STATES: [&str; 5] = ["pending", "loaded", "configure-rejected", "failed", "reloading"];

/// A plugin's state: its load's when it is not loaded, else the worst of its VMs'.
struct Overall {
    label: &'static str,
    text: String,
}

impl PluginEntry {
    fn overall(&self, workers: &[VmHealth], now: Instant) -> Overall {
        if self.loaded.is_none() {
            return match (self.tried, self.record.retry) {
                (false, _) => Overall {
                    label: "pending",
                    text: "pending".into(),
                },
                (true, Some(r)) => Overall {
                    label: "reloading",
                    text: reloading(r.attempt, r.at.saturating_duration_since(now)),
                },
                (true, None) => Overall {
                    label: "failed",
                    text: "failed".into(),
                },
            };
        }
        let rank = |s: &VmState| match s {
            VmState::Failed => 3,
            VmState::ConfigureRejected => 2,
            VmState::Reloading { .. } => 1,
            VmState::Loaded => 0,
        };
        match workers.iter().map(|w| &w.state).max_by_key(|s| rank(s)) {
            Some(worst) => Overall {
                label: worst.label(),
                text: worst.describe(now),
            },
            None => Overall {
                label: "loaded",
                text: "loaded".into(),
            },
        }
    }

    fn workers(&self) -> Vec<VmHealth> {
        self.loaded
            .as_ref()
            .map(|w| w.plugin.vm_health())
            .unwrap_or_default()
    }

    /// The latest failure, of loading or on any worker.
    fn last_error<'a>(&'a self, workers: &'a [VmHealth]) -> Option<&'a LastError> {
        workers
            .iter()
            .filter_map(|w| w.last_error.as_ref())
            .chain(self.record.last_error.as_ref())
            .max_by_key(|e| e.at)
    }
}

impl PluginStatus {
    /// Failures of `plugin` at run time, on every worker, since the proxy started.
    fn run_failures(&self, plugin: &str) -> u64 {
        self.host.as_ref().map_or(0, |h| h.metrics().failures(plugin))
    }

    /// `/plugins`: one object per plugin.
    pub fn to_json(&self) -> Value {
        let now = Instant::now();
        let values = self.entries.iter().map(|e| {
            let workers = e.workers();
            let mut v = e.resource.clone();
            v["state"] = e.overall(&workers, now).text.into();
            if let Some(w) = &e.loaded {
                v["sha256"] = w.plugin.spec().sha256.clone().into();
                v["abiVersion"] = w.plugin.abi_version().to_string().into();
            }
            v["failures"] = (e.record.failures + self.run_failures(&e.name)).into();
            let last = e.last_error(&workers);
            v["lastError"] = last.map(|l| l.message.clone()).into();
            v["lastErrorAt"] = last.map(|l| rfc3339(l.at)).into();
            v["nextAttemptAt"] = match (&e.loaded, e.record.retry) {
                (None, Some(r)) => rfc3339(SystemTime::now() + r.at.saturating_duration_since(now)).into(),
                _ => Value::Null,
            };
            v["workers"] = workers
                .iter()
                .map(|w| {
                    json!({
                        "worker": w.worker,
                        "state": w.state.describe(now),
                        "failures": w.failures,
                        "lastError": w.last_error.as_ref().map(|l| l.message.clone()),
                        "lastErrorAt": w.last_error.as_ref().map(|l| rfc3339(l.at)),
                    })
                })
                .collect();
            v
        });
        Value::Array(values.collect())
    }

    /// The same facts for `/stats/prometheus`, each metric with `# HELP` and `# TYPE`.
    pub fn write_prometheus(&self, out: &mut String) {
        if self.entries.is_empty() {
            return;
        }
        let now = Instant::now();
        let all: Vec<(&PluginEntry, Vec<VmHealth>)> = self.entries.iter().map(|e| (e, e.workers())).collect();
        out.push_str(
            "# HELP wasm_plugin_state Each plugin's state: 1 for the one it is in (the worst of its VMs' once loaded).\n\
             # TYPE wasm_plugin_state gauge\n",
        );
        for (e, workers) in &all {
            let current = e.overall(workers, now).label;
            for state in STATES {
                let _ = writeln!(
                    out,
                    "wasm_plugin_state{{plugin=\"{}\",state=\"{state}\"}} {}",
                    label(&e.name),
                    u8::from(state == current)
                );
            }
        }
        out.push_str(
            "# HELP wasm_plugin_worker_state The state of each plugin's VM on each worker: 1 for the one it is in.\n\
             # TYPE wasm_plugin_worker_state gauge\n",
        );
        for (e, workers) in &all {
            for w in workers {
                for state in &STATES[1..] {
                    let _ = writeln!(
                        out,
                        "wasm_plugin_worker_state{{plugin=\"{}\",worker=\"{}\",state=\"{state}\"}} {}",
                        label(&e.name),
                        w.worker,
                        u8::from(*state == w.state.label())
                    );
                }
            }
        }
        out.push_str(
            "# HELP wasm_plugin_load_failures_total Failed attempts to load a plugin (fetch, checks, compile), retries included.\n\
             # TYPE wasm_plugin_load_failures_total counter\n",
        );
        for (e, _) in &all {
            let _ = writeln!(
                out,
                "wasm_plugin_load_failures_total{{plugin=\"{}\"}} {}",
                label(&e.name),
                e.record.failures
            );
        }
        let failed: Vec<_> = all
            .iter()
            .filter_map(|(e, workers)| e.last_error(workers).map(|l| (e, unix_seconds(l.at))))
            .collect();
        if !failed.is_empty() {
            out.push_str(
                "# HELP wasm_plugin_last_failure_timestamp_seconds When a plugin last failed, to load or on a worker (Unix time).\n\
                 # TYPE wasm_plugin_last_failure_timestamp_seconds gauge\n",
            );
            for (e, at) in failed {
                let _ = writeln!(
                    out,
                    "wasm_plugin_last_failure_timestamp_seconds{{plugin=\"{}\"}} {at:.3}",
                    label(&e.name)
                );
            }
        }
        let retries: Vec<_> = all
            .iter()
            .filter_map(|(e, _)| e.record.retry.filter(|_| e.loaded.is_none()).map(|r| (e, r)))
            .collect();
        if !retries.is_empty() {
            out.push_str(
                "# HELP wasm_plugin_next_attempt_timestamp_seconds When the module of a plugin that could not be fetched is tried again (Unix time).\n\
                 # TYPE wasm_plugin_next_attempt_timestamp_seconds gauge\n",
            );
            for (e, r) in retries {
                let at = SystemTime::now() + r.at.saturating_duration_since(now);
                let _ = writeln!(
                    out,
                    "wasm_plugin_next_attempt_timestamp_seconds{{plugin=\"{}\"}} {:.3}",
                    label(&e.name),
                    unix_seconds(at)
                );
            }
        }
    }
}

fn unix_seconds(at: SystemTime) -> f64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

/// `2026-01-02T03:04:05Z`.
fn rfc3339(at: SystemTime) -> String {
    wasmesh_api::timestamp::Timestamp::from_unix_seconds(unix_seconds(at) as i64).to_string()
}

/// A Prometheus label value: backslash, quote and line feed escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests;
