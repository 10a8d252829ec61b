use super::*;

fn parse(text: &str) -> (Parsed, BytesMut) {
    let mut buf = BytesMut::from(text.as_bytes());
    (parse_request(&mut buf), buf)
}

#[test]
fn a_plain_get_is_served_here_and_the_rest_of_the_buffer_stays() {
    let (parsed, rest) = parse("GET /a?b=1 HTTP/1.1\r\nhost: x\r\nconnection: keep-alive\r\n\r\nGET /next");
    let Parsed::Request(parts) = parsed else {
        panic!("a plain GET")
    };
    assert_eq!(parts.method, Method::GET);
    assert_eq!(parts.uri.path_and_query().unwrap().as_str(), "/a?b=1");
    assert_eq!(parts.headers["host"], "x");
    assert_eq!(&rest[..], b"GET /next");
    assert!(matches!(
        parse("GET / HTTP/1.1\r\nhost: x\r\n").0,
        Parsed::Partial
    ));
}

#[test]
fn everything_else_is_left_to_hyper_untouched() {
    for text in [
        "POST / HTTP/1.1\r\ncontent-length: 1\r\n\r\na",
        "HEAD / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.0\r\n\r\n",
        "GET http://x/ HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n",
        "GET / HTTP/1.1\r\nconnection: close\r\n\r\n",
        "GET / HTTP/1.1\r\ncontent-length: 0\r\n\r\n",
        "GET / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
        "GET / HTTP/1.1\r\nexpect: 100-continue\r\n\r\n",
        "GET / HTTP/1.1\r\nte: trailers\r\n\r\n",
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        "GARBAGE\r\n\r\n",
    ] {
        let (parsed, rest) = parse(text);
        assert!(matches!(parsed, Parsed::Fallback), "{text:?}");
        assert_eq!(&rest[..], text.as_bytes(), "hyper sees every byte: {text:?}");
    }
}

#[tokio::test]
async fn the_bytes_read_ahead_are_replayed_first() {
    let (client, mut server) = tokio::io::duplex(64);
    let mut prefixed = Prefixed::new(BytesMut::from(&b"GET / "[..]), client);
    server.write_all(b"HTTP/1.1\r\n").await.unwrap();
    drop(server);
    let mut all = String::new();
    prefixed.read_to_string(&mut all).await.unwrap();
    assert_eq!(all, "GET / HTTP/1.1\r\n");
}

#[test]
fn the_date_is_an_http_date() {
    let text = DATE.with(|d| d.borrow_mut().now().to_string());
    assert!(httpdate::parse_http_date(&text).is_ok(), "{text}");
}
