//! Fetching `http://` modules from real servers on loopback: retries, timeouts, the size
//! limit, unwrapping, sha256, detached signatures made by openssl, the cache and the SSRF
//! guard.

use crate::support;

use std::time::{Duration, Instant};
use support::{http_server, module, openssl::KeyPair, sha256sum};
use wasmesh_fetch::{FetchError, FetchOptions, Fetcher, ModuleRequest};

fn options(cache: &std::path::Path) -> FetchOptions {
    let mut opts = FetchOptions::new(cache);
    opts.initial_backoff = Duration::from_millis(20);
    opts.http_timeout = Duration::from_secs(10);
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

#[tokio::test]
async fn a_server_that_fails_twice_is_retried_until_it_answers() {
    let m = module("retry");
    let body = m.clone();
    let server = http_server::serve(move |_, n| {
        if n < 2 {
            http_server::bytes(503, "busy")
        } else {
            http_server::bytes(200, body.clone())
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(options(dir.path())).unwrap();
    let got = fetcher.fetch(&request(server.url("/p.wasm"))).await.unwrap();
    assert_eq!(&got.bytes[..], &m[..]);
    assert_eq!(got.sha256, sha256sum(&m));
    assert_eq!(server.hits(), 3);
    assert_eq!(
        fetcher.metrics().snapshot().remote_fetches.get("success"),
        Some(&1)
    );
}

#[tokio::test]
async fn not_found_and_not_implemented_are_not_retried() {
    let server =
        http_server::serve(|path, _| http_server::bytes(if path == "/gone.wasm" { 404 } else { 501 }, ""))
            .await;
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(options(dir.path())).unwrap();
    let err = fetcher
        .fetch(&request(server.url("/gone.wasm")))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "module {}: server answered HTTP 404 (after 1 attempt(s))",
            server.url("/gone.wasm")
        )
    );
    let err = fetcher.fetch(&request(server.url("/x.wasm"))).await.unwrap_err();
    assert!(
        matches!(
            err,
            FetchError::HttpStatus {
                status: 501,
                attempts: 1,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(server.hits(), 2);
    assert_eq!(
        fetcher
            .metrics()
            .snapshot()
            .remote_fetches
            .get("download_failure"),
        Some(&2)
    );
}

#[tokio::test]
async fn a_hanging_server_times_out_on_every_attempt() {
    let server = http_server::serve(|_, _| http_server::hang()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path());
    opts.http_timeout = Duration::from_millis(300);
    opts.http_attempts = 2;
    let fetcher = Fetcher::new(opts).unwrap();
    let started = Instant::now();
    let err = fetcher
        .fetch(&request(server.url("/slow.wasm")))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "module {}: no complete answer within 300ms (after 2 attempt(s))",
            server.url("/slow.wasm")
        )
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_300_mib_module_is_refused_at_the_default_limit() {
    let server = http_server::serve(|_, _| http_server::endless_module(300 << 20)).await;
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(options(dir.path())).unwrap();
    let err = fetcher
        .fetch(&request(server.url("/huge.wasm")))
        .await
        .unwrap_err();
    let FetchError::TooLarge { size, limit, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(*limit, 256 << 20);
    assert!(
        *size > *limit && *size < 258 << 20,
        "reading stopped soon after the limit: {size}"
    );
    assert!(
        err.to_string().contains("is more than the 268435456-byte limit"),
        "{err}"
    );
    assert_eq!(server.hits(), 1, "a size error is not retried");
}

#[tokio::test]
async fn gzip_and_tar_bodies_are_unwrapped_and_sha256_is_of_the_module() {
    let m = module("wrapped");
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("plugin.wasm"), &m).unwrap();
    let status = std::process::Command::new("tar")
        .args(["-czf", "p.tar.gz", "plugin.wasm"])
        .current_dir(work.path())
        .status()
        .unwrap();
    assert!(status.success());
    let tgz = std::fs::read(work.path().join("p.tar.gz")).unwrap();
    let server = http_server::serve(move |_, _| http_server::bytes(200, tgz.clone())).await;
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(options(dir.path())).unwrap();
    let mut req = request(server.url("/p.tar.gz"));
    req.sha256 = Some(format!("sha256:{}", sha256sum(&m)));
    let got = fetcher.fetch(&req).await.unwrap();
    assert_eq!(&got.bytes[..], &m[..]);

    let mut wrong = request(server.url("/other.tar.gz"));
    wrong.sha256 = Some("1".repeat(64));
    let err = fetcher.fetch(&wrong).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "module {}: module digest mismatch: expected sha256:{}, got sha256:{}",
            server.url("/other.tar.gz"),
            "1".repeat(64),
            sha256sum(&m)
        )
    );
    assert_eq!(
        fetcher
            .metrics()
            .snapshot()
            .remote_fetches
            .get("checksum_mismatched"),
        Some(&1)
    );
}

#[tokio::test]
async fn a_body_that_is_not_wasm_is_refused() {
    let server = http_server::serve(|_, _| http_server::bytes(200, "<html>login page</html>")).await;
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(options(dir.path())).unwrap();
    let err = fetcher.fetch(&request(server.url("/p.wasm"))).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("not a valid Wasm module: does not start with the Wasm magic"),
        "{err}"
    );
}

#[tokio::test]
async fn detached_signatures_from_openssl_are_verified() {
    for ed25519 in [false, true] {
        let key = KeyPair::generate(ed25519);
        let other = KeyPair::generate(ed25519);
        let m = module("signed");
        let tampered = module("signeD");
        let (good_sig, body, bad_body) = (key.sign_base64(&m), m.clone(), tampered.clone());
        let server = http_server::serve(move |path, _| match path {
            "/tampered.wasm" => http_server::bytes(200, bad_body.clone()),
            "/p.wasm" | "/unsigned.wasm" => http_server::bytes(200, body.clone()),
            "/p.wasm.sig" | "/tampered.wasm.sig" => http_server::bytes(200, good_sig.clone()),
            _ => http_server::bytes(404, ""),
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let fetcher = Fetcher::new(options(dir.path())).unwrap();
        let signed = |path: &str, pem: &str| {
            let mut r = request(server.url(path));
            r.verification_key = Some(pem.to_owned());
            r
        };
        let got = fetcher.fetch(&signed("/p.wasm", &key.public_pem)).await.unwrap();
        assert!(
            got.signature_verified && got.bytes[..] == m[..],
            "ed25519={ed25519}"
        );

        let err = fetcher
            .fetch(&signed("/p.wasm", &other.public_pem))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("signature check failed") && err.contains("does not match the key"),
            "{err}"
        );
        let err = fetcher
            .fetch(&signed("/tampered.wasm", &key.public_pem))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not match the key and content"), "{err}");
        let err = fetcher
            .fetch(&signed("/unsigned.wasm", &key.public_pem))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!(
                "no signature at {} (HTTP 404)",
                server.url("/unsigned.wasm.sig")
            )),
            "{err}"
        );
        assert_eq!(
            fetcher
                .metrics()
                .snapshot()
                .remote_fetches
                .get("signature_failure"),
            Some(&3)
        );
    }
}

#[tokio::test]
async fn the_cache_serves_repeats_and_a_restart_needs_no_network() {
    let m = module("cached");
    let body = m.clone();
    let server = http_server::serve(move |_, _| http_server::bytes(200, body.clone())).await;
    let url = server.url("/p.wasm");
    let dir = tempfile::tempdir().unwrap();
    {
        let fetcher = Fetcher::new(options(dir.path())).unwrap();
        assert!(!fetcher.fetch(&request(url.clone())).await.unwrap().from_cache);
        assert!(fetcher.fetch(&request(url.clone())).await.unwrap().from_cache);
        let s = fetcher.metrics().snapshot();
        assert_eq!((s.cache_hits, s.cache_misses, s.cache_entries), (1, 1, 1));
        let mut text = String::new();
        fetcher.metrics().write_prometheus(&mut text);
        assert!(
            text.contains("wasm_cache_lookup_count{hit=\"true\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("wasm_remote_fetch_count{result=\"success\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("wasm_cache_entries 1\n"), "{text}");
    }
    drop(server);
    let fetcher = Fetcher::new(options(dir.path())).unwrap();
    let got = fetcher.fetch(&request(url)).await.unwrap();
    assert!(got.from_cache);
    assert_eq!(&got.bytes[..], &m[..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_for_one_module_make_one_fetch() {
    let m = module("shared");
    let body = m.clone();
    let server = http_server::serve(move |_, _| {
        std::thread::sleep(Duration::from_millis(200));
        http_server::bytes(200, body.clone())
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(options(dir.path())).unwrap();
    let url = server.url("/p.wasm");
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let (fetcher, req) = (fetcher.clone(), request(url.clone()));
            tokio::spawn(async move { fetcher.fetch(&req).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(&task.await.unwrap().unwrap().bytes[..], &m[..]);
    }
    assert_eq!(server.hits(), 1);
    let s = fetcher.metrics().snapshot();
    assert_eq!((s.cache_misses, s.cache_hits), (1, 4));
}

#[tokio::test]
async fn metadata_and_link_local_addresses_are_never_fetched() {
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(options(dir.path())).unwrap();
    for url in [
        "http://169.254.169.254/latest/meta-data/p.wasm",
        "http://[fe80::1]/p.wasm",
        "oci://169.254.169.254/p:v1",
    ] {
        let err = fetcher.fetch(&request(url.into())).await.unwrap_err();
        assert!(matches!(err, FetchError::BlockedAddress { .. }), "{url}: {err}");
    }
}

#[tokio::test]
async fn credentials_in_a_url_never_reach_errors() {
    let server = http_server::serve(|_, _| http_server::bytes(404, "")).await;
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(options(dir.path())).unwrap();
    let url = format!("http://admin:hunter2@{}/p.wasm?token=s3cr3t", server.addr);
    let err = fetcher.fetch(&request(url)).await.unwrap_err().to_string();
    assert!(!err.contains("hunter2") && !err.contains("s3cr3t"), "{err}");
    assert!(err.contains("<redacted>@"), "{err}");
}

#[tokio::test]
async fn https_behind_a_private_ca_is_trusted_only_when_configured() {
    let (ca, cert, key) = support::openssl::server_certificate();
    let m = module("over-tls");
    let body = m.clone();
    let server = http_server::serve_tls(&cert, &key, move |_, _| http_server::bytes(200, body.clone())).await;
    let url = format!("https://127.0.0.1:{}/p.wasm", server.addr.port());
    let dir = tempfile::tempdir().unwrap();

    let err = Fetcher::new(options(&dir.path().join("a")))
        .unwrap()
        .fetch(&request(url.clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::Http { attempts: 1, .. }),
        "a certificate error is not retried: {err}"
    );
    assert!(err.to_string().to_lowercase().contains("certificate"), "{err}");

    let mut opts = options(&dir.path().join("b"));
    opts.extra_ca_certificates = vec![ca.into_bytes()];
    let got = Fetcher::new(opts).unwrap().fetch(&request(url)).await.unwrap();
    assert_eq!(got.bytes[..], m[..]);
}
