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
    /// The module does not export any `proxy_abi_version_*` function this host supports.
    #[error(
        "plugin {plugin}: module sha256:{digest} is not a Proxy-Wasm module this host supports \
         (it exports none of proxy_abi_version_0_2_1, _0_2_0, _0_1_0)"
    )]
    UnsupportedAbi {
        /// `<namespace>.<name>`.
        plugin: String,
        /// The module's sha256.
        digest: String,
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
