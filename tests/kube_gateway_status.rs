//! The Gateway API status written back by `wasmesh proxy --kubernetes --gateway NS/NAME`
//! (docs/gateway-api.md, "Status"), read as a user reads it: the real kubectl 1.37 against
//! the API server double. The GatewayClass is Accepted; the Gateway is Programmed once the
//! proxy serves it, with its listener's attachedRoutes; a route to a missing Service says
//! `ResolvedRefs=False BackendNotFound`, one whose parentRef names no listener
//! `Accepted=False NoMatchingParent`; a UDP listener (not served) is
//! `Accepted=False UnsupportedProtocol` while the Gateway's new generation is programmed;
//! once settled, nothing is written again. A backendRef
//! to another namespace answers 500 with `ResolvedRefs=False RefNotPermitted` until a
//! ReferenceGrant there allows it, and again once the grant is deleted. A listener whose
//! `allowedRoutes` selects namespaces by label refuses a route of an unlabelled namespace
//! (`Accepted=False NotAllowedByListeners`, 404) until `kubectl label namespace` selects it.

use crate::kube_gateway::{gateway, gateway_cluster, gateway_proxy, slice, ROUTE_AND_SERVICE};
use crate::kube_support::{Cluster, KubeProxy};
use crate::proxy_support::echo::Echo;
use crate::proxy_support::{free_addr, http_get};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const LOST: &str = "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: lost, namespace: edge}
spec:
  parentRefs: [{name: public, sectionName: nope}]
  rules: [{backendRefs: [{name: echo, port: 80}]}]
";

/// `kubectl get KIND NAME -o jsonpath=PATH` (in namespace edge unless cluster-scoped).
fn get(cluster: &Cluster, what: &[&str], path: &str) -> String {
    let jsonpath = format!("jsonpath={path}");
    let mut args = vec!["get"];
    args.extend_from_slice(what);
    args.extend_from_slice(&["-o", &jsonpath]);
    cluster.kubectl(&args)
}

/// Polls `get` until it prints `want`.
fn until(cluster: &Cluster, proxy: &KubeProxy, what: &[&str], path: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let seen = get(cluster, what, path);
        if seen == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what:?} {path}: {seen:?}, not {want:?}\n{}",
            proxy.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_class_gateway_and_routes_show_the_specifications_status_through_kubectl() {
    let cluster = gateway_cluster();
    let upstream = Echo::start("a");
    let port = free_addr().port();
    let proxy = gateway_proxy(&cluster);
    cluster.apply("gateway.yaml", &gateway(port));
    cluster.apply("route.yaml", ROUTE_AND_SERVICE);
    cluster.apply("lost.yaml", LOST);
    cluster.apply("slice.yaml", &slice(upstream.addr));
    proxy.wait_ready(Duration::from_secs(20));

    let condition = |t: &str, field: &str| format!("{{.status.conditions[?(@.type==\"{t}\")].{field}}}");
    until(
        &cluster,
        &proxy,
        &["gatewayclass", "wasmesh"],
        &condition("Accepted", "status"),
        "True",
    );
    let gw = ["gateway", "public", "-n", "edge"];
    until(&cluster, &proxy, &gw, &condition("Programmed", "status"), "True");
    assert_eq!(get(&cluster, &gw, &condition("Accepted", "reason")), "Accepted");
    assert_eq!(
        get(&cluster, &gw, "{.status.conditions[0].observedGeneration}"),
        "1"
    );
    // echo attaches; lost names a listener the Gateway does not have
    assert_eq!(get(&cluster, &gw, "{.status.listeners[0].attachedRoutes}"), "1");
    assert_eq!(
        get(&cluster, &gw, "{.status.listeners[0].supportedKinds[0].kind}"),
        "HTTPRoute"
    );
    let listener = |t: &str| format!("{{.status.listeners[0].conditions[?(@.type==\"{t}\")].reason}}");
    let reasons: Vec<String> = ["Accepted", "ResolvedRefs", "Conflicted", "Programmed"]
        .iter()
        .map(|t| get(&cluster, &gw, &listener(t)))
        .collect();
    assert_eq!(reasons, ["Accepted", "ResolvedRefs", "NoConflicts", "Programmed"]);

    let parent =
        |t: &str, field: &str| format!("{{.status.parents[0].conditions[?(@.type==\"{t}\")].{field}}}");
    let echo = ["httproute", "echo", "-n", "edge"];
    until(
        &cluster,
        &proxy,
        &echo,
        &parent("ResolvedRefs", "reason"),
        "BackendNotFound",
    );
    assert_eq!(get(&cluster, &echo, &parent("ResolvedRefs", "status")), "False");
    assert_eq!(
        get(&cluster, &echo, &parent("ResolvedRefs", "message")),
        "spec.rules[0].backendRefs[0]: Service edge/nope not found"
    );
    assert_eq!(get(&cluster, &echo, &parent("Accepted", "status")), "True");
    assert_eq!(
        get(&cluster, &echo, "{.status.parents[0].controllerName}"),
        "wasmesh.io/gateway-controller"
    );
    let lost = ["httproute", "lost", "-n", "edge"];
    until(&cluster, &proxy, &lost, &parent("Accepted", "status"), "False");
    assert_eq!(
        get(&cluster, &lost, &parent("Accepted", "reason")),
        "NoMatchingParent"
    );
    assert_eq!(
        get(&cluster, &lost, "{.status.parents[0].parentRef.sectionName}"),
        "nope"
    );

    // the missing Service appears: ResolvedRefs turns True
    cluster.apply(
        "nope.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: nope, namespace: edge}\nspec:\n  ports: [{name: http, port: 80}]\n",
    );
    until(&cluster, &proxy, &echo, &parent("ResolvedRefs", "status"), "True");

    // a listener wasmesh does not serve yet: the Gateway's generation 2, still programmed
    // (by gateways that run generation 2), that listener not accepted
    let with_udp = format!(
        "{}  - {{name: dns, port: {}, protocol: UDP}}\n",
        gateway(port),
        free_addr().port()
    );
    cluster.apply("gateway.yaml", &with_udp);
    let programmed_at = "{.status.conditions[?(@.type==\"Programmed\")].observedGeneration}";
    until(&cluster, &proxy, &gw, programmed_at, "2");
    // Pending (the gateway runs generation 1 still) for a moment, then True at 2
    until(&cluster, &proxy, &gw, &condition("Programmed", "status"), "True");
    assert_eq!(get(&cluster, &gw, programmed_at), "2");
    assert_eq!(
        get(&cluster, &gw, &condition("Accepted", "reason")),
        "ListenersNotValid"
    );
    let dns = "{.status.listeners[1].conditions[?(@.type==\"Accepted\")].reason}";
    assert_eq!(get(&cluster, &gw, dns), "UnsupportedProtocol");
    assert_eq!(get(&cluster, &gw, "{.status.listeners[1].attachedRoutes}"), "0");

    // settled: nothing is written again
    std::thread::sleep(Duration::from_secs(2));
    let patches = cluster.server.requests("patch");
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        cluster.server.requests("patch"),
        patches,
        "status written again with nothing changed:\n{}",
        proxy.log()
    );
    assert!(
        proxy
            .log()
            .contains("this gateway now writes the status of Gateway edge/public and its routes"),
        "{}",
        proxy.log()
    );
}

/// The namespace web and its Service echo (whose EndpointSlice `serve_web` applies).
const WEB: &str = "apiVersion: v1
kind: Namespace
metadata: {name: web}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: web}
spec:
  ports: [{name: http, port: 80}]
";

/// A route of edge to web's Service echo.
const CROSS: &str = "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: cross, namespace: edge}
spec:
  parentRefs: [{name: public}]
  rules: [{backendRefs: [{name: echo, namespace: web, port: 80}]}]
";

const GRANT: &str = "apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: from-edge, namespace: web}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: edge}]
  to: [{group: \"\", kind: Service, name: echo}]
";

/// A gateway serving the Gateway `gateway(port)`, the namespace web with its Service echo
/// (its EndpointSlice on `upstream`) and the routes `manifests`, ready.
struct Served {
    cluster: Cluster,
    upstream: Echo,
    listen: SocketAddr,
    proxy: KubeProxy,
}

fn serve_web(gateway: fn(u16) -> String, manifests: &str) -> Served {
    let cluster = gateway_cluster();
    let upstream = Echo::start("a");
    let listen = SocketAddr::new([127, 0, 0, 1].into(), free_addr().port());
    let proxy = gateway_proxy(&cluster);
    cluster.apply("gateway.yaml", &gateway(listen.port()));
    cluster.apply("web.yaml", WEB);
    cluster.apply("routes.yaml", manifests);
    let web_slice = slice(upstream.addr).replace("namespace: edge", "namespace: web");
    cluster.apply("slice.yaml", &web_slice);
    proxy.wait_ready(Duration::from_secs(20));
    Served {
        cluster,
        upstream,
        listen,
        proxy,
    }
}

/// Requests `/` until it answers `status`.
fn until_status(proxy: &KubeProxy, listen: SocketAddr, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (seen, _) = http_get(listen, "/");
        if seen == status {
            return;
        }
        assert!(Instant::now() < deadline, "{seen}, not {status}\n{}", proxy.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_reference_grant_lets_a_route_reach_another_namespace_and_its_deletion_takes_it_back() {
    let Served {
        cluster,
        upstream,
        listen,
        proxy,
    } = serve_web(gateway, CROSS);

    // no grant: 500, RefNotPermitted
    until_status(&proxy, listen, 500);
    let cross = ["httproute", "cross", "-n", "edge"];
    let resolved =
        |field: &str| format!("{{.status.parents[0].conditions[?(@.type==\"ResolvedRefs\")].{field}}}");
    until(&cluster, &proxy, &cross, &resolved("reason"), "RefNotPermitted");
    assert_eq!(
        get(&cluster, &cross, &resolved("message")),
        "spec.rules[0].backendRefs[0]: Service web/echo is in another namespace than the route, \
         and no ReferenceGrant in namespace web allows HTTPRoutes of namespace edge to refer to it"
    );

    // the grant, followed live: served, ResolvedRefs
    cluster.apply("grant.yaml", GRANT);
    until_status(&proxy, listen, 200);
    assert!(upstream.requests.load(std::sync::atomic::Ordering::Relaxed) >= 1);
    until(&cluster, &proxy, &cross, &resolved("status"), "True");

    // deleted: 500 again
    cluster.kubectl(&["delete", "referencegrant", "from-edge", "-n", "web"]);
    until_status(&proxy, listen, 500);
    until(&cluster, &proxy, &cross, &resolved("reason"), "RefNotPermitted");
}

/// A Gateway whose listener takes the routes of the namespaces labelled `gateway: public`,
/// and a route (with its Service) in the namespace web, not labelled yet.
fn selector_gateway(port: u16) -> String {
    gateway(port).replace(
        "protocol: HTTP}",
        "protocol: HTTP, allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {gateway: public}}}}}",
    )
}

/// A route of web to its Service echo, naming the Gateway of edge.
const IN_WEB: &str = "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: web}
spec:
  parentRefs: [{name: public, namespace: edge}]
  rules: [{backendRefs: [{name: echo, port: 80}]}]
";

#[test]
fn a_selector_listener_takes_a_namespaces_route_once_kubectl_labels_the_namespace() {
    let Served {
        cluster,
        upstream,
        listen,
        proxy,
    } = serve_web(selector_gateway, IN_WEB);

    // web is not selected: the route is refused, its requests find no route
    let route = ["httproute", "web", "-n", "web"];
    let accepted =
        |field: &str| format!("{{.status.parents[0].conditions[?(@.type==\"Accepted\")].{field}}}");
    until(
        &cluster,
        &proxy,
        &route,
        &accepted("reason"),
        "NotAllowedByListeners",
    );
    assert_eq!(get(&cluster, &route, &accepted("status")), "False");
    assert_eq!(
        get(&cluster, &route, &accepted("message")),
        "listener http: allowedRoutes.namespaces.selector does not select namespace web"
    );
    until_status(&proxy, listen, 404);
    assert_eq!(upstream.requests.load(std::sync::atomic::Ordering::Relaxed), 0);

    // labelled: the route attaches, with no restart
    cluster.kubectl(&["label", "namespace", "web", "gateway=public"]);
    until_status(&proxy, listen, 200);
    assert!(upstream.requests.load(std::sync::atomic::Ordering::Relaxed) >= 1);
    until(&cluster, &proxy, &route, &accepted("status"), "True");
    let gw = ["gateway", "public", "-n", "edge"];
    until(
        &cluster,
        &proxy,
        &gw,
        "{.status.listeners[0].attachedRoutes}",
        "1",
    );

    // the label taken off: refused again
    cluster.kubectl(&["label", "namespace", "web", "gateway-"]);
    until_status(&proxy, listen, 404);
    until(
        &cluster,
        &proxy,
        &route,
        &accepted("reason"),
        "NotAllowedByListeners",
    );
}
