use super::*;
use std::net::SocketAddr;

fn endpoint() -> Endpoint {
    Endpoint {
        addr: SocketAddr::from(([127, 0, 0, 1], 9000)),
        authority: "127.0.0.1:9000".into(),
    }
}

fn parts(req: http::request::Builder) -> request::Parts {
    req.body(()).unwrap().into_parts().0
}

#[test]
fn hop_by_hop_and_connection_named_headers_are_removed() {
    let mut p = parts(
        http::Request::builder()
            .uri("/x?y=1")
            .header("connection", "keep-alive, x-private")
            .header("keep-alive", "timeout=5")
            .header("x-private", "1")
            .header("transfer-encoding", "chunked")
            .header("host", "example.com")
            .header("x-kept", "1"),
    );
    to_upstream(&mut p, ClusterProtocol::Http1, &endpoint(), None);
    assert_eq!(p.uri, "/x?y=1");
    assert!(p.headers.get("connection").is_none());
    assert!(p.headers.get("keep-alive").is_none());
    assert!(p.headers.get("x-private").is_none());
    assert!(p.headers.get("transfer-encoding").is_none());
    assert_eq!(p.headers["host"], "example.com");
    assert_eq!(p.headers["x-kept"], "1");
}

#[test]
fn te_trailers_passes_for_grpc() {
    let mut p = parts(http::Request::builder().uri("/").header("te", "trailers"));
    to_upstream(&mut p, ClusterProtocol::Http2, &endpoint(), None);
    assert_eq!(p.headers["te"], "trailers");
}

#[test]
fn h2_request_to_h1_upstream_gets_host_from_authority() {
    let mut p = parts(
        http::Request::builder()
            .version(Version::HTTP_2)
            .uri("http://svc.local:8080/a"),
    );
    to_upstream(&mut p, ClusterProtocol::Http1, &endpoint(), None);
    assert_eq!(p.uri, "/a");
    assert_eq!(p.headers["host"], "svc.local:8080");
    assert_eq!(p.version, Version::HTTP_11);
}

#[test]
fn h1_request_to_h2_upstream_gets_absolute_uri() {
    let mut p = parts(http::Request::builder().uri("/a?b").header("host", "svc"));
    to_upstream(&mut p, ClusterProtocol::Http2, &endpoint(), None);
    assert_eq!(p.uri, "http://svc/a?b");
    assert!(p.headers.get("host").is_none());
}

#[test]
fn upgrade_requests_keep_their_upgrade_headers() {
    let req = http::Request::builder()
        .uri("/ws")
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .body(())
        .unwrap();
    let up = upgrade_of_request(&req);
    let mut p = req.into_parts().0;
    assert_eq!(up.as_ref().unwrap(), "websocket");
    to_upstream(&mut p, ClusterProtocol::Http1, &endpoint(), up.as_ref());
    assert_eq!(p.headers["connection"], "upgrade");
    assert_eq!(p.headers["upgrade"], "websocket");
}

#[test]
fn every_connection_header_is_read_and_close_is_no_header_name() {
    let mut p = parts(
        http::Request::builder()
            .uri("/")
            .header("connection", "close")
            .header("connection", "X-One , upgrade")
            .header("x-one", "1")
            .header("upgrade", "h2c")
            .header("te", "gzip")
            .header("x-kept", "1"),
    );
    to_upstream(&mut p, ClusterProtocol::Http1, &endpoint(), None);
    for gone in ["connection", "x-one", "upgrade", "te"] {
        assert!(p.headers.get(gone).is_none(), "{gone} passed");
    }
    assert_eq!(p.headers["x-kept"], "1");

    let mut resp = http::Response::builder()
        .header("connection", "keep-alive")
        .header("content-length", "2")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    to_downstream(&mut resp);
    assert!(resp.headers.get("connection").is_none());
    assert_eq!(resp.headers["content-length"], "2");
}

#[test]
fn te_goes_when_connection_names_it_or_when_any_value_is_not_trailers() {
    let mut p = parts(
        http::Request::builder()
            .uri("/")
            .header("connection", "te")
            .header("te", "trailers"),
    );
    to_upstream(&mut p, ClusterProtocol::Http1, &endpoint(), None);
    assert!(p.headers.get("te").is_none());

    let mut p = parts(
        http::Request::builder()
            .uri("/")
            .header("te", "trailers")
            .header("te", "gzip"),
    );
    to_upstream(&mut p, ClusterProtocol::Http2, &endpoint(), None);
    assert!(p.headers.get("te").is_none());
}

#[test]
fn x_forwarded_proto_says_how_the_client_came_unless_it_is_set() {
    let mut plain = HeaderMap::new();
    set_forwarded_proto(&mut plain, false);
    assert_eq!(plain["x-forwarded-proto"], "http");
    let mut tls = HeaderMap::new();
    set_forwarded_proto(&mut tls, true);
    assert_eq!(tls["x-forwarded-proto"], "https");
    let mut given = HeaderMap::new();
    given.insert("x-forwarded-proto", HeaderValue::from_static("https"));
    set_forwarded_proto(&mut given, false);
    assert_eq!(given["x-forwarded-proto"], "https");
    assert_eq!(given.get_all("x-forwarded-proto").iter().count(), 1);
}
