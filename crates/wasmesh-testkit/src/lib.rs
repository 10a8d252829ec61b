//! Helpers shared by the tests of every crate: building the plugins under `plugins/` for
//! `wasm32-wasip1` (and the AssemblyScript one with npm), free loopback ports, a test
//! double of the Kubernetes API server ([`apiserver`]) and the kubectl that drives it
//! ([`kubectl`]).
//!
//! ```no_run
//! let wasm = wasmesh_testkit::plugin("headers"); // plugins/headers → …/headers.wasm
//! let port = wasmesh_testkit::free_port();
//! ```

pub mod apiserver;
mod assemblyscript;
pub mod certificate;
pub mod kubectl;
mod plugins;
mod ports;

pub use assemblyscript::assemblyscript_plugin;

pub use plugins::{plugin, plugin_bytes, plugins_dir, repo_root};
pub use ports::free_port;
