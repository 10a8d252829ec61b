//! `wasmesh proxy` end to end as an operator sees it: hot reload under load with zero failed
//! requests, a bad edit that keeps the last good state, SIGTERM drain, large bodies
//! streaming through with bounded memory, TLS with h2 by ALPN, certificates from a folder's
//! TLS Secret chosen by SNI and rotated by editing the Secret, and WebSocket upgrades.

use crate::proxy_support;

use proxy_support::echo::Echo;
use proxy_support::*;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn single_route(listen: std::net::SocketAddr, cluster: &str, echo: std::net::SocketAddr) -> String {
    proxy_yaml(
        listen,
        &route_yaml("all", "{prefix: /}", cluster),
        &cluster_yaml(cluster, &[echo], "http1"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_under_load_drops_nothing_and_applies_within_a_second() {
    let (a, b) = (Echo::start("a"), Echo::start("b"));
    let listen = free_addr();
    let proxy = ProxyProcess::start(
        "istio-system/gw",
        &[("proxy.yaml", &single_route(listen, "one", a.addr))],
        2,
    );

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed, from_b) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let mut loops = Vec::new();
    for _ in 0..4 {
        let (stop, ok, failed, from_b) = (stop.clone(), ok.clone(), failed.clone(), from_b.clone());
        loops.push(tokio::spawn(async move {
            let c = client();
            while !stop.load(Ordering::Relaxed) {
                match c.get(format!("http://{listen}/x")).send().await {
                    Ok(r) if r.status() == 200 => {
                        if r.headers()["x-upstream"] == "b" {
                            from_b.fetch_add(1, Ordering::Relaxed);
                        }
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) => {
                        eprintln!("status {}", r.status());
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        eprintln!("error {e}");
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let changed_at = Instant::now();
    proxy.write_config("proxy.yaml", &single_route(listen, "two", b.addr));
    while from_b.load(Ordering::Relaxed) == 0 {
        assert!(
            changed_at.elapsed() < Duration::from_secs(1),
            "the change took effect within a second"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A broken edit: the last good state stays and the error is reported.
    proxy.write_config("proxy.yaml", "apiVersion: wasmesh.io/v1alpha1\nkind: Proxy\nmetadata: {name: gw, namespace: istio-system}\nspec:\n  listeners: [{name: http, address: not-an-address}]\n");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, dump) = proxy.admin_get("/config_dump");
        let dump: serde_json::Value = serde_json::from_str(&dump).unwrap();
        if dump["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("spec.listeners[0].address"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "the bad edit was not reported: {dump}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for l in loops {
        l.await.unwrap();
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert!(ok > 100, "the load loop ran ({ok} requests)");
    assert_eq!(failed, 0, "no request failed across reloads ({ok} succeeded)");
    assert_eq!(
        client()
            .get(format!("http://{listen}/x"))
            .send()
            .await
            .unwrap()
            .headers()["x-upstream"],
        "b",
        "the bad edit did not undo the good one"
    );
}

#[test]
fn sigterm_drains_requests_in_flight_then_exits() {
    let echo = Echo::start("slow");
    let listen = free_addr();
    let mut proxy = ProxyProcess::start(
        "istio-system/gw",
        &[("proxy.yaml", &single_route(listen, "c", echo.addr))],
        2,
    );
    let slow = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(listen).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"GET /delay/1500 HTTP/1.1\r\nhost: x\r\n\r\n")
            .unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).to_string()
    });
    std::thread::sleep(Duration::from_millis(300));
    proxy.signal("TERM");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(proxy.admin_get("/ready").0, 503, "not ready while draining");
    let reply = slow.join().unwrap();
    assert!(
        reply.starts_with("HTTP/1.1 200"),
        "the request in flight finished: {reply}"
    );
    assert!(
        reply.to_ascii_lowercase().contains("connection: close"),
        "and the connection was closed: {reply}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = proxy.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the proxy did not exit after draining");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    assert!(
        std::net::TcpStream::connect(listen).is_err(),
        "nothing listens after exit"
    );
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn fifty_mib_each_way_streams_with_bounded_memory() {
    use futures::StreamExt;
    const SIZE: usize = 50 << 20;
    let echo = Echo::start("big");
    let listen = free_addr();
    let proxy = ProxyProcess::start(
        "istio-system/gw",
        &[("proxy.yaml", &single_route(listen, "c", echo.addr))],
        1,
    );
    let c = client();
    // Warm up, then take the baseline.
    assert_eq!(
        c.get(format!("http://{listen}/bytes/1000"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let before = peak_rss_kib(proxy.child.id());

    let resp = c
        .get(format!("http://{listen}/bytes/{SIZE}"))
        .send()
        .await
        .unwrap();
    let mut stream = resp.bytes_stream();
    let mut got = 0;
    while let Some(chunk) = stream.next().await {
        got += chunk.unwrap().len();
    }
    assert_eq!(got, SIZE);

    let chunk = bytes::Bytes::from(vec![7u8; 256 * 1024]);
    let upload =
        futures::stream::iter((0..SIZE / chunk.len()).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    let resp = c
        .post(format!("http://{listen}/upload"))
        .body(reqwest::Body::wrap_stream(upload))
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["bodyLength"], SIZE as u64);

    let grown = peak_rss_kib(proxy.child.id()).saturating_sub(before);
    assert!(
        grown < 16 * 1024,
        "peak memory grew by {grown} KiB moving 100 MiB: bodies must stream"
    );
}

#[tokio::test]
async fn tls_listener_speaks_h2_by_alpn_and_http1() {
    let echo = Echo::start("tls");
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let listen = free_addr();
    let config = single_route(listen, "c", echo.addr).replace(
        "    protocol: http\n",
        &format!(
            "    protocol: http\n    tls: {{certFile: \"{}\", keyFile: \"{}\"}}\n",
            cert.display(),
            key.display()
        ),
    );
    let _proxy = ProxyProcess::start("istio-system/gw", &[("proxy.yaml", &config)], 1);
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap();
    let url = format!("https://localhost:{}/secure", listen.port());

    let h2 = reqwest::Client::builder()
        .add_root_certificate(ca.clone())
        .build()
        .unwrap();
    let resp = h2.get(&url).send().await.unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2, "h2 chosen by ALPN");
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["path"], "/secure");
    assert_eq!(v["headers"]["x-forwarded-proto"], "https", "{v}");

    let h1 = reqwest::Client::builder()
        .add_root_certificate(ca)
        .http1_only()
        .build()
        .unwrap();
    // One kept-alive connection: a GET (the lean path), a POST with a body (hyper takes the
    // connection over with what was read), a GET again.
    for (i, body) in [None, Some("posted"), None].into_iter().enumerate() {
        let request = match body {
            Some(body) => h1.post(&url).body(body),
            None => h1.get(&url),
        };
        let resp = request.send().await.unwrap();
        assert_eq!(resp.version(), reqwest::Version::HTTP_11);
        assert_eq!(resp.status(), 200, "request {i}");
        let v: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(v["path"], "/secure", "request {i}: {v}");
        assert_eq!(v["headers"]["x-forwarded-proto"], "https", "request {i}: {v}");
        assert_eq!(v["bodyLength"], body.map_or(0, str::len), "request {i}: {v}");
    }
}

#[tokio::test]
async fn certificates_come_from_a_tls_secret_of_the_folder_sni_picks_one_and_an_edited_secret_is_served() {
    let echo = Echo::start("tls");
    let dir = tempfile::tempdir().unwrap();
    let www = self_signed_as(dir.path(), "www", "DNS:www.test");
    let api = self_signed_as(dir.path(), "api", "DNS:api.test,DNS:x.api.test");
    let rotated = self_signed_as(dir.path(), "www-rotated", "DNS:www.test");
    let listen = free_addr();
    // the default certificate from Secret istio-system/www; files for *.api.test
    let config = single_route(listen, "c", echo.addr).replace(
        "    protocol: http\n",
        &format!(
            "    protocol: http\n    tls:\n      secretName: www\n      certificates:\n      - {{hostnames: [\"*.api.test\"], certFile: \"{}\", keyFile: \"{}\"}}\n",
            api.0.display(),
            api.1.display()
        ),
    );
    let secret = tls_secret_yaml("istio-system", "www", &www);
    let proxy = ProxyProcess::start(
        "istio-system/gw",
        &[("proxy.yaml", &config), ("secret.yaml", &secret)],
        1,
    );
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&www.0).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .resolve("www.test", listen)
        .build()
        .unwrap();
    let url = format!("https://www.test:{}/", listen.port());
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    assert_eq!(served_subject(listen, "www.test"), "subject=CN=www");
    assert_eq!(
        served_subject(listen, "x.api.test"),
        "subject=CN=api",
        "the wildcard"
    );
    assert_eq!(
        served_subject(listen, "other.test"),
        "subject=CN=www",
        "the default"
    );
    let (_, dump) = proxy.admin_get("/config_dump");
    assert!(dump.contains("Secret istio-system/www"), "{dump}");
    assert!(!dump.contains("PRIVATE KEY"), "key material in /config_dump");

    // the Secret edited: new connections get the new certificate
    proxy.write_config("secret.yaml", &tls_secret_yaml("istio-system", "www", &rotated));
    let deadline = Instant::now() + Duration::from_secs(10);
    while served_subject(listen, "www.test") != "subject=CN=www-rotated" {
        assert!(Instant::now() < deadline, "never rotated:\n{}", proxy.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // a Secret that is not there: the change is refused, naming it, the last good one stays
    let missing = config.replace("secretName: www", "secretName: nope");
    proxy.write_config("proxy.yaml", &missing);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !proxy.log().contains("Secret istio-system/nope not found") {
        assert!(Instant::now() < deadline, "{}", proxy.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(served_subject(listen, "www.test"), "subject=CN=www-rotated");
}

#[test]
fn websocket_upgrade_passes_through_both_ways() {
    let echo = Echo::start("ws");
    let listen = free_addr();
    let _proxy = ProxyProcess::start(
        "istio-system/gw",
        &[("proxy.yaml", &single_route(listen, "c", echo.addr))],
        1,
    );
    let mut s = std::net::TcpStream::connect(listen).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(
        b"GET /chat HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\
sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");
    for msg in [
        &b"hello over the tunnel"[..],
        &[0x81, 0x05, b'h', b'e', b'l', b'l', b'o'][..],
    ] {
        s.write_all(msg).unwrap();
        let mut back = vec![0u8; msg.len()];
        s.read_exact(&mut back).unwrap();
        assert_eq!(back, msg, "bytes come back through the upgraded connection");
    }
}

#[test]
fn a_cache_directory_others_can_write_is_refused_at_startup() {
    use std::os::unix::fs::PermissionsExt;
    let config = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let dir = cache.path().display().to_string();
    let run = crate::cli_support::wasmesh(&[
        "proxy",
        "--config",
        config.path().to_str().unwrap(),
        "--workload",
        "ns/p",
        "--admin",
        &free_addr().to_string(),
        "--cache-dir",
        &dir,
    ]);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains(&format!(
            "cache directory {dir}: mode 0777 lets its group or others write to it, and put modules or \
             compiled code there that the proxy would run; run `chmod 700 {dir}` or choose another --cache-dir"
        )),
        "{run:?}"
    );
}
