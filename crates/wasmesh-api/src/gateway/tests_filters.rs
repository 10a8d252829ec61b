//! HTTPRoute filters as Proxy route fields (docs/gateway-api.md, "Filters"), after the
//! Gateway API conformance cases HTTPRouteRequestHeaderModifier,
//! HTTPRouteResponseHeaderModifier, HTTPRouteBackendRequestHeaderModifier,
//! HTTPRouteRedirectScheme/Host/Port/Path/StatusCode and HTTPRouteRewriteHost/Path.

use super::tests::{join, notes_of, route, table, translated, CLASS, ECHO, GATEWAY};
use super::NoteKind;
use crate::proxy::{HeaderEdits, HeaderValue, PathRewrite, Redirect, Rewrite};

fn pair(name: &str, value: &str) -> HeaderValue {
    HeaderValue {
        name: name.into(),
        value: value.into(),
    }
}

#[test]
fn header_modifiers_become_the_routes_edits_names_without_case() {
    let r = route(
        "r",
        "  parentRefs: [{name: public}]
  rules:
  - matches: [{path: {value: /rule}}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: X-Set, value: one}]
        add: [{name: x-add, value: two}]
        remove: [X-Gone]
    - type: ResponseHeaderModifier
      responseHeaderModifier: {set: [{name: x-resp, value: three}], remove: [server]}
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {value: /backend}}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {add: [{name: x-rule, value: r}]}
    backendRefs:
    - name: echo
      port: 80
      filters:
      - type: RequestHeaderModifier
        requestHeaderModifier: {set: [{name: X-Backend, value: b}]}
      - type: ResponseHeaderModifier
        responseHeaderModifier: {add: [{name: x-from, value: echo}]}",
    );
    let (proxy, notes) = translated(&join(&[CLASS, GATEWAY, ECHO, &r]));
    assert!(notes.is_empty(), "{:?}", notes_of(&notes));
    assert_eq!(
        table(&proxy, 0),
        [
            "[] segments /backend -> edge/echo:80*1",
            "[] segments /rule -> edge/echo:80"
        ]
    );
    let routes = &proxy.spec.listeners[0].routes;
    let (backend, rule) = (&routes[0], &routes[1]);
    assert_eq!(
        rule.request_headers,
        HeaderEdits {
            set: vec![pair("x-set", "one")],
            add: vec![pair("x-add", "two")],
            remove: vec!["x-gone".into()],
        }
    );
    assert_eq!(
        rule.response_headers,
        HeaderEdits {
            set: vec![pair("x-resp", "three")],
            add: vec![],
            remove: vec!["server".into()],
        }
    );
    // the backendRef's edits go with its share, after the rule's
    assert_eq!(backend.request_headers.add, [pair("x-rule", "r")]);
    let share = &backend.weighted_clusters[0];
    assert_eq!(share.request_headers.set, [pair("x-backend", "b")]);
    assert_eq!(share.response_headers.add, [pair("x-from", "echo")]);
}

#[test]
fn a_redirect_answers_itself_with_the_specifications_defaults() {
    let r = route(
        "r",
        "  parentRefs: [{name: public}]
  rules:
  - matches: [{path: {value: /scheme}}]
    filters: [{type: RequestRedirect, requestRedirect: {scheme: https}}]
  - matches: [{path: {value: /all}}]
    filters:
    - type: RequestRedirect
      requestRedirect:
        hostname: new.example.com
        port: 8443
        statusCode: 301
        path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}
    backendRefs: [{name: echo, port: 80}]",
    );
    let (proxy, notes) = translated(&join(&[CLASS, GATEWAY, ECHO, &r]));
    assert!(notes.is_empty(), "{:?}", notes_of(&notes));
    assert_eq!(
        table(&proxy, 0),
        ["[] segments /scheme -> redirect", "[] segments /all -> redirect"]
    );
    assert!(
        proxy.spec.clusters.is_empty(),
        "a redirect's backends are not used"
    );
    let routes = &proxy.spec.listeners[0].routes;
    assert_eq!(
        routes[0].redirect,
        Some(Redirect {
            scheme: Some("https".into()),
            status: Some(302),
            ..Redirect::default()
        })
    );
    assert_eq!(
        routes[1].redirect,
        Some(Redirect {
            scheme: None,
            host: Some("new.example.com".into()),
            port: Some(8443),
            path: Some(PathRewrite {
                full_path: None,
                prefix: Some("/new".into()),
            }),
            status: Some(301),
        })
    );
}

#[test]
fn a_url_rewrite_sets_the_upstreams_host_and_path() {
    let r = route(
        "r",
        "  parentRefs: [{name: public}]
  rules:
  - matches: [{path: {value: /prefix}}]
    filters:
    - type: URLRewrite
      urlRewrite: {hostname: internal.example.com, path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: Exact, value: /full}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /whole}}}]
    backendRefs: [{name: echo, port: 80}]",
    );
    let (proxy, notes) = translated(&join(&[CLASS, GATEWAY, ECHO, &r]));
    assert!(notes.is_empty(), "{:?}", notes_of(&notes));
    let routes = &proxy.spec.listeners[0].routes;
    assert_eq!(routes[0].r#match.exact.as_deref(), Some("/full"));
    assert_eq!(
        routes[0].rewrite,
        Some(Rewrite {
            host: None,
            path: Some(PathRewrite {
                full_path: Some("/whole".into()),
                prefix: None,
            }),
        })
    );
    assert_eq!(
        routes[1].rewrite,
        Some(Rewrite {
            host: Some("internal.example.com".into()),
            path: Some(PathRewrite {
                full_path: None,
                prefix: Some("/".into()),
            }),
        })
    );
    assert_eq!(routes[1].cluster.as_deref(), Some("edge/echo:80"));
}

#[test]
fn filters_that_cannot_be_applied_make_the_rule_answer_500_and_say_why() {
    let r = route(
        "r",
        "  parentRefs: [{name: public}]
  rules:
  - matches: [{path: {value: /mirror}}]
    filters: [{type: RequestMirror, requestMirror: {backendRef: {name: echo, port: 80}, percent: 101}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {value: /both}}]
    filters:
    - {type: RequestRedirect, requestRedirect: {scheme: https}}
    - {type: URLRewrite, urlRewrite: {hostname: a.example.com}}
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: Exact, value: /exact}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /x}}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {value: /backend-rewrite}}]
    backendRefs:
    - {name: echo, port: 80, filters: [{type: URLRewrite, urlRewrite: {hostname: a.example.com}}]}
  - matches: [{path: {value: /bad-header}}]
    filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: 'bad header', value: x}]}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {value: /bad-status}}]
    filters: [{type: RequestRedirect, requestRedirect: {statusCode: 404}}]",
    );
    let (proxy, notes) = translated(&join(&[CLASS, GATEWAY, ECHO, &r]));
    assert!(
        table(&proxy, 0).iter().all(|r| r.ends_with("-> 500")),
        "{:?}",
        table(&proxy, 0)
    );
    assert_eq!(
        notes_of(&notes),
        [
            "HTTPRoute edge/r: spec.rules[0].filters[0].requestMirror.percent: 101 is not a percent from 0 to 100; the rule answers 500",
            "HTTPRoute edge/r: spec.rules[1].filters: RequestRedirect and URLRewrite cannot both be set on a rule; the rule answers 500",
            "HTTPRoute edge/r: spec.rules[2].matches[0].path: ReplacePrefixMatch is only compatible with PathPrefix matches; the rule answers 500",
            "HTTPRoute edge/r: spec.rules[3].backendRefs[0].filters[0]: filter URLRewrite on a backendRef is not implemented yet; the rule answers 500",
            "HTTPRoute edge/r: spec.rules[4].filters[0].requestHeaderModifier.set[0].name: \"bad header\": not an HTTP header name; the rule answers 500",
            "HTTPRoute edge/r: spec.rules[5].filters[0].requestRedirect.statusCode: 404 is not a redirect status (301, 302; 303, 307, 308); the rule answers 500",
        ]
    );
    assert_eq!(notes[0].kind, NoteKind::Invalid);
    assert_eq!(notes[3].kind, NoteKind::Unimplemented);
}

#[test]
fn a_request_mirror_becomes_a_mirror_of_the_backends_cluster() {
    let r = route(
        "r",
        "  parentRefs: [{name: public}]
  rules:
  - matches: [{path: {value: /all}}]
    filters: [{type: RequestMirror, requestMirror: {backendRef: {name: echo, port: 80}}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {value: /some}}]
    filters:
    - {type: RequestMirror, requestMirror: {backendRef: {name: shadow, port: 8080}, percent: 25}}
    - {type: RequestMirror, requestMirror: {backendRef: {name: echo, port: 80}, fraction: {numerator: 1, denominator: 3}}}
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {value: /gone}}]
    filters: [{type: RequestMirror, requestMirror: {backendRef: {name: nowhere, port: 80}}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {value: /both}}]
    filters: [{type: RequestMirror, requestMirror: {backendRef: {name: echo, port: 80}, percent: 5, fraction: {numerator: 1}}}]
    backendRefs: [{name: echo, port: 80}]",
    );
    let shadow = "
apiVersion: v1
kind: Service
metadata: {name: shadow, namespace: edge}
spec: {ports: [{name: http, port: 8080}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: shadow-1, namespace: edge, labels: {kubernetes.io/service-name: shadow}}
addressType: IPv4
ports: [{name: http, port: 9090}]
endpoints: [{addresses: [10.1.0.7], conditions: {ready: true}}]";
    let (proxy, notes) = translated(&join(&[CLASS, GATEWAY, ECHO, shadow, &r]));
    assert_eq!(
        notes_of(&notes),
        [
            "HTTPRoute edge/r: spec.rules[2].filters[0].requestMirror.backendRef: Service edge/nowhere not found; the rule is served without this mirror",
            "HTTPRoute edge/r: spec.rules[3].filters[0].requestMirror.percent: percent and fraction cannot both be set; the rule answers 500",
        ]
    );
    assert_eq!(notes[0].kind, NoteKind::Unresolved);
    let routes = &proxy.spec.listeners[0].routes;
    let by_path = |p: &str| {
        routes
            .iter()
            .find(|r| r.r#match.path_separated_prefix.as_deref() == Some(p))
            .unwrap()
    };
    let mirrors = |p: &str| -> Vec<(String, Option<u32>)> {
        by_path(p)
            .mirrors
            .iter()
            .map(|m| (m.cluster.clone(), m.percent))
            .collect()
    };
    assert_eq!(mirrors("/all"), [("edge/echo:80".to_string(), None)]);
    assert_eq!(
        mirrors("/some"),
        [
            ("edge/shadow:8080".to_string(), Some(25)),
            // 1/3 is 33%, rounded to the nearest
            ("edge/echo:80".to_string(), Some(33)),
        ]
    );
    assert_eq!(by_path("/all").cluster.as_deref(), Some("edge/echo:80"));
    assert!(mirrors("/gone").is_empty());
    assert_eq!(
        by_path("/gone").cluster.as_deref(),
        Some("edge/echo:80"),
        "served without the mirror"
    );
    assert_eq!(by_path("/both").direct_response.map(|d| d.status), Some(500));
    // the mirror's cluster is one of the Proxy's
    let shadow = proxy
        .spec
        .clusters
        .iter()
        .find(|c| c.name == "edge/shadow:8080")
        .expect("the mirror's cluster");
    assert_eq!(shadow.endpoints, ["10.1.0.7:9090"]);
}
