use super::*;
use crate::SigningKey;

fn keys() -> Vec<SigningKey> {
    vec![
        SigningKey::P256(p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap()),
        SigningKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[9u8; 32])),
    ]
}

#[test]
fn a_signature_verifies_with_its_key_only_and_over_its_content_only() {
    let [p256, ed] = <[SigningKey; 2]>::try_from(keys()).ok().unwrap();
    for (signer, other) in [(&p256, &ed), (&ed, &p256)] {
        let key = PublicKey::from_pem(&signer.public_key_pem()).unwrap();
        let sig = signer.sign(b"module bytes");
        assert_eq!(key.verify(b"module bytes", &sig), Ok(()), "{}", key.algorithm());
        assert!(
            key.verify(b"module bytez", &sig).is_err(),
            "tampered content, {}",
            key.algorithm()
        );
        let other_key = PublicKey::from_pem(&other.public_key_pem()).unwrap();
        assert!(
            other_key.verify(b"module bytes", &sig).is_err(),
            "wrong key, {}",
            key.algorithm()
        );
    }
}

#[test]
fn keys_that_are_not_pem_public_keys_are_refused() {
    let err = PublicKey::from_pem("ssh-ed25519 AAAA").unwrap_err().to_string();
    assert!(err.contains("BEGIN PUBLIC KEY"), "{err}");
    let rsa_like = "-----BEGIN PUBLIC KEY-----\nMFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf\n9Cnzj4p4WGeKLs1Pt8QuKUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ==\n-----END PUBLIC KEY-----";
    let err = PublicKey::from_pem(rsa_like).unwrap_err().to_string();
    assert!(err.contains("neither ECDSA P-256 nor Ed25519"), "{err}");
}

#[test]
fn signature_files_may_be_base64_text_or_raw() {
    assert_eq!(decode_signature_file(b"AQID\n"), vec![1, 2, 3]);
    let raw = vec![0x30, 0x45, 0x02, 0xff, 0x00];
    assert_eq!(decode_signature_file(&raw), raw);
}
