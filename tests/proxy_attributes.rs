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
    assert_eq!(h("request-size"), "<absent>", "not known to wasmesh");
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
    assert_eq!(h("connection-tls-version"), "<absent>");
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
    assert_eq!(h("node-metadata-CLUSTER-ID"), "<absent>");
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
    assert_eq!(h("response-code-details"), "<absent>");
    // set_property, declare_property, and a foreign function wasmesh does not have
    assert_eq!(
        h("set-once"),
        "Ok,Ok,BadArgument",
        "a read-only property takes one value"
    );
    assert_eq!(h("set-readback"), "mine-value");
    assert_eq!(h("expr-create"), "Unimplemented");
    assert!(headers.get("x-attr-verify").is_none(), "no signature asked for");
    // proxy_on_log: the request's duration is known, and the response's code.
    let logged = wait_for_log(&proxy, "attrs on_log:");
    let duration: i64 = logged
        .split("request.duration=")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a duration in {logged}"));
    assert!(
        duration > 0 && duration < nanos(after) as i64 - nanos(before) as i64 + 1_000_000_000,
        "{logged}"
    );
    assert!(logged.contains("response.code=200"), "{logged}");
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
