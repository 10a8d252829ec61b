use super::*;
use http_body_util::BodyExt;
use std::rc::Rc;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use crate::upstream::UpstreamPool;

fn parse(bytes: &[u8], method: &Method) -> Result<Option<Head>, Error> {
    parse_head(&mut BytesMut::from(bytes), method)
}

#[test]
fn a_head_is_parsed_only_once_complete() {
    assert!(parse(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n", &Method::GET)
        .unwrap()
        .is_none());
    let head = parse(
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-a: b\r\n\r\nhi",
        &Method::GET,
    )
    .unwrap()
    .unwrap();
    assert_eq!(head.parts.status, StatusCode::OK);
    assert_eq!(head.parts.headers["x-a"], "b");
    assert_eq!(head.framing, Framing::Length(2));
    assert!(head.keep_alive);
}

#[test]
fn a_reason_phrase_of_its_own_is_kept() {
    let head = parse(
        b"HTTP/1.1 200 Fine Thanks\r\ncontent-length: 0\r\n\r\n",
        &Method::GET,
    )
    .unwrap()
    .unwrap();
    let reason = head.parts.extensions.get::<hyper::ext::ReasonPhrase>().unwrap();
    assert_eq!(reason.as_bytes(), b"Fine Thanks");
    let head = parse(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", &Method::GET)
        .unwrap()
        .unwrap();
    assert!(head.parts.extensions.get::<hyper::ext::ReasonPhrase>().is_none());
}

#[test]
fn interim_responses_are_skipped() {
    let mut buf = BytesMut::from(&b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"[..]);
    let head = parse_head(&mut buf, &Method::GET).unwrap().unwrap();
    assert_eq!(head.parts.status, StatusCode::NO_CONTENT);
    assert_eq!(head.framing, Framing::Length(0));
    assert!(buf.is_empty());
}

#[test]
fn framing_follows_rfc_9112() {
    let framing_of = |text: &str, method: &Method| parse(text.as_bytes(), method).unwrap().unwrap();
    let head = framing_of(
        "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n",
        &Method::GET,
    );
    assert_eq!(head.framing, Framing::Chunked);
    assert!(head.keep_alive);
    let head = framing_of("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n", &Method::GET);
    assert_eq!(head.framing, Framing::Close);
    assert!(!head.keep_alive);
    let head = framing_of("HTTP/1.1 200 OK\r\n\r\n", &Method::GET);
    assert_eq!(head.framing, Framing::Close);
    let head = framing_of("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n", &Method::HEAD);
    assert_eq!(head.framing, Framing::Length(0));
    let head = framing_of(
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n",
        &Method::GET,
    );
    assert_eq!(head.framing, Framing::Chunked);
    assert!(
        !head.keep_alive,
        "an ambiguous frame must not reuse the connection"
    );
    assert!(
        !head.parts.headers.contains_key("content-length"),
        "nor pass on the length it does not follow"
    );
    let head = framing_of("HTTP/1.1 200 OK\r\ncontent-length: 3, 3\r\n\r\n", &Method::GET);
    assert_eq!(head.framing, Framing::Length(3));
    let head = framing_of(
        "HTTP/1.1 200 OK\r\nconnection: Close\r\ncontent-length: 0\r\n\r\n",
        &Method::GET,
    );
    assert!(!head.keep_alive);
    let head = framing_of(
        "HTTP/1.1 200 OK\r\nconnection: x-trace, close\r\nx-trace: 1\r\ncontent-length: 0\r\n\r\n",
        &Method::GET,
    );
    assert!(!head.keep_alive);
    assert_eq!(
        head.parts.headers["connection"], "x-trace, close",
        "a Connection that names another header stays, for the hop-by-hop cleanup"
    );
    let head = framing_of(
        "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\ncontent-length: 0\r\n\r\n",
        &Method::GET,
    );
    assert!(head.keep_alive);
    assert!(!head.parts.headers.contains_key("connection"));
    assert!(!head.parts.headers.contains_key("keep-alive"));
    let head = framing_of("HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n", &Method::GET);
    assert!(!head.keep_alive);
}

#[test]
fn bad_heads_are_protocol_errors() {
    for bad in [
        "HTTP/1.1 200 OK\r\ncontent-length: 3, 4\r\n\r\n",
        "HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\ncontent-length: \r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTX/1.1 200 OK\r\n\r\n",
        "HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
    ] {
        let err = parse(bad.as_bytes(), &Method::GET).err();
        assert!(matches!(err, Some(Error::Malformed(_))), "{bad:?}: {err:?}");
    }
    let mut many = String::from("HTTP/1.1 200 OK\r\n");
    for i in 0..=MAX_HEADERS {
        many.push_str(&format!("x-{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let err = parse(many.as_bytes(), &Method::GET).err().unwrap();
    assert!(err.to_string().contains("more than 100 header fields"), "{err}");
}

#[test]
fn a_request_head_tells_its_length_honestly() {
    let (mut parts, ()) = http::Request::builder()
        .method(Method::POST)
        .uri("/a?b=c")
        .header("host", "up")
        .header("content-length", "7")
        .body(())
        .unwrap()
        .into_parts();
    assert_eq!(
        String::from_utf8(encode_head(&parts)).unwrap(),
        "POST /a?b=c HTTP/1.1\r\nhost: up\r\ncontent-length: 0\r\n\r\n"
    );
    parts.method = Method::GET;
    parts.headers.remove("content-length");
    assert_eq!(
        String::from_utf8(encode_head(&parts)).unwrap(),
        "GET /a?b=c HTTP/1.1\r\nhost: up\r\n\r\n"
    );
}

#[test]
fn chunk_size_lines() {
    assert_eq!(chunk_size(b"1a\r\nxx").unwrap(), Some((4, 26)));
    assert_eq!(chunk_size(b"1A;name=value\r\n").unwrap(), Some((15, 26)));
    assert_eq!(chunk_size(b"0\r\n").unwrap(), Some((3, 0)));
    assert_eq!(chunk_size(b"1a").unwrap(), None);
    assert!(chunk_size(b"zz\r\n").is_err());
    assert!(chunk_size(b"+a\r\n").is_err(), "a sign is not a hex digit");
    assert!(chunk_size(b" 5\r\n").is_err());
    assert!(chunk_size(b"5;x\ny\r\n").is_err(), "a bare LF inside the line");
    assert!(chunk_size(b"\r\n").is_err());
    assert!(chunk_size(&[b'1'; MAX_CHUNK_LINE]).is_err());
}

#[test]
fn trailer_sections() {
    assert_eq!(trailers(b"\r\n").unwrap().unwrap().0, 2);
    let (len, map) = trailers(b"grpc-status: 0\r\n\r\nnext").unwrap().unwrap();
    assert_eq!(len, 18);
    assert_eq!(map["grpc-status"], "0");
    assert!(trailers(b"grpc-status: 0\r\n").unwrap().is_none());
}

/// A peer that answers each request it reads (one read per request) with the next of
/// `answers`, written in the pieces given, then closes.
async fn peer(answers: Vec<Vec<&'static str>>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        for pieces in answers {
            let mut req = [0u8; 1024];
            if s.read(&mut req).await.unwrap_or(0) == 0 {
                return;
            }
            for piece in pieces {
                s.write_all(piece.as_bytes()).await.unwrap();
                s.flush().await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
    });
    addr
}

fn get() -> Vec<u8> {
    b"GET / HTTP/1.1\r\nhost: up\r\n\r\n".to_vec()
}

/// One GET on a new connection to `addr`, and the pool its connection goes home to.
async fn exchange(addr: std::net::SocketAddr) -> (ProxyBody, Rc<UpstreamPool>) {
    let mut conn = Conn::new(TcpStream::connect(addr).await.unwrap());
    let head = conn.send(&get(), &Method::GET).await.unwrap();
    let pool = Rc::new(UpstreamPool::default());
    let body = body(&head, conn, Home::new(&pool, addr));
    (body, pool)
}

#[tokio::test]
async fn a_chunked_body_in_pieces_with_trailers_then_the_connection_is_reused() {
    let addr = peer(vec![
        vec![
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel",
            "lo\r\n6;ext=1\r\n world\r",
            "\n0\r\ngrpc-status: 0\r\n",
            "\r\n",
        ],
        vec!["HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"],
    ])
    .await;
    let (body, pool) = exchange(addr).await;
    let collected = body.collect().await.unwrap();
    assert_eq!(collected.trailers().unwrap()["grpc-status"], "0");
    assert_eq!(&collected.to_bytes()[..], b"hello world");
    let mut conn = pool.take_lean(addr).expect("the connection went home");
    let head = conn.send(&get(), &Method::GET).await.unwrap();
    let ProxyBody::Full { data, .. } = super::body(&head, conn, Home::new(&pool, addr)) else {
        panic!("a body that came with its head is whole at once");
    };
    assert_eq!(data.unwrap(), "ok");
    assert!(pool.take_lean(addr).is_some());
}

#[tokio::test]
async fn a_long_body_arrives_as_asked_and_a_close_delimited_one_never_goes_home() {
    let addr = peer(vec![vec![
        "HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nab",
        "cdef",
    ]])
    .await;
    let (body, pool) = exchange(addr).await;
    assert_eq!(
        body.size_hint().exact(),
        Some(6),
        "two of six bytes came with the head"
    );
    assert_eq!(&body.collect().await.unwrap().to_bytes()[..], b"abcdef");
    assert!(pool.take_lean(addr).is_some());

    let addr = peer(vec![vec!["HTTP/1.1 200 OK\r\n\r\nuntil", " close"]]).await;
    let (body, pool) = exchange(addr).await;
    assert_eq!(&body.collect().await.unwrap().to_bytes()[..], b"until close");
    assert!(pool.take_lean(addr).is_none());
}

#[tokio::test]
async fn a_body_cut_short_is_an_error() {
    let addr = peer(vec![vec!["HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nabc"]]).await;
    let (body, pool) = exchange(addr).await;
    let err = body.collect().await.err().unwrap();
    assert!(
        err.to_string()
            .contains("closed the connection inside the response body"),
        "{err}"
    );
    assert!(pool.take_lean(addr).is_none());
}

#[tokio::test]
async fn a_connection_the_peer_closed_is_seen_before_reuse() {
    let addr = peer(vec![vec!["HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"]]).await;
    let mut conn = Conn::new(TcpStream::connect(addr).await.unwrap());
    conn.send(&get(), &Method::GET).await.unwrap();
    assert!(conn.is_reusable());
    // The peer closes after its one answer.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(!conn.is_reusable());
    let err = conn.send(&get(), &Method::GET).await.err().unwrap();
    assert!(matches!(err, Error::Closed), "{err:?}");
}

#[tokio::test]
async fn a_close_delimited_body_hands_out_what_it_has_at_once() {
    // An event stream without a length: the first event must not wait for the next one.
    let addr = peer(vec![vec![
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\ndata: 1\n\n",
    ]])
    .await;
    let (mut body, _pool) = exchange(addr).await;
    let frame = tokio::time::timeout(
        std::time::Duration::from_millis(500),
        std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)),
    )
    .await
    .expect("the buffered event came out at once");
    assert_eq!(frame.unwrap().unwrap().into_data().unwrap(), "data: 1\n\n");
}

#[tokio::test]
async fn the_sweep_lets_go_of_connections_the_peer_closed() {
    let addr = peer(vec![vec!["HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"]]).await;
    let (body, pool) = exchange(addr).await;
    drop(body);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    pool.sweep();
    assert!(
        pool.take_lean(addr).is_none(),
        "the peer closed it after its one answer"
    );
}

/// What `to_upstream` and `encode_head` make of a copy of the request.
fn via_copy(parts: &request::Parts, endpoint: &crate::cluster::Endpoint) -> Vec<u8> {
    let mut copy = parts.clone();
    crate::forward::to_upstream(&mut copy, crate::cluster::ClusterProtocol::Http1, endpoint, None);
    encode_head(&copy)
}

#[test]
fn a_head_encoded_in_place_is_the_head_a_copy_would_give() {
    let endpoint = crate::cluster::Endpoint {
        addr: "127.0.0.1:9".parse().unwrap(),
        authority: "backend:9".into(),
    };
    let requests = [
        http::Request::get("/a?b=c")
            .header("host", "api.test")
            .header("x-a", "1")
            .header("x-a", "2"),
        http::Request::get("http://api.test:8080/p").header("x-b", "v"),
        http::Request::get("/no-authority"),
        http::Request::post("/form")
            .header("content-length", "0")
            .header("x-c", "z"),
        http::Request::delete("/x").header("content-length", "0"),
    ];
    for builder in requests {
        let (parts, ()) = builder.body(()).unwrap().into_parts();
        let in_place = encode_upstream_head(&parts, &endpoint.authority).expect("no hop-by-hop headers");
        assert_eq!(
            String::from_utf8(in_place).unwrap(),
            String::from_utf8(via_copy(&parts, &endpoint)).unwrap(),
            "{} {}",
            parts.method,
            parts.uri
        );
    }
}

#[test]
fn a_head_with_hop_by_hop_headers_is_left_to_the_copy() {
    for name in [
        "connection",
        "keep-alive",
        "te",
        "upgrade",
        "transfer-encoding",
        "proxy-connection",
        "trailer",
    ] {
        let (parts, ()) = http::Request::get("/")
            .header(name, "x")
            .body(())
            .unwrap()
            .into_parts();
        assert!(encode_upstream_head(&parts, "backend:9").is_none(), "{name}");
    }
}
