use super::*;
use crate::proxy::ClusterProtocol;
use serde::de::DeserializeOwned;

fn parse_all<T: DeserializeOwned>(kind: &str, yaml: &str) -> Vec<T> {
    yaml.split("\n---\n")
        .filter_map(|doc| {
            let value: serde_json::Value = serde_yaml_ng::from_str(doc).unwrap();
            (value["kind"] == kind).then(|| serde_json::from_value(value).unwrap())
        })
        .collect()
}

pub(super) fn objects(yaml: &str) -> Objects {
    Objects {
        classes: parse_all("GatewayClass", yaml),
        gateways: parse_all("Gateway", yaml),
        routes: parse_all("HTTPRoute", yaml),
        services: parse_all("Service", yaml),
        slices: parse_all("EndpointSlice", yaml),
        secrets: parse_all::<crate::secret::Secret>("Secret", yaml)
            .into_iter()
            .map(|s| {
                let key = NamespacedName {
                    namespace: s.metadata.namespace().to_string(),
                    name: s.metadata.name.clone(),
                };
                (key, Ok(std::sync::Arc::new(s)))
            })
            .collect(),
        grants: parse_all("ReferenceGrant", yaml),
        namespaces: parse_all("Namespace", yaml),
    }
}

pub(super) fn target() -> Target {
    Target {
        gateway: NamespacedName {
            namespace: "edge".into(),
            name: "public".into(),
        },
        workload: "public-gw".into(),
        address: "127.0.0.1".parse().unwrap(),
    }
}

pub(super) const CLASS: &str = "
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: wasmesh}
spec: {controllerName: wasmesh.io/gateway-controller}";

pub(super) const GATEWAY: &str = "
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public, namespace: edge}
spec:
  gatewayClassName: wasmesh
  listeners:
  - {name: http, port: 8080, protocol: HTTP}";

pub(super) const ECHO: &str = "
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: edge}
spec:
  ports: [{name: http, port: 80, targetPort: 9000}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: echo-abc, namespace: edge, labels: {kubernetes.io/service-name: echo}}
addressType: IPv4
ports: [{name: http, port: 9000, protocol: TCP}]
endpoints:
- addresses: [10.0.0.1]
  conditions: {ready: true}
- addresses: [10.0.0.2]
  conditions: {ready: false}
- addresses: [10.0.0.3]";

pub(super) fn route(name: &str, spec: &str) -> String {
    format!(
        "
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: {name}, namespace: edge}}
spec:
{spec}"
    )
}

pub(super) fn join(parts: &[&str]) -> String {
    parts.join("\n---\n")
}

pub(super) fn translated(yaml: &str) -> (Proxy, Vec<Note>) {
    let t = translate(&objects(yaml), &target());
    let proxy = t.proxy.unwrap_or_else(|w| panic!("{w}"));
    // what the translation makes is a Proxy that `validate` takes (clusters without a
    // ready endpoint aside: those answer 503 until one is ready)
    let errors: Vec<String> =
        crate::validate::validate(&crate::Resource::Proxy(std::sync::Arc::new(proxy.clone())))
            .into_iter()
            .filter(|e| !e.path.ends_with(".endpoints"))
            .map(|e| format!("{}: {}", e.path, e.kind))
            .collect();
    assert!(errors.is_empty(), "{errors:?}");
    (proxy, t.notes)
}

/// Each route as `hosts method path -> cluster|status`.
pub(super) fn table(proxy: &Proxy, listener: usize) -> Vec<String> {
    proxy.spec.listeners[listener]
        .routes
        .iter()
        .map(|r| {
            let m = &r.r#match;
            let path = match m.path() {
                crate::proxy::PathMatch::Prefix(p) => format!("prefix {p}"),
                crate::proxy::PathMatch::SeparatedPrefix(p) => format!("segments {p}"),
                crate::proxy::PathMatch::Exact(p) => format!("exact {p}"),
                crate::proxy::PathMatch::Regex(p) => format!("regex {p}"),
            };
            let headers: Vec<String> = m.headers.iter().map(|h| h.name.clone()).collect();
            let to = match (&r.cluster, &r.direct_response, &r.redirect) {
                (Some(c), _, _) => c.clone(),
                (_, Some(d), _) => d.status.to_string(),
                (_, _, Some(_)) => "redirect".into(),
                _ if !r.weighted_clusters.is_empty() => r
                    .weighted_clusters
                    .iter()
                    .map(|w| {
                        let to = match (&w.cluster, &w.direct_response) {
                            (Some(c), _) => c.clone(),
                            (_, Some(d)) => d.status.to_string(),
                            _ => "?".into(),
                        };
                        format!("{to}*{}", w.weight)
                    })
                    .collect::<Vec<_>>()
                    .join("+"),
                _ => "?".into(),
            };
            format!(
                "[{}] {}{path}{} -> {to}",
                m.hosts.join(","),
                m.method.as_deref().map(|m| format!("{m} ")).unwrap_or_default(),
                if headers.is_empty() {
                    String::new()
                } else {
                    format!(" {headers:?}")
                }
            )
        })
        .collect()
}

pub(super) fn notes_of(notes: &[Note]) -> Vec<String> {
    notes.iter().map(ToString::to_string).collect()
}

#[test]
fn a_gateway_and_a_route_become_a_listener_a_route_and_a_cluster_of_ready_endpoints() {
    let r = route(
        "echo",
        "  parentRefs: [{name: public}]\n  rules:\n  - backendRefs: [{name: echo, port: 80}]",
    );
    let (proxy, notes) = translated(&join(&[CLASS, GATEWAY, ECHO, &r]));
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(proxy.metadata.name, "public-gw");
    assert_eq!(proxy.metadata.namespace(), "edge");
    assert_eq!(proxy.metadata.labels[GATEWAY_NAME_LABEL], "public");
    assert_eq!(proxy.metadata.labels[GATEWAY_CLASS_LABEL], "wasmesh");
    let listener = &proxy.spec.listeners[0];
    assert_eq!(listener.name, "http");
    assert_eq!(listener.address.to_string(), "127.0.0.1:8080");
    assert_eq!(table(&proxy, 0), ["[] prefix / -> edge/echo:80"]);
    let cluster = &proxy.spec.clusters[0];
    assert_eq!(cluster.name, "edge/echo:80");
    assert_eq!(
        cluster.endpoints,
        ["10.0.0.1:9000", "10.0.0.3:9000"],
        "not-ready endpoints are left out"
    );
    assert_eq!(cluster.protocol, ClusterProtocol::Http1);
}

#[test]
fn without_our_gateway_or_class_there_is_no_proxy_and_the_reason_says_which() {
    let waiting = |yaml: &str| {
        translate(&objects(yaml), &target())
            .proxy
            .unwrap_err()
            .to_string()
    };
    assert_eq!(waiting(CLASS), "Gateway edge/public not found");
    assert_eq!(
        waiting(GATEWAY),
        "Gateway edge/public: GatewayClass wasmesh not found"
    );
    let istio = CLASS.replace("wasmesh.io/gateway-controller", "istio.io/gateway-controller");
    assert_eq!(
        waiting(&join(&[&istio, GATEWAY])),
        "Gateway edge/public: GatewayClass wasmesh has controllerName istio.io/gateway-controller, \
         not wasmesh.io/gateway-controller"
    );
}

#[test]
fn a_backend_that_does_not_resolve_answers_500_and_says_why() {
    let rules = "  parentRefs: [{name: public}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /missing}}]
    backendRefs: [{name: nope, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /port}}]
    backendRefs: [{name: echo, port: 81}]
  - matches: [{path: {type: PathPrefix, value: /kind}}]
    backendRefs: [{group: example.com, kind: Bucket, name: b}]
  - matches: [{path: {type: PathPrefix, value: /other-ns}}]
    backendRefs: [{name: echo, namespace: web, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /none}}]";
    let (proxy, notes) = translated(&join(&[CLASS, GATEWAY, ECHO, &route("r", rules)]));
    assert!(
        table(&proxy, 0).iter().all(|r| r.ends_with("-> 500")),
        "{:?}",
        table(&proxy, 0)
    );
    assert!(proxy.spec.clusters.is_empty());
    assert_eq!(
        notes_of(&notes),
        [
            "HTTPRoute edge/r: spec.rules[0].backendRefs[0]: Service edge/nope not found; the rule answers 500",
            "HTTPRoute edge/r: spec.rules[1].backendRefs[0]: Service edge/echo has no port 81; the rule answers 500",
            "HTTPRoute edge/r: spec.rules[2].backendRefs[0]: example.com/Bucket b: only Services (group \"\", kind Service) are backends; the rule answers 500",
            "HTTPRoute edge/r: spec.rules[3].backendRefs[0]: Service web/echo is in another namespace than the route, and no ReferenceGrant in namespace web allows HTTPRoutes of namespace edge to refer to it; the rule answers 500",
            "HTTPRoute edge/r: spec.rules[4].backendRefs: no backend with a weight above 0; the rule answers 500",
        ]
    );
    assert_eq!(notes[3].kind, NoteKind::Unresolved);
    assert_eq!(notes[0].kind, NoteKind::Unresolved);
}

#[test]
fn matches_are_ordered_by_the_specifications_precedence() {
    // HTTPRouteMatchingAcrossRoutes / the HTTPRouteRule precedence list
    let older = "
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: zz-older, namespace: edge, creationTimestamp: \"2024-01-01T00:00:00Z\"}
spec:
  parentRefs: [{name: public}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /api}}]
    backendRefs: [{name: echo, port: 80}]";
    let newer = route(
        "aa-newer",
        "  parentRefs: [{name: public}]
  rules:
  - matches:
    - {path: {type: PathPrefix, value: /}}
    - {path: {type: PathPrefix, value: /api/}}
    - {path: {type: PathPrefix, value: /api}, headers: [{name: X-Version, value: \"2\"}]}
    - {path: {type: PathPrefix, value: /api}, method: POST}
    - {path: {type: PathPrefix, value: /api/v1}}
    - {path: {type: Exact, value: /api}}
    - {path: {type: RegularExpression, value: \"/r/[0-9]+\"}}
    backendRefs: [{name: echo, port: 80}]",
    );
    let newer = newer.replace(
        "namespace: edge}",
        "namespace: edge, creationTimestamp: \"2025-01-01T00:00:00Z\"}",
    );
    let (proxy, notes) = translated(&join(&[CLASS, GATEWAY, ECHO, older, &newer]));
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(
        table(&proxy, 0),
        [
            "[] exact /api -> edge/echo:80",
            "[] regex /r/[0-9]+ -> edge/echo:80",
            "[] segments /api/v1 -> edge/echo:80",
            "[] POST segments /api -> edge/echo:80",
            "[] segments /api [\"x-version\"] -> edge/echo:80",
            // equal matches: the older route first, then the rule's own order
            "[] segments /api -> edge/echo:80",
            "[] segments /api -> edge/echo:80",
            "[] prefix / -> edge/echo:80",
        ]
    );
    let older_first = &proxy.spec.listeners[0].routes[5];
    assert_eq!(older_first.name.as_deref(), Some("edge/zz-older/rule0/match0"));
}

#[test]
fn a_path_prefix_matches_whole_segments() {
    let r = route(
        "r",
        "  parentRefs: [{name: public}]\n  rules:\n  - matches: [{path: {type: PathPrefix, value: /foo/}}]\n    backendRefs: [{name: echo, port: 80}]",
    );
    let (proxy, _) = translated(&join(&[CLASS, GATEWAY, ECHO, &r]));
    // whole segments, the trailing `/` ignored: the proxy's pathSeparatedPrefix takes
    // `/foo`, `/foo/` and `/foo/bar`, not `/foobar` (docs/proxy.md)
    let m = &proxy.spec.listeners[0].routes[0].r#match;
    assert_eq!(m.path_separated_prefix.as_deref(), Some("/foo"));
    assert_eq!((&m.prefix, &m.regex, &m.exact), (&None, &None, &None));
}

#[test]
fn hostnames_intersect_with_the_listeners_and_the_most_specific_host_goes_first() {
    // HTTPRouteHostnameIntersection, GatewayHTTPListenerIsolation
    let gateway = "
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public, namespace: edge}
spec:
  gatewayClassName: wasmesh
  listeners:
  - {name: wild, port: 8080, protocol: HTTP, hostname: \"*.example.com\"}
  - {name: foo, port: 8080, protocol: HTTP, hostname: foo.example.com}
  - {name: empty, port: 8080, protocol: HTTP, hostname: empty.example.com}
  - {name: any, port: 8080, protocol: HTTP}";
    let wild = route(
        "wild",
        "  parentRefs: [{name: public, sectionName: wild}]\n  hostnames: [a.example.com, other.org, \"*.b.example.com\"]\n  rules:\n  - backendRefs: [{name: echo, port: 80}]",
    );
    let foo = route(
        "foo",
        "  parentRefs: [{name: public, sectionName: foo}]\n  rules:\n  - matches: [{path: {type: Exact, value: /foo}}]\n    backendRefs: [{name: echo, port: 80}]",
    );
    let any = route("any", "  parentRefs: [{name: public, sectionName: any}]\n  rules:\n  - backendRefs: [{name: echo, port: 80}]");
    let outside = route(
        "outside",
        "  parentRefs: [{name: public, sectionName: wild}]\n  hostnames: [other.org]\n  rules:\n  - backendRefs: [{name: echo, port: 80}]",
    );
    let (proxy, notes) = translated(&join(&[CLASS, gateway, ECHO, &wild, &foo, &any, &outside]));
    assert_eq!(proxy.spec.listeners.len(), 1, "one port, one Proxy listener");
    assert_eq!(proxy.spec.listeners[0].name, "wild");
    assert_eq!(
        table(&proxy, 0),
        [
            "[a.example.com] prefix / -> edge/echo:80",
            "[a.example.com] prefix / -> 404",
            "[empty.example.com] prefix / -> 404",
            "[foo.example.com] exact /foo -> edge/echo:80",
            "[foo.example.com] prefix / -> 404",
            "[*.b.example.com] prefix / -> edge/echo:80",
            "[*.b.example.com] prefix / -> 404",
            "[*.example.com] prefix / -> 404",
            "[] prefix / -> edge/echo:80",
        ]
    );
    assert_eq!(
        notes_of(&notes),
        [
            "HTTPRoute edge/outside: spec.parentRefs[0]: not attached to Gateway edge/public: \
          no hostname of the route falls within listener wild's hostname *.example.com"
        ]
    );
}

#[test]
fn what_wasmesh_does_not_implement_is_said_never_dropped_silently() {
    let gateway = "
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public, namespace: edge}
spec:
  gatewayClassName: wasmesh
  addresses: [{type: IPAddress, value: 10.0.0.9}]
  listeners:
  - {name: http, port: 8080, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}
  - {name: tls, port: 8443, protocol: TLS, tls: {mode: Passthrough}}
  - {name: selected, port: 9090, protocol: HTTP, allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {a: b}}}}}";
    let r = route(
        "r",
        "  parentRefs: [{name: public, sectionName: http}, {name: public, sectionName: tls}, {name: public, port: 9090}]
  rules:
  - matches: [{path: {value: /filtered}}]
    filters: [{type: ExtensionRef, extensionRef: {group: example.com, kind: Auth, name: a}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {value: /split}}]
    backendRefs: [{name: echo, port: 80, weight: 90}, {name: echo, port: 80, weight: 10}]
  - matches: [{path: {value: /q}, queryParams: [{name: a, value: b}]}, {path: {value: /timed}}]
    timeouts: {request: 10s, backendRequest: 2s}
    backendRefs: [{name: echo, port: 80}]",
    );
    let other_ns = "
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: web}
spec:
  parentRefs: [{name: public, namespace: edge, sectionName: http}]
  rules:
  - backendRefs: [{name: echo, port: 80}]";
    let (proxy, notes) = translated(&join(&[CLASS, gateway, ECHO, &r, other_ns]));
    assert_eq!(
        notes_of(&notes),
        [
            "Gateway edge/public: spec.addresses: not implemented yet; the listeners bind 127.0.0.1 (--gateway-address)",
            "Gateway edge/public: spec.listeners[1]: listener tls has protocol TLS: only HTTP and HTTPS listeners are served yet (TLS, TCP and UDP are not); it is left out",
            "HTTPRoute edge/r: spec.parentRefs[1]: not attached to Gateway edge/public: listener tls is TLS, which wasmesh does not serve yet",
            "HTTPRoute edge/r: spec.parentRefs[2]: not attached to Gateway edge/public: listener selected takes routes of the namespaces its allowedRoutes.namespaces.selector selects, and namespace edge is not known (yet)",
            "HTTPRoute edge/r: spec.rules[0].filters[0]: filter ExtensionRef is not implemented yet; the rule answers 500",
            "HTTPRoute web/r: spec.rules[0].backendRefs[0]: Service web/echo not found; the rule answers 500",
        ]
    );
    assert!(notes.iter().all(|n| n.kind != NoteKind::Invalid));
    let ports: Vec<u16> = proxy.spec.listeners.iter().map(|l| l.address.port()).collect();
    assert_eq!(ports, [8080, 9090], "the TLS listener is left out");
    assert_eq!(
        table(&proxy, 0),
        [
            "[] segments /filtered -> 500",
            // equal lengths: rule order
            "[] segments /split -> edge/echo:80*90+edge/echo:80*10",
            "[] segments /timed -> edge/echo:80",
            "[] segments /q -> edge/echo:80",
            // from namespace web (allowedRoutes: All); its Service is web/echo, which is not there
            "[] prefix / -> 500",
        ]
    );
    let timed = &proxy.spec.listeners[0].routes[2];
    assert_eq!(timed.timeout, Some(std::time::Duration::from_secs(10)));
    assert!(
        table(&proxy, 1).is_empty(),
        "nothing attaches to the Selector listener"
    );
}

#[test]
fn a_same_namespace_listener_refuses_routes_of_other_namespaces() {
    let other_ns = "
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: web}
spec:
  parentRefs: [{name: public, namespace: edge}]
  rules:
  - backendRefs: [{name: echo, port: 80}]";
    let (proxy, notes) = translated(&join(&[CLASS, GATEWAY, ECHO, other_ns]));
    assert!(table(&proxy, 0).is_empty());
    assert_eq!(
        notes_of(&notes),
        [
            "HTTPRoute web/r: spec.parentRefs[0]: not attached to Gateway edge/public: listener http \
          takes routes of namespace edge only (allowedRoutes.namespaces.from: Same)"
        ]
    );
}

/// A Gateway whose listener takes the routes of namespaces labelled `gateway: public`
/// with a `tier` other than `internal`, and routes of edge, web and ops.
pub(super) const SELECTED: &str = "
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public, namespace: edge}
spec:
  gatewayClassName: wasmesh
  listeners:
  - name: http
    port: 8080
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: Selector
        selector:
          matchLabels: {gateway: public}
          matchExpressions: [{key: tier, operator: NotIn, values: [internal]}]
---
apiVersion: v1
kind: Namespace
metadata: {name: web, labels: {gateway: public, tier: front}}
---
apiVersion: v1
kind: Namespace
metadata: {name: ops, labels: {gateway: public, tier: internal}}
---
apiVersion: v1
kind: Namespace
metadata: {name: edge}";

pub(super) fn route_in(namespace: &str, path: &str) -> String {
    format!(
        "
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: r, namespace: {namespace}}}
spec:
  parentRefs: [{{name: public, namespace: edge}}]
  rules:
  - matches: [{{path: {{value: {path}}}}}]
    backendRefs: [{{name: echo, namespace: edge, port: 80}}]"
    )
}

#[test]
fn a_selector_listener_takes_the_routes_of_the_namespaces_it_selects_only() {
    let grant = "
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: all, namespace: edge}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: web}]
  to: [{group: \"\", kind: Service}]";
    let yaml = join(&[
        CLASS,
        SELECTED,
        ECHO,
        grant,
        &route_in("web", "/web"),
        &route_in("ops", "/ops"),
        &route_in("edge", "/edge"),
        &route_in("nowhere", "/nowhere"),
    ]);
    let (proxy, notes) = translated(&yaml);
    assert_eq!(table(&proxy, 0), ["[] segments /web -> edge/echo:80"]);
    assert_eq!(
        notes_of(&notes),
        [
            "HTTPRoute edge/r: spec.parentRefs[0]: not attached to Gateway edge/public: listener http: \
             allowedRoutes.namespaces.selector does not select namespace edge",
            "HTTPRoute nowhere/r: spec.parentRefs[0]: not attached to Gateway edge/public: listener http \
             takes routes of the namespaces its allowedRoutes.namespaces.selector selects, and namespace \
             nowhere is not known (yet)",
            "HTTPRoute ops/r: spec.parentRefs[0]: not attached to Gateway edge/public: listener http: \
             allowedRoutes.namespaces.selector does not select namespace ops",
        ]
    );

    // the labels change: ops is selected, web no longer
    let relabelled = yaml
        .replace("tier: internal", "tier: back")
        .replace("{gateway: public, tier: front}", "{tier: front}");
    let (proxy, _) = translated(&relabelled);
    assert_eq!(
        table(&proxy, 0),
        ["[] segments /ops -> 500"],
        "ops has no grant to edge"
    );

    // the name label every namespace carries
    let by_name = yaml.replace(
        "matchLabels: {gateway: public}",
        "matchLabels: {kubernetes.io/metadata.name: edge}",
    );
    let (proxy, _) = translated(&by_name);
    assert_eq!(table(&proxy, 0), ["[] segments /edge -> edge/echo:80"]);

    // a selector the API does not allow takes nothing, and says why
    let bad = yaml.replace(
        "operator: NotIn, values: [internal]",
        "operator: Exists, values: [internal]",
    );
    let (proxy, notes) = translated(&bad);
    assert!(table(&proxy, 0).is_empty());
    assert!(
        notes_of(&notes).iter().any(|n| n.ends_with(
            "listener http: allowedRoutes.namespaces.selector.matchExpressions[0]: operator Exists \
             on key tier takes no values; it takes no route"
        )),
        "{notes:?}"
    );
}

#[test]
fn backend_request_is_the_routes_per_try_timeout_and_never_longer_than_request() {
    let r = route(
        "r",
        "  parentRefs: [{name: public}]
  rules:
  - matches: [{path: {value: /both}}]
    timeouts: {request: 10s, backendRequest: 2s}
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {value: /alone}}]
    timeouts: {backendRequest: 500ms}
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {value: /off}}]
    timeouts: {request: 10s, backendRequest: 0s}
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {value: /longer}}]
    timeouts: {request: 1s, backendRequest: 2s}
    backendRefs: [{name: echo, port: 80}]",
    );
    let (proxy, notes) = translated(&join(&[CLASS, GATEWAY, ECHO, &r]));
    let timeouts: Vec<(String, Option<String>, Option<String>)> = proxy.spec.listeners[0]
        .routes
        .iter()
        .map(|r| {
            let format = |d: Option<std::time::Duration>| d.map(crate::duration::format);
            (
                format!("{:?}", r.r#match.path()),
                format(r.timeout),
                format(r.per_try_timeout),
            )
        })
        .collect();
    let some = |s: &str| Some(s.to_string());
    assert_eq!(
        timeouts,
        [
            (r#"SeparatedPrefix("/longer")"#.to_string(), some("1s"), None),
            (r#"SeparatedPrefix("/alone")"#.to_string(), None, some("500ms")),
            (r#"SeparatedPrefix("/both")"#.to_string(), some("10s"), some("2s")),
            (r#"SeparatedPrefix("/off")"#.to_string(), some("10s"), None),
        ]
    );
    assert_eq!(
        notes_of(&notes),
        ["HTTPRoute edge/r: spec.rules[3].timeouts.backendRequest: 2s is longer than timeouts.request (1s), \
          which the specification forbids; not used"]
    );
}

#[test]
fn an_h2c_service_port_is_an_http2_cluster_and_ipv6_endpoints_are_bracketed() {
    let svc = "
apiVersion: v1
kind: Service
metadata: {name: grpc, namespace: edge}
spec:
  ports: [{port: 50051, appProtocol: kubernetes.io/h2c}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: grpc-1, namespace: edge, labels: {kubernetes.io/service-name: grpc}}
addressType: IPv6
ports: [{port: 50051}]
endpoints:
- addresses: [\"fd00::1\"]";
    let r = route(
        "r",
        "  parentRefs: [{name: public}]\n  rules:\n  - backendRefs: [{name: grpc, port: 50051}]",
    );
    let (proxy, _) = translated(&join(&[CLASS, GATEWAY, svc, &r]));
    let cluster = &proxy.spec.clusters[0];
    assert_eq!(cluster.protocol, ClusterProtocol::Http2);
    assert_eq!(cluster.endpoints, ["[fd00::1]:50051"]);
}

#[test]
fn weights_split_the_traffic_and_an_unresolved_backends_share_answers_500() {
    // HTTPRouteWeight
    let two = "
apiVersion: v1
kind: Service
metadata: {name: two, namespace: edge}
spec:
  ports: [{name: http, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: two-1, namespace: edge, labels: {kubernetes.io/service-name: two}}
addressType: IPv4
ports: [{name: http, port: 7000}]
endpoints:
- addresses: [10.0.1.1]
- addresses: [10.0.1.2]";
    let one = "
apiVersion: v1
kind: Service
metadata: {name: one, namespace: edge}
spec:
  ports: [{name: http, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: one-1, namespace: edge, labels: {kubernetes.io/service-name: one}}
addressType: IPv4
ports: [{name: http, port: 7000}]
endpoints:
- addresses: [10.0.2.1]";
    let r = route(
        "r",
        "  parentRefs: [{name: public}]
  rules:
  - backendRefs: [{name: one, port: 80, weight: 3}, {name: two, port: 80, weight: 1}, {name: echo, port: 80, weight: 0}]
  - matches: [{path: {value: /broken}}]
    backendRefs: [{name: one, port: 80}, {name: nope, port: 80}]",
    );
    let (proxy, notes) = translated(&join(&[CLASS, GATEWAY, two, one, &r]));
    assert_eq!(
        table(&proxy, 0),
        [
            "[] segments /broken -> edge/one:80*1+500*1",
            "[] prefix / -> edge/one:80*3+edge/two:80*1"
        ]
    );
    // each backend its own cluster; the proxy takes turns over the shares (docs/proxy.md)
    let clusters: Vec<&str> = proxy.spec.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(clusters, ["edge/one:80", "edge/two:80"]);
    assert_eq!(
        notes_of(&notes),
        [
            "HTTPRoute edge/r: spec.rules[1].backendRefs[1]: Service edge/nope not found; its share (1/2) \
             of the requests answers 500"
        ]
    );
}

#[test]
fn query_parameter_matches_are_kept_and_the_most_of_them_goes_first() {
    // HTTPRouteQueryParamMatching
    let r = route(
        "r",
        "  parentRefs: [{name: public}]
  rules:
  - matches: [{queryParams: [{name: animal, value: whale}]}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{queryParams: [{name: animal, value: dolphin}, {type: RegularExpression, name: color, value: \"bl(ue|ack)\"}, {name: animal, value: shark}]}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{queryParams: [{type: RegularExpression, name: bad, value: \"(\"}]}]
    backendRefs: [{name: echo, port: 80}]",
    );
    let (proxy, notes) = translated(&join(&[CLASS, GATEWAY, ECHO, &r]));
    let routes = &proxy.spec.listeners[0].routes;
    let queries: Vec<Vec<String>> = routes
        .iter()
        .map(|r| {
            r.r#match
                .query_params
                .iter()
                .map(|q| format!("{}={}", q.name, q.exact.as_ref().or(q.regex.as_ref()).unwrap()))
                .collect()
        })
        .collect();
    // two parameters before one; of two entries named animal, the first counts
    assert_eq!(
        queries,
        [vec!["animal=dolphin", "color=bl(ue|ack)"], vec!["animal=whale"]]
    );
    let notes = notes_of(&notes);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].starts_with(
            "HTTPRoute edge/r: spec.rules[2].matches[0]: queryParams[0].value \"(\" is not a regular expression"
        ) && notes[0].ends_with("; this match is left out"),
        "{notes:?}"
    );
}

#[test]
fn a_reference_grant_lets_a_route_reach_a_service_of_another_namespace() {
    // HTTPRouteReferenceGrant, HTTPRouteInvalidCrossNamespaceBackendRef
    let web = ECHO.replace("namespace: edge", "namespace: web");
    let rules = "  parentRefs: [{name: public}]
  rules:
  - backendRefs: [{name: echo, namespace: web, port: 80}]";
    let grant = |to: &str| {
        format!(
            "apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {{name: from-edge, namespace: web}}
spec:
  from: [{{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: edge}}]
  to: [{{group: \"\", kind: Service, name: {to}}}]"
        )
    };
    let (proxy, notes) = translated(&join(&[CLASS, GATEWAY, &web, &route("r", rules), &grant("echo")]));
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(table(&proxy, 0), ["[] prefix / -> web/echo:80"]);
    assert_eq!(
        proxy.spec.clusters[0].endpoints,
        ["10.0.0.1:9000", "10.0.0.3:9000"]
    );

    // a grant for another Service does not do
    let (proxy, notes) = translated(&join(&[
        CLASS,
        GATEWAY,
        &web,
        &route("r", rules),
        &grant("other"),
    ]));
    assert_eq!(table(&proxy, 0), ["[] prefix / -> 500"]);
    assert!(
        notes_of(&notes)[0].contains("no ReferenceGrant in namespace web"),
        "{notes:?}"
    );
}
