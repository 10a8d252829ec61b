//! One header map per request, shared by every filter, and local replies as Envoy encodes
//! them, end to end through the binary with the SDK-built `header_chain` plugin: a plugin
//! sees what the ones before it wrote and, in `on_log`, what the ones after it wrote; the
//! built-in authn reads what a plugin added; a body no plugin changes keeps its
//! Content-Length; a local reply passes the replying plugin's response callbacks and those
//! of the plugins before it, and reaches a gRPC client as a trailers-only gRPC reply.

use crate::proxy_support;

use proxy_support::echo::Echo;
use proxy_support::*;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// A `header_chain` WasmPlugin with this priority and configuration (JSON).
fn chain_plugin(name: &str, priority: i32, config: &str, extra: &str) -> String {
    let path = wasmesh_testkit::plugin("header_chain");
    format!(
        "---\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n  name: {name}\n  namespace: istio-system\nspec:\n  url: file://{}\n  priority: {priority}\n  pluginConfig: {config}\n{extra}",
        path.display()
    )
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn start(
    upstream: SocketAddr,
    protocol: &str,
    extra_clusters: &str,
    resources: &str,
) -> (ProxyProcess, SocketAddr) {
    let listen = free_addr();
    let clusters = format!(
        "{}{extra_clusters}",
        cluster_yaml("backend", &[upstream], protocol)
    );
    let config = proxy_yaml(listen, &route_yaml("all", "{prefix: /}", "backend"), &clusters);
    let proxy = ProxyProcess::start(
        "istio-system/gw",
        &[("proxy.yaml", &config), ("plugins.yaml", resources)],
        1,
    );
    (proxy, listen)
}

/// Waits (up to 5 s) for the proxy's log to hold `needle`.
fn wait_for_log(proxy: &ProxyProcess, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = proxy.log();
        if log.contains(needle) || Instant::now() > deadline {
            return log;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn plugins_share_one_header_map_and_on_log_sees_what_later_ones_wrote() {
    let echo = Echo::start("up");
    let resources = [
        chain_plugin(
            "first",
            10,
            r#"{"name": "first", "add": [["x-a", "from-first"]], "log": ["x-b", "x-a"]}"#,
            "",
        ),
        chain_plugin(
            "second",
            5,
            r#"{"name": "second", "copy": [["x-a", "x-second-saw-a"]], "add": [["x-b", "from-second"]]}"#,
            "",
        ),
    ]
    .concat();
    let (proxy, listen) = start(echo.addr, "http1", "", &resources);
    let resp = client().get(format!("http://{listen}/x")).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{}", proxy.log());
    let v: serde_json::Value = resp.json().await.unwrap();
    let h = &v["headers"];
    assert_eq!(
        h["x-second-saw-a"], "from-first",
        "the second plugin reads what the first wrote: {v}"
    );
    assert_eq!(h["x-a"], "from-first");
    assert_eq!(h["x-b"], "from-second");
    let log = wait_for_log(&proxy, "first on_log x-b=from-second");
    assert!(
        log.contains("first on_log x-b=from-second"),
        "the first plugin's on_log sees the header the second wrote after it ran:\n{log}"
    );
    assert!(log.contains("first on_log x-a=from-first"), "{log}");
}

#[tokio::test]
async fn a_plugin_removes_proxy_and_client_headers_and_rewrites_the_authority() {
    let echo = Echo::start("up");
    let resources = chain_plugin(
        "strip",
        0,
        r#"{"name": "strip", "remove": ["x-forwarded-proto", "x-remove-me", "host"], "replace": [[":authority", "rewritten.local"], [":path", "/rewritten?q=1"]]}"#,
        "",
    );
    let (proxy, listen) = start(echo.addr, "http1", "", &resources);
    let resp = client()
        .get(format!("http://{listen}/original"))
        .header("x-remove-me", "1")
        .header("x-keep", "kept")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", proxy.log());
    let v: serde_json::Value = resp.json().await.unwrap();
    let h = &v["headers"];
    assert_eq!(h["host"], "rewritten.local", "{v}");
    assert_eq!(v["uri"], "/rewritten?q=1", "{v}");
    assert!(
        h.get("x-forwarded-proto").is_none(),
        "a header the proxy set before the filters is removed: {v}"
    );
    assert!(h.get("x-remove-me").is_none(), "{v}");
    assert_eq!(h["x-keep"], "kept");
}

#[tokio::test]
async fn a_pause_in_request_headers_then_a_plugin_that_changes_nothing() {
    let echo = Echo::start("up");
    let auth = Echo::start("auth-server");
    let http_call = {
        let path = wasmesh_testkit::plugin("http_call");
        format!(
            "---\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n  name: call\n  namespace: istio-system\nspec:\n  url: file://{}\n  priority: 10\n",
            path.display()
        )
    };
    let resources = [
        http_call,
        chain_plugin("reader", 1, r#"{"name": "reader", "log": ["x-auth-answer"]}"#, ""),
    ]
    .concat();
    let (proxy, listen) = start(
        echo.addr,
        "http1",
        &cluster_yaml("auth", &[auth.addr], "http1"),
        &resources,
    );
    let resp = client()
        .post(format!("http://{listen}/upload"))
        .body("0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", proxy.log());
    let v: serde_json::Value = resp.json().await.unwrap();
    let h = &v["headers"];
    assert!(
        h["x-auth-answer"].is_string(),
        "the paused plugin's header went on: {v}"
    );
    assert_eq!(v["bodyLength"], 10, "{v}");
    assert_eq!(h["content-length"], "10", "{v}");
    let log = wait_for_log(&proxy, "reader on_log x-auth-answer={");
    assert!(log.contains("reader on_log x-auth-answer={"), "{log}");
}

#[tokio::test]
async fn the_built_in_authn_verifies_a_token_a_plugin_before_it_added() {
    let echo = Echo::start("up");
    let secret = b"headers-test-secret-of-32-bytes!!";
    let jwks = {
        use base64::Engine as _;
        let k = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
        format!(r#"{{"keys":[{{"kty":"oct","kid":"k","alg":"HS256","k":"{k}"}}]}}"#)
    };
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("k".into());
    let token = jsonwebtoken::encode(
        &header,
        &serde_json::json!({"iss": "https://issuer.test", "sub": "dave"}),
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap();
    let authn = format!(
        "---\napiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {{name: jwt, namespace: istio-system}}\nspec:\n  jwtRules:\n  - issuer: https://issuer.test\n    jwks: '{jwks}'\n    outputPayloadToHeader: x-jwt-payload\n"
    );
    let config = format!(r#"{{"name": "login", "add": [["authorization", "Bearer {token}"]]}}"#);
    let resources = format!("{}{authn}", chain_plugin("login", 0, &config, "  phase: AUTHN\n"));
    let (proxy, listen) = start(echo.addr, "http1", "", &resources);
    let resp = client().get(format!("http://{listen}/x")).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{}", proxy.log());
    let v: serde_json::Value = resp.json().await.unwrap();
    let payload = v["headers"]["x-jwt-payload"]
        .as_str()
        .unwrap_or_else(|| panic!("authn verified the plugin's token and wrote its payload: {v}"));
    let payload = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .unwrap()
    };
    let claims: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(claims["sub"], "dave");
    assert!(
        v["headers"].get("authorization").is_none(),
        "authn took the token off: {v}"
    );
}

#[tokio::test]
async fn a_body_no_plugin_changes_keeps_its_content_length() {
    let echo = Echo::start("up");
    let resources = chain_plugin(
        "reader",
        0,
        r#"{"name": "reader", "copy": [["content-length", "x-saw-length"]]}"#,
        "",
    );
    let (proxy, listen) = start(echo.addr, "http1", "", &resources);
    let resp = client()
        .post(format!("http://{listen}/upload"))
        .body("a body of 22 bytes....")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", proxy.log());
    let v: serde_json::Value = resp.json().await.unwrap();
    let h = &v["headers"];
    assert_eq!(
        h["content-length"], "22",
        "the upstream got the client's length: {v}"
    );
    assert!(h.get("transfer-encoding").is_none(), "not chunked: {v}");
    assert_eq!(h["x-saw-length"], "22", "the plugin read it too");
    assert_eq!(v["bodyLength"], 22);
}

#[tokio::test]
async fn a_large_streamed_body_no_plugin_changes_keeps_its_content_length() {
    const SIZE: usize = 300_000;
    let echo = Echo::start("up");
    let resources = chain_plugin("reader", 0, r#"{"name": "reader"}"#, "");
    let (proxy, listen) = start(echo.addr, "http1", "", &resources);
    let resp = client()
        .post(format!("http://{listen}/upload"))
        .body(vec![b'z'; SIZE])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", proxy.log());
    let v: serde_json::Value = resp.json().await.unwrap();
    let h = &v["headers"];
    assert_eq!(h["content-length"], SIZE.to_string(), "{h}");
    assert!(h.get("transfer-encoding").is_none(), "not chunked: {h}");
    assert_eq!(v["bodyLength"], SIZE as u64);
}

#[tokio::test]
async fn a_plugin_that_lengthens_a_streamed_body_but_keeps_its_length_gets_it_reset() {
    const SIZE: usize = 300_000;
    let echo = Echo::start("up");
    let resources = chain_plugin("wrong", 0, r#"{"name": "wrong", "body_append": "!"}"#, "");
    let (proxy, listen) = start(echo.addr, "http1", "", &resources);
    let resp = client()
        .post(format!("http://{listen}/upload"))
        .body(vec![b'z'; SIZE])
        .send()
        .await;
    // The upstream request is reset: the client gets an error status or a reset, never
    // the upstream's 200 for a body it misread.
    if let Ok(resp) = resp {
        assert!(resp.status().is_server_error(), "{}", resp.status());
    }
    let log = wait_for_log(&proxy, "changed the length of a streamed request body");
    assert!(
        log.contains("changed the length of a streamed request body"),
        "{log}"
    );
}

#[tokio::test]
async fn a_body_a_plugin_changes_goes_with_its_new_length() {
    let echo = Echo::start("up");
    let resources = [
        chain_plugin("reader", 10, r#"{"name": "reader"}"#, ""),
        {
            let path = wasmesh_testkit::plugin("body");
            format!(
                "---\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n  name: body\n  namespace: istio-system\nspec:\n  url: file://{}\n",
                path.display()
            )
        },
    ]
    .concat();
    let (proxy, listen) = start(echo.addr, "http1", "", &resources);
    let resp = client()
        .post(format!("http://{listen}/upload"))
        .body("hello body")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", proxy.log());
    // The `body` plugin wraps the response body in `wasm(…)`: the response goes with the
    // new length, not the upstream's.
    let length: usize = resp.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let text = resp.text().await.unwrap();
    assert_eq!(length, text.len(), "{text}");
    let inner = text
        .strip_prefix("wasm(")
        .and_then(|t| t.strip_suffix(')'))
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(inner).unwrap();
    // It upper-cases the request body (and drops its length itself).
    assert_eq!(v["bodyLength"], 10, "{v}");
    assert!(
        v["headers"].get("content-length").is_some() || v["headers"]["transfer-encoding"] == "chunked",
        "framed either way: {v}"
    );
}

#[tokio::test]
async fn a_local_reply_passes_the_replying_plugin_and_the_ones_before_it() {
    let echo = Echo::start("up");
    let resources = [
        chain_plugin("outer", 10, r#"{"name": "outer", "response_mark": true}"#, ""),
        chain_plugin(
            "replier",
            5,
            r#"{"name": "replier", "response_mark": true, "reply": {"prefix": "/reply", "status": 403, "body": "no entry", "headers": [["x-why", "test"]]}}"#,
            "",
        ),
        chain_plugin("inner", 1, r#"{"name": "inner", "response_mark": true}"#, ""),
    ]
    .concat();
    let (proxy, listen) = start(echo.addr, "http1", "", &resources);
    let resp = client()
        .get(format!("http://{listen}/reply/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "{}", proxy.log());
    let h = resp.headers().clone();
    assert_eq!(h["x-outer-saw"], "403", "a plugin before the replying one: {h:?}");
    assert_eq!(h["x-replier-saw"], "403", "the replying plugin itself: {h:?}");
    assert!(
        h.get("x-inner-saw").is_none(),
        "a plugin after it never saw the request: {h:?}"
    );
    assert_eq!(h["x-why"], "test");
    assert_eq!(
        h["content-type"], "text/plain",
        "Envoy's type for a local reply's body"
    );
    assert_eq!(resp.text().await.unwrap(), "no entry");
    assert_eq!(echo.requests.load(std::sync::atomic::Ordering::Relaxed), 0);

    let resp = client()
        .get(format!("http://{listen}/fine"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let saw: Vec<_> = ["x-outer-saw", "x-replier-saw", "x-inner-saw"]
        .iter()
        .map(|n| resp.headers()[*n].to_str().unwrap().to_string())
        .collect();
    assert_eq!(saw, ["200", "200", "200"]);
}

#[tokio::test]
async fn a_grpc_client_gets_a_plugins_local_reply_as_a_trailers_only_grpc_response() {
    use http_body_util::BodyExt;
    let grpc = proxy_support::grpc::grpc_echo();
    let resources = [
        chain_plugin("outer", 10, r#"{"name": "outer", "response_mark": true}"#, ""),
        chain_plugin(
            "deny",
            5,
            r#"{"name": "deny", "reply": {"prefix": "/pkg.Svc/Denied", "status": 200, "body": "not for you", "grpc_status": 7}}"#,
            "",
        ),
    ]
    .concat();
    let (proxy, listen) = start(grpc, "http2", "", &resources);
    let call = |path: &'static str| async move {
        let mut send = h2c_client(listen).await;
        let mut framed = vec![0u8, 0, 0, 0, 2];
        framed.extend_from_slice(b"hi");
        let req = hyper::Request::post(format!("http://{listen}{path}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(http_body_util::Full::new(bytes::Bytes::from(framed)))
            .unwrap();
        send.send_request(req).await.unwrap()
    };
    let resp = call("/pkg.Svc/Denied").await;
    assert_eq!(resp.status(), 200, "{}", proxy.log());
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "application/grpc", "{h:?}");
    assert_eq!(
        h["grpc-status"], "7",
        "PERMISSION_DENIED in the headers (trailers-only): {h:?}"
    );
    assert_eq!(h["grpc-message"], "not for you");
    assert_eq!(
        h["x-outer-saw"], "200",
        "the reply passed the plugin before: {h:?}"
    );
    let collected = resp.into_body().collect().await.unwrap();
    assert!(
        collected.trailers().is_none(),
        "no trailers after a trailers-only reply"
    );
    assert!(collected.to_bytes().is_empty(), "no message");

    let resp = call("/pkg.Svc/Call").await;
    assert_eq!(resp.status(), 200);
    let collected = resp.into_body().collect().await.unwrap();
    assert_eq!(collected.trailers().expect("trailers")["grpc-status"], "0");
}

#[tokio::test]
async fn a_grpc_client_gets_a_failed_plugins_reply_as_grpc_unavailable() {
    // A FAIL_CLOSE plugin whose module cannot be had: the host's 503, as gRPC.
    let grpc = proxy_support::grpc::grpc_echo();
    let resources = [
        chain_plugin("outer", 10, r#"{"name": "outer", "response_mark": true}"#, ""),
        "---\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n  name: gone\n  namespace: istio-system\nspec:\n  url: file:///nonexistent/plugin.wasm\n  priority: 1\n  failStrategy: FAIL_CLOSE\n".to_string(),
    ]
    .concat();
    let (proxy, listen) = start(grpc, "http2", "", &resources);
    let mut send = h2c_client(listen).await;
    let req = hyper::Request::post(format!("http://{listen}/pkg.Svc/Call"))
        .header("content-type", "application/grpc")
        .body(http_body_util::Full::new(bytes::Bytes::from_static(&[
            0, 0, 0, 0, 0,
        ])))
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200, "{}", proxy.log());
    let h = resp.headers();
    assert_eq!(h["grpc-status"], "14", "503 is UNAVAILABLE: {h:?}");
    assert_eq!(h["content-type"], "application/grpc");
    assert!(
        h["grpc-message"].to_str().unwrap().contains("istio-system.gone"),
        "{h:?}"
    );
    assert_eq!(
        h["x-outer-saw"], "200",
        "the reply passed the plugin before: {h:?}"
    );
}

#[tokio::test]
async fn replies_the_host_makes_pass_the_plugins_before_as_well() {
    let echo = Echo::start("up");
    let listen = free_addr();
    let route = "    - name: all\n      match: {prefix: /}\n      cluster: backend\n      timeout: 500ms\n";
    let config = proxy_yaml(listen, route, &cluster_yaml("backend", &[echo.addr], "http1"));
    let stuck = {
        let path = wasmesh_testkit::plugin("hostile_never_resume");
        format!(
            "---\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n  name: stuck\n  namespace: istio-system\nspec:\n  url: file://{}\n  priority: 1\n",
            path.display()
        )
    };
    let resources = [
        chain_plugin("outer", 10, r#"{"name": "outer", "response_mark": true}"#, ""),
        stuck,
    ]
    .concat();
    let proxy = ProxyProcess::start(
        "istio-system/gw",
        &[("proxy.yaml", &config), ("plugins.yaml", &resources)],
        1,
    );
    let resp = client().get(format!("http://{listen}/x")).send().await.unwrap();
    assert_eq!(resp.status(), 504, "{}", proxy.log());
    assert_eq!(
        resp.headers()["x-outer-saw"],
        "504",
        "the pause's timeout reply passed the plugin before the paused one"
    );
}
