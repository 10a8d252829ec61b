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
    StreamState::new(info.into(), Some(headers.shared()))
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

fn with_progress(progress: crate::StreamProgress, tls: Option<crate::ConnectionTls>) -> StreamState {
    let mut headers = OwnedHeaders::default();
    for (k, v) in [(":method", "POST"), (":path", "/p"), ("content-length", "11")] {
        headers.request.add(k, Bytes::from(v));
    }
    headers.response.add(":status", Bytes::from("200"));
    headers.progress = Some(progress);
    let info = StreamInfo {
        tls: tls.map(std::sync::Arc::new),
        ..Default::default()
    };
    StreamState::new(info.into(), Some(headers.shared()))
}

fn int(s: &StreamState, path: &str) -> i64 {
    let v = get(s, path).unwrap_or_else(|| panic!("{path} absent"));
    i64::from_le_bytes(v[..].try_into().unwrap())
}

#[test]
fn sizes_details_and_upstream_come_from_the_progress() {
    let start = std::time::Instant::now();
    let mut upstream = crate::UpstreamTry::start("10.0.0.2:80".parse().unwrap());
    upstream.sent = Some(start);
    upstream.ended = Some(start + Duration::from_millis(7));
    upstream.local_address = Some("10.0.0.1:5000".parse().unwrap());
    let mut s = with_progress(
        crate::StreamProgress {
            request_body_bytes: 11,
            response_body_bytes: 5,
            code_details: Some("via_upstream".into()),
            response_flags: 0,
            upstream: Some(upstream),
        },
        None,
    );
    s.response_trailers.add("grpc-status", Bytes::from("0"));
    assert_eq!(int(&s, "request.size"), 11, "the content-length");
    // :method POST (7+4), :path /p (5+2), content-length 11 (14+2)
    assert_eq!(int(&s, "request.headers_bytes"), 34);
    assert_eq!(int(&s, "request.total_size"), 11 + 34);
    assert_eq!(int(&s, "response.size"), 5);
    // :status 200 (7+3), trailers grpc-status 0 (11+1)
    assert_eq!(int(&s, "response.total_size"), 5 + 10 + 12);
    assert_eq!(get(&s, "response.code_details").unwrap(), "via_upstream");
    assert_eq!(int(&s, "response.flags"), 0);
    assert_eq!(int(&s, "response.backend_latency"), 7_000_000);
    assert_eq!(get(&s, "upstream.address").unwrap(), "10.0.0.2:80");
    assert_eq!(int(&s, "upstream.port"), 80);
    assert_eq!(get(&s, "upstream.local_address").unwrap(), "10.0.0.1:5000");
    assert_eq!(int(&s, "upstream.request_attempt_count"), 1);
    assert_eq!(get(&s, "upstream.transport_failure_reason").unwrap(), "");
    assert_eq!(get(&s, "connection.tls_version"), None, "plain text");
}

#[test]
fn before_the_router_the_counts_are_zero_and_upstream_absent() {
    let s = with_progress(crate::StreamProgress::default(), None);
    assert_eq!(int(&s, "response.size"), 0);
    assert_eq!(int(&s, "response.flags"), 0);
    assert_eq!(int(&s, "upstream.request_attempt_count"), 0);
    for path in [
        "response.code_details",
        "response.backend_latency",
        "upstream.address",
        "upstream.local_address",
        "upstream.transport_failure_reason",
    ] {
        assert_eq!(get(&s, path), None, "{path}");
    }
}

#[test]
fn tls_attributes_are_envoys() {
    let local = crate::Certificate {
        subject: "CN=gw,O=example".into(),
        uri_sans: vec!["spiffe://a".into(), "spiffe://b".into()],
        dns_sans: vec!["gw.example".into()],
        sha256_digest: "ab".into(),
    };
    let tls = crate::ConnectionTls {
        version: "TLSv1.3",
        local: std::sync::Arc::new(local),
        peer: None,
    };
    let s = with_progress(crate::StreamProgress::default(), Some(tls));
    assert_eq!(get(&s, "connection.tls_version").unwrap(), "TLSv1.3");
    assert_eq!(
        get(&s, "connection.subject_local_certificate").unwrap(),
        "CN=gw,O=example"
    );
    assert_eq!(
        get(&s, "connection.uri_san_local_certificate").unwrap(),
        "spiffe://a"
    );
    assert_eq!(
        get(&s, "connection.dns_san_local_certificate").unwrap(),
        "gw.example"
    );
    assert_eq!(
        get(&s, "connection.subject_peer_certificate").unwrap(),
        "",
        "no client certificate"
    );
    assert_eq!(get(&s, "connection.uri_san_peer_certificate"), None);
    assert_eq!(get(&s, "connection.sha256_peer_certificate_digest"), None);
    assert_eq!(get(&s, "connection.mtls").unwrap()[..], [0]);
}
