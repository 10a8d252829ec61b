use super::*;
use http::Request;

fn parts(version: Version, method: &str, uri: &str, headers: &[(&str, &str)]) -> request::Parts {
    let mut b = Request::builder().version(version).method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

fn h1(uri: &str, headers: &[(&str, &str)]) -> request::Parts {
    parts(Version::HTTP_11, "GET", uri, headers)
}

fn admitted(mut p: request::Parts) -> request::Parts {
    admit(&mut p, &RequestPolicy::default()).unwrap_or_else(|e| panic!("refused: {e}"));
    p
}

fn refusal(mut p: request::Parts) -> ProxyError {
    admit(&mut p, &RequestPolicy::default()).expect_err("should be refused")
}

fn host(p: &request::Parts) -> Vec<&str> {
    p.headers
        .get_all(header::HOST)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

#[test]
fn an_absolute_form_target_wins_over_host_and_becomes_origin_form() {
    let p = admitted(h1(
        "http://admin.internal/x/../secret?q=1",
        &[("host", "public.example")],
    ));
    assert_eq!(host(&p), ["admin.internal"]);
    assert_eq!(p.uri, "/secret?q=1");
    assert!(p.uri.authority().is_none());
}

#[test]
fn host_must_be_one_present_and_valid_on_http11() {
    assert!(matches!(refusal(h1("/", &[])), ProxyError::BadRequest(_)));
    let two = h1("/", &[("host", "a.example"), ("host", "b.example")]);
    assert!(matches!(refusal(two), ProxyError::BadRequest(_)));
    for bad in [
        "",
        "a b",
        "user@a.example",
        "a.example/x",
        "a.example:80x",
        "a.example:123456",
        "[zz]",
        "[::1",
    ] {
        assert!(
            matches!(refusal(h1("/", &[("host", bad)])), ProxyError::BadRequest(_)),
            "{bad:?}"
        );
    }
    for good in [
        "a.example",
        "a.example:8080",
        "127.0.0.1:1",
        "[::1]:443",
        "[::1]",
        "xn--bcher-kva.example",
    ] {
        assert_eq!(host(&admitted(h1("/", &[("host", good)]))), [good]);
    }
    // HTTP/1.0 needs no Host.
    admitted(parts(Version::HTTP_10, "GET", "/", &[]));
}

#[test]
fn http2_authority_and_host_must_agree() {
    let p = admitted(parts(
        Version::HTTP_2,
        "GET",
        "http://a.example/x",
        &[("host", "A.example")],
    ));
    assert_eq!(p.uri.authority().unwrap().as_str(), "a.example");
    assert!(p.headers.get(header::HOST).is_none(), "one authority, in the URI");
    let differ = parts(
        Version::HTTP_2,
        "GET",
        "http://a.example/x",
        &[("host", "admin.internal")],
    );
    assert!(matches!(refusal(differ), ProxyError::BadRequest(_)));
    // A host header alone supplies the authority.
    let p = admitted(parts(Version::HTTP_2, "GET", "/x", &[("host", "b.example:81")]));
    assert_eq!(p.uri.authority().unwrap().as_str(), "b.example:81");
    assert_eq!(p.uri.path(), "/x");
    assert!(matches!(
        refusal(parts(Version::HTTP_2, "GET", "/x", &[])),
        ProxyError::BadRequest(_)
    ));
}

#[test]
fn the_path_is_normalized_and_the_query_kept() {
    let p = admitted(h1("/public/%2e%2e/admin?x=/../y", &[("host", "a")]));
    assert_eq!(p.uri, "/admin?x=/../y");
    let p = admitted(parts(Version::HTTP_2, "GET", "http://a/p/./q/%41", &[]));
    assert_eq!(p.uri, "http://a/p/q/A");
    assert!(matches!(
        refusal(h1("/a%00", &[("host", "a")])),
        ProxyError::BadRequest(_)
    ));
    let p = admitted(parts(Version::HTTP_11, "OPTIONS", "*", &[("host", "a")]));
    assert_eq!(p.uri, "*");
}

#[test]
fn methods_must_be_upper_case_and_connect_is_refused() {
    assert!(matches!(
        refusal(parts(Version::HTTP_11, "get", "/", &[("host", "a")])),
        ProxyError::BadRequest(_)
    ));
    let connect = parts(
        Version::HTTP_11,
        "CONNECT",
        "a.example:443",
        &[("host", "a.example:443")],
    );
    assert!(matches!(refusal(connect), ProxyError::UpgradeRefused { .. }));
}

#[test]
fn only_allowed_upgrades_pass_and_h2c_is_stripped() {
    let ws = [("host", "a"), ("connection", "Upgrade"), ("upgrade", "WebSocket")];
    admitted(h1("/", &ws));
    for other in ["foo", "websocket, foo", "TLS/1.2"] {
        let req = h1(
            "/",
            &[("host", "a"), ("connection", "upgrade"), ("upgrade", other)],
        );
        assert!(
            matches!(refusal(req), ProxyError::UpgradeRefused { .. }),
            "{other}"
        );
    }
    let p = admitted(h1(
        "/",
        &[
            ("host", "a"),
            ("connection", "Upgrade, HTTP2-Settings"),
            ("upgrade", "h2c"),
            ("http2-settings", "AAMAAABkAAQAAP__"),
        ],
    ));
    assert!(p.headers.get(header::UPGRADE).is_none());
    assert!(p.headers.get("http2-settings").is_none());
    assert!(crate::forward::upgrade_of_request(&Request::from_parts(p, ())).is_none());
    // A listener may allow more.
    let policy = RequestPolicy {
        upgrades: vec!["websocket".into(), "spdy/3.1".into()],
        ..RequestPolicy::default()
    };
    let mut p = h1(
        "/",
        &[("host", "a"), ("connection", "upgrade"), ("upgrade", "SPDY/3.1")],
    );
    admit(&mut p, &policy).unwrap();
}
