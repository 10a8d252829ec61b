//! The one error type of this crate. Every variant names the module url (with any
//! credentials removed, see [`crate::source::redact_url`]) and what went wrong; none carries
//! a secret.

use std::{net::IpAddr, path::PathBuf, time::Duration};

/// Why a module could not be had.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The url is not one we can fetch.
    #[error("module url {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },

    /// A `sha256` value is not 64 hex digits.
    #[error("module {url}: sha256 {value:?} is not 64 hex digits (optionally prefixed by \"sha256:\")")]
    InvalidSha256 { url: String, value: String },

    /// The host resolves to a link-local or cloud-metadata address (Istio's SSRF guard).
    #[error("module {url}: address {addr} is blocked for module fetches (link-local, cloud metadata or a blocked range)")]
    BlockedAddress { url: String, addr: IpAddr },

    /// A `file://` module could not be read.
    #[error("module {url}: cannot read {path}: {source}")]
    File {
        url: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// An HTTP(S) request failed on the network, after every retry.
    #[error("module {url}: request failed after {attempts} attempt(s): {reason}")]
    Http {
        url: String,
        attempts: u32,
        reason: String,
    },

    /// An HTTP(S) request got no complete answer in time, after every retry.
    #[error("module {url}: no complete answer within {timeout:?} (after {attempts} attempt(s))")]
    Timeout {
        url: String,
        timeout: Duration,
        attempts: u32,
    },

    /// The server answered with an error status.
    #[error("module {url}: server answered HTTP {status} (after {attempts} attempt(s))")]
    HttpStatus { url: String, status: u16, attempts: u32 },

    /// The registry refused the credentials, or asked for some and we had none.
    #[error("module {url}: registry denied access ({reason}); check imagePullSecret or the docker config")]
    Unauthorized { url: String, reason: String },

    /// Any other registry failure (manifest, blob, protocol).
    #[error("module {url}: registry: {reason}")]
    Registry { url: String, reason: String },

    /// The image is none of the Wasm image formats we know.
    #[error("module {url}: image is not a Wasm image: {reason}")]
    UnknownImageFormat { url: String, reason: String },

    /// The module (or a layer holding it) is larger than the limit.
    #[error("module {url}: {size} bytes is more than the {limit}-byte limit")]
    TooLarge { url: String, size: u64, limit: u64 },

    /// A digest did not match: `what` says which one (module bytes, manifest, url digest).
    #[error("module {url}: {what} digest mismatch: expected sha256:{expected}, got sha256:{actual}")]
    DigestMismatch {
        url: String,
        what: &'static str,
        expected: String,
        actual: String,
    },

    /// The bytes are not a Wasm module (bad magic, truncated, ...).
    #[error("module {url}: not a valid Wasm module: {reason}")]
    NotWasm { url: String, reason: String },

    /// A gzip or tar wrapper could not be opened.
    #[error("module {url}: cannot unpack: {reason}")]
    Unpack { url: String, reason: String },

    /// The pull secret could not be parsed. Never includes the secret's content.
    #[error("pull secret: {reason}")]
    PullSecret { reason: String },

    /// The verification key is not a PEM public key we support.
    #[error("verification key: {reason}")]
    VerificationKey { reason: String },

    /// A signing key is not a PEM private key we support.
    #[error("signing key: {reason}")]
    SigningKey { reason: String },

    /// The module has no valid signature for the verification key.
    #[error("module {url}: signature check failed: {reason}")]
    Signature { url: String, reason: String },

    /// The on-disk cache could not be used.
    #[error("module cache {path}: {source}")]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// An option is invalid (for example an environment variable with a bad value).
    #[error("fetch options: {reason}")]
    Options { reason: String },
}

impl FetchError {
    /// The `result` label of `wasm_remote_fetch_count` this error is counted under.
    pub fn metric_result(&self) -> &'static str {
        match self {
            FetchError::DigestMismatch { .. } => "checksum_mismatched",
            FetchError::Signature { .. } | FetchError::VerificationKey { .. } => "signature_failure",
            FetchError::UnknownImageFormat { .. }
            | FetchError::Registry { .. }
            | FetchError::Unauthorized { .. } => "manifest_failure",
            FetchError::NotWasm { .. } | FetchError::Unpack { .. } | FetchError::TooLarge { .. } => {
                "invalid_module"
            }
            FetchError::Http { .. } | FetchError::Timeout { .. } | FetchError::HttpStatus { .. } => {
                "download_failure"
            }
            _ => "fetch_failure",
        }
    }
}
