//! The Kubernetes API server double of `wasmesh_testkit::apiserver`, driven by the real
//! clients: kube-rs (`kube_client`) and kubectl 1.37 (`kubectl`).

mod kube_client;
mod kubectl;

/// The WasmPlugin CRD these tests register.
pub const WASMPLUGIN_CRD: &str = include_str!("wasmplugin-crd.yaml");
