//! Reaching a registry: pull secrets right, wrong and missing (htpasswd basic auth and a
//! token service), the SSRF check of token realms, plain HTTP only when allowed, and HTTPS
//! behind a private CA.

use crate::support;

use base64::{engine::general_purpose::STANDARD, Engine};
use support::{
    fetch::{no_progress, options, push_opts, request},
    module,
    registry::Registry,
    skopeo::Layout,
};
use wasmesh_fetch::{push_module, Credentials, DockerConfigJson, FetchError, Fetcher, PushFormat};

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
