//! The Proxy-Wasm host on wasmtime: engine, compiled-module cache, VMs per worker,
//! root/stream contexts and the ABI hostcalls.
