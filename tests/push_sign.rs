//! `wasmesh push` and `wasmesh sign` through the real binary, against Debian's
//! `docker-registry` on loopback, with keys made by openssl; what they produce is then
//! pulled and verified by the fetcher, and checked by openssl.

use crate::fetch_support as support;

use std::process::{Command, Output};
use support::{module, openssl::KeyPair, registry::Registry};
use wasmesh_fetch::{FetchOptions, Fetcher, ModuleRequest};

fn wasmesh(args: &[&str], password: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wasmesh"));
    cmd.args(args)
        .env_remove("WASMESH_REGISTRY_PASSWORD")
        .env("DOCKER_CONFIG", "/nonexistent");
    if let Some(p) = password {
        cmd.env("WASMESH_REGISTRY_PASSWORD", p);
    }
    cmd.output().expect("run wasmesh")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn fetcher(dir: &std::path::Path) -> Fetcher {
    let mut opts = FetchOptions::new(dir);
    opts.insecure_registries = vec!["*".into()];
    Fetcher::new(opts).unwrap()
}

fn request(url: String, key: Option<&str>) -> ModuleRequest {
    ModuleRequest {
        url,
        verification_key: key.map(str::to_owned),
        resource_name: "default.p".into(),
        resource_version: "1".into(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_writes_every_format_and_prints_the_digest_the_registry_serves() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let fetcher = fetcher(&dir.path().join("cache"));
    for format in ["wasm", "wasm-single-layer", "oci-image", "docker-image"] {
        let m = module(format);
        let file = dir.path().join(format!("{format}.wasm"));
        std::fs::write(&file, &m).unwrap();
        let url = registry.url(&format!("e2e/{format}:v1"));
        let out = wasmesh(
            &[
                "push",
                file.to_str().unwrap(),
                &url,
                "--format",
                format,
                "--plain-http",
            ],
            None,
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let (_, _, digest) = registry.raw_manifest(&format!("e2e/{format}"), "v1", None);
        let text = stdout(&out);
        assert!(text.contains(&format!("digest: {digest}\n")), "{text}");
        let pinned = format!("url: oci://{}/e2e/{format}@{digest}\n", registry.addr);
        assert!(text.contains(&pinned), "{text}");

        let got = fetcher.fetch(&request(url, None)).await.unwrap();
        assert_eq!(got.bytes[..], m[..], "{format}");
    }
    let out = wasmesh(&["push", "x.wasm", &registry.url("a:b"), "--format", "zip"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown format \"zip\""),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_with_credentials_and_without_them() {
    let registry = Registry::start_with_auth("alice", "pa55word");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.wasm");
    std::fs::write(&file, module("private")).unwrap();
    let file = file.to_str().unwrap();
    let url = registry.url("private/p:v1");
    let out = wasmesh(
        &["push", file, &url, "--plain-http", "--username", "alice"],
        Some("pa55word"),
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let out = wasmesh(
        &["push", file, &url, "--plain-http", "--username", "alice"],
        Some("wrong-pa55"),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("registry denied access") && !err.contains("wrong-pa55"),
        "{err}"
    );

    let out = wasmesh(&["push", file, &url, "--plain-http"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("registry denied access"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn sign_writes_a_detached_signature_openssl_and_the_fetcher_accept() {
    for ed25519 in [false, true] {
        let key = KeyPair::generate(ed25519);
        let dir = tempfile::tempdir().unwrap();
        let m = module("detached");
        let file = dir.path().join("p.wasm");
        std::fs::write(&file, &m).unwrap();
        let key_path = key.private_key_path();
        let out = wasmesh(
            &[
                "sign",
                "--key",
                key_path.to_str().unwrap(),
                file.to_str().unwrap(),
            ],
            None,
        );
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out), format!("wrote {}.sig\n", file.display()));

        use base64::Engine;
        let text = std::fs::read_to_string(dir.path().join("p.wasm.sig")).unwrap();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .unwrap();
        assert!(
            key.openssl_verifies(&m, &raw),
            "openssl rejects our signature (ed25519={ed25519})"
        );

        let out = wasmesh(
            &["sign", "--key", key_path.to_str().unwrap(), "--print-public-key"],
            None,
        );
        assert_eq!(stdout(&out).trim(), key.public_pem.trim());

        let fetcher = fetcher(&dir.path().join("cache"));
        let url = format!("file://{}", file.display());
        assert!(
            fetcher
                .fetch(&request(url.clone(), Some(&key.public_pem)))
                .await
                .unwrap()
                .signature_verified
        );
        std::fs::write(&file, module("detacheD")).unwrap();
        let err = fetcher
            .fetch(&request(url, Some(&key.public_pem)))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("signature check failed"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_pushes_a_cosign_style_signature_the_fetcher_verifies() {
    let registry = Registry::start();
    let key = KeyPair::generate(false);
    let other = KeyPair::generate(true);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.wasm");
    std::fs::write(&file, module("image")).unwrap();
    let url = registry.url("signed/p:v1");
    assert!(
        wasmesh(&["push", file.to_str().unwrap(), &url, "--plain-http"], None)
            .status
            .success()
    );
    let fetcher = fetcher(&dir.path().join("cache"));
    let err = fetcher
        .fetch(&request(url.clone(), Some(&key.public_pem)))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no signature found"), "{err}");

    let out = wasmesh(
        &[
            "sign",
            "--key",
            key.private_key_path().to_str().unwrap(),
            &url,
            "--plain-http",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, _, digest) = registry.raw_manifest("signed/p", "v1", None);
    assert!(
        stdout(&out).contains(&format!("signature tag: sha256-{}.sig", &digest[7..])),
        "{}",
        stdout(&out)
    );
    // A second signer adds a signature; both verify.
    let out = wasmesh(
        &[
            "sign",
            "--key",
            other.private_key_path().to_str().unwrap(),
            &url,
            "--plain-http",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));

    for pem in [&key.public_pem, &other.public_pem] {
        let got = fetcher.fetch(&request(url.clone(), Some(pem))).await.unwrap();
        assert!(got.signature_verified);
        assert_eq!(got.manifest_digest.as_deref(), Some(digest.as_str()));
    }
    let stranger = KeyPair::generate(false);
    let err = fetcher
        .fetch(&request(url, Some(&stranger.public_pem)))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("none of 2 signature(s) is valid"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_and_sign_reach_a_registry_behind_a_private_ca() {
    let (ca, cert, key_pem) = support::openssl::server_certificate();
    let registry = Registry::start_with_tls(&cert, &key_pem);
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca).unwrap();
    let file = dir.path().join("p.wasm");
    let m = module("tls");
    std::fs::write(&file, &m).unwrap();
    let url = registry.url("tls/p:v1");

    let out = wasmesh(&["push", file.to_str().unwrap(), &url], None);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the private CA is not trusted by default"
    );
    assert!(stderr(&out).contains("certificate"), "{}", stderr(&out));
    let ca_arg = ca_file.to_str().unwrap();
    let out = wasmesh(&["push", file.to_str().unwrap(), &url, "--ca-file", ca_arg], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let signer = KeyPair::generate(false);
    let key_arg = signer.private_key_path();
    let out = wasmesh(
        &[
            "sign",
            "--key",
            key_arg.to_str().unwrap(),
            &url,
            "--ca-file",
            ca_arg,
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let mut opts = FetchOptions::new(dir.path().join("cache"));
    opts.extra_ca_certificates = vec![ca.into_bytes()];
    let got = Fetcher::new(opts)
        .unwrap()
        .fetch(&request(url, Some(&signer.public_pem)))
        .await
        .unwrap();
    assert!(got.signature_verified && got.bytes[..] == m[..]);
}
