//! Helpers shared by the tests of every crate: building the plugins under `plugins/` for
//! `wasm32-wasip1`, free loopback ports, and starting peers.
