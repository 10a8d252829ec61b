//! Turns a WasmPlugin `url` into verified module bytes, the way Istio's agent does (and a
//! little more): `file://`, `http(s)://` and `oci://` sources (no scheme means OCI), the
//! `sha256` and `@sha256:` checks, `imagePullPolicy`, pull secrets, an on-disk cache keyed by
//! digest with a TTL and a size cap, retries with backoff, an SSRF guard, and signature
//! verification against a `verificationKey`. It also holds what `wasmesh push` and
//! `wasmesh sign` need to produce what it verifies.
//!
//! It does not know the `WasmPlugin` type: the data plane maps a plugin to a
//! [`ModuleRequest`] and calls [`Fetcher::fetch`].

mod cache;
mod cosign;
mod digest;
mod error;
mod fetcher;
mod http;
mod metrics;
mod oci;
mod options;
mod policy;
mod push;
mod request;
mod retry;
mod secret;
mod sign;
mod source;
mod ssrf;
mod verify;
mod wasm;

pub use cache::private_dir;
pub use digest::sha256_hex;
pub use error::FetchError;
pub use fetcher::Fetcher;
pub use metrics::{FetchMetrics, MetricsSnapshot};
pub use options::FetchOptions;
pub use push::{push_module, PushFormat, PushOptions, PushOutcome};
pub use request::{Module, ModuleRequest, PullPolicy};
pub use secret::{Credentials, DockerConfigJson};
pub use sign::{detached_signature, sign_image, SigningKey};
pub use source::redact_url;
pub use verify::PublicKey;
pub use wasm::check_module;
