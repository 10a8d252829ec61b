//! The Kubernetes source of resources (docs/kubernetes-source.md): kube-rs watchers on
//! `WasmPlugin`s, `RequestAuthentication`s, `AuthorizationPolicy`s and `Proxy`s (in every
//! namespace, or in the namespaces given), and on each pull `Secret` a `WasmPlugin` names —
//! one by one, by name, never a cluster-wide list of Secrets. Their objects go through the
//! same validation as a file's documents (`wasmesh_api::parse_object`) into the same store,
//! and come out as the same snapshots, behind `wasmesh_config::ConfigSource`.
//!
//! - `client`: the kube-rs client from a kubeconfig, a context, or the pod's service account.
//! - `kinds`: what is followed, at which group and version.
//! - `scope`: in which namespaces (the root namespace always among them), which streams.
//! - `object`: an API object as a resource.
//! - `follow`: one watcher per kind (and namespace) or pull Secret, with its backoff.
//! - `sync`: the watchers' events into one store; a snapshot only when every watcher has
//!   listed, so no partial state is ever published.
//! - `list`: one list of every stream and no watch, for `wasmesh describe --kubernetes`.
//! - `health`: connected or not, synced or not, logged once per outage.
//! - `status`: `status.conditions` back on each WasmPlugin, one writer among the replicas.

mod client;
mod follow;
mod health;
mod kinds;
mod list;
mod object;
mod scope;
mod source;
pub mod status;
mod sync;

pub use client::{Options, StartError};
pub use list::{list_once, ListError, Listed};
pub use source::{start, KubeSource};
