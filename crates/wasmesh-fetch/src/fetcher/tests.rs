use super::*;

#[tokio::test]
async fn file_modules_are_checked_and_signed_files_verified() {
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(FetchOptions::new(dir.path().join("cache"))).unwrap();
    let module = b"\0asm\x01\0\0\0".to_vec();
    let path = dir.path().join("p.wasm");
    std::fs::write(&path, &module).unwrap();
    let url = format!("file://{}", path.display());
    let got = fetcher
        .fetch(&ModuleRequest {
            url: url.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(&got.bytes[..], &module[..]);
    assert!(!got.from_cache);

    let wrong = ModuleRequest {
        url: url.clone(),
        sha256: Some("0".repeat(64)),
        ..Default::default()
    };
    let err = fetcher.fetch(&wrong).await.unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "expected sha256:{}, got sha256:{}",
            "0".repeat(64),
            sha256_hex(&module)
        )),
        "{err}"
    );

    let key = crate::SigningKey::P256(p256::ecdsa::SigningKey::from_slice(&[2u8; 32]).unwrap());
    let signed = ModuleRequest {
        url: url.clone(),
        verification_key: Some(key.public_key_pem()),
        ..Default::default()
    };
    let err = fetcher.fetch(&signed).await.unwrap_err().to_string();
    assert!(err.contains("no signature file"), "{err}");
    use base64::Engine;
    let sig = base64::engine::general_purpose::STANDARD.encode(key.sign(&module));
    std::fs::write(dir.path().join("p.wasm.sig"), sig).unwrap();
    assert!(fetcher.fetch(&signed).await.unwrap().signature_verified);

    std::fs::write(&path, b"not wasm at all").unwrap();
    let err = fetcher
        .fetch(&ModuleRequest {
            url,
            ..Default::default()
        })
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a valid Wasm module"), "{err}");
}
