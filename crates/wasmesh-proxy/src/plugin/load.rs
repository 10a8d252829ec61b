//! Loading plugins on the control thread: a WasmPlugin becomes a [`ModuleRequest`] for
//! `wasmesh-fetch`, its bytes a [`PluginSpec`] for `wasmesh-wasm`, compiled off the event
//! loop. A plugin whose resource did not change is not fetched or compiled again.

use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use wasmesh_api::{wasm_plugin as wp, Resources, WasmPlugin};
use wasmesh_fetch::{DockerConfigJson, FetchOptions, Fetcher, ModuleRequest};
use wasmesh_wasm::{EnvValue, FailStrategy, HostConfig, Limits, PluginKind, PluginSpec, WasmHost};

use super::WasmFilter;
use crate::run::MetricsRenderer;

/// A plugin as the loader last saw it.
struct Entry {
    fingerprint: String,
    outcome: Result<Arc<WasmFilter>, String>,
}

/// Why a plugin was not loaded.
enum NotLoaded {
    /// Its module could not be fetched; `wasmesh-fetch` logs that itself.
    Fetch(String),
    /// Anything else: its pull secret, compiling or checking it.
    Other(String),
}

/// Fetches and compiles the plugins a workload's chains need.
pub struct Loader {
    host: WasmHost,
    fetcher: Arc<Fetcher>,
    entries: HashMap<String, Entry>,
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

    /// Loads every plugin of `plugins` (fetch, check, compile); unchanged ones are reused.
    pub async fn load(&mut self, plugins: &[Arc<WasmPlugin>], resources: &Resources) -> Loaded {
        let mut out = HashMap::new();
        let mut entries = HashMap::new();
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
            // A failure is logged when it happens, not again on each later change of the
            // config that leaves this plugin as it was.
            let outcome = match self.entries.remove(&name) {
                Some(e) if e.fingerprint == fingerprint => e.outcome,
                _ => self.load_one(p, secret).await.map_err(|failure| match failure {
                    // The fetcher has logged it, once per url, with this plugin's name.
                    NotLoaded::Fetch(text) => text,
                    NotLoaded::Other(text) => {
                        tracing::error!(plugin = %name, "plugin not loaded: {text}");
                        text
                    }
                }),
            };
            out.insert(name.clone(), outcome.clone());
            entries.insert(name, Entry { fingerprint, outcome });
        }
        self.entries = entries;
        out
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
            root_id: p
                .spec
                .plugin_name
                .clone()
                .unwrap_or_else(|| p.metadata.name.clone()),
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

    /// `/plugins`: each plugin of the workload with its state, digest and last error.
    pub fn status(&self, plugins: &[Arc<WasmPlugin>], loaded: &Loaded) -> BTreeMap<String, Value> {
        plugins
            .iter()
            .map(|p| {
                let name = p.qualified_name();
                let mut v = json!({
                    "name": p.metadata.name,
                    "namespace": p.metadata.namespace(),
                    "url": wasmesh_fetch::redact_url(&p.full_url()),
                    "phase": p.phase().describe_name(),
                    "priority": p.effective_priority(),
                    // The API's spelling, FAIL_CLOSE, as the resource has it.
                    "failStrategy": p.fail_strategy(),
                    "failures": self.host.metrics().failures(&name),
                });
                match loaded.get(&name) {
                    Some(Ok(w)) => {
                        v["state"] = "loaded".into();
                        v["sha256"] = w.plugin.spec().sha256.clone().into();
                        v["abiVersion"] = w.plugin.abi_version().to_string().into();
                        v["lastError"] = Value::Null;
                    }
                    Some(Err(e)) => {
                        v["state"] = match p.fail_strategy() {
                            wp::FailStrategy::FailOpen => "failed (FAIL_OPEN: skipped)",
                            _ => "failed (FAIL_CLOSE: requests get 503)",
                        }
                        .into();
                        v["lastError"] = e.clone().into();
                    }
                    None => v["state"] = "pending".into(),
                }
                (name, v)
            })
            .collect()
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
