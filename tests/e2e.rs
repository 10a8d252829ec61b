//! The end-to-end tests: each module drives the real `wasmesh` binary with real peers on
//! loopback. One crate, so one test binary: one link of the whole stack instead of one per
//! file, which keeps a clean test build small and quick.

// helpers shared by the modules below
#[path = "support/cli.rs"]
mod cli_support;
#[path = "support/crds.rs"]
mod crds_support;
mod fetch_proxy;
#[path = "../crates/wasmesh-fetch/tests/support/mod.rs"]
mod fetch_support;
#[path = "support/kube.rs"]
mod kube_support;
mod proxy_support;

mod cli_apply;
mod cli_describe;
mod cli_help;
mod cli_proxy;
mod cli_push_hints;
mod cli_unix;
mod cli_validate;
mod demo;
mod example_plugins;
mod fetch_http;
mod fetch_oci;
mod kube_crds;
mod kube_deploy;
mod kube_describe;
mod kube_gateway;
mod kube_gateway_status;
mod kube_gateway_tls;
mod kube_source;
mod kube_status;
mod openid_connect;
mod proxy_admission;
mod proxy_attributes;
mod proxy_headers;
mod proxy_http;
mod proxy_mirror;
mod proxy_ops;
mod proxy_security;
mod proxy_tcp;
mod proxy_timeouts;
mod proxy_wasm;
mod proxy_wasm_load;
mod push_sign;
