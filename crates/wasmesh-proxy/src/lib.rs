//! The data plane: listeners, routes, clusters, the filter chain with its built-in
//! filters, hot reload and the admin endpoint.
//!
//! Threading follows Envoy: N workers, each a current-thread runtime with its own
//! `SO_REUSEPORT` listeners, upstream pools and plugin VMs ([`worker`]); a control thread
//! reads the config, builds [`snapshot::Snapshot`]s off the request path and serves the
//! admin endpoint ([`run`]). Not here: parsing and selecting resources (`wasmesh-api`),
//! watching the config directory (`wasmesh-config`), fetching modules (`wasmesh-fetch`),
//! the Proxy-Wasm ABI (`wasmesh-wasm`).

mod admin;
pub mod admit;
pub mod body;
pub mod build;
mod certificate;
pub mod chain;
pub mod cluster;
pub mod error;
mod exec;
mod forward;
#[doc(hidden)]
pub mod fuzzing;
mod h1;
mod h1_server;
mod handler;
mod jwks;
mod kube_status;
pub mod labels;
mod listener;
pub mod local_reply;
mod metered;
mod mirroring;
pub mod normalize;
pub mod plugin;
mod request_id;
pub mod route;
pub mod run;
mod serde_duration;
pub mod snapshot;
pub mod sni;
mod source;
pub mod stats;
mod tcp;
mod tunnel;
mod upstream;
mod worker;

pub use error::ProxyError;
pub use run::{run, ConfigFrom, Options, RunError};
