use super::*;

fn route(name: &str, path: PathMatch, headers: Vec<HeaderMatch>) -> Route {
    Route {
        name: name.into(),
        hosts: Vec::new(),
        method: None,
        path,
        headers,
        cluster: "c".into(),
        cluster_index: 0,
        direct_response: None,
        timeout: None,
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
