//! `wasmesh proxy` end to end with a route's `mirrors` (docs/proxy.md, "Mirrors"): the
//! mirror cluster gets a copy of the request as the upstream does, with `-shadow` on its
//! host, while the client gets the primary's answer; a mirror that refuses connections
//! fails nothing; a small body a plugin read whole is copied, a streamed one is not; the
//! outcomes are counted.

use crate::proxy_support;

use proxy_support::echo::Echo;
use proxy_support::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A request a [`recorder`] got: its head (request line, then headers with names in
/// lower case) and its body.
type Recorded = (Vec<String>, Vec<u8>);

/// An HTTP/1.1 upstream that answers `204` to everything and sends each request it got
/// to the test (bodies framed by `content-length` only).
fn recorder() -> (SocketAddr, mpsc::Receiver<Recorded>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut out = stream;
                loop {
                    let mut head = Vec::new();
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let line = line.trim_end().to_string();
                        if line.is_empty() {
                            break;
                        }
                        head.push(match line.split_once(':') {
                            Some((k, v)) if !head.is_empty() => {
                                format!("{}: {}", k.to_ascii_lowercase(), v.trim())
                            }
                            _ => line,
                        });
                    }
                    let length: usize = head
                        .iter()
                        .find_map(|h| h.strip_prefix("content-length: "))
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0);
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    let _ = tx.send((head, body));
                    if out
                        .write_all(b"HTTP/1.1 204 No Content\r\nx-upstream: mirror\r\n\r\n")
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (addr, rx)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The value of `wasmesh_mirror_requests_total` for `cluster` and `outcome`, once it
/// reaches `want` (the copies end after the client's requests do), or what it is after 5s.
fn mirror_count(proxy: &ProxyProcess, cluster: &str, outcome: &str, want: u64) -> u64 {
    let series = format!("wasmesh_mirror_requests_total{{cluster=\"{cluster}\",outcome=\"{outcome}\"}} ");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, text) = proxy.admin_get("/stats/prometheus");
        let n = text
            .lines()
            .find_map(|l| l.strip_prefix(&series))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        if n >= want || Instant::now() > deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn the_mirror_gets_a_shadow_copy_and_the_client_the_primarys_answer() {
    let primary = Echo::start("primary");
    let (mirror, copies) = recorder();
    let listen = free_addr();
    let routes = "    - name: api
      match: {prefix: /api}
      cluster: primary
      rewrite: {path: {prefix: /v2}}
      requestHeaders: {set: [{name: x-route, value: api}]}
      mirrors: [{cluster: shadow}]
    - name: half
      match: {prefix: /half}
      cluster: primary
      mirrors: [{cluster: shadow, percent: 50}]
";
    let clusters =
        cluster_yaml("primary", &[primary.addr], "http1") + &cluster_yaml("shadow", &[mirror], "http1");
    let config = proxy_yaml(listen, routes, &clusters);
    let proxy = ProxyProcess::start("istio-system/gw", &[("proxy.yaml", &config)], 2);
    let c = client();

    let resp = c
        .get(format!("http://{listen}/api/users?page=2"))
        .header("host", "app.example.com:8080")
        .header("x-custom", "v")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-upstream"], "primary");
    let seen: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(seen["uri"], "/v2/users?page=2");
    assert_eq!(seen["headers"]["host"], "app.example.com:8080");

    let (copy, _) = copies
        .recv_timeout(Duration::from_secs(5))
        .expect("the mirror got no copy");
    assert_eq!(copy[0], "GET /v2/users?page=2 HTTP/1.1", "{copy:?}");
    for header in ["host: app.example.com-shadow:8080", "x-custom: v", "x-route: api"] {
        assert!(copy.iter().any(|h| h == header), "{header} not in {copy:?}");
    }
    // the upstream got the same request id as the mirror
    let id = seen["headers"]["x-request-id"].as_str().unwrap();
    assert!(copy.contains(&format!("x-request-id: {id}")), "{copy:?}");
    assert_eq!(mirror_count(&proxy, "shadow", "sent", 1), 1);

    // percent 50: every other request is copied
    for _ in 0..4 {
        let resp = c.get(format!("http://{listen}/half")).send().await.unwrap();
        assert_eq!(resp.headers()["x-upstream"], "primary");
    }
    assert_eq!(mirror_count(&proxy, "shadow", "sent", 3), 3);
    let copied: Vec<Recorded> =
        std::iter::from_fn(|| copies.recv_timeout(Duration::from_millis(300)).ok()).collect();
    assert_eq!(copied.len(), 2, "{copied:?}");
    assert!(
        copied.iter().all(|c| c.0[0] == "GET /half HTTP/1.1"),
        "{copied:?}"
    );

    // A streamed body (no plugin reads it whole) goes to the primary alone: skipped, counted.
    let resp = c
        .post(format!("http://{listen}/api/upload"))
        .body("payload")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let seen: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(seen["bodyLength"], 7);
    assert_eq!(mirror_count(&proxy, "shadow", "skipped", 1), 1);
    assert!(
        copies.recv_timeout(Duration::from_millis(300)).is_err(),
        "a streamed body was copied"
    );
}

#[tokio::test]
async fn a_mirror_that_refuses_connections_fails_nothing() {
    let primary = Echo::start("primary");
    // nothing listens there: every connection is refused
    let refusing = free_addr();
    let listen = free_addr();
    let routes = "    - name: all
      match: {prefix: /}
      cluster: primary
      timeout: 5s
      mirrors: [{cluster: gone}]
";
    let clusters =
        cluster_yaml("primary", &[primary.addr], "http1") + &cluster_yaml("gone", &[refusing], "http1");
    let config = proxy_yaml(listen, routes, &clusters);
    let proxy = ProxyProcess::start("istio-system/gw", &[("proxy.yaml", &config)], 2);
    let c = client();
    for i in 0..5 {
        let resp = c.get(format!("http://{listen}/n/{i}")).send().await.unwrap();
        assert_eq!(resp.status(), 200, "request {i}");
        assert_eq!(resp.headers()["x-upstream"], "primary");
        let seen: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(seen["uri"], format!("/n/{i}"));
    }
    assert_eq!(mirror_count(&proxy, "gone", "failed", 5), 5);
    assert_eq!(mirror_count(&proxy, "gone", "sent", 0), 0);
    assert_eq!(primary.requests.load(std::sync::atomic::Ordering::Relaxed), 5);
}

#[tokio::test]
async fn a_small_body_a_plugin_read_whole_is_copied_with_it() {
    let primary = Echo::start("primary");
    let (mirror, copies) = recorder();
    let listen = free_addr();
    let routes = "    - name: all
      match: {prefix: /}
      cluster: primary
      mirrors: [{cluster: shadow}]
";
    let clusters =
        cluster_yaml("primary", &[primary.addr], "http1") + &cluster_yaml("shadow", &[mirror], "http1");
    let config = proxy_yaml(listen, routes, &clusters);
    // a plugin on the chain: a small body with a length is read whole before forwarding
    let plugin = format!(
        "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n  name: reader\n  namespace: istio-system\nspec:\n  url: file://{}\n  pluginConfig: {{\"name\": \"reader\"}}\n",
        wasmesh_testkit::plugin("header_chain").display()
    );
    let proxy = ProxyProcess::start(
        "istio-system/gw",
        &[("proxy.yaml", &config), ("plugins.yaml", &plugin)],
        1,
    );
    let resp = client()
        .post(format!("http://{listen}/upload"))
        .body("a small body")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", proxy.log());
    assert_eq!(resp.headers()["x-upstream"], "primary");
    let seen: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(seen["bodyLength"], 12);
    let (head, body) = copies
        .recv_timeout(Duration::from_secs(5))
        .expect("the mirror got no copy");
    assert_eq!(head[0], "POST /upload HTTP/1.1", "{head:?}");
    assert!(head.iter().any(|h| h == "content-length: 12"), "{head:?}");
    assert!(
        head.iter()
            .any(|h| h.starts_with("host: ") && h.contains("-shadow:")),
        "{head:?}"
    );
    assert_eq!(body, b"a small body");
    assert_eq!(mirror_count(&proxy, "shadow", "sent", 1), 1);
    assert_eq!(mirror_count(&proxy, "shadow", "skipped", 0), 0);
}
