//! `verificationKey`: a PEM public key (ECDSA P-256, cosign's default, or Ed25519) and the
//! check of a signature over some bytes. ECDSA signatures are DER over SHA-256 of the
//! message (what `openssl dgst -sha256 -sign` and cosign produce); Ed25519 signatures are the
//! raw 64 bytes over the message itself.

use base64::{engine::general_purpose::STANDARD, Engine};
use p256::pkcs8::DecodePublicKey;

/// A key a signature is checked against.
#[derive(Debug, Clone)]
pub enum PublicKey {
    /// ECDSA on P-256 with SHA-256.
    P256(p256::ecdsa::VerifyingKey),
    /// Ed25519.
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl PublicKey {
    /// Parses a `-----BEGIN PUBLIC KEY-----` PEM (SubjectPublicKeyInfo).
    pub fn from_pem(pem: &str) -> Result<Self, crate::FetchError> {
        let pem = pem.trim();
        if !pem.starts_with("-----BEGIN PUBLIC KEY-----") {
            return Err(crate::FetchError::VerificationKey {
                reason: "expected a PEM block starting with -----BEGIN PUBLIC KEY-----".into(),
            });
        }
        if let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_pem(pem) {
            return Ok(PublicKey::P256(key));
        }
        if let Ok(key) = ed25519_dalek::VerifyingKey::from_public_key_pem(pem) {
            return Ok(PublicKey::Ed25519(key));
        }
        Err(crate::FetchError::VerificationKey {
            reason: "the PEM public key is neither ECDSA P-256 nor Ed25519".into(),
        })
    }

    /// The algorithm, for messages.
    pub fn algorithm(&self) -> &'static str {
        match self {
            PublicKey::P256(_) => "ECDSA P-256",
            PublicKey::Ed25519(_) => "Ed25519",
        }
    }

    /// Checks `signature` (DER ECDSA or raw Ed25519) over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), String> {
        use p256::ecdsa::signature::Verifier;
        match self {
            PublicKey::P256(key) => {
                let sig = p256::ecdsa::Signature::from_der(signature)
                    .map_err(|_| "the signature is not a DER-encoded ECDSA P-256 signature".to_owned())?;
                let normalized = sig.normalize_s().unwrap_or(sig);
                key.verify(message, &sig)
                    .or_else(|_| key.verify(message, &normalized))
                    .map_err(|_| "the ECDSA P-256 signature does not match the key and content".to_owned())
            }
            PublicKey::Ed25519(key) => {
                let sig = ed25519_dalek::Signature::from_slice(signature).map_err(|_| {
                    format!("an Ed25519 signature has 64 bytes, this one {}", signature.len())
                })?;
                key.verify(message, &sig)
                    .map_err(|_| "the Ed25519 signature does not match the key and content".to_owned())
            }
        }
    }
}

/// Decodes a detached `.sig` file: base64 text (as `cosign sign-blob` writes), or the raw
/// signature bytes (as `openssl dgst -sign` / `openssl pkeyutl -sign` write).
pub(crate) fn decode_signature_file(content: &[u8]) -> Vec<u8> {
    let text: Vec<u8> = content
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    match STANDARD.decode(&text) {
        Ok(decoded) if !decoded.is_empty() => decoded,
        _ => content.to_vec(),
    }
}

#[cfg(test)]
mod tests;
