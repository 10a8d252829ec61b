//! `wasmesh proxy` end to end with short listener timeouts: a client that opens a
//! connection and then does not do its part is closed — a TLS handshake never finished
//! (`tls.handshakeTimeout`), half a request head on HTTP/1.1, on the lean path and on
//! hyper's (`http.requestHeadersTimeout`), an h2c connection with no request in flight
//! (`http.idleTimeout`) or none ever sent — while a slow answer in flight is not cut.

use crate::proxy_support;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use proxy_support::echo::Echo;
use proxy_support::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const HEADERS: Duration = Duration::from_millis(300);
const IDLE: Duration = Duration::from_millis(1500);

/// A proxy whose listener has [`HEADERS`] and [`IDLE`] (and `extra` settings), routing
/// everything to `echo`.
fn start(echo: SocketAddr, extra: &str) -> (ProxyProcess, SocketAddr) {
    let listen = free_addr();
    let config = one_backend_proxy_yaml(listen, echo).replace(
        "    protocol: http\n",
        &format!(
            "    protocol: http\n    http: {{requestHeadersTimeout: 300ms, idleTimeout: 1500ms}}\n{extra}"
        ),
    );
    let proxy = ProxyProcess::start("istio-system/gw", &[("proxy.yaml", &config)], 1);
    (proxy, listen)
}

/// How long until the proxy closes `stream` (reads until EOF; the test fails if it takes
/// longer than 10 s).
fn closed_after(mut stream: TcpStream, since: Instant) -> Duration {
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return since.elapsed(),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return since.elapsed(),
            Err(e) => panic!("the proxy did not close the connection: {e}"),
        }
    }
}

/// Closed by a timer of about `timeout`: not before it, and well before the 10 s a missing
/// timer would take.
fn assert_about(took: Duration, timeout: Duration, what: &str) {
    assert!(
        took >= timeout.mul_f32(0.8) && took < timeout + Duration::from_secs(3),
        "{what}: closed after {took:?}, expected about {timeout:?}"
    );
}

#[test]
fn a_tls_client_that_never_finishes_the_handshake_is_closed() {
    let echo = Echo::start("tls");
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let tls = format!(
        "    tls: {{certFile: \"{}\", keyFile: \"{}\", handshakeTimeout: 300ms}}\n",
        cert.display(),
        key.display()
    );
    let (proxy, listen) = start(echo.addr, &tls);

    let silent = TcpStream::connect(listen).unwrap();
    assert_about(closed_after(silent, Instant::now()), HEADERS, "a silent client");

    // Half a ClientHello: a TLS record header announcing more than comes.
    let mut half = TcpStream::connect(listen).unwrap();
    let started = Instant::now();
    half.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).unwrap();
    assert_about(closed_after(half, started), HEADERS, "half a ClientHello");
    assert_eq!(proxy.admin_get("/ready").0, 200, "the proxy is still up");
}

#[test]
fn half_an_http1_head_is_closed_after_the_request_headers_timeout() {
    let echo = Echo::start("h1");
    let (_proxy, listen) = start(echo.addr, "");

    // The lean path.
    let mut lean = TcpStream::connect(listen).unwrap();
    let started = Instant::now();
    lean.write_all(b"GET /x HTTP/1.1\r\nhost: a\r\nx-slow: ").unwrap();
    assert_about(closed_after(lean, started), HEADERS, "half a GET head");

    // hyper's path: a request with a body moves the connection there; the next head is
    // sent in half.
    let mut hyper = TcpStream::connect(listen).unwrap();
    hyper
        .write_all(b"POST /x HTTP/1.1\r\nhost: a\r\ncontent-length: 2\r\n\r\nhi")
        .unwrap();
    hyper.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("\"bodyLength\"") {
        let n = hyper.read(&mut buf).expect("the POST is answered");
        assert!(
            n > 0,
            "closed before answering: {}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&buf[..n]);
    }
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    // The whole body (the echo's JSON ends with a brace).
    while !answer.ends_with(b"}") {
        let n = hyper.read(&mut buf).unwrap();
        answer.extend_from_slice(&buf[..n]);
    }
    let started = Instant::now();
    hyper.write_all(b"GET /y HTTP/1.1\r\nhost").unwrap();
    assert_about(closed_after(hyper, started), HEADERS, "half a head after a POST");
}

#[tokio::test]
async fn an_idle_h2c_connection_gets_goaway_but_a_slow_answer_is_not_cut() {
    let echo = Echo::start("h2");
    let (proxy, listen) = start(echo.addr, "");
    let connect = || async {
        let io = TokioIo::new(tokio::net::TcpStream::connect(listen).await.unwrap());
        let (send, conn) =
            hyper::client::conn::http2::handshake::<_, _, Empty<Bytes>>(TokioExecutor::new(), io)
                .await
                .unwrap();
        // Ends when the proxy has sent GOAWAY and closed the connection.
        (send, tokio::spawn(conn))
    };
    let get = |path: &str| {
        hyper::Request::get(format!("http://{listen}{path}"))
            .body(Empty::<Bytes>::new())
            .unwrap()
    };

    // No request ever: closed after the request-headers timeout.
    let started = Instant::now();
    let (_send, conn) = connect().await;
    let ended = tokio::time::timeout(Duration::from_secs(10), conn).await;
    assert!(matches!(ended, Ok(Ok(Ok(())))), "a clean close: {ended:?}");
    assert_about(started.elapsed(), HEADERS, "an h2c connection with no request");

    // A request that takes longer than the idle timeout is answered; the connection is
    // closed once it has been idle that long.
    let (mut send, conn) = connect().await;
    let resp = send.send_request(get("/delay/2000")).await.unwrap();
    assert_eq!(resp.status(), 200, "{}", proxy.log());
    resp.into_body().collect().await.unwrap();
    let idle_from = Instant::now();
    let resp = send.send_request(get("/x")).await.unwrap();
    assert_eq!(
        resp.status(),
        200,
        "the connection is still open after the slow answer"
    );
    resp.into_body().collect().await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), conn).await;
    assert!(
        matches!(ended, Ok(Ok(Ok(())))),
        "GOAWAY and a clean close: {ended:?}"
    );
    assert_about(idle_from.elapsed(), IDLE, "an idle h2c connection");
    assert!(
        send.send_request(get("/x")).await.is_err(),
        "no new stream after GOAWAY"
    );
}
