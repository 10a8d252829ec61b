//! The host tested through real plugins built with the public Proxy-Wasm SDK (see
//! `plugins/`), hostile plugins, and `.wat` fixtures for ABI 0.1.0. One test binary.

mod abi_versions;
mod common;
mod features;
mod fuzz_regressions;
mod hostile;
