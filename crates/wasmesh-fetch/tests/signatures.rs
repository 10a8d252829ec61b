//! Cosign-style signatures on OCI modules: made by `sign_image` with an openssl key, and
//! independently (payload written by the test, signed by openssl, pushed by skopeo); valid,
//! wrong key, tampered image and missing signature.

use crate::support;

use support::{
    fetch::{no_progress, options, push_opts, request},
    module,
    openssl::KeyPair,
    registry::Registry,
    skopeo::Layout,
};
use wasmesh_fetch::{push_module, sign_image, Fetcher, ModuleRequest, PushFormat, SigningKey};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cosign_style_signatures_valid_wrong_key_tampered_and_missing() {
    let registry = Registry::start();
    let key = KeyPair::generate(false);
    let other = KeyPair::generate(false);
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(options(dir.path())).unwrap();
    let signed = |url: String, pem: &str| ModuleRequest {
        verification_key: Some(pem.to_owned()),
        ..request(url)
    };

    // Signed by wasmesh (sign_image) with a key openssl made.
    let m = module("signed");
    let url = registry.url("signed/p:v1");
    push_module(&url, &m, &push_opts(PushFormat::Wasm), no_progress())
        .await
        .unwrap();
    let signing_key = SigningKey::from_pem(&key.private_pem).unwrap();
    let digest = sign_image(&url, &signing_key, &push_opts(PushFormat::Wasm))
        .await
        .unwrap();
    let got = fetcher
        .fetch(&signed(url.clone(), &key.public_pem))
        .await
        .unwrap();
    assert!(got.signature_verified && got.bytes[..] == m[..]);
    assert_eq!(got.manifest_digest.as_deref(), Some(digest.as_str()));
    let (_, _, sig_digest) = registry.raw_manifest("signed/p", &format!("sha256-{}.sig", &digest[7..]), None);
    assert!(
        sig_digest.starts_with("sha256:"),
        "the signature lives under cosign's tag"
    );

    let err = fetcher
        .fetch(&signed(url.clone(), &other.public_pem))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("signature check failed: none of 1 signature(s) is valid"),
        "{err}"
    );

    // Tampered: new content under the signed tag has a digest nobody signed.
    push_module(&url, &module("evil"), &push_opts(PushFormat::Wasm), no_progress())
        .await
        .unwrap();
    let fresh = Fetcher::new(options(&dir.path().join("fresh"))).unwrap();
    let err = fresh
        .fetch(&signed(url.clone(), &key.public_pem))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no signature found (tag sha256-"), "{err}");

    // Missing: never signed.
    let unsigned = registry.url("unsigned/p:v1");
    push_module(&unsigned, &m, &push_opts(PushFormat::Wasm), no_progress())
        .await
        .unwrap();
    let err = fetcher
        .fetch(&signed(unsigned, &key.public_pem))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no signature found"), "{err}");

    // Signed independently: the test writes the payload, openssl signs it, skopeo pushes it.
    for ed25519 in [false, true] {
        let key = KeyPair::generate(ed25519);
        let mut layout = Layout::new();
        let m = module(&format!("independent-{ed25519}"));
        let repo = format!("indep/p{}", u8::from(ed25519));
        layout.wasm_artifact("v1", &m, true);
        layout.copy_to("v1", &format!("{}/{repo}:v1", registry.addr), false, None);
        let (_, _, digest) = registry.raw_manifest(&repo, "v1", None);
        let payload = format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"{}/{repo}"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":{{"creator":"openssl"}}}}"#,
            registry.addr
        );
        let sig_tag = format!("sha256-{}.sig", &digest[7..]);
        layout.cosign_signature(&sig_tag, payload.as_bytes(), &key.sign_base64(payload.as_bytes()));
        layout.copy_to(
            &sig_tag,
            &format!("{}/{repo}:{sig_tag}", registry.addr),
            false,
            None,
        );
        let got = fetcher
            .fetch(&signed(registry.url(&format!("{repo}:v1")), &key.public_pem))
            .await;
        assert!(got.unwrap().signature_verified, "ed25519={ed25519}");
    }
}
