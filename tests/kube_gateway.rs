//! `wasmesh proxy --kubernetes --gateway NS/NAME` end to end (docs/gateway-api.md): the
//! real binary follows the API server test double, driven by the real kubectl 1.37. A
//! GatewayClass of wasmesh's controller, a Gateway, an HTTPRoute, a Service and an
//! EndpointSlice pointing at a local upstream route requests to it; a changed
//! EndpointSlice moves the traffic; a backend Service that does not exist answers 500; a
//! WasmPlugin whose targetRefs name the Gateway runs, one naming another Gateway does not;
//! a route's hostnames take their host's requests, and only they; a Service without a
//! ready endpoint answers 503; the filters (header modifiers, URLRewrite,
//! RequestRedirect) as the upstream and the client see them, a split whose backend
//! does not resolve answering its share 500, and a query parameter match.

use crate::kube_support::{Cluster, KubeProxy};
use crate::proxy_support::echo::Echo;
use crate::proxy_support::{free_addr, http_get};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

/// The double with wasmesh's CRDs (`wasmesh crds`), the Gateway API's four kinds
/// (tests/fixtures/gateway/crds.yaml) and the namespace `edge`.
pub(crate) fn gateway_cluster() -> Cluster {
    let cluster = Cluster::start();
    cluster.install_crds("edge");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/gateway/crds.yaml");
    cluster.kubectl(&["apply", "-f", &fixture.to_string_lossy()]);
    cluster.kubectl(&[
        "wait",
        "--for=condition=Established",
        "--timeout=20s",
        "crd/gatewayclasses.gateway.networking.k8s.io",
        "crd/gateways.gateway.networking.k8s.io",
        "crd/httproutes.gateway.networking.k8s.io",
        "crd/referencegrants.gateway.networking.k8s.io",
    ]);
    cluster
}

/// `wasmesh proxy --kubernetes --gateway edge/public`.
pub(crate) fn gateway_proxy(cluster: &Cluster) -> KubeProxy {
    let args = ["--gateway", "edge/public", "--gateway-address", "127.0.0.1"];
    KubeProxy::spawn(cluster, &args, &[])
}

pub(crate) fn gateway(port: u16) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: wasmesh}}
spec: {{controllerName: wasmesh.io/gateway-controller}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: public, namespace: edge}}
spec:
  gatewayClassName: wasmesh
  listeners:
  - {{name: http, port: {port}, protocol: HTTP}}
"
    )
}

pub(crate) const ROUTE_AND_SERVICE: &str = "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: echo, namespace: edge}
spec:
  parentRefs: [{name: public}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /missing}}]
    backendRefs: [{name: nope, port: 80}]
  - backendRefs: [{name: echo, port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: edge}
spec:
  ports: [{name: http, port: 80}]
";

/// The EndpointSlice of Service echo: one ready endpoint, `upstream`.
pub(crate) fn slice(upstream: SocketAddr) -> String {
    format!(
        "apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: echo-1
  namespace: edge
  labels: {{kubernetes.io/service-name: echo}}
addressType: IPv4
ports: [{{name: http, port: {}, protocol: TCP}}]
endpoints:
- addresses: [\"{}\"]
  conditions: {{ready: true}}
",
        upstream.port(),
        upstream.ip()
    )
}

/// A WasmPlugin of the test plugin `headers` in namespace edge, attached to Gateway
/// `target` by targetRefs, that adds `x-wasm-request: VALUE` to requests.
fn plugin(name: &str, target: &str, value: &str) -> String {
    format!(
        "apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: {{name: {name}, namespace: edge}}
spec:
  targetRefs: [{{group: gateway.networking.k8s.io, kind: Gateway, name: {target}}}]
  url: file://{}
  pluginConfig: {{value: {value}}}
",
        wasmesh_testkit::plugin("headers").display()
    )
}

/// One request through the gateway: the status, the upstream that answered
/// (`x-upstream`), and the `x-wasm-request` header that upstream saw.
async fn get(client: &reqwest::Client, listen: SocketAddr, path: &str) -> (u16, String, String) {
    let resp = client
        .get(format!("http://{listen}{path}"))
        .send()
        .await
        .expect("a response");
    let status = resp.status().as_u16();
    let upstream = resp
        .headers()
        .get("x-upstream")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = resp.text().await.unwrap_or_default();
    let wasm = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|seen| seen["headers"]["x-wasm-request"].as_str().map(str::to_string))
        .unwrap_or_default();
    (status, upstream, wasm)
}

/// Sends requests to `/` until `check` holds, within `within`.
async fn until(
    client: &reqwest::Client,
    listen: SocketAddr,
    within: Duration,
    check: impl Fn(&(u16, String, String)) -> bool,
) -> (u16, String, String) {
    let start = Instant::now();
    loop {
        let seen = get(client, listen, "/").await;
        if check(&seen) {
            return seen;
        }
        assert!(start.elapsed() < within, "not within {within:?}; last: {seen:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_gateway_and_its_route_serve_endpoints_follow_and_plugins_attach_by_target_refs() {
    let cluster = gateway_cluster();
    let (a, b) = (Echo::start("a"), Echo::start("b"));
    let listen = SocketAddr::new([127, 0, 0, 1].into(), free_addr().port());

    // no Gateway yet: no Proxy, not ready, and the log says what is missing
    let proxy = gateway_proxy(&cluster);
    proxy.wait_log(
        "no Proxy made for the Gateway yet: Gateway edge/public not found",
        Duration::from_secs(20),
    );
    assert_eq!(http_get(proxy.admin, "/ready").0, 503);

    cluster.apply("gateway.yaml", &gateway(listen.port()));
    cluster.apply("route.yaml", ROUTE_AND_SERVICE);
    cluster.apply("slice.yaml", &slice(a.addr));
    proxy.wait_ready(Duration::from_secs(20));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let (status, upstream, _) = until(&client, listen, Duration::from_secs(5), |s| s.0 == 200).await;
    assert_eq!((status, upstream.as_str()), (200, "a"));
    let before = a.requests.load(std::sync::atomic::Ordering::Relaxed);
    assert!(before >= 1, "upstream a saw the request");

    // the EndpointSlice now points at b: the traffic follows
    cluster.apply("slice.yaml", &slice(b.addr));
    until(&client, listen, Duration::from_secs(5), |s| s.1 == "b").await;

    // a backend Service that does not exist: 500, and the log says which
    let (status, upstream, _) = get(&client, listen, "/missing/x").await;
    assert_eq!((status, upstream.as_str()), (500, ""));
    proxy.wait_log(
        "HTTPRoute edge/echo: spec.rules[0].backendRefs[0]: Service edge/nope not found; the rule answers 500",
        Duration::from_secs(5),
    );

    // a plugin attached to another Gateway does not run; one attached to this one does
    cluster.apply("other.yaml", &plugin("to-other", "private", "other"));
    cluster.apply("plugin.yaml", &plugin("to-public", "public", "public"));
    let (_, upstream, wasm) = until(&client, listen, Duration::from_secs(20), |s| s.2 == "public").await;
    assert_eq!(upstream, "b");
    let (_, plugins) = http_get(proxy.admin, "/plugins");
    let plugins: serde_json::Value = serde_json::from_str(&plugins).expect("/plugins is JSON");
    let names: Vec<&str> = plugins
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["to-public"],
        "only the plugin whose targetRefs name Gateway public"
    );
    assert_eq!(wasm, "public");
}

/// An EndpointSlice for Service `service`, one endpoint `upstream`, ready or not.
fn slice_of(service: &str, upstream: SocketAddr, ready: bool) -> String {
    slice(upstream)
        .replace("name: echo-1", &format!("name: {service}-1"))
        .replace("service-name: echo", &format!("service-name: {service}"))
        .replace("ready: true", &format!("ready: {ready}"))
}

/// One request with `Host: host`: the status and the upstream that answered.
async fn get_host(client: &reqwest::Client, listen: SocketAddr, host: &str, path: &str) -> (u16, String) {
    let resp = client
        .get(format!("http://{listen}{path}"))
        .header("host", host)
        .send()
        .await
        .expect("a response");
    let upstream = resp
        .headers()
        .get("x-upstream")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (resp.status().as_u16(), upstream)
}

#[tokio::test]
async fn hostnames_pick_their_routes_and_a_service_without_ready_endpoints_answers_503() {
    let cluster = gateway_cluster();
    let (a, b) = (Echo::start("a"), Echo::start("b"));
    let listen = SocketAddr::new([127, 0, 0, 1].into(), free_addr().port());
    let proxy = gateway_proxy(&cluster);
    cluster.apply("gateway.yaml", &gateway(listen.port()));
    cluster.apply("route.yaml", ROUTE_AND_SERVICE);
    cluster.apply("slice.yaml", &slice(b.addr));
    cluster.apply(
        "api.yaml",
        "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api, namespace: edge}
spec:
  parentRefs: [{name: public}]
  hostnames: [api.example.com]
  rules:
  - backendRefs: [{name: api, port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: edge}
spec:
  ports: [{name: http, port: 80}]
",
    );
    cluster.apply("api-slice.yaml", &slice_of("api", a.addr, true));
    proxy.wait_ready(Duration::from_secs(20));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while get_host(&client, listen, "api.example.com", "/").await != (200, "a".to_string()) {
        assert!(
            Instant::now() < deadline,
            "api.example.com never reached a\n{}",
            proxy.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // the host's own routes only: /missing of the other route does not apply to it
    assert_eq!(
        get_host(&client, listen, "API.example.com:80", "/missing").await,
        (200, "a".into())
    );
    assert_eq!(
        get_host(&client, listen, "www.example.com", "/").await,
        (200, "b".into())
    );
    assert_eq!(
        get_host(&client, listen, "www.example.com", "/missing").await.0,
        500
    );

    // no ready endpoint: 503, as Envoy without a healthy upstream
    cluster.apply("api-slice.yaml", &slice_of("api", a.addr, false));
    let deadline = Instant::now() + Duration::from_secs(5);
    while get_host(&client, listen, "api.example.com", "/").await.0 != 503 {
        assert!(Instant::now() < deadline, "never 503\n{}", proxy.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One request with `Host: www.example.com` and `headers`: the status, the response
/// headers, and what the upstream saw (the echo's JSON: `path`, `uri`, `headers`), if it
/// was reached.
async fn exchange(
    client: &reqwest::Client,
    listen: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, serde_json::Value) {
    let mut req = client
        .get(format!("http://{listen}{path}"))
        .header("host", "www.example.com");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("a response");
    let status = resp.status().as_u16();
    let head = resp.headers().clone();
    let seen = serde_json::from_str(&resp.text().await.unwrap_or_default()).unwrap_or_default();
    (status, head, seen)
}

#[tokio::test]
async fn filters_edit_headers_rewrite_and_redirect_a_splits_unresolved_share_answers_500_and_query_params_match(
) {
    let cluster = gateway_cluster();
    let a = Echo::start("a");
    let listen = SocketAddr::new([127, 0, 0, 1].into(), free_addr().port());
    let proxy = gateway_proxy(&cluster);
    cluster.apply("gateway.yaml", &gateway(listen.port()));
    cluster.apply(
        "route.yaml",
        "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: filters, namespace: edge}
spec:
  parentRefs: [{name: public}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /headers}}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: X-Set, value: one}]
        add: [{name: x-add, value: two}]
        remove: [x-gone]
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        set: [{name: x-upstream, value: hidden}]
        add: [{name: X-Resp, value: three}]
        remove: [content-type]
    backendRefs:
    - name: echo
      port: 80
      filters:
      - type: RequestHeaderModifier
        requestHeaderModifier: {add: [{name: x-backend, value: b}]}
  - matches: [{path: {type: PathPrefix, value: /api/}}]
    filters:
    - type: URLRewrite
      urlRewrite: {hostname: internal.example.com, path: {type: ReplacePrefixMatch, replacePrefixMatch: /v2}}
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: Exact, value: /full}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /whole}}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /secure}}]
    filters: [{type: RequestRedirect, requestRedirect: {scheme: https, statusCode: 301}}]
  - matches: [{path: {type: PathPrefix, value: /old}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}
  - matches: [{path: {type: PathPrefix, value: /split}}]
    backendRefs: [{name: echo, port: 80}, {name: nope, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /query}, queryParams: [{name: animal, value: blue whale}]}]
    backendRefs: [{name: echo, port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: edge}
spec:
  ports: [{name: http, port: 80}]
",
    );
    cluster.apply("slice.yaml", &slice(a.addr));
    proxy.wait_ready(Duration::from_secs(20));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while exchange(&client, listen, "/full", &[]).await.0 != 200 {
        assert!(Instant::now() < deadline, "never served\n{}", proxy.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // header modifiers: what the upstream received, and what the client got
    let (status, head, seen) = exchange(
        &client,
        listen,
        "/headers",
        &[
            ("x-set", "zero"),
            ("x-add", "one"),
            ("x-gone", "bye"),
            ("x-kept", "k"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let sent = &seen["headers"];
    assert_eq!(sent["x-set"], "one", "set replaces: {seen}");
    assert_eq!(sent["x-add"], "one,two", "add appends: {seen}");
    assert!(sent.get("x-gone").is_none(), "remove removes: {seen}");
    assert_eq!(sent["x-kept"], "k");
    assert_eq!(sent["x-backend"], "b", "the backendRef's own filter: {seen}");
    assert_eq!(head["x-upstream"], "hidden", "set on the response");
    assert_eq!(head["x-resp"], "three", "added to the response");
    assert!(head.get("content-type").is_none(), "removed from the response");

    // URLRewrite: the upstream gets the new host and path, the query kept
    let (status, _, seen) = exchange(&client, listen, "/api/users?x=1", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(seen["uri"], "/v2/users?x=1", "{seen}");
    assert_eq!(seen["headers"]["host"], "internal.example.com", "{seen}");
    let (_, _, seen) = exchange(&client, listen, "/api", &[]).await;
    assert_eq!(seen["path"], "/v2", "{seen}");
    let (_, _, seen) = exchange(&client, listen, "/full?y=2", &[]).await;
    assert_eq!(seen["uri"], "/whole?y=2", "{seen}");
    assert_eq!(
        seen["headers"]["host"], "www.example.com",
        "the host is kept: {seen}"
    );

    // RequestRedirect: answered by the gateway, the upstream not reached
    let before = a.requests.load(std::sync::atomic::Ordering::Relaxed);
    let (status, head, _) = exchange(&client, listen, "/secure/page?q=1", &[]).await;
    assert_eq!(status, 301);
    assert_eq!(head["location"], "https://www.example.com/secure/page?q=1");
    let (status, head, _) = exchange(&client, listen, "/old/page", &[]).await;
    assert_eq!(status, 302, "the default status");
    assert_eq!(
        head["location"],
        format!("http://www.example.com:{}/new/page", listen.port()).as_str(),
        "the listener's port when no scheme is set"
    );
    assert_eq!(a.requests.load(std::sync::atomic::Ordering::Relaxed), before);

    // a split whose second backend does not resolve: its half answers 500, the rest served
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(exchange(&client, listen, "/split", &[]).await.0);
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 200, 500, 500, 500]);

    // a query parameter match: its first value, decoded
    assert_eq!(
        exchange(&client, listen, "/query?animal=blue%20whale", &[])
            .await
            .0,
        200
    );
    assert_eq!(exchange(&client, listen, "/query?animal=shark", &[]).await.0, 404);
    assert_eq!(exchange(&client, listen, "/query", &[]).await.0, 404);
    proxy.wait_log(
        "HTTPRoute edge/filters: spec.rules[5].backendRefs[1]: Service edge/nope not found; its share (1/2) of the requests answers 500",
        Duration::from_secs(5),
    );
}
