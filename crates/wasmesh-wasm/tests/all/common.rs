//! Shared set-up: a host with a small pool, plugins by name, and a local runtime.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use wasmesh_wasm::{
    CompiledPlugin, HeaderMap, Host, HostConfig, Limits, LogLevel, PluginSpec, PluginVm, WasmHost,
};

/// A host with test-sized limits: a 200 ms callback budget, 32 MiB per VM.
pub fn host() -> WasmHost {
    WasmHost::new(HostConfig {
        limits: Limits {
            memory_bytes: 32 << 20,
            callback_budget: Duration::from_millis(200),
            max_log_line: 256,
            reload_backoff: (Duration::from_millis(50), Duration::from_millis(200)),
        },
        cache_dir: None,
        pool_slots: Some(16),
    })
    .expect("host")
}

/// A spec for the plugin `name` of `plugins/`, in namespace `test`.
pub fn spec(name: &str) -> PluginSpec {
    PluginSpec::new("test", name, wasmesh_testkit::plugin_bytes(name))
}

pub fn load(host: &WasmHost, spec: PluginSpec) -> Arc<CompiledPlugin> {
    host.load(spec).expect("plugin loads")
}

/// Runs `f` on a current-thread runtime inside a `LocalSet`, as a proxy worker does.
pub fn run<F: Future>(f: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    tokio::task::LocalSet::new().block_on(&runtime, f)
}

/// A host that records plugin logs.
#[derive(Default)]
pub struct Recorder {
    pub logs: RefCell<Vec<(LogLevel, String)>>,
}

impl Host for Recorder {
    fn log(&self, _plugin: &str, level: LogLevel, message: &str) {
        self.logs.borrow_mut().push((level, message.to_owned()));
    }
}

pub fn start(plugin: &Arc<CompiledPlugin>, host: Rc<dyn Host>) -> PluginVm {
    let vm = PluginVm::start(plugin.clone(), host);
    if let Some(failure) = vm.failure() {
        panic!("VM did not start: {failure}");
    }
    vm
}

/// Request headers as a client's GET would arrive.
pub fn get(path: &str) -> HeaderMap {
    [(":method", "GET"), (":path", path), (":authority", "example.com"), (":scheme", "http")]
        .into_iter()
        .collect()
}

pub fn text(value: Option<&Bytes>) -> &str {
    value.map(|v| std::str::from_utf8(v).unwrap()).unwrap_or("<absent>")
}
