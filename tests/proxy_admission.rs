//! `wasmesh proxy` end to end as an attacker drives it: raw HTTP/1.1 bytes and HTTP/2
//! requests that spell a denied path or host another way, with an `AuthorizationPolicy`
//! that denies `/admin` and the host `admin.internal`, in plain text and over TLS (HTTP/1.1
//! and, chosen by ALPN, HTTP/2). Each case asserts on what the echo upstream received (its
//! JSON description of the request), or that it received nothing.

use crate::proxy_support;

use proxy_support::echo::Echo;
use proxy_support::*;
use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio_rustls::rustls;

/// Three listeners on one echo: `base` with Istio's default normalization, `strict` with
/// DECODE_AND_MERGE_SLASHES, `secure` as `base` over TLS with `cert`; one DENY policy on
/// paths and hosts.
fn config(
    base: SocketAddr,
    strict: SocketAddr,
    secure: SocketAddr,
    (cert, key): &(std::path::PathBuf, std::path::PathBuf),
    echo: SocketAddr,
) -> String {
    format!(
        r#"apiVersion: wasmesh.io/v1alpha1
kind: Proxy
metadata: {{name: gw, namespace: istio-system, labels: {{istio: ingressgateway}}}}
spec:
  listeners:
  - name: base
    address: {base}
    routes: [{{name: all, match: {{prefix: /}}, cluster: echo, timeout: 5s}}]
  - name: strict
    address: {strict}
    http: {{pathNormalization: DECODE_AND_MERGE_SLASHES}}
    routes: [{{name: all, match: {{prefix: /}}, cluster: echo, timeout: 5s}}]
  - name: secure
    address: {secure}
    tls: {{certFile: "{}", keyFile: "{}"}}
    routes: [{{name: all, match: {{prefix: /}}, cluster: echo, timeout: 5s}}]
  clusters:
  - {{name: echo, endpoints: ["{echo}"], connectTimeout: 1s}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: deny-admin, namespace: istio-system}}
spec:
  action: DENY
  rules:
  - to: [{{operation: {{paths: ["/admin", "/admin/*"]}}}}]
  - to: [{{operation: {{hosts: ["admin.internal"]}}}}]
"#,
        cert.display(),
        key.display(),
    )
}

struct Setup {
    echo: Echo,
    base: SocketAddr,
    strict: SocketAddr,
    secure: SocketAddr,
    /// The certificate `secure` serves (self-signed: its own CA).
    cert: std::path::PathBuf,
    _proxy: ProxyProcess,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let echo = Echo::start("echo");
    let (base, strict, secure) = (free_addr(), free_addr(), free_addr());
    let dir = tempfile::tempdir().unwrap();
    let pair = self_signed(dir.path());
    let proxy = ProxyProcess::start(
        "istio-system/gw",
        &[("proxy.yaml", &config(base, strict, secure, &pair, echo.addr))],
        1,
    );
    Setup {
        echo,
        base,
        strict,
        secure,
        cert: pair.0,
        _proxy: proxy,
        _dir: dir,
    }
}

/// A TLS client configuration trusting `cert` alone, offering `alpn`.
fn tls_config(cert: &std::path::Path, alpn: &[&[u8]]) -> std::sync::Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(cert).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    std::sync::Arc::new(config)
}

/// A response read off a raw connection: the status and the body.
struct Raw {
    status: u16,
    body: String,
}

impl Raw {
    /// What the echo upstream said it received.
    fn upstream(&self) -> serde_json::Value {
        assert_eq!(self.status, 200, "not forwarded: {}", self.body);
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// Writes `bytes` on a new connection and reads one response (content-length framed, or
/// to the close).
fn raw(addr: SocketAddr, bytes: &[u8]) -> Raw {
    let s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    raw_on(s, bytes)
}

/// As [`raw`], over TLS to `localhost` at `addr`, trusting `cert`, offering HTTP/1.1 by ALPN.
fn raw_tls(addr: SocketAddr, cert: &std::path::Path, bytes: &[u8]) -> Raw {
    let tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = rustls::ClientConnection::new(tls_config(cert, &[b"http/1.1"]), name).unwrap();
    raw_on(rustls::StreamOwned::new(tls, tcp), bytes)
}

fn raw_on(mut s: impl std::io::Read + std::io::Write, bytes: &[u8]) -> Raw {
    s.write_all(bytes).unwrap();
    s.flush().unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if length.is_some_and(|n| buf.len() >= end + 4 + n) {
                break;
            }
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Raw { status, body }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Sends `request` and asserts it never reached the upstream; returns the status.
fn refused(s: &Setup, addr: SocketAddr, request: &str) -> u16 {
    let before = s.echo.requests.load(Ordering::SeqCst);
    let r = raw(addr, request.as_bytes());
    assert_ne!(r.status, 200, "{request:?} was forwarded: {}", r.body);
    assert_eq!(
        s.echo.requests.load(Ordering::SeqCst),
        before,
        "{request:?} reached the upstream"
    );
    r.status
}

fn get(target: &str, headers: &str) -> String {
    format!("GET {target} HTTP/1.1\r\n{headers}\r\n")
}

#[test]
fn denied_paths_stay_denied_however_they_are_spelled_and_the_upstream_gets_the_normalized_path() {
    let s = setup();
    // Controls: the plain path is denied, another passes.
    assert_eq!(refused(&s, s.base, &get("/admin", "Host: a\r\n")), 403);
    assert_eq!(
        raw(s.base, get("/public", "Host: a\r\n").as_bytes()).upstream()["path"],
        "/public"
    );
    for spelling in [
        "/public/../admin",
        "/public/%2e%2e/admin",
        "/public/%2E./admin/x",
        "/./admin",
        "/%61dmin",
        "/adm%69n/",
    ] {
        let status = refused(&s, s.base, &get(spelling, "Host: a\r\n"));
        assert!(status == 403 || status == 400, "{spelling}: {status}");
    }
    // What the upstream receives is the normalized path, the query as sent.
    let got = raw(
        s.base,
        get("/a/../public/./%41?q=/../admin", "Host: a\r\n").as_bytes(),
    )
    .upstream();
    assert_eq!(got["uri"], "/public/A?q=/../admin");
    // BASE keeps an encoded slash; DECODE_AND_MERGE_SLASHES decodes and merges it.
    let got = raw(s.base, get("/public%2f..%2fadmin", "Host: a\r\n").as_bytes()).upstream();
    assert_eq!(got["path"], "/public%2F..%2Fadmin");
    assert_eq!(
        refused(&s, s.strict, &get("/public%2f..%2fadmin", "Host: a\r\n")),
        403
    );
    assert_eq!(refused(&s, s.strict, &get("//admin", "Host: a\r\n")), 403);
    assert_eq!(
        refused(&s, s.strict, &get("/public/..%2f../admin", "Host: a\r\n")),
        403
    );
    assert_eq!(
        raw(s.strict, get("/p//q%2F%2Fr", "Host: a\r\n").as_bytes()).upstream()["path"],
        "/p/q/r"
    );
    // Paths that cannot be normalized safely.
    for bad in ["/x%00y", "/x%zz", "/x%2"] {
        assert_eq!(refused(&s, s.base, &get(bad, "Host: a\r\n")), 400, "{bad}");
    }
    // A request with a body takes hyper's path rather than the lean one: the same rules.
    let post = "POST /public/../admin HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi";
    assert_eq!(refused(&s, s.base, post), 403);
}

#[test]
fn the_host_that_authz_sees_is_the_host_the_upstream_gets() {
    let s = setup();
    assert_eq!(refused(&s, s.base, &get("/", "Host: admin.internal\r\n")), 403);
    // Absolute form: the URI's authority wins over Host, for authz and for the upstream.
    assert_eq!(
        refused(
            &s,
            s.base,
            &get("http://admin.internal/", "Host: public.example\r\n")
        ),
        403
    );
    let got = raw(
        s.base,
        get("http://public.example/x/../y", "Host: admin.internal\r\n").as_bytes(),
    )
    .upstream();
    assert_eq!(got["headers"]["host"], "public.example");
    assert_eq!(got["uri"], "/y");
    // One valid Host, or 400.
    for headers in [
        "Host: public.example\r\nHost: admin.internal\r\n",
        "",
        "Host: admin.internal@public.example\r\n",
        "Host: public.example/admin\r\n",
        "Host: a b\r\n",
    ] {
        assert_eq!(refused(&s, s.base, &get("/", headers)), 400, "{headers:?}");
    }
    // A method that is not upper case could pass a `methods` rule it should not.
    assert_eq!(refused(&s, s.base, "get / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

#[test]
fn only_websocket_upgrades_pass_and_h2c_never_switches() {
    let s = setup();
    let upgrade = |protocol: &str| {
        get(
            "/",
            &format!("Host: a\r\nConnection: Upgrade\r\nUpgrade: {protocol}\r\n"),
        )
    };
    assert_eq!(refused(&s, s.base, &upgrade("foo/1")), 403);
    assert_eq!(refused(&s, s.base, &upgrade("websocket, foo")), 403);
    assert_eq!(
        refused(
            &s,
            s.base,
            "CONNECT admin.internal:80 HTTP/1.1\r\nHost: admin.internal:80\r\n\r\n"
        ),
        403
    );
    // h2c: forwarded as a plain request, without the upgrade.
    let h2c = get(
        "/public",
        "Host: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n",
    );
    let r = raw(s.base, h2c.as_bytes());
    let got = r.upstream();
    assert_eq!(got["version"], "HTTP/1.1");
    for h in ["upgrade", "http2-settings", "connection"] {
        assert!(got["headers"].get(h).is_none(), "{h} reached the upstream: {got}");
    }
    // Control: a websocket upgrade still switches and carries bytes both ways.
    let mut ws = std::net::TcpStream::connect(s.base).unwrap();
    ws.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    ws.write_all(upgrade("websocket").as_bytes()).unwrap();
    let mut head = [0u8; 12];
    ws.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 101");
}

#[test]
fn an_upstream_that_switches_protocols_unasked_is_a_protocol_error() {
    // An upstream that answers 101 to anything: the proxy must not open a tunnel the chain
    // never admitted.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten().take(4) {
            let mut conn = conn;
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(
                b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let listen = free_addr();
    let _proxy = ProxyProcess::start(
        "istio-system/gw",
        &[("proxy.yaml", &one_backend_proxy_yaml(listen, upstream))],
        1,
    );
    for request in [
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi",
    ] {
        let r = raw(listen, request.as_bytes());
        assert_eq!(r.status, 502, "{request:?}: {}", r.body);
        assert!(r.body.contains("upstream protocol error"), "{}", r.body);
        assert!(
            !r.body.contains("127.0.0.1"),
            "the endpoint's address reached the client: {}",
            r.body
        );
    }
}

type H2 = hyper::client::conn::http2::SendRequest<http_body_util::Empty<bytes::Bytes>>;

/// One HTTP/2 request with prior knowledge; `host` is sent as a header beside `:authority`.
async fn h2(addr: SocketAddr, authority: &str, path: &str, host: Option<&str>) -> (u16, String) {
    h2_on(h2c_client(addr).await, "http", authority, path, host).await
}

/// As [`h2`], over TLS to `localhost` at `addr` trusting `cert`, HTTP/2 chosen by ALPN.
async fn h2_tls(
    addr: SocketAddr,
    cert: &std::path::Path,
    authority: &str,
    path: &str,
    host: Option<&str>,
) -> (u16, String) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(tls_config(cert, &[b"h2"]));
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]), "h2 by ALPN");
    let (send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    h2_on(send, "https", authority, path, host).await
}

async fn h2_on(mut send: H2, scheme: &str, authority: &str, path: &str, host: Option<&str>) -> (u16, String) {
    use http_body_util::BodyExt;
    let mut req = hyper::Request::get(format!("{scheme}://{authority}{path}"));
    if let Some(host) = host {
        req = req.header("host", host);
    }
    let resp = send
        .send_request(req.body(http_body_util::Empty::<bytes::Bytes>::new()).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).to_string())
}

/// The HTTP/2 cases, each request made by `h2` (authority, path, a `host` header): what is
/// refused never reaches the upstream; what passes reaches it normalized, with one Host, the
/// authority. Returns what the upstream received for the request that passed.
async fn meets_the_http2_rules<F, Fut>(s: &Setup, h2: F) -> serde_json::Value
where
    F: Fn(&'static str, &'static str, Option<&'static str>) -> Fut,
    Fut: std::future::Future<Output = (u16, String)>,
{
    let before = s.echo.requests.load(Ordering::SeqCst);
    for path in ["/public/../admin", "/%61dmin", "/public/%2E%2E/admin/x"] {
        let (status, body) = h2("a", path, None).await;
        assert_eq!(status, 403, "{path}: {body}");
    }
    let (status, _) = h2("admin.internal", "/", None).await;
    assert_eq!(status, 403);
    // RFC 9113 §8.3.1: :authority and host must agree.
    let (status, body) = h2("public.example", "/", Some("admin.internal")).await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = h2("a", "/x%00", None).await;
    assert_eq!(status, 400);
    assert_eq!(
        s.echo.requests.load(Ordering::SeqCst),
        before,
        "a refused request reached the upstream"
    );
    let (status, body) = h2("public.example", "/public/./x/../y?z=1", Some("PUBLIC.example")).await;
    assert_eq!(status, 200, "{body}");
    let got: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(got["uri"], "/public/y?z=1");
    assert_eq!(got["headers"]["host"], "public.example");
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_requests_meet_the_same_rules() {
    let s = tokio::task::spawn_blocking(setup).await.unwrap();
    meets_the_http2_rules(&s, |authority, path, host| h2(s.base, authority, path, host)).await;
}

#[test]
fn a_malformed_request_body_is_the_clients_fault_and_bodies_of_any_method_are_forwarded() {
    let s = setup();
    for bad_chunk in [
        "zz\r\nhello\r\n0\r\n\r\n",
        "5\r\nhelloXX0\r\n\r\n",
        "fffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
    ] {
        let req =
            format!("POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{bad_chunk}");
        let r = raw(s.base, req.as_bytes());
        assert_eq!(r.status, 400, "{bad_chunk:?}: {}", r.body);
        assert!(r.body.contains("malformed request body"), "{}", r.body);
    }
    let metrics = s._proxy.admin_get("/stats/prometheus").1;
    assert!(
        metrics.lines().any(|l| l.starts_with("istio_requests_total")
            && l.contains("response_code=\"400\"")
            && l.contains("response_flags=\"DPE\"")),
        "{metrics}"
    );
    assert!(
        !metrics.contains("response_flags=\"UC\""),
        "counted as an upstream failure: {metrics}"
    );
    // A body on a method that usually has none still reaches the upstream whole.
    for method in ["GET", "OPTIONS", "DELETE"] {
        let req = format!("{method} /public HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
        let got = raw(s.base, req.as_bytes()).upstream();
        assert_eq!(got["bodyLength"], 5, "{method}: {got}");
    }
    let req = "GET /public HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    assert_eq!(raw(s.base, req.as_bytes()).upstream()["bodyLength"], 5);
}

#[test]
fn over_tls_http1_requests_meet_the_same_rules() {
    let s = setup();
    let send = |request: &str| raw_tls(s.secure, &s.cert, request.as_bytes());
    let refused = |request: &str| {
        let before = s.echo.requests.load(Ordering::SeqCst);
        let r = send(request);
        assert_ne!(r.status, 200, "{request:?} was forwarded over TLS: {}", r.body);
        assert_eq!(
            s.echo.requests.load(Ordering::SeqCst),
            before,
            "{request:?} reached the upstream over TLS"
        );
        r.status
    };
    // Controls: one passes normalized, the plain denied path is denied.
    assert_eq!(
        send(&get("/public/./x/../y", "Host: a\r\n")).upstream()["uri"],
        "/public/y"
    );
    assert_eq!(refused(&get("/admin", "Host: a\r\n")), 403);
    for spelling in [
        "/public/../admin",
        "/public/%2e%2e/admin",
        "/%61dmin",
        "/adm%69n/",
        "/./admin",
    ] {
        let status = refused(&get(spelling, "Host: a\r\n"));
        assert!(status == 403 || status == 400, "{spelling}: {status}");
    }
    for bad in ["/x%00y", "/x%zz"] {
        assert_eq!(refused(&get(bad, "Host: a\r\n")), 400, "{bad}");
    }
    // Hosts: the absolute form's authority wins, one valid Host or 400.
    assert_eq!(
        refused(&get("https://admin.internal/", "Host: public.example\r\n")),
        403
    );
    assert_eq!(refused(&get("/", "Host: admin.internal\r\n")), 403);
    for headers in [
        "Host: public.example\r\nHost: admin.internal\r\n",
        "",
        "Host: a b\r\n",
    ] {
        assert_eq!(refused(&get("/", headers)), 400, "{headers:?}");
    }
    assert_eq!(refused("get / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    // Upgrades: only websocket; h2c is forwarded as a plain request without its headers.
    let upgrade = |p: &str| {
        get(
            "/",
            &format!("Host: a\r\nConnection: Upgrade\r\nUpgrade: {p}\r\n"),
        )
    };
    assert_eq!(refused(&upgrade("foo/1")), 403);
    let h2c = get(
        "/public",
        "Host: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n",
    );
    let got = send(&h2c).upstream();
    for h in ["upgrade", "http2-settings", "connection"] {
        assert!(got["headers"].get(h).is_none(), "{h} reached the upstream: {got}");
    }
    // A request with a body takes the other server path: the same rules.
    assert_eq!(
        refused("POST /public/../admin HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi"),
        403
    );
    // Content-Length beside Transfer-Encoding: whatever the proxy answers, the request it
    // smuggles behind an empty chunked body never reaches the upstream as a request.
    let before = s.echo.requests.load(Ordering::SeqCst);
    let smuggle = "POST /public HTTP/1.1\r\nHost: a\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n";
    let r = send(smuggle);
    std::thread::sleep(Duration::from_millis(300));
    let reached = s.echo.requests.load(Ordering::SeqCst) - before;
    assert!(reached <= 1, "{reached} requests reached the upstream");
    if r.status == 200 {
        let got = r.upstream();
        assert_eq!(got["path"], "/public", "{got}");
        assert_eq!(got["bodyLength"], 0, "the smuggled request went as a body: {got}");
    } else {
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(reached, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_http2_requests_meet_the_same_rules() {
    let s = tokio::task::spawn_blocking(setup).await.unwrap();
    let got = meets_the_http2_rules(&s, |authority, path, host| {
        h2_tls(s.secure, &s.cert, authority, path, host)
    })
    .await;
    assert_eq!(got["version"], "HTTP/1.1", "to the upstream as configured: {got}");
}
