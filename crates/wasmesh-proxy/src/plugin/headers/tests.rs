use super::*;

#[test]
fn trailers_round_trip_and_bad_pairs_are_dropped() {
    let mut t = http::HeaderMap::new();
    t.append("grpc-status", HeaderValue::from_static("0"));
    t.append("x-one", HeaderValue::from_static("1"));
    t.append("x-one", HeaderValue::from_static("2"));
    let mut map = trailers_to_wasm(&t);
    assert_eq!(map.len(), 3);
    map.add("bad name", "x");
    let back = wasm_to_trailers(map);
    assert_eq!(back, t);
}

#[test]
fn a_local_reply_is_plain_text_unless_the_plugin_says_otherwise() {
    let reply = |headers: &[(&str, &str)], body: &'static str| LocalReply {
        status: 403,
        headers: headers.iter().copied().collect(),
        body: Bytes::from_static(body.as_bytes()),
        details: String::new(),
        grpc_status: -1,
    };
    let r = local_reply(reply(&[], "denied"));
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["content-type"], "text/plain");
    let mark = r
        .extensions()
        .get::<crate::local_reply::LocalReplyMark>()
        .unwrap();
    assert_eq!(mark.grpc_status, None);
    let r = local_reply(reply(&[("content-type", "application/json")], "{}"));
    assert_eq!(r.headers()["content-type"], "application/json");
    let r = local_reply(reply(&[], ""));
    assert!(r.headers().get("content-type").is_none(), "no body, no type");
}
