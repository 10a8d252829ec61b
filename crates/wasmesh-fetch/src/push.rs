//! `wasmesh push`: puts a module in a registry in any of the formats the fetcher reads, so
//! users (and our tests) can produce each of them.

use crate::{
    digest::sha256_hex,
    error::FetchError,
    oci::{self, registry_error, DOCKER_LAYER_GZIP, OCI_LAYER_GZIP, WASM_LAYER},
    secret::DockerConfigJson,
    source::{registry_of, Source},
    wasm::check_module,
};
use bytes::Bytes;
use oci_client::{secrets::RegistryAuth, Client, Reference};
use serde_json::json;
use std::{
    io::Write,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

const WASM_CONFIG: &str = "application/vnd.module.wasm.config.v1+json";
const EMPTY_JSON: &str = "application/vnd.oci.empty.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const CHUNK: usize = 256 << 10;

/// The image layouts `wasmesh push` writes (all of which the fetcher reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PushFormat {
    /// The Wasm artifact as Istio expects it: two layers, one of them the raw module
    /// (`application/vnd.module.wasm.content.layer.v1+wasm`).
    #[default]
    Wasm,
    /// The single-layer Wasm artifact other tools push.
    WasmSingleLayer,
    /// An OCI image whose one layer is a tar.gz holding `plugin.wasm`.
    OciImage,
    /// A Docker schema 2 image whose one layer is a tar.gz holding `plugin.wasm`.
    DockerImage,
}

/// How to push.
#[derive(Debug, Clone)]
pub struct PushOptions {
    pub format: PushFormat,
    /// Use plain HTTP.
    pub insecure: bool,
    /// Credentials; `None` uses the user's docker config.
    pub auth: Option<DockerConfigJson>,
    pub timeout: Duration,
    /// PEM certificates trusted besides the built-in roots.
    pub extra_ca_certificates: Vec<Vec<u8>>,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            format: PushFormat::default(),
            insecure: false,
            auth: None,
            timeout: Duration::from_secs(60),
            extra_ca_certificates: Vec::new(),
        }
    }
}

/// Where the module went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushOutcome {
    /// `registry/repository@sha256:…`, usable as a WasmPlugin url with `oci://` in front.
    pub pinned_reference: String,
    /// `sha256:<hex>` of the manifest: the WasmPlugin `sha256` for this url.
    pub manifest_digest: String,
}

/// The registry client `push` and `sign` use.
pub(crate) fn registry_client(opts: &PushOptions) -> Client {
    oci::client(opts.insecure, opts.timeout, &opts.extra_ca_certificates)
}

pub(crate) fn auth_for(image: &Reference, auth: Option<&DockerConfigJson>) -> RegistryAuth {
    let registry = registry_of(image);
    auth.cloned()
        .unwrap_or_else(|| DockerConfigJson::load_default(None))
        .credentials_for(registry)
        .map(|c| c.to_registry_auth())
        .unwrap_or(RegistryAuth::Anonymous)
}

/// Pushes `module` to `reference` (`[oci://]registry/repo:tag`). `progress(sent, total)` is
/// called as blob bytes go out.
pub async fn push_module(
    reference: &str,
    module: &[u8],
    opts: &PushOptions,
    progress: Arc<dyn Fn(u64, u64) + Send + Sync>,
) -> Result<PushOutcome, FetchError> {
    let url = reference.to_owned();
    let Source::Oci(image) = Source::parse(reference)? else {
        return Err(FetchError::InvalidUrl {
            url,
            reason: "push needs an OCI image reference (registry/repository:tag)".into(),
        });
    };
    check_module(module).map_err(|reason| FetchError::NotWasm {
        url: url.clone(),
        reason,
    })?;
    let client = registry_client(opts);
    let auth = auth_for(&image, opts.auth.as_ref());
    client
        .auth(&image, &auth, oci_client::RegistryOperation::Push)
        .await
        .map_err(|e| registry_error(&url, e))?;

    let (blobs, manifest, content_type) = build_image(module, opts.format);
    let total: u64 = blobs.iter().map(|b| b.len() as u64).sum();
    let sent = Arc::new(AtomicU64::new(0));
    progress(0, total);
    for blob in &blobs {
        let digest = format!("sha256:{}", sha256_hex(blob));
        if client.blob_exists(&image, &digest).await.unwrap_or(false) {
            let done = sent.fetch_add(blob.len() as u64, Ordering::Relaxed) + blob.len() as u64;
            progress(done, total);
            continue;
        }
        let chunks: Vec<Bytes> = blob.chunks(CHUNK).map(Bytes::copy_from_slice).collect();
        let (sent, progress) = (sent.clone(), progress.clone());
        let stream = futures::stream::iter(chunks.into_iter().map(move |chunk| {
            let done = sent.fetch_add(chunk.len() as u64, Ordering::Relaxed) + chunk.len() as u64;
            progress(done, total);
            Ok(chunk)
        }));
        client
            .push_blob_stream(&image, stream, &digest, Some(blob.len() as u64))
            .await
            .map_err(|e| registry_error(&url, e))?;
    }
    let manifest_digest = format!("sha256:{}", sha256_hex(&manifest));
    let header = content_type.parse().map_err(|_| FetchError::Registry {
        url: url.clone(),
        reason: "bad manifest content type".into(),
    })?;
    client
        .push_manifest_raw(&image, manifest, header)
        .await
        .map_err(|e| registry_error(&url, e))?;
    Ok(PushOutcome {
        pinned_reference: format!("{}/{}@{}", image.registry(), image.repository(), manifest_digest),
        manifest_digest,
    })
}

/// The blobs (layers, then config) and the manifest of `module` in `format`.
pub(crate) fn build_image(module: &[u8], format: PushFormat) -> (Vec<Vec<u8>>, Vec<u8>, &'static str) {
    let descriptor = |media_type: &str, blob: &[u8]| json!({"mediaType": media_type, "digest": format!("sha256:{}", sha256_hex(blob)), "size": blob.len()});
    let title = json!({"org.opencontainers.image.title": "plugin.wasm"});
    match format {
        PushFormat::Wasm | PushFormat::WasmSingleLayer => {
            let config = b"{}".to_vec();
            let mut wasm_layer = descriptor(WASM_LAYER, module);
            wasm_layer["annotations"] = title;
            let mut layers = vec![wasm_layer];
            let mut blobs = vec![module.to_vec()];
            if format == PushFormat::Wasm {
                // Istio wants two layers; the second says nothing.
                let empty = b"{}".to_vec();
                layers.push(descriptor(EMPTY_JSON, &empty));
            }
            let manifest = json!({
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": descriptor(WASM_CONFIG, &config),
                "layers": layers,
            });
            blobs.push(config);
            (
                blobs,
                serde_json::to_vec(&manifest).unwrap_or_default(),
                OCI_MANIFEST,
            )
        }
        PushFormat::OciImage | PushFormat::DockerImage => {
            let tar = tar_with_plugin(module);
            let layer = gzip(&tar);
            let config = serde_json::to_vec(&json!({
                "architecture": "wasm",
                "os": "wasip1",
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha256_hex(&tar))]},
            }))
            .unwrap_or_default();
            let (manifest_type, config_type, layer_type) = if format == PushFormat::OciImage {
                (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER_GZIP)
            } else {
                (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER_GZIP)
            };
            let manifest = json!({
                "schemaVersion": 2,
                "mediaType": manifest_type,
                "config": descriptor(config_type, &config),
                "layers": [descriptor(layer_type, &layer)],
            });
            (
                vec![layer, config],
                serde_json::to_vec(&manifest).unwrap_or_default(),
                manifest_type,
            )
        }
    }
}

fn tar_with_plugin(module: &[u8]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.set_size(module.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    // Appending to a Vec cannot fail.
    let _ = builder.append_data(&mut header, "plugin.wasm", module);
    builder.into_inner().unwrap_or_default()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests;
