//! `wasmesh proxy` end to end on a TCP listener: bytes to a cluster and back, plain and
//! through a `type: NETWORK` plugin.

use crate::proxy_support;

use proxy_support::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// A TCP echo server on a thread.
fn tcp_echo() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = s;
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

fn tcp_proxy_yaml(listen: SocketAddr, upstream: SocketAddr) -> String {
    format!(
        r#"apiVersion: wasmesh.io/v1alpha1
kind: Proxy
metadata: {{name: gw, namespace: istio-system}}
spec:
  listeners:
  - name: tcp
    address: {listen}
    protocol: tcp
    cluster: echo
  clusters:
  - name: echo
    endpoints: ["{upstream}"]
"#
    )
}

fn exchange(s: &mut TcpStream, send: &[u8], expect: usize) -> Vec<u8> {
    s.write_all(send).unwrap();
    let mut got = vec![0u8; expect];
    s.read_exact(&mut got).unwrap();
    got
}

#[test]
fn plain_tcp_passes_bytes_both_ways() {
    let echo = tcp_echo();
    let listen = free_addr();
    let _p = ProxyProcess::start(
        "istio-system/gw",
        &[("proxy.yaml", &tcp_proxy_yaml(listen, echo))],
        2,
    );
    let mut s = TcpStream::connect(listen).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(exchange(&mut s, b"ping", 4), b"ping");
    assert_eq!(exchange(&mut s, &[0u8, 255, 10, 13], 4), [0u8, 255, 10, 13]);
}

#[test]
fn network_plugin_sees_and_changes_both_directions() {
    let echo = tcp_echo();
    let listen = free_addr();
    let plugin = format!(
        "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {{name: tcp, namespace: istio-system}}\nspec:\n  type: NETWORK\n  url: file://{}\n",
        wasmesh_testkit::plugin("tcp").display()
    );
    let p = ProxyProcess::start(
        "istio-system/gw",
        &[
            ("proxy.yaml", &tcp_proxy_yaml(listen, echo)),
            ("plugin.yaml", &plugin),
        ],
        1,
    );
    let mut s = TcpStream::connect(listen).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // Downstream data is upper-cased, upstream data wrapped.
    assert_eq!(exchange(&mut s, b"hello", 11), b"wasm(HELLO)", "{}", p.log());
    // QUIT makes the plugin close the connection.
    s.write_all(b"QUIT").unwrap();
    let mut rest = Vec::new();
    let closed = s.read_to_end(&mut rest);
    assert!(
        closed.is_ok(),
        "the proxy closed the connection (not a read timeout): {closed:?}"
    );
    assert!(rest.is_empty(), "nothing after QUIT: {rest:?}");
    let (_, dump) = p.admin_get("/config_dump");
    assert!(dump.contains("istio-system.tcp"), "{dump}");
}
