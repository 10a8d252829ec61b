//! What the data plane asks for ([`ModuleRequest`]) and what it gets ([`Module`]).

use crate::secret::DockerConfigJson;
use bytes::Bytes;

/// `imagePullPolicy` of the WasmPlugin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullPolicy {
    /// Not set: `IfNotPresent`, except `Always` for a `:latest` tag (Istio's default).
    #[default]
    Unspecified,
    /// Use a cached copy when there is one.
    IfNotPresent,
    /// Pull again whenever the plugin resource changes (its resource version), as Istio.
    Always,
}

/// One module to get, as a WasmPlugin describes it.
#[derive(Debug, Clone, Default)]
pub struct ModuleRequest {
    /// `spec.url`: `file://`, `http(s)://`, `oci://` or a registry reference without scheme.
    pub url: String,
    /// `spec.sha256`: of the module bytes (file/http) or of the image manifest (OCI).
    pub sha256: Option<String>,
    /// `spec.imagePullPolicy`.
    pub pull_policy: PullPolicy,
    /// The `kubernetes.io/dockerconfigjson` Secret named by `spec.imagePullSecret`.
    pub pull_secret: Option<DockerConfigJson>,
    /// `spec.verificationKey` or `pluginConfig.verificationKey`: a PEM public key.
    pub verification_key: Option<String>,
    /// `<namespace>.<name>` of the plugin; with `resource_version`, decides when `Always` re-pulls.
    pub resource_name: String,
    /// The plugin resource's version (or a hash of its spec).
    pub resource_version: String,
}

/// Verified module bytes.
#[derive(Debug, Clone)]
pub struct Module {
    /// The Wasm module, unwrapped from any gzip/tar/image layer.
    pub bytes: Bytes,
    /// Hex sha256 of `bytes`.
    pub sha256: String,
    /// `sha256:<hex>` of the image manifest, for OCI modules.
    pub manifest_digest: Option<String>,
    /// True when no remote fetch was needed.
    pub from_cache: bool,
    /// True when a signature was checked against the request's verification key.
    pub signature_verified: bool,
}
