//! Errors of loading a plugin (before any traffic): compiling, checking the ABI, the cache.

use std::path::PathBuf;

/// Loading a plugin's module failed.
#[derive(Debug, thiserror::Error)]
pub enum WasmError {
    /// The engine could not be configured (e.g. the pooling allocator could not reserve
    /// its memory).
    #[error("could not create the wasm engine: {0}")]
    Engine(String),
    /// The module is not valid WebAssembly or could not be compiled.
    #[error("plugin {plugin}: module sha256:{digest} could not be compiled: {message}")]
    Compile {
        /// `<namespace>.<name>`.
        plugin: String,
        /// The module's sha256.
        digest: String,
        /// wasmtime's explanation.
        message: String,
    },
    /// The module does not export a `proxy_abi_version_*` function this host supports:
    /// none at all (not a Proxy-Wasm module), or only versions it does not know. Envoy
    /// refuses such a module when it loads it, too.
    #[error(
        "plugin {plugin}: module sha256:{digest} is not a Proxy-Wasm module this host supports: \
         {}; supported: proxy_abi_version_0_2_1, _0_2_0, _0_1_0",
        abi_exports(.found)
    )]
    UnsupportedAbi {
        /// `<namespace>.<name>`.
        plugin: String,
        /// The module's sha256.
        digest: String,
        /// The `proxy_abi_version_*` exports it has (none, or unsupported ones).
        found: Vec<String>,
    },
    /// The module lacks an export every Proxy-Wasm host needs (or has it with another
    /// signature): the host refuses it at load, as Envoy does, rather than fail at the
    /// first request.
    #[error("plugin {plugin}: module sha256:{digest} cannot run as a Proxy-Wasm plugin: {problem}")]
    MissingExport {
        /// `<namespace>.<name>`.
        plugin: String,
        /// The module's sha256.
        digest: String,
        /// The export, e.g. `proxy_on_memory_allocate`.
        export: &'static str,
        /// The sentence that says what is wrong and what the host needs it for.
        problem: String,
    },
    /// The module's imports do not fit what the host offers (wrong signature).
    #[error("plugin {plugin}: module sha256:{digest} cannot be linked: {message}")]
    Link {
        /// `<namespace>.<name>`.
        plugin: String,
        /// The module's sha256.
        digest: String,
        /// wasmtime's explanation.
        message: String,
    },
    /// The on-disk compiled-code cache could not be used.
    #[error("compiled-code cache {path}: {source}")]
    Cache {
        /// The file or folder.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
}

/// What a module says about its ABI version, for [`WasmError::UnsupportedAbi`].
fn abi_exports(found: &[String]) -> String {
    match found {
        [] => "it exports no proxy_abi_version_* function".to_string(),
        found => format!("it exports {}", found.join(", ")),
    }
}
