use std::net::SocketAddr;
use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::{OwnedHeaders, StreamInfo};

fn stream(response: bool) -> StreamState {
    let mut headers = OwnedHeaders::default();
    for (k, v) in [
        (":method", "POST"),
        (":path", "/a/b?x=1"),
        (":authority", "example.test"),
        (":scheme", "http"),
        ("user-agent", "curl"),
        ("accept", "text/plain"),
        ("accept", "text/html"),
    ] {
        headers.request.add(k, Bytes::from(v));
    }
    if response {
        headers.response.add(":status", Bytes::from("201"));
        headers.response.add("grpc-status", Bytes::from("7"));
    }
    let info = StreamInfo {
        source: Some("10.0.0.1:4000".parse::<SocketAddr>().unwrap()),
        start: Some(UNIX_EPOCH + Duration::from_secs(5)),
        connection_id: Some(9),
        ..Default::default()
    };
    StreamState::new(info, Some(headers.shared()))
}

fn get(s: &StreamState, path: &str) -> Option<Bytes> {
    from_stream(s, path).map(|v| v.encode())
}

#[test]
fn request_attributes_come_from_the_head() {
    let s = stream(false);
    assert_eq!(get(&s, "request.url_path").unwrap(), "/a/b");
    assert_eq!(get(&s, "request.query").unwrap(), "x=1");
    assert_eq!(get(&s, "request.host").unwrap(), "example.test");
    assert_eq!(get(&s, "request.useragent").unwrap(), "curl");
    assert_eq!(
        get(&s, "request.headers.accept").unwrap(),
        "text/plain,text/html",
        "joined as Envoy joins"
    );
    assert_eq!(
        get(&s, "request.time").unwrap()[..],
        5_000_000_000i64.to_le_bytes()
    );
    assert_eq!(get(&s, "source.port").unwrap()[..], 4000i64.to_le_bytes());
    assert_eq!(get(&s, "connection.id").unwrap()[..], 9u64.to_le_bytes());
    let map = get(&s, "request.headers").unwrap();
    assert_eq!(
        &map[..4],
        &6u32.to_le_bytes(),
        "4 pseudo-headers, user-agent and accept (joined): {map:?}"
    );
    assert_eq!(get(&s, "request.duration"), None, "known from proxy_on_log on");
    assert_eq!(get(&s, "request.referer"), None);
}

#[test]
fn response_attributes_only_once_the_response_is_there() {
    let s = stream(false);
    for path in [
        "response.code",
        "response.headers",
        "response.trailers",
        "response.grpc_status",
    ] {
        assert_eq!(get(&s, path), None, "{path} before the response");
    }
    let s = stream(true);
    assert_eq!(get(&s, "response.code").unwrap()[..], 201i64.to_le_bytes());
    assert_eq!(get(&s, "response.grpc_status").unwrap()[..], 7i64.to_le_bytes());
    assert_eq!(get(&s, "response.headers.grpc-status").unwrap(), "7");
    assert_eq!(
        &get(&s, "response.trailers").unwrap()[..],
        &0u32.to_le_bytes(),
        "no trailers: empty map"
    );
}

#[test]
fn defaults_and_aliases() {
    assert_eq!(stream_defaults("connection.mtls"), Some(Value::Bool(false)));
    assert_eq!(xds_alias("route_name"), Some("xds.route_name"));
    assert_eq!(xds_alias("request.path"), None);
    assert_eq!(dotted(b"a\0b\0").unwrap(), "a.b");
}
