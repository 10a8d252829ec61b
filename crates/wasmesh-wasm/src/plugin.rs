//! A plugin compiled and linked once, shared by the VMs of every worker.

use wasmtime::InstancePre;

use crate::health::HealthBoard;
use crate::module_cache::CacheHit;
use crate::state::VmState;
use crate::{Failure, FailureReason, PluginSpec, VmHealth, WasmError, WasmHost};

/// The Proxy-Wasm ABI version a guest was built for, from its `proxy_abi_version_*` export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AbiVersion {
    /// `proxy_abi_version_0_1_0`.
    V0_1_0,
    /// `proxy_abi_version_0_2_0`.
    V0_2_0,
    /// `proxy_abi_version_0_2_1`.
    V0_2_1,
}

/// The spec's spelling, `0.2.1`, as `/plugins` and the logs say it.
impl std::fmt::Display for AbiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AbiVersion::V0_1_0 => "0.1.0",
            AbiVersion::V0_2_0 => "0.2.0",
            AbiVersion::V0_2_1 => "0.2.1",
        })
    }
}

/// A plugin ready to be instantiated: its spec, its compiled module (shared by digest) and
/// the pre-linked instance. Send + Sync; each worker makes its [`crate::PluginVm`] from it.
pub struct CompiledPlugin {
    pub(crate) host: WasmHost,
    pub(crate) spec: PluginSpec,
    pub(crate) pre: InstancePre<VmState>,
    pub(crate) abi: AbiVersion,
    pub(crate) plugin_name: String,
    cache_hit: CacheHit,
    /// The failures already logged for this plugin: every worker runs its own VM of it, and
    /// a cause is logged once, not once per worker (docs/wasm-host.md, "When a plugin fails").
    pub(crate) logged_failures: std::sync::Mutex<std::collections::HashSet<FailureReason>>,
    /// What each of its VMs is doing, for the admin API.
    pub(crate) health: HealthBoard,
    _lease: ModuleLease,
}

/// This plugin's use of a compiled module in the host's cache.
struct ModuleLease {
    host: WasmHost,
    digest: String,
}

impl Drop for ModuleLease {
    fn drop(&mut self) {
        self.host.inner.cache.release(&self.digest);
    }
}

impl std::fmt::Debug for CompiledPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledPlugin")
            .field("plugin", &self.plugin_name)
            .field("sha256", &self.spec.sha256)
            .field("abi", &self.abi)
            .finish()
    }
}

impl CompiledPlugin {
    pub(crate) fn load(host: WasmHost, spec: PluginSpec) -> Result<CompiledPlugin, WasmError> {
        let plugin_name = spec.plugin_name();
        let inner = &host.inner;
        let (module, cache_hit) =
            inner
                .cache
                .get_or_compile(&inner.engine, &plugin_name, &spec.sha256, &spec.module)?;
        // Released when the plugin goes, or right away if the rest of loading fails.
        let lease = ModuleLease {
            host: host.clone(),
            digest: spec.sha256.clone(),
        };
        // Refused now, with the reason, rather than at the first request.
        let abi = crate::module_check::check(&module, &plugin_name, &spec.sha256)?;
        let link_error = |e: wasmtime::Error| WasmError::Link {
            plugin: plugin_name.clone(),
            digest: spec.sha256.clone(),
            message: format!("{e:#}"),
        };
        // Imports we do not offer (e.g. WASI calls outside the spec's subset) trap when
        // called instead of refusing the module, as Envoy's null stubs do.
        let mut linker = inner.linker.clone();
        linker
            .define_unknown_imports_as_traps(&module)
            .map_err(link_error)?;
        let pre = linker.instantiate_pre(&module).map_err(link_error)?;
        tracing::debug!(plugin = %plugin_name, sha256 = %spec.sha256, %abi, ?cache_hit, "plugin loaded");
        Ok(CompiledPlugin {
            host,
            spec,
            pre,
            abi,
            plugin_name,
            cache_hit,
            logged_failures: Default::default(),
            health: HealthBoard::default(),
            _lease: lease,
        })
    }

    /// A failure of VM `vm`: logged the first time its cause is seen on any worker
    /// (later ones at debug), counted (`wasm_plugin_failures_total`) and put on the VM's
    /// health record (docs/wasm-host.md, "When a plugin fails").
    pub(crate) fn report_failure(&self, vm: u64, failure: &Failure) {
        let first = {
            let mut logged = self.logged_failures.lock().unwrap_or_else(|e| e.into_inner());
            logged.insert(failure.reason.clone())
        };
        if first {
            tracing::error!(plugin = %failure.plugin, strategy = %failure.strategy, "{}", failure.reason);
        } else {
            tracing::debug!(plugin = %failure.plugin, "{} (on another worker too)", failure.reason);
        }
        let inner = &self.host.inner;
        inner
            .metrics
            .count_failure(&failure.plugin, failure.reason_label());
        self.health.failed(vm, failure, inner.limits.reload_backoff);
    }

    /// What each VM of the plugin is doing (one per worker that runs it), by worker.
    pub fn vm_health(&self) -> Vec<VmHealth> {
        self.health.snapshot()
    }

    /// The spec it was loaded from.
    pub fn spec(&self) -> &PluginSpec {
        &self.spec
    }

    /// `<namespace>.<name>`.
    pub fn plugin_name(&self) -> &str {
        &self.plugin_name
    }

    /// The guest's ABI version.
    pub fn abi_version(&self) -> AbiVersion {
        self.abi
    }

    /// True when the compiled code came from the on-disk cache (no compilation happened).
    pub fn loaded_from_disk_cache(&self) -> bool {
        self.cache_hit == CacheHit::Disk
    }

    /// The host it belongs to.
    pub fn host(&self) -> &WasmHost {
        &self.host
    }
}
