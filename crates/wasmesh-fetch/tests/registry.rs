//! Fetching `oci://` modules from a real registry (Debian's `docker-registry`) on loopback:
//! every image format, pushed by `push_module` and independently by `skopeo`; tags and
//! digests; pull secrets; pull policy; the cache across a registry shutdown; digest checks;
//! broken blobs; cosign-style signatures made with openssl.

mod support;

use base64::{engine::general_purpose::STANDARD, Engine};
use std::{sync::Arc, time::Duration};
use support::{module, openssl::KeyPair, registry::Registry, sha256sum, skopeo::Layout};
use wasmesh_fetch::{
    push_module, sign_image, Credentials, DockerConfigJson, FetchError, FetchOptions, Fetcher, ModuleRequest,
    PullPolicy, PushFormat, PushOptions, SigningKey,
};

fn options(cache: &std::path::Path) -> FetchOptions {
    let mut opts = FetchOptions::new(cache);
    opts.insecure_registries = vec!["*".into()];
    opts.initial_backoff = Duration::from_millis(20);
    opts.http_attempts = 2;
    // No user docker config leaks into the tests.
    opts.docker_config = Some(cache.join("no-docker-config.json"));
    opts
}

fn request(url: String) -> ModuleRequest {
    ModuleRequest {
        url,
        resource_name: "default.plugin".into(),
        resource_version: "1".into(),
        ..Default::default()
    }
}

fn push_opts(format: PushFormat) -> PushOptions {
    PushOptions {
        format,
        insecure: true,
        auth: Some(DockerConfigJson::default()),
        ..Default::default()
    }
}

fn no_progress() -> Arc<dyn Fn(u64, u64) + Send + Sync> {
    Arc::new(|_, _| {})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_pushed_by_wasmesh_is_pulled_by_tag_and_by_digest() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(options(dir.path())).unwrap();
    for (i, format) in [
        PushFormat::Wasm,
        PushFormat::WasmSingleLayer,
        PushFormat::OciImage,
        PushFormat::DockerImage,
    ]
    .into_iter()
    .enumerate()
    {
        let m = module(&format!("format-{i}"));
        let url = registry.url(&format!("plugins/f{i}:v1"));
        let pushed = push_module(&url, &m, &push_opts(format), no_progress())
            .await
            .unwrap();
        // The registry agrees on the digest we report.
        let (content_type, _, digest) = registry.raw_manifest(&format!("plugins/f{i}"), "v1", None);
        assert_eq!(pushed.manifest_digest, digest, "{format:?}");
        let expected_type = if format == PushFormat::DockerImage {
            "application/vnd.docker.distribution.manifest.v2+json"
        } else {
            "application/vnd.oci.image.manifest.v1+json"
        };
        assert_eq!(content_type, expected_type);

        let by_tag = fetcher.fetch(&request(url)).await.unwrap();
        assert_eq!(by_tag.bytes[..], m[..], "{format:?}");
        assert_eq!(by_tag.manifest_digest.as_deref(), Some(digest.as_str()));
        let by_digest = fetcher
            .fetch(&request(format!("oci://{}", pushed.pinned_reference)))
            .await
            .unwrap();
        assert_eq!(by_digest.bytes[..], m[..], "{format:?}");
        assert_eq!(by_digest.sha256, sha256sum(&m));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_copied_by_skopeo_is_pulled() {
    let registry = Registry::start();
    let mut layout = Layout::new();
    let (a, b, c, d) = (
        module("two-layers"),
        module("one-layer"),
        module("oci-image"),
        module("docker-image"),
    );
    layout.wasm_artifact("two", &a, true);
    layout.wasm_artifact("one", &b, false);
    layout.image_with_plugin("oci", &c);
    layout.image_with_plugin("docker", &d);
    layout.copy_to("two", &format!("{}/skopeo/two:v1", registry.addr), false, None);
    layout.copy_to("one", &format!("{}/skopeo/one:v1", registry.addr), false, None);
    layout.copy_to("oci", &format!("{}/skopeo/oci:v1", registry.addr), false, None);
    layout.copy_to(
        "docker",
        &format!("{}/skopeo/docker:v1", registry.addr),
        true,
        None,
    );
    let (docker_type, _, _) = registry.raw_manifest("skopeo/docker", "v1", None);
    assert_eq!(
        docker_type,
        "application/vnd.docker.distribution.manifest.v2+json"
    );

    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(options(dir.path())).unwrap();
    for (repo, m) in [("two", &a), ("one", &b), ("oci", &c), ("docker", &d)] {
        let (_, _, digest) = registry.raw_manifest(&format!("skopeo/{repo}"), "v1", None);
        let mut req = request(registry.url(&format!("skopeo/{repo}:v1")));
        req.sha256 = Some(digest.clone());
        let got = fetcher
            .fetch(&req)
            .await
            .unwrap_or_else(|e| panic!("{repo}: {e}"));
        assert_eq!(got.bytes[..], m[..], "{repo}");
        let pinned = registry.url(&format!("skopeo/{repo}@{digest}"));
        assert_eq!(
            fetcher.fetch(&request(pinned)).await.unwrap().bytes[..],
            m[..],
            "{repo}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_secrets_right_wrong_and_missing() {
    let registry = Registry::start_with_auth("alice", "s3cret-pw");
    let m = module("private");
    let mut layout = Layout::new();
    layout.wasm_artifact("v1", &m, true);
    layout.copy_to(
        "v1",
        &format!("{}/private/p:v1", registry.addr),
        false,
        Some(("alice", "s3cret-pw")),
    );

    let secret = |password: &str| {
        let json = format!(
            r#"{{"auths":{{"{}":{{"auth":"{}"}}}}}}"#,
            registry.addr,
            STANDARD.encode(format!("alice:{password}"))
        );
        DockerConfigJson::from_base64(&STANDARD.encode(json)).unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(options(dir.path())).unwrap();
    let url = registry.url("private/p:v1");

    let mut req = request(url.clone());
    req.pull_secret = Some(secret("wrong-pw"));
    let err = fetcher.fetch(&req).await.unwrap_err();
    assert!(matches!(err, FetchError::Unauthorized { .. }), "{err}");
    assert!(!format!("{err} {err:?}").contains("wrong-pw"), "{err:?}");

    let err = fetcher.fetch(&request(url.clone())).await.unwrap_err();
    assert!(matches!(err, FetchError::Unauthorized { .. }), "{err}");
    assert!(err.to_string().contains("check imagePullSecret"), "{err}");

    req.pull_secret = Some(secret("s3cret-pw"));
    let got = fetcher.fetch(&req).await.unwrap();
    assert_eq!(got.bytes[..], m[..]);

    // And wasmesh's own push with credentials.
    let mut opts = push_opts(PushFormat::Wasm);
    opts.auth = Some(DockerConfigJson::single(
        &registry.addr,
        Credentials::Basic {
            username: "alice".into(),
            password: "s3cret-pw".into(),
        },
    ));
    push_module(&registry.url("private/q:v1"), &m, &opts, no_progress())
        .await
        .unwrap();
    opts.auth = None;
    let err = push_module(&registry.url("private/q:v2"), &m, &opts, no_progress())
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Unauthorized { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_is_always_pulled_again_when_the_resource_changes() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(options(dir.path())).unwrap();
    let (old, new) = (module("old"), module("new"));
    let opts = push_opts(PushFormat::Wasm);
    push_module(&registry.url("p:latest"), &old, &opts, no_progress())
        .await
        .unwrap();
    push_module(&registry.url("p:v1"), &old, &opts, no_progress())
        .await
        .unwrap();
    let at = |url: String, version: &str, policy| ModuleRequest {
        resource_version: version.into(),
        pull_policy: policy,
        ..request(url)
    };
    assert_eq!(
        fetcher
            .fetch(&at(registry.url("p:latest"), "1", PullPolicy::Unspecified))
            .await
            .unwrap()
            .bytes[..],
        old[..]
    );
    assert_eq!(
        fetcher
            .fetch(&at(registry.url("p:v1"), "1", PullPolicy::Unspecified))
            .await
            .unwrap()
            .bytes[..],
        old[..]
    );

    push_module(&registry.url("p:latest"), &new, &opts, no_progress())
        .await
        .unwrap();
    push_module(&registry.url("p:v1"), &new, &opts, no_progress())
        .await
        .unwrap();
    // Same resource version: the cached module stays, even for :latest (Istio re-pulls on change only).
    let same = fetcher
        .fetch(&at(registry.url("p:latest"), "1", PullPolicy::Unspecified))
        .await
        .unwrap();
    assert!(same.from_cache && same.bytes[..] == old[..]);
    // The plugin changed: :latest (Always by default) is pulled again, v1 (IfNotPresent) is not.
    let latest = fetcher
        .fetch(&at(registry.url("p:latest"), "2", PullPolicy::Unspecified))
        .await
        .unwrap();
    assert!(!latest.from_cache && latest.bytes[..] == new[..]);
    let v1 = fetcher
        .fetch(&at(registry.url("p:v1"), "2", PullPolicy::Unspecified))
        .await
        .unwrap();
    assert!(v1.from_cache && v1.bytes[..] == old[..]);
    // An explicit Always on v1 pulls again on change.
    let v1 = fetcher
        .fetch(&at(registry.url("p:v1"), "3", PullPolicy::Always))
        .await
        .unwrap();
    assert!(!v1.from_cache && v1.bytes[..] == new[..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_outlives_the_registry_and_a_restart() {
    let mut registry = Registry::start();
    let m = module("durable");
    let url = registry.url("p:v1");
    push_module(&url, &m, &push_opts(PushFormat::OciImage), no_progress())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    {
        let fetcher = Fetcher::new(options(dir.path())).unwrap();
        assert!(!fetcher.fetch(&request(url.clone())).await.unwrap().from_cache);
    }
    registry.stop();
    let fetcher = Fetcher::new(options(dir.path())).unwrap();
    let got = fetcher.fetch(&request(url.clone())).await.unwrap();
    assert!(got.from_cache && got.bytes[..] == m[..]);
    let err = fetcher.fetch(&request(registry.url("p:v2"))).await.unwrap_err();
    assert!(matches!(err, FetchError::Registry { .. }), "{err}");
    assert!(err.to_string().contains(&registry.url("p:v2")), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digests_that_disagree_load_nothing_and_say_both() {
    let registry = Registry::start();
    let m = module("pinned");
    let url = registry.url("p:v1");
    let pushed = push_module(&url, &m, &push_opts(PushFormat::Wasm), no_progress())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(options(dir.path())).unwrap();
    let wrong = "e".repeat(64);

    let mut req = request(url.clone());
    req.sha256 = Some(wrong.clone());
    let err = fetcher.fetch(&req).await.unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "module {url}: image manifest digest mismatch: expected sha256:{wrong}, got {}",
            pushed.manifest_digest
        )
    );
    // The sha256 of the module bytes is not the manifest digest (as in Istio).
    req.sha256 = Some(sha256sum(&m));
    assert!(fetcher.fetch(&req).await.is_err());

    let mut req = request(format!("oci://{}", pushed.pinned_reference));
    req.sha256 = Some(wrong.clone());
    let err = fetcher.fetch(&req).await.unwrap_err().to_string();
    assert!(
        err.contains("sha256 field and the url's @sha256 digest mismatch"),
        "{err}"
    );
    assert_eq!(
        fetcher
            .metrics()
            .snapshot()
            .remote_fetches
            .get("checksum_mismatched"),
        Some(&2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_and_non_wasm_blobs_are_refused() {
    let registry = Registry::start();
    let mut layout = Layout::new();
    let m = module("whole-module");
    layout.wasm_artifact("truncated", &m[..m.len() - 3], true);
    layout.wasm_artifact("text", b"#!/bin/sh\necho not a module\n", true);
    layout.copy_to(
        "truncated",
        &format!("{}/bad/truncated:v1", registry.addr),
        false,
        None,
    );
    layout.copy_to("text", &format!("{}/bad/text:v1", registry.addr), false, None);
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(options(dir.path())).unwrap();
    let err = fetcher
        .fetch(&request(registry.url("bad/truncated:v1")))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not a valid Wasm module: truncated: section 0"),
        "{err}"
    );
    let err = fetcher
        .fetch(&request(registry.url("bad/text:v1")))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not start with the Wasm magic"), "{err}");
    assert_eq!(fetcher.metrics().snapshot().cache_entries, 0);
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_registries_need_the_insecure_option() {
    let registry = Registry::start();
    let url = registry.url("p:v1");
    push_module(&url, &module("x"), &push_opts(PushFormat::Wasm), no_progress())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path());
    opts.insecure_registries = vec!["127.0.0.1:1".into()];
    let fetcher = Fetcher::new(opts).unwrap();
    let err = fetcher.fetch(&request(url.clone())).await.unwrap_err();
    assert!(matches!(err, FetchError::Registry { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("if this registry serves plain HTTP, list it in WASM_INSECURE_REGISTRIES"),
        "{err}"
    );
    let mut opts = options(&dir.path().join("2"));
    opts.insecure_registries = vec![registry.addr.clone()];
    assert!(Fetcher::new(opts).unwrap().fetch(&request(url)).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_auth_with_a_token_service() {
    let tokens = support::token::start("alice", "t0ken-pw").await;
    let registry = Registry::start_with_token(&tokens.realm(), &tokens.cert_pem);
    let m = module("token-auth");
    let mut layout = Layout::new();
    layout.wasm_artifact("v1", &m, true);
    layout.copy_to(
        "v1",
        &format!("{}/tok/p:v1", registry.addr),
        false,
        Some(("alice", "t0ken-pw")),
    );

    let secret = |password: &str| {
        DockerConfigJson::single(
            &registry.addr,
            Credentials::Basic {
                username: "alice".into(),
                password: password.into(),
            },
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(options(dir.path())).unwrap();
    let mut req = request(registry.url("tok/p:v1"));
    req.pull_secret = Some(secret("t0ken-pw"));
    let before = tokens.server.hits();
    assert_eq!(fetcher.fetch(&req).await.unwrap().bytes[..], m[..]);
    assert!(tokens.server.hits() > before, "the pull asked the token service");

    let mut wrong = request(registry.url("tok/p:v1"));
    wrong.pull_secret = Some(secret("nope-pw"));
    let fresh = Fetcher::new(options(&dir.path().join("fresh"))).unwrap();
    let err = fresh.fetch(&wrong).await.unwrap_err();
    assert!(matches!(err, FetchError::Unauthorized { .. }), "{err}");
    assert!(!format!("{err:?}").contains("nope-pw"));

    // wasmesh's push goes through the token service too.
    let mut opts = push_opts(PushFormat::OciImage);
    opts.auth = Some(secret("t0ken-pw"));
    push_module(&registry.url("tok/q:v1"), &m, &opts, no_progress())
        .await
        .unwrap();
    let mut req = request(registry.url("tok/q:v1"));
    req.pull_secret = Some(secret("t0ken-pw"));
    assert_eq!(fresh.fetch(&req).await.unwrap().bytes[..], m[..]);
}

#[tokio::test]
async fn a_token_realm_on_a_blocked_address_is_refused() {
    let fake = support::http_server::serve(|_, _| {
        let mut response = support::http_server::bytes(401, "");
        response.headers_mut().insert(
            "www-authenticate",
            r#"Bearer realm="http://169.254.169.254/token",service="x""#
                .parse()
                .unwrap(),
        );
        response
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(options(dir.path())).unwrap();
    let err = fetcher
        .fetch(&request(format!("oci://{}/p:v1", fake.addr)))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::BlockedAddress { .. }), "{err}");
    assert!(err.to_string().contains("169.254.169.254"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_index_leads_to_its_module() {
    let registry = Registry::start();
    let mut layout = Layout::new();
    let m = module("indexed");
    layout.wasm_artifact("wasi", &m, true);
    let child = layout.descriptor("wasi");
    layout.index(
        "multi",
        &[(
            "wasi",
            serde_json::json!({"os": "wasip1", "architecture": "wasm"}),
        )],
    );
    layout.copy_with(
        "multi",
        &format!("{}/idx/p:v1", registry.addr),
        false,
        None,
        &["--all"],
    );
    let (content_type, _, _) =
        registry.raw_manifest_accepting("idx/p", "v1", "application/vnd.oci.image.index.v1+json");
    assert_eq!(content_type, "application/vnd.oci.image.index.v1+json");

    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(options(dir.path())).unwrap();
    let got = fetcher.fetch(&request(registry.url("idx/p:v1"))).await.unwrap();
    assert_eq!(got.bytes[..], m[..]);
    assert_eq!(
        got.manifest_digest.as_deref(),
        child["digest"].as_str(),
        "the digest of the module's manifest"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_registry_behind_a_private_ca() {
    let (ca, cert, key) = support::openssl::server_certificate();
    let registry = Registry::start_with_tls(&cert, &key);
    let m = module("tls-registry");
    let mut layout = Layout::new();
    layout.wasm_artifact("v1", &m, true);
    layout.copy_to("v1", &format!("{}/tls/p:v1", registry.addr), false, None);

    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(&dir.path().join("a"));
    opts.insecure_registries.clear();
    let err = Fetcher::new(opts)
        .unwrap()
        .fetch(&request(registry.url("tls/p:v1")))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");

    let mut opts = options(&dir.path().join("b"));
    opts.insecure_registries.clear();
    opts.extra_ca_certificates = vec![ca.into_bytes()];
    let got = Fetcher::new(opts)
        .unwrap()
        .fetch(&request(registry.url("tls/p:v1")))
        .await
        .unwrap();
    assert_eq!(got.bytes[..], m[..]);
}
