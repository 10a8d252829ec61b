//! `wasmesh proxy` end to end over HTTP: HTTP/1.1 and h2c round trips, HTTP/2 upstreams,
//! route matching, round robin, and each bad-input case turned into its status code.

use crate::proxy_support;

use proxy_support::echo::Echo;
use proxy_support::*;
use std::io::{Read, Write};
use std::time::Duration;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn get_json(c: &reqwest::Client, url: &str) -> serde_json::Value {
    let resp = c.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 200, "GET {url}");
    resp.json().await.unwrap()
}

#[tokio::test]
async fn http1_round_trip_keeps_method_path_host_and_body() {
    let echo = Echo::start("a");
    let listen = free_addr();
    let config = one_backend_proxy_yaml(listen, echo.addr);
    let _proxy = ProxyProcess::start("istio-system/gw", &[("proxy.yaml", &config)], 2);
    let c = client();

    let resp = c
        .post(format!("http://{listen}/some/path?q=1"))
        .header("x-custom", "v")
        .body("hello world")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-upstream"], "a");
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["method"], "POST");
    assert_eq!(v["uri"], "/some/path?q=1");
    assert_eq!(v["headers"]["host"], listen.to_string());
    assert_eq!(v["headers"]["x-custom"], "v");
    assert_eq!(v["headers"]["x-forwarded-proto"], "http");
    assert_eq!(v["bodyLength"], 11);
    // A request without an x-request-id gets a UUID (version 4); one the client sent is kept.
    let id = v["headers"]["x-request-id"].as_str().unwrap();
    assert!(
        id.len() == 36 && id.as_bytes()[14] == b'4',
        "not a version 4 UUID: {id}"
    );
    let v = c
        .get(format!("http://{listen}/"))
        .header("x-request-id", "client-chosen-id")
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(v["headers"]["x-request-id"], "client-chosen-id");

    // A chunked request body (no content-length) streams through.
    let chunks = futures::stream::iter(vec![
        Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"abc")),
        Ok(bytes::Bytes::from_static(b"defg")),
    ]);
    let resp = c
        .put(format!("http://{listen}/chunked"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["bodyLength"], 7);
}

#[tokio::test]
async fn h2c_downstream_and_http2_upstream() {
    let echo = Echo::start("h2");
    let listen = free_addr();
    let clusters = format!(
        "{}{}",
        cluster_yaml("h1", &[echo.addr], "http1"),
        cluster_yaml("h2", &[echo.addr], "http2")
    );
    let routes = format!(
        "{}{}",
        route_yaml("to-h2", "{prefix: /h2}", "h2"),
        route_yaml("to-h1", "{prefix: /}", "h1")
    );
    let config = proxy_yaml(listen, &routes, &clusters);
    let _proxy = ProxyProcess::start("istio-system/gw", &[("proxy.yaml", &config)], 1);

    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let resp = h2.get(format!("http://{listen}/plain")).send().await.unwrap();
    assert_eq!(
        resp.version(),
        reqwest::Version::HTTP_2,
        "h2c with prior knowledge"
    );
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        v["version"], "HTTP/1.1",
        "an h2c request to an http1 cluster goes as HTTP/1.1"
    );
    assert_eq!(
        v["headers"]["host"],
        listen.to_string(),
        "the authority becomes the Host header"
    );

    let v = get_json(&client(), &format!("http://{listen}/h2/x")).await;
    assert_eq!(v["version"], "HTTP/2.0", "an http2 cluster gets HTTP/2");
    assert_eq!(v["path"], "/h2/x");
}

#[tokio::test]
async fn routes_match_in_order_and_endpoints_take_turns() {
    let (a, b, c_) = (Echo::start("a"), Echo::start("b"), Echo::start("c"));
    let listen = free_addr();
    let routes = [
        route_yaml("exact", "{exact: /exact}", "only-c"),
        route_yaml("regex", "{regex: \"/v[0-9]+/items\"}", "only-c"),
        route_yaml(
            "canary",
            "{prefix: /, headers: [{name: x-canary, exact: \"yes\"}]}",
            "only-c",
        ),
        route_yaml("api", "{prefix: /api}", "ab"),
    ]
    .concat();
    let clusters = format!(
        "{}{}",
        cluster_yaml("ab", &[a.addr, b.addr], "http1"),
        cluster_yaml("only-c", &[c_.addr], "http1")
    );
    let config = proxy_yaml(listen, &routes, &clusters);
    let _proxy = ProxyProcess::start("istio-system/gw", &[("proxy.yaml", &config)], 1);
    let c = client();
    let server = |v: serde_json::Value| v["server"].as_str().unwrap().to_string();

    assert_eq!(server(get_json(&c, &format!("http://{listen}/exact")).await), "c");
    assert_eq!(
        server(get_json(&c, &format!("http://{listen}/v12/items")).await),
        "c"
    );
    let resp = c
        .get(format!("http://{listen}/v12/items/more"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404, "a regex must match the whole path");
    let resp = c
        .get(format!("http://{listen}/anything"))
        .header("x-canary", "yes")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-upstream"], "c");

    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(server(get_json(&c, &format!("http://{listen}/api/x")).await));
    }
    assert_eq!(
        seen,
        ["a", "b", "a", "b", "a", "b"],
        "round robin over the cluster's endpoints"
    );
}

#[tokio::test]
async fn failures_become_clear_status_codes() {
    let echo = Echo::start("slow");
    let listen = free_addr();
    let dead = free_addr(); // nothing listens here
    let routes = [
        "    - name: slow\n      match: {prefix: /delay}\n      cluster: live\n      timeout: 300ms\n"
            .to_string(),
        "    - name: one-try\n      match: {prefix: /try}\n      cluster: live\n      timeout: 10s\n      perTryTimeout: 300ms\n      rewrite: {path: {prefix: /delay}}\n"
            .to_string(),
        route_yaml("dead", "{prefix: /dead}", "dead"),
        route_yaml("live", "{prefix: /live}", "live"),
    ]
    .concat();
    let clusters = format!(
        "{}{}",
        cluster_yaml("live", &[echo.addr], "http1"),
        cluster_yaml("dead", &[dead], "http1")
    );
    let config = proxy_yaml(listen, &routes, &clusters);
    let proxy = ProxyProcess::start("istio-system/gw", &[("proxy.yaml", &config)], 2);
    let c = client();

    let resp = c.get(format!("http://{listen}/nowhere")).send().await.unwrap();
    assert_eq!(resp.status(), 404, "no route");
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("no route matched GET /nowhere"));

    let resp = c.get(format!("http://{listen}/dead")).send().await.unwrap();
    assert_eq!(resp.status(), 503, "upstream refused");
    let body = resp.text().await.unwrap();
    assert!(body.contains("upstream connect error"), "{body}");
    assert!(body.contains("cluster dead"), "{body}");
    // The endpoint's address is for the log, not for the client (docs/security.md).
    assert!(!body.contains(&dead.to_string()), "{body}");

    let started = std::time::Instant::now();
    let resp = c.get(format!("http://{listen}/delay/3000")).send().await.unwrap();
    assert_eq!(resp.status(), 504, "route timeout");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the timeout fired early enough"
    );
    assert!(resp.text().await.unwrap().contains("upstream request timeout"));

    // the per-try timeout, shorter than the route's: 504 once it passes
    per_try_timeout_fires(&c, &format!("http://{listen}/try"), "one-try").await;

    // Malformed request line → 400.
    let reply = raw_exchange(listen, b"GARBAGE\r\n\r\n");
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    // Headers over the limit → 431.
    let big = format!(
        "GET /live HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(80 * 1024)
    );
    let reply = raw_exchange(listen, big.as_bytes());
    assert!(reply.starts_with("HTTP/1.1 431"), "{reply}");

    // The proxy is still serving after all of that.
    let resp = c.get(format!("http://{listen}/live")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(proxy.child_alive());
}

#[tokio::test]
async fn metrics_page_counts_requests_with_istio_labels() {
    let echo = Echo::start("m");
    let listen = free_addr();
    let config = proxy_yaml(
        listen,
        &route_yaml("api", "{prefix: /api}", "backend"),
        &cluster_yaml("backend", &[echo.addr], "http1"),
    );
    let proxy = ProxyProcess::start("istio-system/gw", &[("proxy.yaml", &config)], 2);
    let c = client();
    for _ in 0..5 {
        assert_eq!(
            c.get(format!("http://{listen}/api/x"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    // A chunked upload (no content-length) of 10 bytes, and its chunked echo: the size
    // metrics count the bytes that passed, not what a content-length announced.
    let chunks = futures::stream::iter(vec![
        Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"01234")),
        Ok(bytes::Bytes::from_static(b"56789")),
    ]);
    let resp = c
        .post(format!("http://{listen}/api/upload"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let echoed = resp.bytes().await.unwrap().len();
    for _ in 0..2 {
        assert_eq!(
            c.get(format!("http://{listen}/other"))
                .send()
                .await
                .unwrap()
                .status(),
            404
        );
    }
    let (status, text) = proxy.admin_get("/stats/prometheus");
    assert_eq!(status, 200);
    let series = parse_prometheus(&text);
    let find = |name: &str, labels: &[(&str, &str)]| -> f64 {
        series
            .iter()
            .filter(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, _, v)| v)
            .sum()
    };
    let ok = [
        ("response_code", "200"),
        ("destination_service", "backend"),
        ("reporter", "destination"),
    ];
    assert_eq!(find("istio_requests_total", &ok), 6.0, "{text}");
    assert_eq!(
        find("istio_request_duration_milliseconds_count", &ok),
        6.0,
        "{text}"
    );
    assert_eq!(find("istio_request_bytes_sum", &ok), 10.0, "{text}");
    assert!(
        find("istio_response_bytes_sum", &ok) >= echoed as f64,
        "response bytes below the {echoed} of the upload's echo: {text}"
    );
    let nr = [("response_code", "404"), ("response_flags", "NR")];
    assert_eq!(find("istio_requests_total", &nr), 2.0, "{text}");
    assert_eq!(
        find(
            "istio_requests_total",
            &[
                ("destination_workload", "gw"),
                ("destination_workload_namespace", "istio-system")
            ]
        ),
        8.0
    );
}

#[test]
fn admin_endpoints_answer() {
    let echo = Echo::start("adm");
    let listen = free_addr();
    let config = one_backend_proxy_yaml(listen, echo.addr);
    let proxy = ProxyProcess::start("istio-system/gw", &[("proxy.yaml", &config)], 1);
    let (status, body) = proxy.admin_get("/ready");
    assert_eq!((status, body.trim()), (200, "LIVE"));
    let (status, body) = proxy.admin_get("/config_dump");
    assert_eq!(status, 200);
    let dump: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(dump["listeners"][0]["name"], "http");
    assert_eq!(dump["listeners"][0]["address"], listen.to_string());
    assert_eq!(dump["clusters"][0]["name"], "backend");
    // Where modules and compiled code are cached: the harness passes --cache-dir.
    assert!(dump["cacheDir"].as_str().is_some_and(|d| !d.is_empty()), "{dump}");
    let chain: Vec<&str> = dump["listeners"][0]["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(chain, ["stats", "router"]);
    let (status, body) = proxy.admin_get("/plugins");
    assert_eq!(status, 200);
    assert!(body.trim_start().starts_with('['), "{body}");
    assert_eq!(proxy.admin_get("/nope").0, 404);
}

#[test]
fn missing_workload_is_not_ready_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.yaml"), "").unwrap();
    let proxy = ProxyProcess::spawn(dir, "istio-system/absent", 1);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = proxy.admin_get("/ready");
        if status == 503 {
            assert!(body.contains("no Proxy istio-system/absent"), "{body}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "admin never answered: {}",
            proxy.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl ProxyProcess {
    fn child_alive(&self) -> bool {
        let (status, _) = self.admin_get("/ready");
        status == 200
    }
}

/// Sends raw bytes on a new connection and returns what comes back until close.
fn raw_exchange(addr: std::net::SocketAddr, bytes: &[u8]) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(bytes);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).to_string()
}

/// Parses Prometheus text into (name, labels, value).
fn parse_prometheus(text: &str) -> Vec<(String, std::collections::HashMap<String, String>, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (head, value) = l.rsplit_once(' ')?;
            let value: f64 = value.parse().ok()?;
            let (name, labels) = match head.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (head, ""),
            };
            let labels = labels
                .split("\",")
                .filter_map(|kv| {
                    let (k, v) = kv.split_once("=\"")?;
                    Some((k.to_string(), v.trim_end_matches('"').to_string()))
                })
                .collect();
            Some((name.to_string(), labels, value))
        })
        .collect()
}

#[tokio::test]
async fn grpc_over_h2c_keeps_its_trailers() {
    use http_body_util::BodyExt;
    let grpc = proxy_support::grpc::grpc_echo();
    let listen = free_addr();
    let config = proxy_yaml(
        listen,
        &route_yaml("grpc", "{prefix: /}", "grpc"),
        &cluster_yaml("grpc", &[grpc], "http2"),
    );
    let _proxy = ProxyProcess::start("istio-system/gw", &[("proxy.yaml", &config)], 1);
    let mut send = h2c_client(listen).await;
    let mut framed = vec![0u8, 0, 0, 0, 2];
    framed.extend_from_slice(b"hi");
    let req = hyper::Request::post(format!("http://{listen}/pkg.Svc/Call"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(http_body_util::Full::new(bytes::Bytes::from(framed)))
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let collected = resp.into_body().collect().await.unwrap();
    let trailers = collected.trailers().cloned().expect("trailers reach the client");
    assert_eq!(trailers["grpc-status"], "0");
    let body = collected.to_bytes();
    assert_eq!(&body[5..], b"echo:/pkg.Svc/Call:hi");
}

/// An HTTP/1.1 upstream that misbehaves by the request's path: `/garbage` answers
/// something that is not HTTP, `/hangup` closes without answering, and every other path
/// gets a keep-alive `200 ok` after which the connection is closed all the same (a
/// keep-alive timeout that fires between two requests).
fn unruly_upstream() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let mut head = [0u8; 4096];
            let n = s.read(&mut head).unwrap_or(0);
            let text = String::from_utf8_lossy(&head[..n]).to_string();
            if text.starts_with("GET /garbage ") || text.starts_with("POST /garbage ") {
                let _ = s.write_all(b"SPDY/9 what\r\n\r\n");
            } else if !text.starts_with("GET /hangup ") {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
            }
        }
    });
    addr
}

#[tokio::test]
async fn upstream_misbehaviour_is_a_clear_status_and_stale_connections_are_retried() {
    let upstream = unruly_upstream();
    let listen = free_addr();
    let config = one_backend_proxy_yaml(listen, upstream);
    let proxy = ProxyProcess::start("istio-system/gw", &[("proxy.yaml", &config)], 1);
    let c = client();

    let resp = c.get(format!("http://{listen}/garbage")).send().await.unwrap();
    assert_eq!(resp.status(), 502, "a response that is not HTTP");
    let body = resp.text().await.unwrap();
    assert!(body.contains("upstream protocol error"), "{body}");
    assert!(body.contains("cluster backend"), "{body}");

    // The same with a request body, which goes on hyper's client.
    let resp = c
        .post(format!("http://{listen}/garbage"))
        .body("payload")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        502,
        "a response that is not HTTP, to a POST with a body"
    );
    let body = resp.text().await.unwrap();
    assert!(body.contains("upstream protocol error"), "{body}");

    let resp = c.get(format!("http://{listen}/hangup")).send().await.unwrap();
    assert_eq!(resp.status(), 503, "no response at all");
    let body = resp.text().await.unwrap();
    assert!(body.contains("upstream reset before response headers"), "{body}");

    // Each answer leaves a pooled connection that the upstream has closed: the next GET
    // finds it closed and goes on a fresh one, and no client sees an error.
    for i in 0..20 {
        let resp = c.get(format!("http://{listen}/ok/{i}")).send().await.unwrap();
        assert_eq!(resp.status(), 200, "request {i}: {}", proxy.log());
        assert_eq!(resp.text().await.unwrap(), "ok");
    }
    let (_, metrics) = proxy.admin_get("/stats/prometheus");
    assert!(
        metrics.contains("response_code=\"502\"") && metrics.contains("response_flags=\"UPE\""),
        "the 502 is counted with Envoy's flag:\n{metrics}"
    );
}

#[tokio::test]
async fn pipelined_requests_keep_their_order_across_the_lean_path_and_hyper() {
    let echo = Echo::start("a");
    let listen = free_addr();
    let config = one_backend_proxy_yaml(listen, echo.addr);
    let proxy = ProxyProcess::start("istio-system/gw", &[("proxy.yaml", &config)], 1);
    // Two plain GETs (the lean path), then a POST with a body (hyper's from there on),
    // then a GET that hyper serves and closes: all in one write, on one connection.
    let reply = raw_exchange(
        listen,
        b"GET /one HTTP/1.1\r\nhost: x\r\n\r\n\
          GET /two?q=2 HTTP/1.1\r\nhost: x\r\nconnection: keep-alive\r\n\r\n\
          POST /three HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nhello\
          GET /four HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    );
    let statuses = reply.matches("HTTP/1.1 200 OK\r\n").count();
    assert_eq!(
        statuses,
        4,
        "four answers in one exchange: {reply}\n{}",
        proxy.log()
    );
    let at = |needle: &str| {
        reply
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} missing: {reply}"))
    };
    assert!(at("/one") < at("/two?q=2") && at("/two?q=2") < at("/three") && at("/three") < at("/four"));
    assert!(
        reply.contains("\"bodyLength\":5"),
        "the POST's body reached the upstream: {reply}"
    );
    // Each answer is framed: a date, and a length or chunks.
    assert_eq!(reply.matches("\r\ndate: ").count(), 4, "{reply}");
}
