use super::*;

fn reply(status: u16, body: &'static str, grpc_status: Option<u32>) -> Response<ProxyBody> {
    let mut r = Response::new(ProxyBody::full(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = StatusCode::from_u16(status).unwrap();
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    r.headers_mut().insert("x-kept", HeaderValue::from_static("1"));
    mark(&mut r, grpc_status);
    r
}

#[test]
fn a_grpc_request_gets_a_trailers_only_reply_with_the_plugins_status() {
    let r = encode(reply(403, "no entry: 100%\n", Some(7)), true);
    assert_eq!(r.status(), 200);
    let h = r.headers();
    assert_eq!(h["content-type"], "application/grpc");
    assert_eq!(h["grpc-status"], "7");
    assert_eq!(h["grpc-message"], "no entry: 100%25");
    assert_eq!(h["x-kept"], "1", "the plugin's headers stay");
    assert!(matches!(r.into_body(), ProxyBody::Empty));
}

#[test]
fn without_a_grpc_status_the_http_status_is_mapped_as_envoy_does() {
    let r = encode(reply(503, "", None), true);
    assert_eq!(r.headers()["grpc-status"], "14");
    assert!(r.headers().get("grpc-message").is_none());
    assert_eq!(grpc_status_of(StatusCode::UNAUTHORIZED), 16);
    assert_eq!(grpc_status_of(StatusCode::IM_A_TEAPOT), 2);
}

#[test]
fn other_replies_and_upstream_responses_pass_unchanged() {
    let r = encode(reply(403, "denied", Some(7)), false);
    assert_eq!(r.status(), 403, "not a gRPC request");
    let upstream = Response::new(ProxyBody::Empty);
    assert_eq!(encode(upstream, true).status(), 200);
    let mut upstream = Response::new(ProxyBody::Empty);
    *upstream.status_mut() = StatusCode::NOT_FOUND;
    assert_eq!(encode(upstream, true).status(), 404, "not a local reply");
}
