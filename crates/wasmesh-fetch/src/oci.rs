//! OCI images holding a module, in Istio's order of formats (`imagefetcher.go`):
//! 1. a Docker image whose last layer is a tar(.gz) holding `plugin.wasm`;
//! 2. an OCI image whose last layer is a tar(.gz) holding `plugin.wasm`;
//! 3. a Wasm artifact with an `application/vnd.module.wasm.content.layer.v1+wasm` layer.
//!
//! Istio wants exactly two layers for (3); we also take the single-layer artifacts other
//! tools push, and the `application/vnd.wasm.content.layer.v1+wasm` media type.

use crate::{
    error::FetchError,
    retry::{is_retryable_status, Retry},
    wasm,
    wasm::UnwrapError,
};
use futures::StreamExt;
use oci_client::{
    client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol},
    errors::OciDistributionError,
    manifest::{OciDescriptor, OciImageManifest},
    secrets::RegistryAuth,
    Client, Reference,
};
use std::time::Duration;

pub(crate) const WASM_LAYER: &str = "application/vnd.module.wasm.content.layer.v1+wasm";
pub(crate) const WASM_LAYER_ALT: &str = "application/vnd.wasm.content.layer.v1+wasm";
pub(crate) const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub(crate) const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
pub(crate) const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub(crate) const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";

/// An OCI client for one registry: plain HTTP only when the registry is listed as insecure.
pub(crate) fn client(insecure: bool, timeout: Duration, extra_ca: &[Vec<u8>]) -> Client {
    let extra_root_certificates = extra_ca
        .iter()
        .map(|pem| Certificate {
            encoding: CertificateEncoding::Pem,
            data: pem.clone(),
        })
        .collect();
    Client::new(ClientConfig {
        extra_root_certificates,
        protocol: if insecure {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        },
        read_timeout: Some(timeout),
        connect_timeout: Some(timeout),
        // No platform choice for Wasm: an index must name the module's manifest itself.
        platform_resolver: Some(Box::new(|entries: &[oci_client::manifest::ImageIndexEntry]| {
            oci_client::client::current_platform_resolver(entries)
                .or_else(|| entries.first().map(|e| e.digest.clone()))
        })),
        ..Default::default()
    })
}

/// Which layer holds the module, and how.
#[derive(Debug, Clone)]
pub(crate) enum Layout {
    /// The layer is a tar (gzip or not) with `plugin.wasm`.
    TarWithPlugin(OciDescriptor),
    /// The layer is the raw module.
    RawWasm(OciDescriptor),
}

/// Picks the layer holding the module, or says why the image is none of the formats.
pub(crate) fn layout_of(manifest: &OciImageManifest) -> Result<Layout, String> {
    let Some(last) = manifest.layers.last() else {
        return Err("the manifest has no layers".into());
    };
    if [DOCKER_LAYER_GZIP, DOCKER_LAYER_TAR, OCI_LAYER_GZIP, OCI_LAYER_TAR]
        .contains(&last.media_type.as_str())
    {
        return Ok(Layout::TarWithPlugin(last.clone()));
    }
    let wasm_layers: Vec<&OciDescriptor> = manifest
        .layers
        .iter()
        .filter(|l| l.media_type == WASM_LAYER || l.media_type == WASM_LAYER_ALT)
        .collect();
    match wasm_layers.as_slice() {
        [one] => Ok(Layout::RawWasm((*one).clone())),
        [] => {
            Err(format!(
            "no layer is a Wasm module ({WASM_LAYER}) and the last layer is not an image layer (layers: {})",
            manifest.layers.iter().map(|l| l.media_type.as_str()).collect::<Vec<_>>().join(", ")
        ))
        }
        many => Err(format!("{} layers are Wasm modules; expected one", many.len())),
    }
}

/// Pulls the image manifest and the module it holds. Returns the module bytes and the
/// manifest digest.
pub(crate) async fn fetch(
    client: &Client,
    image: &Reference,
    auth: &RegistryAuth,
    max_bytes: u64,
    retry: Retry,
    url: &str,
) -> Result<(Vec<u8>, String), FetchError> {
    let (manifest, digest) = retry
        .run(|| client.pull_image_manifest(image, auth), is_retryable)
        .await
        .map_err(|(e, _)| registry_error(url, e))?;
    let layout = layout_of(&manifest).map_err(|reason| FetchError::UnknownImageFormat {
        url: url.to_owned(),
        reason,
    })?;
    let bytes = match layout {
        Layout::RawWasm(layer) => pull_limited(client, image, &layer, max_bytes, retry, url).await?,
        Layout::TarWithPlugin(layer) => {
            // A compressed layer may grow; the cap applies to the download and the module.
            let blob = pull_limited(client, image, &layer, max_bytes, retry, url).await?;
            let unpacked = if layer.media_type.ends_with("gzip") {
                wasm::unwrap_archive(blob, max_bytes)
            } else {
                wasm::wasm_from_tar(&blob, max_bytes)
            };
            unpacked.map_err(|e| match e {
                UnwrapError::TooLarge(size) => FetchError::TooLarge {
                    url: url.to_owned(),
                    size,
                    limit: max_bytes,
                },
                UnwrapError::Invalid(reason) => FetchError::UnknownImageFormat {
                    url: url.to_owned(),
                    reason: format!("last layer {}: {reason}", layer.media_type),
                },
            })?
        }
    };
    Ok((bytes, digest))
}

async fn pull_limited(
    client: &Client,
    image: &Reference,
    layer: &OciDescriptor,
    max_bytes: u64,
    retry: Retry,
    url: &str,
) -> Result<Vec<u8>, FetchError> {
    let too_large = |size: u64| FetchError::TooLarge {
        url: url.to_owned(),
        size,
        limit: max_bytes,
    };
    if layer.size < 0 || layer.size as u64 > max_bytes {
        return Err(too_large(layer.size.max(0) as u64));
    }
    // The stream checks the layer digest at its end, so a truncated blob is an error here.
    let mut stream = retry
        .run(|| client.pull_blob_stream(image, layer), is_retryable)
        .await
        .map_err(|(e, _)| registry_error(url, e))?;
    let mut out = Vec::with_capacity(layer.size as usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| FetchError::Registry {
            url: url.to_owned(),
            reason: format!("layer {}: {e}", layer.digest),
        })?;
        out.extend_from_slice(&chunk);
        if out.len() as u64 > max_bytes {
            return Err(too_large(out.len() as u64));
        }
    }
    Ok(out)
}

/// Turns a registry client error into ours, keeping auth failures apart.
pub(crate) fn registry_error(url: &str, e: OciDistributionError) -> FetchError {
    use oci_client::errors::OciErrorCode as C;
    let url = url.to_owned();
    match &e {
        OciDistributionError::UnauthorizedError { .. } => FetchError::Unauthorized {
            url,
            reason: "HTTP 401".into(),
        },
        OciDistributionError::AuthenticationFailure(_) => FetchError::Unauthorized {
            url,
            reason: "the token service refused the credentials".into(),
        },
        OciDistributionError::RegistryError { envelope, .. }
            if envelope
                .errors
                .iter()
                .any(|err| matches!(err.code, C::Unauthorized | C::Denied)) =>
        {
            FetchError::Unauthorized {
                url,
                reason: envelope.to_string(),
            }
        }
        OciDistributionError::ServerError { code: 401 | 403, .. } => FetchError::Unauthorized {
            url,
            reason: e.to_string(),
        },
        OciDistributionError::DigestError(_) => FetchError::Registry {
            url,
            reason: format!("content does not match its digest (truncated or corrupt): {e}"),
        },
        OciDistributionError::RequestError(inner) => FetchError::Registry {
            url,
            reason: describe_request_error(inner),
        },
        _ => FetchError::Registry {
            url,
            reason: e.to_string(),
        },
    }
}

/// reqwest's top-level message is vague ("error sending request"); add its causes.
pub(crate) fn describe_request_error(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    // reqwest names the full url, credentials and query included: show it redacted.
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), &crate::redact_url(url.as_str()));
    }
    text
}

/// Whether a registry error is worth retrying: network trouble and retryable 5xx.
pub(crate) fn is_retryable(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::RequestError(inner) => {
            // A refused certificate will be refused again.
            (inner.is_connect() || inner.is_timeout() || inner.is_request() || inner.is_body())
                && !describe_request_error(inner).contains("certificate")
        }
        OciDistributionError::ServerError { code, .. } => is_retryable_status(*code),
        OciDistributionError::IoError(_) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests;
