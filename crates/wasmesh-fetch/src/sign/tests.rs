use super::*;

#[test]
fn openssl_style_pem_private_keys_are_read() {
    // PKCS#8 and SEC1 encodings of one P-256 key, and PKCS#8 Ed25519, made by our own encoder.
    use p256::pkcs8::EncodePrivateKey;
    let p256_key = p256::ecdsa::SigningKey::from_slice(&[3u8; 32]).unwrap();
    let pkcs8 = p256_key.to_pkcs8_pem(LineEnding::LF).unwrap();
    assert!(matches!(SigningKey::from_pem(&pkcs8), Ok(SigningKey::P256(_))));
    let sec1 = p256::SecretKey::from(&p256_key)
        .to_sec1_pem(LineEnding::LF)
        .unwrap();
    assert!(matches!(SigningKey::from_pem(&sec1), Ok(SigningKey::P256(_))));
    let ed = ed25519_dalek::SigningKey::from_bytes(&[4u8; 32])
        .to_pkcs8_pem(LineEnding::LF)
        .unwrap();
    assert!(matches!(SigningKey::from_pem(&ed), Ok(SigningKey::Ed25519(_))));
}

#[test]
fn public_keys_and_garbage_are_not_signing_keys() {
    let key = SigningKey::from_pem(
        &p256::ecdsa::SigningKey::from_slice(&[3u8; 32])
            .map(SigningKey::P256)
            .unwrap()
            .public_key_pem(),
    );
    assert!(key.is_err());
    let err = SigningKey::from_pem("-----BEGIN ENCRYPTED PRIVATE KEY-----\n...")
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("encrypted"), "{err}");
}
