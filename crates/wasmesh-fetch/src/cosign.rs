//! Cosign-style image signatures: for an image whose manifest digest is `sha256:<hex>`, the
//! tag `sha256-<hex>.sig` in the same repository holds a manifest whose layers are
//! simple-signing payloads (`application/vnd.dev.cosign.simplesigning.v1+json`) naming the
//! signed digest, each with its signature (base64) in the `dev.cosignproject.cosign/signature`
//! annotation. We read and write that layout; keyless (Fulcio/Rekor) signatures are not
//! supported.

use crate::{
    digest::digest_hex, error::FetchError, oci::registry_error, sign::SigningKey, verify::PublicKey,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use oci_client::{
    manifest::{OciDescriptor, OciImageManifest, OCI_IMAGE_MEDIA_TYPE},
    secrets::RegistryAuth,
    Client, Reference,
};
use serde_json::json;
use std::collections::BTreeMap;

pub(crate) const PAYLOAD_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub(crate) const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
const PAYLOAD_TYPE: &str = "cosign container image signature";
const MAX_PAYLOAD_BYTES: i64 = 1 << 20;

/// One signature found on an image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct CosignSignature {
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
}

/// `sha256-<hex>.sig`, the tag cosign stores the signatures of `digest` under.
pub(crate) fn signature_tag(digest: &str) -> String {
    format!("sha256-{}.sig", digest_hex(digest))
}

fn signature_reference(image: &Reference, digest: &str) -> Reference {
    Reference::with_tag(
        image.registry().to_owned(),
        image.repository().to_owned(),
        signature_tag(digest),
    )
}

/// The simple-signing payload for `digest` of `image`.
pub(crate) fn payload_for(image: &Reference, digest: &str) -> Vec<u8> {
    let doc = json!({
        "critical": {
            "identity": {"docker-reference": format!("{}/{}", image.registry(), image.repository())},
            "image": {"docker-manifest-digest": digest},
            "type": PAYLOAD_TYPE,
        },
        "optional": null,
    });
    serde_json::to_vec(&doc).unwrap_or_default()
}

/// Checks that one of `signatures` is valid for `key` and names `digest`.
pub(crate) fn verify_signatures(
    key: &PublicKey,
    signatures: &[CosignSignature],
    digest: &str,
) -> Result<(), String> {
    if signatures.is_empty() {
        return Err(format!(
            "no signature found (tag {} is missing or empty)",
            signature_tag(digest)
        ));
    }
    let mut reasons = Vec::new();
    for sig in signatures {
        if let Err(reason) = key.verify(&sig.payload, &sig.signature) {
            reasons.push(reason);
            continue;
        }
        // Only a payload that the key signed is worth reading.
        match signed_digest(&sig.payload) {
            Ok(signed) if signed == digest => return Ok(()),
            Ok(signed) => reasons.push(format!("a valid signature is for {signed}, not {digest}")),
            Err(reason) => reasons.push(reason),
        }
    }
    reasons.dedup();
    Err(format!(
        "none of {} signature(s) is valid: {}",
        signatures.len(),
        reasons.join("; ")
    ))
}

fn signed_digest(payload: &[u8]) -> Result<String, String> {
    let doc: serde_json::Value =
        serde_json::from_slice(payload).map_err(|_| "the signed payload is not JSON".to_owned())?;
    if doc["critical"]["type"] != PAYLOAD_TYPE {
        return Err(format!(
            "the signed payload's critical.type is not {PAYLOAD_TYPE:?}"
        ));
    }
    doc["critical"]["image"]["docker-manifest-digest"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "the signed payload names no docker-manifest-digest".to_owned())
}

/// Reads the signatures stored for `digest`. A missing signature tag gives an empty list.
pub(crate) async fn fetch_signatures(
    client: &Client,
    image: &Reference,
    auth: &RegistryAuth,
    digest: &str,
    url: &str,
) -> Result<Vec<CosignSignature>, FetchError> {
    let sig_ref = signature_reference(image, digest);
    let manifest = match client.pull_image_manifest(&sig_ref, auth).await {
        Ok((manifest, _)) => manifest,
        Err(e) if is_not_found(&e) => return Ok(Vec::new()),
        Err(e) => return Err(registry_error(url, e)),
    };
    let mut found = Vec::new();
    for layer in &manifest.layers {
        if layer.media_type != PAYLOAD_MEDIA_TYPE {
            continue;
        }
        let Some(encoded) = layer
            .annotations
            .as_ref()
            .and_then(|a| a.get(SIGNATURE_ANNOTATION))
        else {
            continue;
        };
        let Ok(signature) = STANDARD.decode(encoded.trim()) else {
            continue;
        };
        if layer.size > MAX_PAYLOAD_BYTES {
            continue;
        }
        let mut payload = Vec::new();
        client
            .pull_blob(&sig_ref, layer, &mut payload)
            .await
            .map_err(|e| registry_error(url, e))?;
        found.push(CosignSignature { payload, signature });
    }
    Ok(found)
}

fn is_not_found(e: &oci_client::errors::OciDistributionError) -> bool {
    use oci_client::errors::{OciDistributionError as E, OciErrorCode as C};
    match e {
        E::ImageManifestNotFoundError(_) => true,
        E::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .any(|err| matches!(err.code, C::ManifestUnknown | C::NotFound | C::NameUnknown)),
        E::ServerError { code, .. } => *code == 404,
        _ => false,
    }
}

/// Signs `digest` of `image` with `key` and pushes the signature, keeping any signatures
/// already stored for it.
pub(crate) async fn push_signature(
    client: &Client,
    image: &Reference,
    auth: &RegistryAuth,
    digest: &str,
    key: &SigningKey,
    url: &str,
) -> Result<(), FetchError> {
    let sig_ref = signature_reference(image, digest);
    let payload = payload_for(image, digest);
    let signature = key.sign(&payload);
    let payload_digest = format!("sha256:{}", crate::digest::sha256_hex(&payload));

    let mut layers = match client.pull_image_manifest(&sig_ref, auth).await {
        Ok((existing, _)) => existing.layers,
        Err(e) if is_not_found(&e) => Vec::new(),
        Err(e) => return Err(registry_error(url, e)),
    };
    let mut annotations = BTreeMap::new();
    annotations.insert(SIGNATURE_ANNOTATION.to_owned(), STANDARD.encode(&signature));
    layers.retain(|l| l.digest != payload_digest || l.annotations.as_ref() != Some(&annotations));
    layers.push(OciDescriptor {
        media_type: PAYLOAD_MEDIA_TYPE.to_owned(),
        digest: payload_digest.clone(),
        size: payload.len() as i64,
        annotations: Some(annotations),
        ..Default::default()
    });
    let diff_ids: Vec<&str> = layers.iter().map(|l| l.digest.as_str()).collect();
    let config = serde_json::to_vec(&json!({
        "architecture": "", "os": "", "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap_or_default();
    let config_digest = format!("sha256:{}", crate::digest::sha256_hex(&config));

    client
        .push_blob(&sig_ref, payload, &payload_digest)
        .await
        .map_err(|e| registry_error(url, e))?;
    client
        .push_blob(&sig_ref, config.clone(), &config_digest)
        .await
        .map_err(|e| registry_error(url, e))?;
    let manifest = OciImageManifest {
        schema_version: 2,
        media_type: Some(OCI_IMAGE_MEDIA_TYPE.to_owned()),
        config: OciDescriptor {
            media_type: "application/vnd.oci.image.config.v1+json".to_owned(),
            digest: config_digest,
            size: config.len() as i64,
            ..Default::default()
        },
        layers,
        ..Default::default()
    };
    client
        .push_manifest(&sig_ref, &manifest.into())
        .await
        .map_err(|e| registry_error(url, e))?;
    Ok(())
}

#[cfg(test)]
mod tests;
