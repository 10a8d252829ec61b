use super::*;

fn head(builder: http::request::Builder) -> StreamHead {
    StreamHead {
        request: builder.body(()).unwrap().into_parts().0,
        tls: false,
        response: None,
        progress: Default::default(),
    }
}

fn pairs(h: &StreamHead, kind: HeadersKind) -> Vec<(String, String)> {
    let mut out = Vec::new();
    h.for_each(kind, &mut |k, v| {
        out.push((
            String::from_utf8_lossy(k).into_owned(),
            String::from_utf8_lossy(v).into_owned(),
        ))
    });
    out
}

#[test]
fn the_request_reads_as_envoy_presents_it_and_changes_in_place() {
    let mut h = head(
        http::Request::builder()
            .method("POST")
            .uri("/a?b=1")
            .header("host", "shop.local")
            .header("x-one", "1")
            .header("x-one", "2"),
    );
    let seen = pairs(&h, HeadersKind::Request);
    let names: Vec<_> = seen.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [":method", ":path", ":authority", ":scheme", "x-one", "x-one"],
        "pseudo-headers first, Host presented as :authority"
    );
    assert_eq!(h.get(HeadersKind::Request, b":path").unwrap(), b"/a?b=1");
    assert_eq!(
        h.get(HeadersKind::Request, b"X-ONE").unwrap(),
        b"1",
        "case ignored"
    );
    assert_eq!(h.get(HeadersKind::Request, b"host"), None);

    h.replace(
        HeadersKind::Request,
        Bytes::from_static(b":path"),
        Bytes::from_static(b"/rewritten?q"),
    );
    h.replace(
        HeadersKind::Request,
        Bytes::from_static(b":authority"),
        Bytes::from_static(b"other.local"),
    );
    h.replace(
        HeadersKind::Request,
        Bytes::from_static(b":method"),
        Bytes::from_static(b"PUT"),
    );
    h.add(
        HeadersKind::Request,
        Bytes::from_static(b"x-added"),
        Bytes::from_static(b"yes"),
    );
    h.add(
        HeadersKind::Request,
        Bytes::from_static(b"bad name"),
        Bytes::from_static(b"x"),
    );
    h.remove(HeadersKind::Request, b"x-one");
    h.remove(HeadersKind::Request, b":authority");
    assert_eq!(h.request.uri, "/rewritten?q");
    assert_eq!(h.request.method, "PUT");
    assert_eq!(h.request.headers["host"], "other.local");
    assert_eq!(h.request.headers["x-added"], "yes");
    assert!(h.request.headers.get("x-one").is_none());
    assert_eq!(h.request.headers.len(), 2, "{:?}", h.request.headers);
}

#[test]
fn an_absolute_uri_keeps_its_authority_in_step_with_host() {
    let mut h = head(
        http::Request::builder()
            .uri("http://a.local/x")
            .header("host", "a.local"),
    );
    h.replace(
        HeadersKind::Request,
        Bytes::from_static(b":authority"),
        Bytes::from_static(b"b.local"),
    );
    assert_eq!(h.request.uri, "http://b.local/x");
    assert_eq!(h.request.headers["host"], "b.local");
    h.replace(
        HeadersKind::Request,
        Bytes::from_static(b":path"),
        Bytes::from_static(b"/y"),
    );
    assert_eq!(h.request.uri, "http://b.local/y");
}

#[test]
fn the_response_exists_only_once_it_arrived_and_its_status_can_change() {
    let mut h = head(http::Request::builder().uri("/"));
    assert_eq!(h.get(HeadersKind::Response, b":status"), None);
    h.add(
        HeadersKind::Response,
        Bytes::from_static(b"x"),
        Bytes::from_static(b"dropped"),
    );
    assert!(pairs(&h, HeadersKind::Response).is_empty());
    let (parts, _) = http::Response::builder()
        .status(200)
        .header("a", "b")
        .body(())
        .unwrap()
        .into_parts();
    h.response = Some(parts);
    assert_eq!(
        pairs(&h, HeadersKind::Response),
        [(":status".into(), "200".into()), ("a".into(), "b".into())]
    );
    h.replace(
        HeadersKind::Response,
        Bytes::from_static(b":status"),
        Bytes::from_static(b"418"),
    );
    let mut map = WasmHeaders::new();
    map.add(":status", "201");
    map.add("c", "d");
    h.set_all(HeadersKind::Response, map);
    let r = h.response.as_ref().unwrap();
    assert_eq!(r.status, 201);
    assert_eq!(r.headers.len(), 1);
    assert_eq!(r.headers["c"], "d");
}

#[test]
fn the_count_a_headers_callback_gets_is_the_pairs_it_can_read() {
    let heads = [
        head(http::Request::builder().uri("/")),
        head(
            http::Request::builder()
                .uri("/")
                .header("host", "a")
                .header("x", "1"),
        ),
        head(
            http::Request::builder()
                .uri("http://b/")
                .header("host", "a")
                .header("host", "c")
                .header("x", "1")
                .header("x", "2"),
        ),
    ];
    for mut h in heads {
        for kind in [HeadersKind::Request, HeadersKind::Response] {
            assert_eq!(
                h.count(kind) as usize,
                pairs(&h, kind).len(),
                "{kind:?} of {:?}",
                h.request
            );
        }
        let mut response = http::Response::new(()).into_parts().0;
        response.headers.append("y", "1".parse().unwrap());
        response.headers.append("y", "2".parse().unwrap());
        h.response = Some(response);
        assert_eq!(h.count(HeadersKind::Response), 3);
        assert_eq!(pairs(&h, HeadersKind::Response).len(), 3);
    }
}
