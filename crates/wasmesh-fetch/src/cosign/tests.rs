use super::*;

fn image() -> Reference {
    "127.0.0.1:5000/plugins/auth:v1".parse().unwrap()
}

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn signed(key: &SigningKey, digest: &str) -> CosignSignature {
    let payload = payload_for(&image(), digest);
    CosignSignature {
        signature: key.sign(&payload),
        payload,
    }
}

#[test]
fn the_signature_tag_is_cosigns() {
    assert_eq!(
        signature_tag(DIGEST),
        "sha256-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.sig"
    );
}

#[test]
fn a_payload_signed_for_this_digest_verifies() {
    let key = SigningKey::P256(p256::ecdsa::SigningKey::from_slice(&[5u8; 32]).unwrap());
    assert_eq!(
        verify_signatures(&key.public_key(), &[signed(&key, DIGEST)], DIGEST),
        Ok(())
    );
    let doc: serde_json::Value = serde_json::from_slice(&payload_for(&image(), DIGEST)).unwrap();
    assert_eq!(
        doc["critical"]["identity"]["docker-reference"],
        "127.0.0.1:5000/plugins/auth"
    );
}

#[test]
fn a_signature_for_another_digest_a_wrong_key_or_none_is_refused() {
    let key = SigningKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[6u8; 32]));
    let other = SigningKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[8u8; 32]));
    let other_digest = DIGEST.replace("0123", "4567");
    let err = verify_signatures(&key.public_key(), &[signed(&key, &other_digest)], DIGEST).unwrap_err();
    assert!(err.contains("is for sha256:4567"), "{err}");
    let err = verify_signatures(&key.public_key(), &[signed(&other, DIGEST)], DIGEST).unwrap_err();
    assert!(err.contains("does not match the key"), "{err}");
    let err = verify_signatures(&key.public_key(), &[], DIGEST).unwrap_err();
    assert!(err.contains("no signature found"), "{err}");
    // One good signature among bad ones is enough.
    assert_eq!(
        verify_signatures(
            &key.public_key(),
            &[signed(&other, DIGEST), signed(&key, DIGEST)],
            DIGEST
        ),
        Ok(())
    );
}
