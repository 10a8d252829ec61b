//! What the proxy tells the host about one plugin: the resolved `WasmPlugin` (names,
//! configuration, environment, failStrategy) plus the module bytes and their digest.
//! Independent of the API crate so the host can be tested on its own.

use std::time::Duration;

use bytes::Bytes;

/// One plugin as the proxy resolved it from a `WasmPlugin` resource.
#[derive(Clone, Debug)]
pub struct PluginSpec {
    /// `metadata.name` of the WasmPlugin.
    pub name: String,
    /// `metadata.namespace` of the WasmPlugin.
    pub namespace: String,
    /// The root id of the plugin's root context (the `plugin_root_id` property):
    /// `spec.pluginName`, and the empty string when it is unset, as Istio sets it. SDKs
    /// that register root contexts by name (AssemblyScript, C++) look theirs up with it; it
    /// is never a display name (that is [`PluginSpec::plugin_name`]).
    pub root_id: String,
    /// The VM id (Envoy's `vm_config.vm_id`): shared data and queues are scoped by it.
    /// Istio leaves it empty.
    pub vm_id: String,
    /// `spec.pluginConfig` serialised as JSON; passed to `proxy_on_configure` and readable
    /// as the `PluginConfiguration` buffer. Empty when the resource has none.
    pub plugin_config: Bytes,
    /// The VM configuration passed to `proxy_on_vm_start` (`VmConfiguration` buffer).
    pub vm_config: Bytes,
    /// `spec.vmConfig.env`, in order: what the guest sees through WASI `environ_get`.
    pub env: Vec<(String, EnvValue)>,
    /// `spec.failStrategy`.
    pub fail_strategy: FailStrategy,
    /// HTTP filter or network (TCP) filter (`spec.type`).
    pub kind: PluginKind,
    /// The module bytes (`.wasm`, already fetched and checked by `wasmesh-fetch`).
    pub module: Bytes,
    /// Lower-case hex sha256 of `module`: the key of the compiled-module caches.
    pub sha256: String,
}

impl PluginSpec {
    /// A spec with Istio's defaults for everything but the names and the module: the empty
    /// root id (no `pluginName`), empty configuration, no env, FAIL_CLOSE, HTTP. Computes
    /// the digest.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>, module: impl Into<Bytes>) -> Self {
        let name = name.into();
        let module = module.into();
        PluginSpec {
            root_id: String::new(),
            name,
            namespace: namespace.into(),
            vm_id: String::new(),
            plugin_config: Bytes::new(),
            vm_config: Bytes::new(),
            env: Vec::new(),
            fail_strategy: FailStrategy::FailClose,
            kind: PluginKind::Http,
            sha256: crate::module_cache::sha256_hex(&module),
            module,
        }
    }

    /// `<namespace>.<name>`: the name used in logs, errors, metrics labels and the
    /// `plugin_name` property (as Istio names its Envoy plugin config).
    pub fn plugin_name(&self) -> String {
        format!("{}.{}", self.namespace, self.name)
    }
}

/// The value of one `vmConfig.env` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvValue {
    /// `valueFrom: INLINE` (the default): the value written in the resource.
    Inline(String),
    /// `valueFrom: HOST`: the proxy process's own variable of the same name, read when a
    /// VM is created; left out when the proxy does not have it.
    Host,
}

/// `spec.failStrategy`: what a plugin failure does to the traffic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FailStrategy {
    /// FAIL_CLOSE (Istio's default): the request gets 503 naming the plugin.
    #[default]
    FailClose,
    /// FAIL_OPEN: the plugin is skipped.
    FailOpen,
    /// FAIL_RELOAD: the VM is recreated (with backoff) for later requests; the request that
    /// saw the failure is treated as FAIL_CLOSE.
    FailReload,
}

/// The API's spelling (`FAIL_CLOSE`), as logs, `/plugins` and the docs say it.
impl std::fmt::Display for FailStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FailStrategy::FailClose => "FAIL_CLOSE",
            FailStrategy::FailOpen => "FAIL_OPEN",
            FailStrategy::FailReload => "FAIL_RELOAD",
        })
    }
}

/// Which filter chain a plugin sits in (`spec.type`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PluginKind {
    /// An HTTP filter (`HTTP`, or `UNSPECIFIED_PLUGIN_TYPE`).
    #[default]
    Http,
    /// A network filter on TCP listeners (`NETWORK`).
    Network,
}

/// Sandbox limits, one set per [`crate::WasmHost`].
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest linear memory one VM may have (bytes). Growing past it fails in the guest
    /// (`memory.grow` returns -1), which SDKs turn into a trap.
    pub memory_bytes: usize,
    /// Time budget of one callback into the guest (including hostcalls it makes). An overrun
    /// interrupts the guest and counts as a failure of the plugin.
    pub callback_budget: Duration,
    /// Longest log line a plugin may write; longer lines are cut and marked.
    pub max_log_line: usize,
    /// Initial and largest backoff between VM re-creations under FAIL_RELOAD.
    pub reload_backoff: (Duration, Duration),
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            callback_budget: Duration::from_millis(500),
            max_log_line: 4096,
            reload_backoff: (Duration::from_secs(1), Duration::from_secs(30)),
        }
    }
}
