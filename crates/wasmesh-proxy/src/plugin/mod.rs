//! Proxy-Wasm plugins in the data plane: loading them (fetch, compile) on the control
//! thread, their VMs on each worker, and running their contexts per request. The ABI
//! itself is `wasmesh-wasm`'s.

pub mod attributes;
pub mod headers;
pub mod host;
pub mod load;
pub mod status;
pub mod stream;

use std::sync::Arc;
use wasmesh_wasm::CompiledPlugin;

/// A plugin of a chain, loaded and ready for the workers to start VMs from.
#[derive(Debug)]
pub struct WasmFilter {
    /// `<namespace>.<name>`.
    pub name: String,
    pub url: String,
    pub plugin: Arc<CompiledPlugin>,
}
