use super::*;

fn route(name: &str, path: PathMatch, headers: Vec<HeaderMatch>) -> Route {
    Route {
        name: name.into(),
        hosts: Vec::new(),
        method: None,
        path,
        headers,
        query_params: Vec::new(),
        cluster: "c".into(),
        cluster_index: 0,
        direct_response: None,
        redirect: None,
        weighted_clusters: None,
        request_headers: HeaderEdits::default(),
        response_headers: HeaderEdits::default(),
        rewrite: None,
        mirrors: Vec::new(),
        timeout: None,
        per_try_timeout: None,
    }
}

fn req(uri: &str, headers: &[(&str, &str)]) -> Parts {
    let mut b = http::Request::builder().uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

fn found<'a>(t: &'a RouteTable, uri: &str, headers: &[(&str, &str)]) -> Option<&'a str> {
    t.find(&req(uri, headers)).map(|r| r.name.as_str())
}

#[test]
fn first_match_wins_in_order() {
    let t = RouteTable::new(vec![
        route("exact", PathMatch::Exact("/a".into()), vec![]),
        route("prefix", PathMatch::Prefix("/a".into()), vec![]),
        route("all", PathMatch::Prefix("/".into()), vec![]),
    ]);
    assert_eq!(found(&t, "/a", &[]), Some("exact"));
    assert_eq!(
        found(&t, "/a?x=1", &[]),
        Some("exact"),
        "query is not part of the path"
    );
    assert_eq!(found(&t, "/ab", &[]), Some("prefix"));
    assert_eq!(found(&t, "/b", &[]), Some("all"));
}

#[test]
fn regex_must_match_the_whole_path() {
    let t = RouteTable::new(vec![route(
        "re",
        PathMatch::regex("/v[0-9]+/.*").unwrap(),
        vec![],
    )]);
    assert_eq!(found(&t, "/v1/users", &[]), Some("re"));
    assert_eq!(found(&t, "/x/v1/users", &[]), None);
    assert_eq!(found(&t, "/vx/users", &[]), None);
}

#[test]
fn headers_must_all_match() {
    let t = RouteTable::new(vec![
        route(
            "canary",
            PathMatch::Prefix("/".into()),
            vec![
                HeaderMatch {
                    name: http::HeaderName::from_static("x-canary"),
                    value: HeaderValueMatch::Exact("yes".into()),
                },
                HeaderMatch {
                    name: http::HeaderName::from_static("x-user"),
                    value: HeaderValueMatch::regex("a.*").unwrap(),
                },
            ],
        ),
        route("default", PathMatch::Prefix("/".into()), vec![]),
    ]);
    assert_eq!(
        found(&t, "/", &[("x-canary", "yes"), ("x-user", "alice")]),
        Some("canary")
    );
    assert_eq!(
        found(&t, "/", &[("x-canary", "yes"), ("x-user", "bob")]),
        Some("default")
    );
    assert_eq!(found(&t, "/", &[("x-canary", "yes")]), Some("default"));
}

#[test]
fn no_route_is_none() {
    let t = RouteTable::new(vec![route("api", PathMatch::Prefix("/api".into()), vec![])]);
    assert_eq!(found(&t, "/other", &[]), None);
}

#[test]
fn hosts_match_the_authority_or_the_host_header_without_port_or_case() {
    let mut foo = route("foo", PathMatch::Prefix("/".into()), vec![]);
    foo.hosts = vec!["foo.example.com".into(), "*.bar.example.com".into()];
    let mut post = route("post", PathMatch::Prefix("/".into()), vec![]);
    post.method = Some(http::Method::POST);
    let t = RouteTable::new(vec![
        foo,
        post,
        route("any", PathMatch::Prefix("/".into()), vec![]),
    ]);
    assert_eq!(found(&t, "/", &[("host", "Foo.Example.com:8080")]), Some("foo"));
    assert_eq!(
        found(&t, "http://a.b.bar.example.com/x", &[]),
        Some("foo"),
        "the URI's authority (h2, absolute form)"
    );
    assert_eq!(found(&t, "/", &[("host", "bar.example.com")]), Some("any"));
    assert_eq!(
        found(&t, "/", &[]),
        Some("any"),
        "no host: host routes do not match"
    );
    let mut req = req("/", &[("host", "other")]);
    req.method = http::Method::POST;
    assert_eq!(t.find(&req).map(|r| r.name.as_str()), Some("post"));
}

#[test]
fn a_path_separated_prefix_takes_whole_segments() {
    let t = RouteTable::new(vec![
        route("api", PathMatch::SeparatedPrefix("/api".into()), vec![]),
        route("root", PathMatch::SeparatedPrefix(String::new()), vec![]),
    ]);
    assert_eq!(found(&t, "/api", &[]), Some("api"));
    assert_eq!(found(&t, "/api/", &[]), Some("api"));
    assert_eq!(found(&t, "/api/v1?x=1", &[]), Some("api"));
    assert_eq!(found(&t, "/apis", &[]), Some("root"), "not a whole segment");
    assert_eq!(found(&t, "/", &[]), Some("root"));
}

#[test]
fn edits_remove_then_set_then_add() {
    use http::header::{HeaderName, HeaderValue};
    let n = |s: &str| HeaderName::from_bytes(s.as_bytes()).unwrap();
    let v = |s: &'static str| HeaderValue::from_static(s);
    let edits = HeaderEdits {
        set: vec![(n("X-Set"), v("new")), (n("x-gone"), v("back"))],
        add: vec![(n("x-add"), v("two")), (n("x-new"), v("one"))],
        remove: vec![n("x-gone"), n("x-absent")],
    };
    let mut headers = http::HeaderMap::new();
    headers.append("x-set", v("old-1"));
    headers.append("x-set", v("old-2"));
    headers.insert("x-add", v("one"));
    headers.insert("x-gone", v("old"));
    edits.apply(&mut headers);
    let all = |name: &str| -> Vec<&str> {
        headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    };
    assert_eq!(
        all("x-set"),
        ["new"],
        "set replaces every value; names without case"
    );
    assert_eq!(all("x-add"), ["one", "two"], "add appends");
    assert_eq!(all("x-new"), ["one"]);
    assert_eq!(all("x-gone"), ["back"], "remove comes first, then set");
}

#[test]
fn a_rewrite_keeps_the_query_and_sets_the_host() {
    use super::rewrite::{PathRewrite, Rewrite};
    let mut parts = req(
        "http://old.example.com:8080/api/users?x=1",
        &[("host", "old.example.com:8080")],
    );
    let rewrite = Rewrite {
        host: Some(http::HeaderValue::from_static("new.example.com")),
        path: Some(PathRewrite::Prefix("/v2".into())),
    };
    rewrite.apply(
        &mut parts,
        PathMatch::SeparatedPrefix("/api".into()).matched_len(),
    );
    assert_eq!(parts.uri.to_string(), "/v2/users?x=1");
    assert_eq!(parts.headers["host"], "new.example.com");
    let mut parts = req("/api/users", &[]);
    Rewrite {
        host: None,
        path: Some(PathRewrite::FullPath("/whole".into())),
    }
    .apply(&mut parts, 4);
    assert_eq!(parts.uri.to_string(), "/whole");
}

#[test]
fn a_redirect_defaults_to_the_requests_scheme_host_path_and_the_listeners_port() {
    use super::redirect::{Arrival, Redirect};
    use super::rewrite::PathRewrite;
    let redirect =
        |scheme: Option<&str>, host: Option<&str>, port: Option<u16>, path: Option<PathRewrite>| Redirect {
            scheme: scheme.map(str::to_string),
            host: host.map(str::to_string),
            port,
            path,
            status: http::StatusCode::FOUND,
        };
    let r = req("/old/page?q=1", &[("host", "www.example.com:8080")]);
    let plain = Arrival {
        tls: false,
        port: 8080,
    };
    let at = |rd: Redirect, arrival: &Arrival| rd.location(&r, arrival, 4);
    assert_eq!(
        at(redirect(None, None, None, None), &plain),
        "http://www.example.com:8080/old/page?q=1"
    );
    // a scheme set: its own port, left out
    assert_eq!(
        at(redirect(Some("https"), None, None, None), &plain),
        "https://www.example.com/old/page?q=1"
    );
    assert_eq!(
        at(redirect(None, Some("new.example.com"), Some(80), None), &plain),
        "http://new.example.com/old/page?q=1"
    );
    assert_eq!(
        at(
            redirect(
                Some("http"),
                None,
                Some(8443),
                Some(PathRewrite::Prefix("/new".into()))
            ),
            &plain
        ),
        "http://www.example.com:8443/new/page?q=1"
    );
    assert_eq!(
        at(
            redirect(None, None, None, Some(PathRewrite::FullPath("/x".into()))),
            &Arrival { tls: true, port: 443 }
        ),
        "https://www.example.com/x?q=1"
    );
}
