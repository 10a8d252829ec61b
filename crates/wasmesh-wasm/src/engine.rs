//! The process-wide host: wasmtime engine, linker, module caches, shared data and queues,
//! metrics, and the epoch ticker that enforces the callback time budget.

use std::path::PathBuf;
use std::sync::Arc;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, Linker, PoolingAllocationConfig};

use crate::epoch::{budget_ticks, spawn_ticker, EpochClock};
use crate::metrics::Metrics;
use crate::module_cache::ModuleCache;
use crate::plugin::CompiledPlugin;
use crate::shared::{SharedData, SharedQueues};
use crate::state::VmState;
use crate::{Limits, PluginSpec, WasmError};

/// Settings of a [`WasmHost`].
#[derive(Clone, Debug)]
pub struct HostConfig {
    /// Sandbox limits applied to every VM.
    pub limits: Limits,
    /// Folder of the on-disk compiled-code cache; `None` disables it.
    pub cache_dir: Option<PathBuf>,
    /// Use the pooling allocator with this many VM slots (instances and memories); `None`
    /// allocates on demand. Pooling makes VM creation a few microseconds but reserves
    /// address space for every slot up front.
    pub pool_slots: Option<u32>,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            limits: Limits::default(),
            cache_dir: None,
            pool_slots: Some(256),
        }
    }
}

/// The process-wide Proxy-Wasm host. Cheap to clone; Send + Sync.
#[derive(Clone)]
pub struct WasmHost {
    pub(crate) inner: Arc<HostInner>,
}

pub(crate) struct HostInner {
    pub engine: Engine,
    pub linker: Linker<VmState>,
    pub limits: Limits,
    pub cache: ModuleCache,
    pub shared_data: SharedData,
    pub queues: SharedQueues,
    pub metrics: Metrics,
    /// Shared with the epoch ticker, which sleeps while no call runs (epoch.rs).
    pub clock: Arc<EpochClock>,
}

impl Drop for HostInner {
    fn drop(&mut self) {
        self.clock.stop();
    }
}

impl WasmHost {
    /// Creates the engine, the linker with every hostcall, and starts the epoch ticker.
    pub fn new(config: HostConfig) -> Result<WasmHost, WasmError> {
        let mut wasm_config = Config::new();
        wasm_config.epoch_interruption(true);
        wasm_config.memory_init_cow(true);
        wasm_config.parallel_compilation(true);
        // Proxy-Wasm guests use linear memory only; the workspace's wasmtime has no GC
        // collector compiled in.
        wasm_config.wasm_gc(false);
        wasm_config.wasm_exceptions(false);
        wasm_config.gc_support(false);
        if let Some(slots) = config.pool_slots {
            let mut pool = PoolingAllocationConfig::default();
            pool.total_core_instances(slots);
            pool.total_memories(slots);
            pool.total_tables(slots);
            pool.max_memory_size(config.limits.memory_bytes);
            // Room for large guests (TinyGo and C++ modules have big function tables).
            pool.table_elements(100_000);
            pool.max_core_instance_size(2 << 20);
            // Keep a few pages resident per slot so re-creating a VM is cheap.
            pool.linear_memory_keep_resident(64 << 10);
            wasm_config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&wasm_config).map_err(|e| WasmError::Engine(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        crate::abi::add_to_linker(&mut linker).map_err(|e| WasmError::Engine(format!("{e:#}")))?;
        let cache = ModuleCache::new(&engine, config.cache_dir.clone())?;
        let clock = Arc::new(EpochClock::new(budget_ticks(config.limits.callback_budget)));
        spawn_ticker(engine.weak(), clock.clone());
        Ok(WasmHost {
            inner: Arc::new(HostInner {
                engine,
                linker,
                limits: config.limits,
                cache,
                shared_data: SharedData::default(),
                queues: SharedQueues::default(),
                metrics: Metrics::default(),
                clock,
            }),
        })
    }

    /// Compiles (or finds in a cache) and links the plugin's module, and checks it is a
    /// Proxy-Wasm module of a supported ABI version with the callbacks its kind needs.
    pub fn load(&self, spec: PluginSpec) -> Result<Arc<CompiledPlugin>, WasmError> {
        CompiledPlugin::load(self.clone(), spec).map(Arc::new)
    }

    /// Plugin-defined metrics and the host's own (failures, VM creations), for the admin
    /// page.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// A shared-data value as plugins of VM id `vm_id` see it (for the admin API and tests).
    pub fn shared_data(&self, vm_id: &str, key: &str) -> Option<bytes::Bytes> {
        self.inner.shared_data.get(vm_id, key).map(|(value, _)| value)
    }

    /// How many distinct compiled modules the loaded plugins use (plugins with the same
    /// module bytes share one).
    pub fn compiled_modules(&self) -> usize {
        self.inner.cache.len()
    }

    /// The sandbox limits in force.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }
}
