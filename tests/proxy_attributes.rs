//! Envoy's attributes and foreign functions end to end: the `attributes` plugin reads
//! every attribute and echoes it in the response's headers, which are compared with the
//! request that was sent; the `tcp_route` plugin picks a TCP listener's cluster with
//! `set_envoy_filter_state` (`envoy.tcp_proxy.cluster`). docs/wasm-host.md has the table.

use crate::proxy_support;

use proxy_support::echo::Echo;
use proxy_support::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn plugin_yaml(name: &str, plugin: &str, extra: &str) -> String {
    format!(
        "---\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n  name: {name}\n  namespace: istio-system\nspec:\n  url: file://{}\n{extra}",
        wasmesh_testkit::plugin(plugin).display()
    )
}

fn nanos(t: SystemTime) -> i128 {
    t.duration_since(UNIX_EPOCH).unwrap().as_nanos() as i128
}

#[tokio::test]
async fn every_attribute_reads_as_the_request_that_was_sent() {
    let echo = Echo::start("up");
    let listen = free_addr();
    let config = proxy_yaml(
        listen,
        &route_yaml("all-paths", "{prefix: /}", "backend"),
        &cluster_yaml("backend", &[echo.addr], "http1"),
    );
    let plugin = plugin_yaml("attrs", "attributes", "  pluginName: attrs-root\n");
    let proxy = ProxyProcess::start(
        "istio-system/gw",
        &[("proxy.yaml", &config), ("plugins.yaml", &plugin)],
        1,
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let before = SystemTime::now();
    let resp = client
        .get(format!("http://{listen}/some/path?x=1&y=2"))
        .header("user-agent", "attr-test/1")
        .header("referer", "http://referer.test/")
        .header("x-request-id", "req-42")
        .header("x-probe", "a")
        .header("x-probe-2", "b")
        .send()
        .await
        .unwrap();
    let after = SystemTime::now();
    let headers = resp.headers().clone();
    assert_eq!(resp.status(), 200, "{:?}\n{}", resp.text().await, proxy.log());
    let body_len = resp.bytes().await.unwrap().len();
    let h = |name: &str| -> String {
        headers
            .get(format!("x-attr-{name}"))
            .unwrap_or_else(|| panic!("no x-attr-{name} in {headers:?}"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    // request.*
    assert_eq!(h("request-path"), "/some/path?x=1&y=2");
    assert_eq!(h("request-url-path"), "/some/path");
    assert_eq!(h("request-query"), "x=1&y=2");
    assert_eq!(h("request-host"), listen.to_string());
    assert_eq!(h("request-scheme"), "http");
    assert_eq!(h("request-method"), "GET");
    assert_eq!(h("request-referer"), "http://referer.test/");
    assert_eq!(h("request-useragent"), "attr-test/1");
    assert_eq!(h("request-id"), "req-42");
    assert_eq!(h("request-protocol"), "HTTP/1.1");
    assert_eq!(h("request-headers-x-probe"), "a");
    let map = h("request-headers");
    for pair in [
        "x-probe=a",
        "x-probe-2=b",
        "user-agent=attr-test/1",
        ":method=GET",
        ":path=/some/path?x=1&y=2",
    ] {
        assert!(
            map.split(';').any(|p| p == pair),
            "{pair} in request.headers: {map}"
        );
    }
    let time: i128 = h("request-time").parse().unwrap();
    assert!(
        nanos(before) - 1_000_000 <= time && time <= nanos(after),
        "request.time {time} within the request"
    );
    assert_eq!(
        h("request-duration"),
        "<absent>",
        "known only from proxy_on_log on"
    );
    // Sizes as Envoy counts them: no content-length and no body yet; the head's names and
    // values (pseudo-headers included) as `request.headers` shows them.
    assert_eq!(h("request-size"), "0");
    let head_bytes: usize = map
        .split(';')
        .map(|pair| pair.split_once('=').map_or(0, |(k, v)| k.len() + v.len()))
        .sum();
    assert_eq!(h("request-headers-bytes"), head_bytes.to_string(), "{map}");
    assert_eq!(h("request-total-size"), head_bytes.to_string());
    assert_eq!(h("early-response-size"), "0", "nothing sent yet");
    assert_eq!(h("early-response-flags"), "0");
    assert_eq!(h("early-upstream-request-attempt-count"), "0", "not routed yet");
    // connection, source, destination
    let id: u64 = h("connection-id").parse().unwrap();
    assert!(id > 0);
    assert_eq!(h("connection-mtls"), "false");
    // Empty values (no SNI on plain text, routes and clusters without metadata) come back
    // with a null pointer, which the Rust SDK reads as `None`, as from Envoy.
    assert_eq!(
        h("connection-requested-server-name"),
        "<absent>",
        "no SNI on plain text"
    );
    for tls in [
        "tls-version",
        "subject-local-certificate",
        "dns-san-local-certificate",
        "subject-peer-certificate",
        "sha256-peer-certificate-digest",
        "termination-details",
        "transport-failure-reason",
    ] {
        assert_eq!(h(&format!("connection-{tls}")), "<absent>", "{tls} on plain text");
    }
    let source = h("source-address");
    let port: u16 = source.strip_prefix("127.0.0.1:").expect(&source).parse().unwrap();
    assert_eq!(h("source-port"), port.to_string());
    assert_eq!(h("destination-address"), listen.to_string());
    assert_eq!(h("destination-port"), listen.port().to_string());
    // xds and the Wasm short names
    assert_eq!(h("xds-route-name"), "all-paths");
    assert_eq!(h("route-name"), "all-paths");
    assert_eq!(h("xds-cluster-name"), "backend");
    assert_eq!(h("cluster-name"), "backend");
    assert_eq!(h("xds-listener-direction"), "1", "a SERVER listener is INBOUND");
    assert_eq!(h("listener-direction"), "1");
    assert_eq!(h("xds-route-metadata"), "<absent>");
    assert_eq!(h("cluster-metadata"), "<absent>");
    assert_eq!(h("upstream-host-metadata"), "<absent>");
    assert_eq!(h("plugin-name"), "istio-system.attrs");
    assert_eq!(h("plugin-root-id"), "attrs-root");
    assert!(!h("plugin-vm-id").is_empty());
    // node, with Istio's node metadata
    assert_eq!(h("node-id"), "istio-system/gw");
    assert_eq!(h("node-metadata-NAME"), "gw");
    assert_eq!(h("node-metadata-NAMESPACE"), "istio-system");
    assert_eq!(h("node-metadata-WORKLOAD-NAME"), "gw");
    assert_eq!(h("node-metadata-LABELS"), "istio=ingressgateway");
    assert_eq!(
        h("node-metadata-CLUSTER-ID"),
        "<absent>",
        "no ISTIO_META_CLUSTER_ID"
    );
    assert_eq!(
        h("node-cluster"),
        "gw.istio-system",
        "Istio's: no app label, the workload's name"
    );
    let node = h("node");
    assert!(
        node.ends_with(" bytes") && node != "0 bytes",
        "node is a protobuf message: {node}"
    );
    assert_eq!(h("xds-node"), node);
    // response.*: only once the response is there
    assert_eq!(h("early-response-code"), "absent");
    // upstream.*: the endpoint the request went to, once it answered
    assert_eq!(h("early-upstream-address"), "absent");
    assert_eq!(h("upstream-address"), echo.addr.to_string());
    assert_eq!(h("upstream-port"), echo.addr.port().to_string());
    assert_eq!(h("response-code"), "200");
    assert_eq!(h("response-headers-x-upstream"), "up");
    assert_eq!(h("response-grpc-status"), "<absent>");
    assert_eq!(h("response-code-details"), "via_upstream");
    assert_eq!(h("response-flags"), "0");
    assert_eq!(h("response-size"), "0", "the body is still to come");
    assert_eq!(h("upstream-request-attempt-count"), "1");
    let local = h("upstream-local-address");
    let local: SocketAddr = local.parse().unwrap_or_else(|_| panic!("an address: {local}"));
    assert!(local.ip().is_loopback() && local != echo.addr, "{local}");
    assert_eq!(
        h("upstream-transport-failure-reason"),
        "<absent>",
        "empty: nothing failed"
    );
    assert_eq!(
        h("response-backend-latency"),
        "<absent>",
        "the body is still to come"
    );
    // set_property, declare_property, and a foreign function wasmesh does not have
    assert_eq!(
        h("set-once"),
        "Ok,Ok,BadArgument",
        "a read-only property takes one value"
    );
    assert_eq!(h("set-readback"), "mine-value");
    assert_eq!(h("expr-create"), "Unimplemented");
    assert!(headers.get("x-attr-verify").is_none(), "no signature asked for");
    // proxy_on_log: the request's duration is known, the response's code, the sizes of
    // what went both ways, and how long the upstream took.
    let logged = on_log(&proxy);
    let n = |key: &str| -> i64 {
        logged[key]
            .parse()
            .unwrap_or_else(|_| panic!("{key} a number: {logged:?}"))
    };
    let duration = n("request.duration");
    assert!(
        duration > 0 && duration < nanos(after) as i64 - nanos(before) as i64 + 1_000_000_000,
        "{logged:?}"
    );
    assert_eq!(logged["response.code"], "200");
    assert_eq!(n("request.size"), 0);
    assert_eq!(n("request.total_size"), head_bytes as i64);
    assert_eq!(n("response.size"), body_len as i64, "the body the client got");
    assert!(
        n("response.headers_bytes") > 200,
        "the x-attr headers: {logged:?}"
    );
    assert_eq!(
        n("response.total_size"),
        n("response.size") + n("response.headers_bytes")
    );
    let latency = n("response.backend_latency");
    assert!(latency > 0 && latency <= duration, "{logged:?}");
    assert_eq!(logged["response.code_details"], "via_upstream");
    assert_eq!(n("response.flags"), 0);
    assert_eq!(logged["upstream.address"], echo.addr.to_string());
    assert_eq!(logged["upstream.local_address"], local.to_string());
}

/// The `key=value` pairs of the plugin's first `attrs on_log:` line.
fn on_log(proxy: &ProxyProcess) -> std::collections::BTreeMap<String, String> {
    let line = wait_for_log(proxy, "attrs on_log:");
    let rest = line.split("attrs on_log: ").nth(1).unwrap();
    rest.split(' ')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn a_request_body_is_counted_as_envoy_counts_it() {
    let echo = Echo::start("up");
    let listen = free_addr();
    let config = one_backend_proxy_yaml(listen, echo.addr);
    let plugin = plugin_yaml("attrs", "attributes", "");
    let proxy = ProxyProcess::start(
        "istio-system/gw",
        &[("proxy.yaml", &config), ("plugins.yaml", &plugin)],
        1,
    );
    let resp = reqwest::Client::new()
        .post(format!("http://{listen}/upload"))
        .body("hello world")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["x-attr-request-size"],
        "11",
        "on the request's headers, its content-length"
    );
    let logged = on_log(&proxy);
    assert_eq!(logged["request.size"], "11");
    let total: i64 = logged["request.total_size"].parse().unwrap();
    let head: i64 = logged["request.headers_bytes"].parse().unwrap();
    assert_eq!(total, 11 + head, "{logged:?}");
}

#[tokio::test]
async fn local_replies_and_upstream_failures_carry_envoys_details_and_flags() {
    let dead = free_addr();
    let listen = free_addr();
    let config = proxy_yaml(
        listen,
        &route_yaml("dead", "{prefix: /dead}", "backend"),
        &cluster_yaml("backend", &[dead], "http1"),
    );
    let plugin = plugin_yaml("attrs", "attributes", "");
    let proxy = ProxyProcess::start(
        "istio-system/gw",
        &[("proxy.yaml", &config), ("plugins.yaml", &plugin)],
        1,
    );
    let client = reqwest::Client::new();
    let get = |path: &'static str, reply: Option<&'static str>| {
        let mut req = client.get(format!("http://{listen}{path}"));
        if let Some(details) = reply {
            req = req.header("x-attr-reply", details);
        }
        req.send()
    };
    let h = |resp: &reqwest::Response, name: &str| -> String {
        resp.headers()
            .get(format!("x-attr-{name}"))
            .unwrap_or_else(|| panic!("no x-attr-{name} in {:?}", resp.headers()))
            .to_str()
            .unwrap()
            .to_owned()
    };
    // A refused connection: Envoy's UF, its details and transport failure reason.
    let refused = get("/dead", None).await.unwrap();
    assert_eq!(refused.status(), 503, "{}", proxy.log());
    assert_eq!(
        h(&refused, "response-code-details"),
        "upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused}"
    );
    assert_eq!(h(&refused, "response-flags"), "32", "UF");
    assert_eq!(h(&refused, "upstream-address"), dead.to_string());
    assert_eq!(
        h(&refused, "upstream-transport-failure-reason"),
        "delayed connect error: Connection refused"
    );
    assert_eq!(h(&refused, "upstream-request-attempt-count"), "1");
    assert_eq!(h(&refused, "upstream-local-address"), "<absent>", "no connection");
    // No route: NR.
    let unrouted = get("/elsewhere", None).await.unwrap();
    assert_eq!(unrouted.status(), 404);
    assert_eq!(h(&unrouted, "response-code-details"), "route_not_found");
    assert_eq!(h(&unrouted, "response-flags"), "256", "NR");
    assert_eq!(h(&unrouted, "upstream-address"), "<absent>");
    assert_eq!(h(&unrouted, "upstream-request-attempt-count"), "0");
    // A plugin's own reply: the details it gave, no flag, no upstream.
    let replied = get("/dead", Some("attrs_said_no")).await.unwrap();
    assert_eq!(replied.status(), 418);
    assert_eq!(h(&replied, "response-code-details"), "attrs_said_no");
    assert_eq!(h(&replied, "response-flags"), "0");
    assert_eq!(h(&replied, "upstream-address"), "<absent>");
}

/// A certificate for `localhost` with an organisation in its subject and a URI name
/// besides its DNS name (a SPIFFE id, as Istio's workload certificates carry).
fn certificate_with_names(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    wasmesh_testkit::certificate::self_signed(
        &cert,
        &key,
        "/O=wasmesh test/CN=localhost",
        "DNS:localhost,IP:127.0.0.1,URI:spiffe://cluster.local/ns/istio-system/sa/gw",
    );
    (cert, key)
}

#[tokio::test]
async fn a_tls_connection_and_the_node_read_as_on_an_istio_sidecar() {
    let echo = Echo::start("up");
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate_with_names(dir.path());
    let listen = free_addr();
    let config = one_backend_proxy_yaml(listen, echo.addr).replace(
        "    protocol: http\n",
        &format!(
            "    protocol: http\n    tls: {{certFile: \"{}\", keyFile: \"{}\"}}\n",
            cert.display(),
            key.display()
        ),
    );
    assert!(config.contains("certFile"), "{config}");
    let plugin = plugin_yaml("attrs", "attributes", "");
    let _proxy = ProxyProcess::start_with_env(
        "istio-system/gw",
        &[("proxy.yaml", &config), ("plugins.yaml", &plugin)],
        &[
            ("ISTIO_META_CLUSTER_ID", "east-1"),
            ("ISTIO_META_MESH_ID", "mesh-a"),
        ],
    );
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let resp = client
        .get(format!("https://localhost:{}/", listen.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let h = |name: &str| {
        resp.headers()[format!("x-attr-{name}")]
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(h("connection-tls-version"), "TLSv1.3");
    assert_eq!(
        h("connection-subject-local-certificate"),
        "CN=localhost,O=wasmesh test",
        "RFC 2253: most specific first"
    );
    assert_eq!(h("connection-dns-san-local-certificate"), "localhost");
    assert_eq!(
        h("connection-uri-san-local-certificate"),
        "spiffe://cluster.local/ns/istio-system/sa/gw"
    );
    assert_eq!(h("connection-requested-server-name"), "localhost");
    // No client certificate is asked for: its subject is empty, its other facts absent.
    assert_eq!(h("connection-mtls"), "false");
    assert_eq!(h("connection-subject-peer-certificate"), "<absent>");
    assert_eq!(h("connection-uri-san-peer-certificate"), "<absent>");
    assert_eq!(h("connection-sha256-peer-certificate-digest"), "<absent>");
    // The node, with what Istio's injector would have given a sidecar.
    assert_eq!(h("node-metadata-CLUSTER-ID"), "east-1");
    assert_eq!(h("node-metadata-MESH-ID"), "mesh-a");
    assert_eq!(h("node-cluster"), "gw.istio-system");
}

/// The first log line of `proxy` that contains `needle` (waiting up to 5 s for it).
fn wait_for_log(proxy: &ProxyProcess, needle: &str) -> String {
    for _ in 0..100 {
        if let Some(line) = proxy.log().lines().find(|l| l.contains(needle)) {
            return line.to_owned();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no {needle:?} in the log:\n{}", proxy.log());
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn verify_signature_checks_a_p256_signature() {
    use p256::ecdsa::signature::Signer;
    use p256::pkcs8::EncodePublicKey;
    let echo = Echo::start("up");
    let listen = free_addr();
    let config = one_backend_proxy_yaml(listen, echo.addr);
    let plugin = plugin_yaml("attrs", "attributes", "");
    let _proxy = ProxyProcess::start(
        "istio-system/gw",
        &[("proxy.yaml", &config), ("plugins.yaml", &plugin)],
        1,
    );
    let key = p256::ecdsa::SigningKey::from_slice(&[3u8; 32]).unwrap();
    let der = key.verifying_key().to_public_key_der().unwrap();
    let signature: p256::ecdsa::Signature = key.sign(b"signed text");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let ask = |text: &'static str| {
        client
            .get(format!("http://{listen}/"))
            .header("x-verify-key", hex(der.as_bytes()))
            .header("x-verify-sig", hex(signature.to_der().as_bytes()))
            .header("x-verify-text", text)
            .send()
    };
    let good = ask("signed text").await.unwrap();
    assert_eq!(good.headers()["x-attr-verify"], "true");
    let bad = ask("other text").await.unwrap();
    assert_eq!(
        bad.headers()["x-attr-verify"],
        "false: the signature does not match"
    );
}

/// A TCP server that says its name to each connection, then closes it.
fn named_server(name: &'static str) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let _ = s.write_all(name.as_bytes());
        }
    });
    addr
}

fn tcp_yaml(listen: SocketAddr, a: SocketAddr, b: SocketAddr) -> String {
    format!(
        "apiVersion: wasmesh.io/v1alpha1\nkind: Proxy\nmetadata: {{name: gw, namespace: istio-system}}\nspec:\n  listeners:\n  - name: tcp\n    address: {listen}\n    protocol: tcp\n    cluster: a\n  clusters:\n  - name: a\n    endpoints: [\"{a}\"]\n  - name: b\n    endpoints: [\"{b}\"]\n"
    )
}

fn first_bytes(listen: SocketAddr) -> String {
    let mut s = TcpStream::connect(listen).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn a_network_plugin_picks_the_tcp_cluster_with_set_envoy_filter_state() {
    let (a, b) = (named_server("server-a"), named_server("server-b"));
    let listen = free_addr();
    let route = |cluster: &str| {
        plugin_yaml(
            "route",
            "tcp_route",
            &format!("  type: NETWORK\n  pluginConfig: {{cluster: {cluster}}}\n"),
        )
    };
    let proxy = ProxyProcess::start(
        "istio-system/gw",
        &[
            ("proxy.yaml", &tcp_yaml(listen, a, b)),
            ("plugins.yaml", &route("b")),
        ],
        1,
    );
    assert_eq!(
        first_bytes(listen),
        "server-b",
        "the plugin's cluster, not the listener's"
    );
    proxy.write_config("plugins.yaml", &route("nowhere"));
    proxy.wait_version(2);
    assert_eq!(
        first_bytes(listen),
        "",
        "a cluster that does not exist closes the connection"
    );
    assert!(proxy.log().contains("envoy.tcp_proxy.cluster"), "{}", proxy.log());
    proxy.write_config("plugins.yaml", "");
    proxy.wait_version(3);
    assert_eq!(
        first_bytes(listen),
        "server-a",
        "without the plugin, the listener's cluster"
    );
}
