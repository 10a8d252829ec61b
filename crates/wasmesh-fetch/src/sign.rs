//! Signing, for `wasmesh sign`: a detached signature over a module file, and a cosign-style
//! signature for a pushed image (see [`crate::cosign`]).

use crate::{
    cosign,
    error::FetchError,
    push::{auth_for, registry_client, PushOptions},
    source::Source,
    verify::PublicKey,
};
use p256::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};

/// A private key that signs what [`PublicKey`] verifies.
pub enum SigningKey {
    /// ECDSA on P-256 with SHA-256; signatures are DER.
    P256(p256::ecdsa::SigningKey),
    /// Ed25519; signatures are the raw 64 bytes.
    Ed25519(ed25519_dalek::SigningKey),
}

impl SigningKey {
    /// Parses a PEM private key: PKCS#8 (`BEGIN PRIVATE KEY`, as `openssl genpkey` writes)
    /// for either algorithm, or SEC1 (`BEGIN EC PRIVATE KEY`) for P-256.
    pub fn from_pem(pem: &str) -> Result<Self, FetchError> {
        let pem = pem.trim();
        if pem.contains("ENCRYPTED") {
            return Err(FetchError::SigningKey {
                reason: "encrypted private keys are not supported; decrypt it with openssl pkey first".into(),
            });
        }
        if let Ok(key) = p256::ecdsa::SigningKey::from_pkcs8_pem(pem) {
            return Ok(SigningKey::P256(key));
        }
        if let Ok(secret) = p256::SecretKey::from_sec1_pem(pem) {
            return Ok(SigningKey::P256(secret.into()));
        }
        if let Ok(key) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
            return Ok(SigningKey::Ed25519(key));
        }
        Err(FetchError::SigningKey {
            reason: "not a PEM ECDSA P-256 or Ed25519 private key".into(),
        })
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        use p256::ecdsa::signature::Signer;
        match self {
            SigningKey::P256(key) => {
                let sig: p256::ecdsa::Signature = key.sign(message);
                sig.to_der().as_bytes().to_vec()
            }
            SigningKey::Ed25519(key) => key.sign(message).to_bytes().to_vec(),
        }
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        match self {
            SigningKey::P256(key) => PublicKey::P256(*key.verifying_key()),
            SigningKey::Ed25519(key) => PublicKey::Ed25519(key.verifying_key()),
        }
    }

    /// The matching public key as PEM, ready for `verificationKey`.
    pub fn public_key_pem(&self) -> String {
        let pem = match self {
            SigningKey::P256(key) => key.verifying_key().to_public_key_pem(LineEnding::LF),
            SigningKey::Ed25519(key) => key.verifying_key().to_public_key_pem(LineEnding::LF),
        };
        pem.unwrap_or_default()
    }
}

/// The content of a detached `<module>.sig` file for `module`: the base64 signature and a
/// newline, as `cosign sign-blob` writes it.
pub fn detached_signature(key: &SigningKey, module: &[u8]) -> String {
    use base64::Engine;
    let mut text = base64::engine::general_purpose::STANDARD.encode(key.sign(module));
    text.push('\n');
    text
}

/// Signs the image at `reference` cosign-style: resolves its manifest digest, signs the
/// simple-signing payload, and pushes it under the `sha256-<digest>.sig` tag, reaching the
/// registry as `opts` says (its `format` is not used). Returns the manifest digest signed.
pub async fn sign_image(reference: &str, key: &SigningKey, opts: &PushOptions) -> Result<String, FetchError> {
    let Source::Oci(image) = Source::parse(reference)? else {
        return Err(FetchError::InvalidUrl {
            url: reference.to_owned(),
            reason: "not an OCI image reference".into(),
        });
    };
    let url = reference.to_owned();
    let client = registry_client(opts);
    let registry_auth = auth_for(&image, opts.auth.as_ref());
    let digest = match image.digest() {
        Some(d) => d.to_owned(),
        None => client
            .fetch_manifest_digest(&image, &registry_auth)
            .await
            .map_err(|e| crate::oci::registry_error(&url, e))?,
    };
    cosign::push_signature(&client, &image, &registry_auth, &digest, key, &url).await?;
    Ok(digest)
}

#[cfg(test)]
mod tests;
