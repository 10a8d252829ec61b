//! Loading plugins on the control thread: a WasmPlugin becomes a [`ModuleRequest`] for
//! `wasmesh-fetch`, its bytes a [`PluginSpec`] for `wasmesh-wasm`, compiled off the event
//! loop. A plugin whose resource did not change is not fetched or compiled again.

use serde_json::json;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmesh_api::{wasm_plugin as wp, Resources, WasmPlugin};
use wasmesh_fetch::{DockerConfigJson, FetchOptions, Fetcher, ModuleRequest};
use wasmesh_wasm::{EnvValue, FailStrategy, HostConfig, Limits, PluginKind, PluginSpec, WasmHost};

use super::status::{LoadRecord, PluginEntry, PluginStatus, Retry};
use super::WasmFilter;
use crate::run::MetricsRenderer;

/// How long after a failed fetch the module is tried again: 1 s, doubling up to 5 min
/// (docs/modules.md, "When a module can't be had").
const FETCH_RETRY: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(300));

/// A plugin as the loader last saw it.
struct Entry {
    fingerprint: String,
    outcome: Result<Arc<WasmFilter>, String>,
    /// Its failures and next retry, kept while the plugin is in the workload.
    record: LoadRecord,
}

/// Why a plugin was not loaded.
enum NotLoaded {
    /// Its module could not be fetched; `wasmesh-fetch` logs that itself. Retried.
    Fetch(String),
    /// Anything else: its pull secret, compiling or checking it. Not retried: the same
    /// bytes fail the same way; a change of the resource loads it again.
    Other(String),
}

/// Fetches and compiles the plugins a workload's chains need.
pub struct Loader {
    host: WasmHost,
    fetcher: Arc<Fetcher>,
    entries: HashMap<String, Entry>,
    /// True when the last pass loaded a plugin, or its outcome changed otherwise than from
    /// one failure to another (a retry that failed again changes no chain).
    changed: bool,
}

/// A loaded plugin (or why it is not), by `<namespace>.<name>`.
pub type Loaded = HashMap<String, Result<Arc<WasmFilter>, String>>;

// === impl Loader ===

impl Loader {
    /// Starts the wasm engine and the fetcher, with their caches under `cache_dir`.
    pub fn new(cache_dir: &Path) -> Result<Self, String> {
        let host = WasmHost::new(HostConfig {
            limits: Limits::default(),
            cache_dir: Some(cache_dir.join("compiled")),
            pool_slots: None,
        })
        .map_err(|e| format!("cannot start the wasm engine: {e}"))?;
        let options = FetchOptions::from_env(cache_dir.join("modules")).map_err(|e| e.to_string())?;
        let fetcher = Fetcher::new(options).map_err(|e| format!("cannot start the module fetcher: {e}"))?;
        Ok(Loader {
            host,
            fetcher: Arc::new(fetcher),
            entries: HashMap::new(),
            changed: false,
        })
    }

    /// What `/stats/prometheus` adds for plugins: plugin-defined and wasm metrics, and
    /// the fetcher's `wasm_*` metrics.
    pub fn metrics(&self) -> Vec<MetricsRenderer> {
        let host = self.host.clone();
        let fetcher = self.fetcher.clone();
        vec![
            Arc::new(move |out: &mut String| out.push_str(&host.metrics().render_prometheus())),
            Arc::new(move |out: &mut String| fetcher.metrics().write_prometheus(out)),
        ]
    }

    /// Loads every plugin of `plugins` (fetch, check, compile); unchanged ones are reused,
    /// and one whose fetch failed is fetched again when its retry is due.
    pub async fn load(&mut self, plugins: &[Arc<WasmPlugin>], resources: &Resources) -> Loaded {
        let mut out = HashMap::new();
        let mut entries = HashMap::new();
        self.changed = false;
        for p in plugins {
            let name = p.qualified_name();
            if out.contains_key(&name) {
                continue;
            }
            let secret = pull_secret(p, resources);
            // A change of the plugin's spec or of its pull secret loads it again.
            let secret_text = p.spec.image_pull_secret.as_ref().and_then(|n| {
                resources
                    .secrets()
                    .find(|s| s.metadata.name == *n && s.metadata.namespace() == p.metadata.namespace())
                    .and_then(|s| serde_json::to_string(&**s).ok())
            });
            let fingerprint = format!(
                "{}|{}",
                serde_json::to_string(&p.spec).unwrap_or_default(),
                secret_text.unwrap_or_default()
            );
            let entry = match self.entries.remove(&name) {
                Some(e) if e.fingerprint == fingerprint && !e.record.retry_due(Instant::now()) => e,
                previous => self.attempt(p, secret, fingerprint, previous).await,
            };
            out.insert(name.clone(), entry.outcome.clone());
            entries.insert(name, entry);
        }
        self.changed |=
            entries.len() != self.entries.len() || self.entries.keys().any(|k| !entries.contains_key(k));
        self.entries = entries;
        out
    }

    /// One try at loading `p`: its record carries over from `previous` (a retry, or a
    /// change of the resource, which starts the retries over).
    async fn attempt(
        &mut self,
        p: &WasmPlugin,
        secret: Option<Result<DockerConfigJson, String>>,
        fingerprint: String,
        previous: Option<Entry>,
    ) -> Entry {
        let name = p.qualified_name();
        let retry = previous
            .as_ref()
            .filter(|e| e.fingerprint == fingerprint)
            .and_then(|e| e.record.retry);
        let was_failing = previous.as_ref().is_some_and(|e| e.outcome.is_err());
        let mut record = previous.map(|e| e.record).unwrap_or_default();
        record.retry = None;
        if let Some(r) = retry {
            tracing::info!(plugin = %name, attempt = r.attempt, "fetching the module again");
        }
        // A failure is logged when it happens, not again on each later change of the
        // config that leaves this plugin as it was.
        let outcome = match self.load_one(p, secret).await {
            Ok(w) => Ok(w),
            // The fetcher has logged it, once per url and error, with this plugin's name.
            Err(NotLoaded::Fetch(text)) => {
                record.failed(&text);
                let attempt = retry.map_or(1, |r| r.attempt + 1);
                let wait = wasmesh_wasm::health::backoff_for(attempt, FETCH_RETRY);
                tracing::debug!(plugin = %name, attempt, ?wait, "the module's fetch is tried again later");
                record.retry = Some(Retry {
                    attempt,
                    at: Instant::now() + wait,
                });
                Err(text)
            }
            Err(NotLoaded::Other(text)) => {
                tracing::error!(plugin = %name, "plugin not loaded: {text}");
                record.failed(&text);
                Err(text)
            }
        };
        // A retry that failed again changes no chain; anything else may.
        self.changed |= !(was_failing && outcome.is_err());
        Entry {
            fingerprint,
            outcome,
            record,
        }
    }

    /// True when the last [`Loader::load`] changed what the chains hold.
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// When the next failed fetch is due to be tried again.
    pub fn next_retry(&self) -> Option<Instant> {
        self.entries
            .values()
            .filter_map(|e| e.record.retry)
            .map(|r| r.at)
            .min()
    }

    async fn load_one(
        &self,
        p: &WasmPlugin,
        secret: Option<Result<DockerConfigJson, String>>,
    ) -> Result<Arc<WasmFilter>, NotLoaded> {
        let name = p.qualified_name();
        let pull_secret = secret.transpose().map_err(NotLoaded::Other)?;
        let request = ModuleRequest {
            url: p.full_url(),
            sha256: p.spec.sha256.clone(),
            pull_policy: match p.effective_pull_policy() {
                wp::PullPolicy::Always => wasmesh_fetch::PullPolicy::Always,
                wp::PullPolicy::IfNotPresent => wasmesh_fetch::PullPolicy::IfNotPresent,
                wp::PullPolicy::Unspecified => wasmesh_fetch::PullPolicy::Unspecified,
            },
            pull_secret,
            verification_key: p.verification_key().map(str::to_string),
            resource_name: name.clone(),
            resource_version: serde_json::to_string(&p.spec).unwrap_or_default(),
        };
        // A fetch error names the module's url itself ("module URL: ...").
        let module = self
            .fetcher
            .fetch(&request)
            .await
            .map_err(|e| NotLoaded::Fetch(e.to_string()))?;
        let spec = PluginSpec {
            name: p.metadata.name.clone(),
            namespace: p.metadata.namespace().to_string(),
            // Istio's `RootId: plugin.PluginName`: empty when unset, never the resource's name
            // (SDKs that look their root context up by id register the default under "").
            root_id: p.root_id().to_string(),
            vm_id: String::new(),
            plugin_config: p
                .spec
                .plugin_config
                .as_ref()
                .and_then(|c| serde_json::to_vec(c).ok())
                .unwrap_or_default()
                .into(),
            vm_config: Default::default(),
            env: p
                .spec
                .vm_config
                .iter()
                .flat_map(|v| &v.env)
                .map(|e| {
                    let value = match e.value_from.unwrap_or_default() {
                        wp::EnvValueSource::Host => EnvValue::Host,
                        wp::EnvValueSource::Inline => EnvValue::Inline(e.value.clone().unwrap_or_default()),
                    };
                    (e.name.clone(), value)
                })
                .collect(),
            fail_strategy: match p.fail_strategy() {
                wp::FailStrategy::FailClose => FailStrategy::FailClose,
                wp::FailStrategy::FailOpen => FailStrategy::FailOpen,
                wp::FailStrategy::FailReload => FailStrategy::FailReload,
            },
            kind: match p.plugin_type() {
                wp::PluginType::Network => PluginKind::Network,
                _ => PluginKind::Http,
            },
            module: module.bytes.clone(),
            sha256: module.sha256.clone(),
        };
        let host = self.host.clone();
        let compiled = tokio::task::spawn_blocking(move || host.load(spec))
            .await
            .map_err(|e| NotLoaded::Other(format!("compiling {name} failed: {e}")))?
            .map_err(|e| NotLoaded::Other(e.to_string()))?;
        tracing::info!(plugin = %name, sha256 = %module.sha256, from_cache = module.from_cache, "plugin loaded");
        Ok(Arc::new(WasmFilter {
            name,
            url: wasmesh_fetch::redact_url(&p.full_url()),
            plugin: compiled,
        }))
    }

    /// What `/plugins` and the plugin metrics show: each plugin of the workload, with its
    /// loading's outcome and record (its VMs' states are read when asked).
    pub fn status(&self, plugins: &[Arc<WasmPlugin>]) -> PluginStatus {
        let mut seen = std::collections::HashSet::new();
        let mut entries: Vec<PluginEntry> = plugins
            .iter()
            .filter(|p| seen.insert(p.qualified_name()))
            .map(|p| {
                let name = p.qualified_name();
                let entry = self.entries.get(&name);
                PluginEntry {
                    resource: json!({
                        "name": p.metadata.name,
                        "namespace": p.metadata.namespace(),
                        "url": wasmesh_fetch::redact_url(&p.full_url()),
                        "phase": p.phase().describe_name(),
                        "priority": p.effective_priority(),
                        // The API's spelling, FAIL_CLOSE, as the resource has it.
                        "failStrategy": p.fail_strategy(),
                    }),
                    loaded: entry.and_then(|e| e.outcome.as_ref().ok().cloned()),
                    tried: entry.is_some(),
                    record: entry.map(|e| e.record.clone()).unwrap_or_default(),
                    generation: p.metadata.generation,
                    name,
                }
            })
            .collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        PluginStatus {
            entries,
            host: Some(self.host.clone()),
        }
    }
}

fn pull_secret(p: &WasmPlugin, resources: &Resources) -> Option<Result<DockerConfigJson, String>> {
    let name = p.spec.image_pull_secret.as_ref()?;
    let secret = resources
        .secrets()
        .find(|s| s.metadata.name == *name && s.metadata.namespace() == p.metadata.namespace());
    Some(match secret {
        None => Err(format!(
            "imagePullSecret {name}: no Secret {}/{name}",
            p.metadata.namespace()
        )),
        Some(s) => s
            .docker_config_json()
            .map_err(|e| format!("imagePullSecret {name}: {e}"))
            .and_then(|json| {
                DockerConfigJson::from_json(&json).map_err(|e| format!("imagePullSecret {name}: {e}"))
            }),
    })
}
