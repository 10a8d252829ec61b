//! The check behind the `verify_signature` foreign function: a signature over `text`
//! with a public key given as DER (SubjectPublicKeyInfo) or PEM, and a hash named as
//! Envoy names them (`sha256`, `sha384`, `sha512`). ECDSA P-256 keys with DER-encoded
//! signatures; other key types are refused with a reason (docs/wasm-host.md).

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use sha2::{Digest, Sha256, Sha384, Sha512};

/// `Ok` when the signature holds; else why not, as a sentence for the plugin.
pub fn verify(
    hash: &str,
    der: Option<&[u8]>,
    pem: Option<&str>,
    signature: &[u8],
    text: &[u8],
) -> Result<(), String> {
    let digest = match hash {
        "sha256" => Sha256::digest(text).to_vec(),
        "sha384" => Sha384::digest(text).to_vec(),
        "sha512" => Sha512::digest(text).to_vec(),
        other => {
            return Err(format!(
                "hash function {other:?} is not supported (sha256, sha384, sha512 are)"
            ))
        }
    };
    let key = match (der, pem) {
        (Some(der), _) if !der.is_empty() => VerifyingKey::from_public_key_der(der),
        (_, Some(pem)) if !pem.is_empty() => VerifyingKey::from_public_key_pem(pem),
        _ => return Err("no public key was given (public_key or public_key_pem)".into()),
    }
    .map_err(|_| {
        "the public key is not an ECDSA P-256 key in DER or PEM (the only kind wasmesh verifies)".to_string()
    })?;
    let signature = Signature::from_der(signature)
        .map_err(|_| "the signature is not a DER-encoded ECDSA signature".to_string())?;
    key.verify_prehash(&digest, &signature)
        .map_err(|_| "the signature does not match".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::hazmat::PrehashSigner;
    use p256::ecdsa::SigningKey;
    use p256::pkcs8::{EncodePublicKey, LineEnding};

    #[test]
    fn verifies_p256_signatures_and_says_why_others_fail() {
        let signing = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let der = signing.verifying_key().to_public_key_der().unwrap();
        let pem = signing.verifying_key().to_public_key_pem(LineEnding::LF).unwrap();
        let digest = Sha256::digest(b"hello");
        let sig: Signature = signing.sign_prehash(&digest).unwrap();
        let sig = sig.to_der();
        assert_eq!(
            verify("sha256", Some(der.as_bytes()), None, sig.as_bytes(), b"hello"),
            Ok(())
        );
        assert_eq!(
            verify("sha256", None, Some(&pem), sig.as_bytes(), b"hello"),
            Ok(())
        );
        let wrong = verify("sha256", Some(der.as_bytes()), None, sig.as_bytes(), b"hellO").unwrap_err();
        assert!(wrong.contains("does not match"), "{wrong}");
        let hash = verify("md5", Some(der.as_bytes()), None, sig.as_bytes(), b"hello").unwrap_err();
        assert!(hash.contains("\"md5\""), "{hash}");
        let key = verify("sha256", Some(b"junk"), None, sig.as_bytes(), b"hello").unwrap_err();
        assert!(key.contains("P-256"), "{key}");
    }
}
