//! The Kubernetes API server double of `wasmesh_testkit::apiserver`, driven by the real
//! clients: kube-rs (`kube_client`).

mod kube_client;

/// The WasmPlugin CRD these tests register.
pub const WASMPLUGIN_CRD: &str = include_str!("wasmplugin-crd.yaml");
