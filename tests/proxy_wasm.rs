//! `wasmesh proxy` end to end with Proxy-Wasm plugins built from `plugins/`: headers on
//! both paths in chain order, local replies, bodies, `http_call` to a cluster, and what
//! failStrategy does with a module that can't be had.

use crate::proxy_support;

use proxy_support::echo::Echo;
use proxy_support::*;
use std::net::SocketAddr;
use std::time::Duration;

fn plugin_yaml(name: &str, plugin: &str, extra: &str) -> String {
    let path = wasmesh_testkit::plugin(plugin);
    format!(
        "---\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n  name: {name}\n  namespace: istio-system\nspec:\n  url: file://{}\n{extra}",
        path.display()
    )
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn start(echo: SocketAddr, extra_clusters: &str, plugins: &str) -> (ProxyProcess, SocketAddr) {
    let listen = free_addr();
    let clusters = format!("{}{extra_clusters}", cluster_yaml("backend", &[echo], "http1"));
    let config = proxy_yaml(listen, &route_yaml("all", "{prefix: /}", "backend"), &clusters);
    let proxy = ProxyProcess::start(
        "istio-system/gw",
        &[("proxy.yaml", &config), ("plugins.yaml", plugins)],
        2,
    );
    (proxy, listen)
}

#[tokio::test]
async fn header_plugins_run_in_priority_order_and_responses_in_reverse() {
    let echo = Echo::start("up");
    let plugins = [
        plugin_yaml("low", "headers", "  priority: 1\n  pluginConfig: {value: low}\n"),
        plugin_yaml(
            "high",
            "headers",
            "  priority: 10\n  pluginConfig: {value: high}\n",
        ),
    ]
    .concat();
    let (proxy, listen) = start(echo.addr, "", &plugins);
    let resp = client().get(format!("http://{listen}/x")).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{}", proxy.log());
    let response_values: Vec<_> = resp
        .headers()
        .get_all("x-wasm-response")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert_eq!(
        response_values,
        ["low", "high"],
        "responses pass the chain in reverse"
    );
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        v["headers"]["x-wasm-request"], "high,low",
        "requests pass in priority order: {v}"
    );

    let (_, body) = proxy.admin_get("/plugins");
    let plugins: serde_json::Value = serde_json::from_str(&body).unwrap();
    let states: Vec<_> = plugins
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["loaded", "loaded"], "{body}");
    assert_eq!(plugins[0]["sha256"].as_str().unwrap().len(), 64);
    let (_, dump) = proxy.admin_get("/config_dump");
    let dump: serde_json::Value = serde_json::from_str(&dump).unwrap();
    let chain: Vec<_> = dump["listeners"][0]["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        chain,
        ["istio-system.high", "istio-system.low", "stats", "router"]
    );
}

#[tokio::test]
async fn local_reply_passes_the_filters_before_it() {
    let echo = Echo::start("up");
    let plugins = [
        plugin_yaml(
            "first",
            "headers",
            "  priority: 10\n  pluginConfig: {value: first}\n",
        ),
        plugin_yaml("deny", "local_reply", "  priority: 5\n"),
        plugin_yaml(
            "last",
            "headers",
            "  priority: 1\n  pluginConfig: {value: last}\n",
        ),
    ]
    .concat();
    let (_proxy, listen) = start(echo.addr, "", &plugins);
    let c = client();
    let resp = c.get(format!("http://{listen}/deny/me")).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.headers()["x-denied-by"], "local_reply");
    let seen: Vec<_> = resp.headers().get_all("x-wasm-response").iter().collect();
    assert_eq!(
        seen,
        ["first"],
        "only the filter before the local reply sees its response"
    );
    assert_eq!(resp.text().await.unwrap(), "denied by plugin");
    assert_eq!(
        echo.requests.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "the upstream was never asked"
    );

    let resp = c.get(format!("http://{listen}/allowed")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn body_plugin_rewrites_request_and_response_bodies() {
    let echo = Echo::start("up");
    let (_proxy, listen) = start(echo.addr, "", &plugin_yaml("body", "body", ""));
    let resp = client()
        .post(format!("http://{listen}/upload"))
        .body("hello body")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(text.starts_with("wasm(") && text.ends_with(')'), "{text}");
    let inner: serde_json::Value = serde_json::from_str(&text[5..text.len() - 1]).unwrap();
    assert_eq!(inner["bodyLength"], 10);
    // The upstream got the upper-cased body: its checksum matches "HELLO BODY".
    let sum = b"HELLO BODY"
        .iter()
        .fold(0u64, |s, b| s.wrapping_mul(31).wrapping_add(*b as u64));
    assert_eq!(inner["bodySum"], sum);
}

#[tokio::test]
async fn http_call_reaches_a_cluster_and_resumes_the_request() {
    let echo = Echo::start("up");
    let auth = Echo::start("auth-server");
    let (_proxy, listen) = start(
        echo.addr,
        &cluster_yaml("auth", &[auth.addr], "http1"),
        &plugin_yaml("call", "http_call", ""),
    );
    let resp = client()
        .get(format!("http://{listen}/x"))
        .header("authorization", "Bearer abc")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = resp.json().await.unwrap();
    let answer: serde_json::Value =
        serde_json::from_str(v["headers"]["x-auth-answer"].as_str().unwrap()).unwrap();
    assert_eq!(answer["server"], "auth-server");
    assert_eq!(answer["path"], "/check");
    assert_eq!(answer["headers"]["authorization"], "Bearer abc");
}

#[tokio::test]
async fn unavailable_module_fail_close_gets_503_and_fail_open_is_skipped() {
    let echo = Echo::start("up");
    let missing = "---\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n  name: missing\n  namespace: istio-system\nspec:\n  url: file:///nonexistent/plugin.wasm\n";
    let (proxy, listen) = start(echo.addr, "", missing);
    let resp = client().get(format!("http://{listen}/x")).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("istio-system.missing"),
        "the 503 names the plugin: {body}"
    );
    let (_, plugins) = proxy.admin_get("/plugins");
    assert!(plugins.contains("FAIL_CLOSE"), "{plugins}");
    assert!(
        plugins.contains("nonexistent"),
        "the admin shows the last error: {plugins}"
    );

    proxy.write_config("plugins.yaml", &format!("{missing}  failStrategy: FAIL_OPEN\n"));
    proxy.wait_version(2);
    let resp = client().get(format!("http://{listen}/x")).send().await.unwrap();
    assert_eq!(resp.status(), 200, "FAIL_OPEN skips the plugin");
}

#[tokio::test]
async fn plugins_read_envoy_attributes_and_the_authn_result() {
    let echo = Echo::start("up");
    let (pem, jwks) = {
        // An HS256 key is enough here: the JWT path itself is tested in proxy_security.
        let secret = b"properties-test-secret-of-32-bytes!";
        use base64::Engine as _;
        let k = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
        (
            secret.to_vec(),
            format!(r#"{{"keys":[{{"kty":"oct","kid":"k","alg":"HS256","k":"{k}"}}]}}"#),
        )
    };
    let authn = format!(
        "---\napiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {{name: jwt, namespace: istio-system}}\nspec:\n  jwtRules:\n  - issuer: https://issuer.test\n    jwks: '{jwks}'\n"
    );
    let plugins = format!(
        "{}{authn}",
        plugin_yaml("props", "properties", "  phase: AUTHZ\n")
    );
    let (_proxy, listen) = start(echo.addr, "", &plugins);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("k".into());
    let token = jsonwebtoken::encode(
        &header,
        &serde_json::json!({"iss": "https://issuer.test", "sub": "carol"}),
        &jsonwebtoken::EncodingKey::from_secret(&pem),
    )
    .unwrap();
    let resp = client()
        .get(format!("http://{listen}/some/path?x=1"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = resp.json().await.unwrap();
    let h = &v["headers"];
    assert_eq!(
        h["x-prop-request-auth-principal"], "https://issuer.test/carol",
        "{v}"
    );
    let claims: serde_json::Value =
        serde_json::from_str(h["x-prop-request-auth-claims"].as_str().expect("claims")).unwrap();
    assert_eq!(claims["sub"], "carol", "{claims}");
    assert_eq!(h["x-prop-request-url-path"], "/some/path");
    assert_eq!(h["x-prop-request-method"], "GET");
    assert_eq!(h["x-prop-plugin-name"], "istio-system.props");
    assert_eq!(h["x-prop-node-id"], "istio-system/gw");
    assert_eq!(h["x-prop-xds-cluster-name"], "backend");
    assert_eq!(h["x-prop-destination-port"], listen.port().to_string());
    // A request without x-request-id gets one before the filters, as on Envoy: the plugin's
    // `request.id` and the upstream's header are the same UUID.
    let id = h["x-request-id"]
        .as_str()
        .expect("the upstream sees an x-request-id");
    assert_eq!(id.len(), 36, "{id}");
    assert_eq!(h["x-prop-request-id"], id);
}

/// `request.id` is the stream's id, as on Envoy (its stream id provider, set from the
/// header before any filter): a plugin that rewrites `x-request-id` changes what the
/// upstream sees, not what a later plugin reads as `request.id`.
#[tokio::test]
async fn request_id_is_the_streams_even_after_a_plugin_rewrites_the_header() {
    let echo = Echo::start("up");
    let plugins = format!(
        "{}{}",
        plugin_yaml(
            "edit",
            "header_chain",
            "  phase: AUTHN\n  pluginConfig: {name: edit, replace: [[x-request-id, edited]]}\n"
        ),
        plugin_yaml("props", "properties", "  phase: AUTHZ\n")
    );
    let (_proxy, listen) = start(echo.addr, "", &plugins);
    let resp = client()
        .get(format!("http://{listen}/x"))
        .header("x-request-id", "client-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["headers"]["x-request-id"], "edited", "{v}");
    assert_eq!(v["headers"]["x-prop-request-id"], "client-1", "{v}");
}

#[tokio::test]
async fn a_plugin_that_never_resumes_is_bounded_by_the_route_timeout() {
    let echo = Echo::start("up");
    let listen = free_addr();
    let route = "    - name: all\n      match: {prefix: /}\n      cluster: backend\n      timeout: 500ms\n";
    let config = proxy_yaml(listen, route, &cluster_yaml("backend", &[echo.addr], "http1"));
    let plugin = plugin_yaml("stuck", "hostile_never_resume", "");
    let _p = ProxyProcess::start(
        "istio-system/gw",
        &[("proxy.yaml", &config), ("plugin.yaml", &plugin)],
        1,
    );
    let started = std::time::Instant::now();
    let resp = client().get(format!("http://{listen}/x")).send().await.unwrap();
    assert_eq!(resp.status(), 504);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(resp.text().await.unwrap().contains("did not resume"));
}

/// With a plugin, a plain request goes out as the head the plugins share: its wait is
/// bounded by the route's perTryTimeout too (docs/proxy.md).
#[tokio::test]
async fn with_a_plugin_the_per_try_timeout_bounds_the_upstreams_answer() {
    let echo = Echo::start("up");
    let listen = free_addr();
    let route = "    - name: all\n      match: {prefix: /}\n      cluster: backend\n      timeout: 10s\n      perTryTimeout: 300ms\n";
    let config = proxy_yaml(listen, route, &cluster_yaml("backend", &[echo.addr], "http1"));
    let plugin = plugin_yaml("low", "headers", "  pluginConfig: {value: low}\n");
    let _p = ProxyProcess::start(
        "istio-system/gw",
        &[("proxy.yaml", &config), ("plugin.yaml", &plugin)],
        1,
    );
    per_try_timeout_fires(&client(), &format!("http://{listen}/delay"), "all").await;
}

#[tokio::test]
async fn grpc_call_reaches_an_http2_cluster() {
    let echo = Echo::start("up");
    let grpc = proxy_support::grpc::grpc_echo();
    let (proxy, listen) = start(
        echo.addr,
        &cluster_yaml("grpc", &[grpc], "http2"),
        &plugin_yaml("grpc", "grpc_call", ""),
    );
    let resp = client()
        .get(format!("http://{listen}/hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", proxy.log());
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["headers"]["x-grpc-status"], "0", "{v}");
    assert_eq!(v["headers"]["x-grpc-reply"], "echo:/wasmesh.test.Echo/Say:/hello");
}

/// An HTTP/1.1 server answering every request with a body of `size` bytes.
fn big_answers(size: usize) -> SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                let _ = write!(stream, "HTTP/1.1 200 OK\r\ncontent-length: {size}\r\n\r\n");
                // The proxy stops reading at its limit and drops the connection.
                let _ = stream.write_all(&vec![b'a'; size]);
            });
        }
    });
    addr
}

#[tokio::test]
async fn an_http_call_answer_over_the_limit_fails_the_call_not_the_proxy() {
    let echo = Echo::start("up");
    let auth = big_answers(5 << 20);
    let (proxy, listen) = start(
        echo.addr,
        &cluster_yaml("auth", &[auth], "http1"),
        &plugin_yaml("call", "http_call", ""),
    );
    for _ in 0..2 {
        let resp = client().get(format!("http://{listen}/x")).send().await.unwrap();
        // The plugin got the ABI's failed call: an answer without even a `:status`.
        assert_eq!(resp.status(), 401, "{}", proxy.log());
        assert_eq!(resp.headers()["x-auth-status"], "");
    }
    assert!(
        proxy
            .log()
            .contains("the answer's body is larger than 4 MiB, the limit of a plugin's call"),
        "{}",
        proxy.log()
    );
}

#[tokio::test]
async fn a_grpc_call_answer_over_the_limit_is_resource_exhausted() {
    let echo = Echo::start("up");
    let grpc = proxy_support::grpc::grpc_echo();
    let (proxy, listen) = start(
        echo.addr,
        &cluster_yaml("grpc", &[grpc], "http2"),
        &plugin_yaml("grpc", "grpc_call", ""),
    );
    let status = |path: &'static str| {
        let c = client();
        async move {
            let resp = c.get(format!("http://{listen}{path}")).send().await.unwrap();
            let v: serde_json::Value = resp.json().await.unwrap();
            v["headers"]["x-grpc-status"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
    };
    assert_eq!(status("/big/5000000").await, "8", "{}", proxy.log());
    assert_eq!(
        status("/big/1000").await,
        "0",
        "a small answer on the same cluster still passes"
    );
}

#[tokio::test]
async fn large_bodies_stream_through_a_plugin_chain() {
    const SIZE: usize = 3_000_000;
    let echo = Echo::start("up");
    // The headers plugin's value without pluginConfig is its root id, `pluginName`.
    let (_proxy, listen) = start(echo.addr, "", &plugin_yaml("h", "headers", "  pluginName: h\n"));
    let c = client();
    let resp = c
        .get(format!("http://{listen}/bytes/{SIZE}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("x-wasm-response").is_some());
    assert_eq!(
        resp.bytes().await.unwrap().len(),
        SIZE,
        "a body larger than any buffer passes whole"
    );
    let resp = c
        .post(format!("http://{listen}/upload"))
        .body(vec![b'z'; SIZE])
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["bodyLength"], SIZE as u64);
    assert_eq!(v["headers"]["x-wasm-request"], "h");
}

#[tokio::test]
async fn credentials_in_a_module_url_never_reach_logs_admin_or_responses() {
    let echo = Echo::start("up");
    // A closed port: the fetch fails, and the reason is shown in /plugins and the log.
    let closed = free_addr();
    let leaky = format!(
        "---\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n  name: leaky\n  namespace: istio-system\nspec:\n  url: http://puller:pw-s3cr3t@{closed}/plugin.wasm?token=tok-s3cr3t\n"
    );
    let (proxy, listen) = start(echo.addr, "", &leaky);
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    let plugins = loop {
        let (_, plugins) = proxy.admin_get("/plugins");
        if plugins.contains(&closed.to_string()) || std::time::Instant::now() > deadline {
            break plugins;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        plugins.contains(&closed.to_string()),
        "the admin names the failing url: {plugins}"
    );
    let resp = client().get(format!("http://{listen}/x")).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    let body = resp.text().await.unwrap();
    for (what, text) in [
        ("/plugins", plugins.as_str()),
        ("the 503", body.as_str()),
        ("the log", &proxy.log()),
        ("/config_dump", &proxy.admin_get("/config_dump").1),
    ] {
        assert!(!text.contains("s3cr3t"), "{what} shows a credential: {text}");
    }
}

/// An upstream that records the bytes of one request's connection and never answers.
fn recording_upstream() -> (SocketAddr, std::sync::mpsc::Receiver<Vec<u8>>) {
    use std::io::Read as _;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut conn = conn;
                conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&buf[..n]);
                }
                let _ = tx.send(got);
            });
        }
    });
    (addr, rx)
}

#[test]
fn a_body_refused_mid_stream_is_answered_at_once_and_never_completes_upstream() {
    use std::io::{Read as _, Write as _};
    let (upstream, received) = recording_upstream();
    let plugins = plugin_yaml("limit", "body_limit", "  pluginConfig: {limit: 8}\n");
    let (proxy, listen) = start(upstream, "", &plugins);
    let mut client = std::net::TcpStream::connect(listen).unwrap();
    client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // The first chunk passes and goes upstream; the second passes the limit.
    client
        .write_all(b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let started = std::time::Instant::now();
    client.write_all(b"6\r\nsecond\r\n").unwrap();
    let mut reply = [0u8; 12];
    client.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"HTTP/1.1 413", "{}", proxy.log());
    // At once: the upstream never answers, so waiting for it would take the route timeout.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let got = received
        .recv_timeout(Duration::from_secs(5))
        .expect("the upstream saw the request");
    let got = String::from_utf8_lossy(&got).to_string();
    assert!(got.starts_with("POST /upload HTTP/1.1\r\n"), "{got}");
    assert!(
        got.contains("first"),
        "the body streamed before the refusal: {got}"
    );
    assert!(!got.contains("second"), "{got}");
    assert!(
        !got.ends_with("0\r\n\r\n"),
        "the upstream received a cut body as complete: {got:?}"
    );
}
