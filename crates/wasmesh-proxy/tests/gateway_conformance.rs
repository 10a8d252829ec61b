//! The Gateway API project's conformance cases for HTTPRoute and Gateway listeners, as
//! table tests of our own (docs/gateway-api.md, "Conformance cases"): each function is
//! named after the conformance test it mirrors, holds its own manifests (written for
//! wasmesh, mirroring what the case sets up) and its table of request → what the client
//! or the backend gets. No cluster: the objects go through the gateway translation
//! (`wasmesh_api::gateway::translate`), the Proxy made is compiled as the proxy compiles
//! it (`build::snapshot`), and each request is admitted and routed by the proxy's own
//! router (`admit::admit`, `RouteTable::decide`, the forward's edits, the redirect's
//! `Location`). The base every case shares: the namespaces `infra` (the Gateways) and
//! `web` with their labels, the Services `backend-v1`, `backend-v2`, `backend-v3` in `infra` and
//! `web-backend` in `web`, each with one ready endpoint on port 8080.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use wasmesh_api::gateway::{self, NoteKind, Objects, Target};
use wasmesh_api::NamespacedName;
use wasmesh_proxy::build::{self, Inputs};
use wasmesh_proxy::route::redirect::Arrival;
use wasmesh_proxy::route::Decision;
use wasmesh_proxy::snapshot::Snapshot;

/// The GatewayClass, the Gateways most cases use, and the backends.
const BASE: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: wasmesh}
spec: {controllerName: wasmesh.io/gateway-controller}
---
kind: Gateway
metadata: {name: same-namespace, namespace: infra}
spec:
  gatewayClassName: wasmesh
  listeners: [{name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}]
---
kind: Gateway
metadata: {name: all-namespaces, namespace: infra}
spec:
  gatewayClassName: wasmesh
  listeners: [{name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}]
---
kind: Gateway
metadata: {name: backend-namespaces, namespace: infra}
spec:
  gatewayClassName: wasmesh
  listeners:
  - name: http
    port: 80
    protocol: HTTP
    allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {gateway-conformance: backend}}}}
---
kind: Namespace
metadata: {name: infra, labels: {gateway-conformance: infra}}
---
kind: Namespace
metadata: {name: web, labels: {gateway-conformance: backend}}
"#;

/// The backends: name, namespace, endpoint address.
const BACKENDS: [(&str, &str, &str); 4] = [
    ("backend-v1", "infra", "10.1.0.1"),
    ("backend-v2", "infra", "10.1.0.2"),
    ("backend-v3", "infra", "10.1.0.3"),
    ("web-backend", "web", "10.2.0.1"),
];

/// The Gateway `name` of `infra` made into a Proxy from the base and `manifests`, compiled.
struct Served {
    snapshot: Snapshot,
    notes: Vec<gateway::Note>,
    /// What it was made from, for the status.
    objects: Objects,
    target: Target,
}

fn serve(name: &str, manifests: &str) -> Served {
    let mut objects = Objects::default();
    let mut resources = wasmesh_api::Resources::default();
    let mut text = format!("{BASE}\n---\n{manifests}");
    for (service, ns, ip) in BACKENDS {
        text.push_str(&format!(
            "\n---\nkind: Service\nmetadata: {{name: {service}, namespace: {ns}}}\n\
             spec: {{ports: [{{name: http, port: 8080}}]}}\n---\nkind: EndpointSlice\n\
             metadata: {{name: {service}-a, namespace: {ns}, labels: {{kubernetes.io/service-name: {service}}}}}\n\
             addressType: IPv4\nports: [{{name: http, port: 3000}}]\n\
             endpoints: [{{addresses: [{ip}], conditions: {{ready: true}}}}]\n"
        ));
    }
    for doc in serde_yaml_ng::Deserializer::from_str(&text) {
        let value = serde_json::Value::deserialize(doc).expect("manifests are YAML");
        if value.is_null() {
            continue;
        }
        let kind = value["kind"]
            .as_str()
            .expect("every manifest has a kind")
            .to_string();
        match kind.as_str() {
            "GatewayClass" => objects.classes.push(object(&kind, value)),
            "Gateway" => objects.gateways.push(object(&kind, value)),
            "HTTPRoute" => objects.routes.push(object(&kind, value)),
            "Service" => objects.services.push(object(&kind, value)),
            "EndpointSlice" => objects.slices.push(object(&kind, value)),
            "ReferenceGrant" => objects.grants.push(object(&kind, value)),
            "Namespace" => objects.namespaces.push(object(&kind, value)),
            // an HTTPS listener's certificate: for the translation, and for the build
            "Secret" => {
                let secret: std::sync::Arc<wasmesh_api::Secret> = std::sync::Arc::new(object(&kind, value));
                let key = NamespacedName {
                    namespace: secret.metadata.namespace().to_string(),
                    name: secret.metadata.name.clone(),
                };
                objects.secrets.insert(key, Ok(secret.clone()));
                resources.insert(wasmesh_api::Resource::Secret(secret));
            }
            other => panic!("the translation reads no {other}"),
        }
    }
    let target = Target {
        gateway: NamespacedName {
            namespace: "infra".into(),
            name: name.into(),
        },
        workload: name.into(),
        address: IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    let translation = gateway::translate(&objects, &target);
    let proxy = translation.proxy.expect("the Gateway is served");
    let chains = wasmesh_api::resolve(&proxy, &resources, "istio-system");
    let snapshot = build::snapshot(Inputs {
        version: 1,
        proxy: &proxy,
        chains: &chains,
        jwks: &HashMap::new(),
        plugins: &HashMap::new(),
        resources: &resources,
    })
    .expect("the Proxy made compiles");
    Served {
        snapshot,
        notes: translation.notes,
        objects,
        target,
    }
}

/// `value` as the kind `kind`.
fn object<T: serde::de::DeserializeOwned>(kind: &str, value: serde_json::Value) -> T {
    serde_json::from_value(value).unwrap_or_else(|e| panic!("{kind}: {e}"))
}

/// A request: the listener port it arrives on, method, host, path, headers.
#[derive(Clone)]
struct Req {
    port: u16,
    method: &'static str,
    host: &'static str,
    path: &'static str,
    headers: Vec<(&'static str, &'static str)>,
}

fn get(path: &'static str) -> Req {
    Req {
        port: 80,
        method: "GET",
        host: "gateway.test",
        path,
        headers: Vec::new(),
    }
}

impl Req {
    fn host(mut self, host: &'static str) -> Req {
        self.host = host;
        self
    }
    fn method(mut self, method: &'static str) -> Req {
        self.method = method;
        self
    }
    fn header(mut self, name: &'static str, value: &'static str) -> Req {
        self.headers.push((name, value));
        self
    }
    /// Sent to the listener on `port` (80 unless said).
    fn on(mut self, port: u16) -> Req {
        self.port = port;
        self
    }
}

/// What became of a request.
#[derive(Debug)]
struct Outcome {
    status: u16,
    /// The Service the request went to.
    backend: Option<String>,
    /// A redirect's `Location`.
    location: Option<String>,
    /// The request the backend got: host, path and query, headers.
    upstream: Option<(String, String, HeaderMap)>,
    /// The response headers the client got, from what the backend answered.
    response: HeaderMap,
    /// The copies the route's mirrors got (those whose turn it was): Service, host, path.
    mirrored: Vec<(String, String, String)>,
    /// The route's timeouts: the whole request's and one try's.
    timeouts: (Option<std::time::Duration>, Option<std::time::Duration>),
}

impl Served {
    /// The conditions of the Gateway's listener `name` in the status written back, as
    /// `Type=Status Reason`.
    fn listener_status(&self, name: &str) -> Vec<String> {
        let now = wasmesh_api::timestamp::Timestamp::from_unix_seconds(1);
        let writes = gateway::status::writes(&self.objects, &self.target, &Ok(()), &now);
        let gateway = writes
            .iter()
            .find(|w| w.kind == gateway::status::StatusKind::Gateway)
            .expect("the Gateway's status");
        let listener = gateway.status["listeners"]
            .as_array()
            .and_then(|ls| ls.iter().find(|l| l["name"] == name))
            .unwrap_or_else(|| panic!("listener {name} in {}", gateway.status));
        listener["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                format!(
                    "{}={} {}",
                    c["type"].as_str().unwrap(),
                    c["status"].as_str().unwrap(),
                    c["reason"].as_str().unwrap()
                )
            })
            .collect()
    }

    /// Routes `req` on the listener of its port; the backend answers 200 with
    /// `backend_headers`.
    fn send(&self, req: &Req, backend_headers: &[(&str, &str)]) -> Outcome {
        let listener = self
            .snapshot
            .listeners
            .iter()
            .find(|l| l.address.port() == req.port)
            .unwrap_or_else(|| panic!("no listener on port {}", req.port));
        let mut builder = http::Request::builder()
            .method(req.method)
            .uri(req.path)
            .header("host", req.host);
        for (k, v) in &req.headers {
            builder = builder.header(*k, *v);
        }
        let mut parts = builder.body(()).expect("a request").into_parts().0;
        wasmesh_proxy::admit::admit(&mut parts, &listener.http).expect("admitted");
        let mut response = HeaderMap::new();
        let outcome = |status, backend, location, upstream| Outcome {
            status,
            backend,
            location,
            upstream,
            response: HeaderMap::new(),
            mirrored: Vec::new(),
            timeouts: (None, None),
        };
        match listener.routes.decide(&parts) {
            Decision::NoRoute => outcome(404, None, None, None),
            Decision::Respond { status, .. } => outcome(status.as_u16(), None, None, None),
            Decision::Redirect { route, redirect } => {
                let arrival = Arrival {
                    tls: listener.tls.is_some(),
                    port: listener.address.port(),
                };
                let location = redirect.location(&parts, &arrival, route.path.matched_len());
                outcome(redirect.status.as_u16(), None, Some(location), None)
            }
            Decision::Forward(forward) => {
                forward.edit_request(&mut parts);
                let mut mirrored = Vec::new();
                for m in forward.route.mirrors.iter().filter(|m| m.takes_turn()) {
                    let mut copy = parts.clone();
                    wasmesh_proxy::route::mirror::shadow(&mut copy);
                    let cluster = self.snapshot.clusters.get(m.cluster_index);
                    mirrored.push((
                        service_of(&cluster.name),
                        copy.headers["host"].to_str().unwrap().to_string(),
                        copy.uri.path_and_query().unwrap().to_string(),
                    ));
                }
                for (k, v) in backend_headers {
                    response.append(
                        HeaderName::from_bytes(k.as_bytes()).unwrap(),
                        HeaderValue::from_str(v).unwrap(),
                    );
                }
                forward.edit_response(&mut response);
                let cluster = self.snapshot.clusters.get(forward.cluster_index);
                assert_eq!(cluster.name, forward.cluster_name());
                let service = service_of(&cluster.name);
                let host = parts
                    .headers
                    .get("host")
                    .map(|h| h.to_str().unwrap().to_string())
                    .unwrap_or_default();
                let target = parts.uri.path_and_query().unwrap().to_string();
                let mut o = outcome(200, Some(service), None, Some((host, target, parts.headers)));
                o.response = response;
                o.mirrored = mirrored;
                o.timeouts = (forward.route.timeout, forward.route.per_try_timeout);
                o
            }
        }
    }

    fn ask(&self, req: &Req) -> Outcome {
        self.send(req, &[])
    }
}

/// `infra/backend-v1:8080` → `backend-v1`.
fn service_of(cluster: &str) -> String {
    cluster.split(['/', ':']).nth(1).unwrap().to_string()
}

/// What a case expects of a request.
enum Want {
    /// Forwarded to this Service.
    Backend(&'static str),
    /// Answered with this status by the gateway.
    Status(u16),
    /// A redirect with this status and `Location`.
    Redirect(u16, &'static str),
}
use Want::*;

/// Checks a table; every row is checked, then the failures reported together.
fn check(served: &Served, table: &[(Req, Want)]) {
    let mut failures = Vec::new();
    for (req, want) in table {
        let got = served.ask(req);
        let ok = match want {
            Backend(b) => got.status == 200 && got.backend.as_deref() == Some(*b),
            Status(s) => got.status == *s && got.backend.is_none(),
            Redirect(s, l) => got.status == *s && got.location.as_deref() == Some(*l),
        };
        if !ok {
            let want = match want {
                Backend(b) => format!("backend {b}"),
                Status(s) => format!("status {s}"),
                Redirect(s, l) => format!("{s} to {l}"),
            };
            failures.push(format!(
                "{} {} {} {:?}: want {want}, got status {} backend {:?} location {:?}",
                req.method, req.host, req.path, req.headers, got.status, got.backend, got.location
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The value the backend would see of `name`: its values joined with `,`.
fn joined(headers: &HeaderMap, name: &str) -> Option<String> {
    let all: Vec<&str> = headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    (!all.is_empty()).then(|| all.join(","))
}

/// Checks what the backend got: its Service, `Host`, path, headers present (joined) and
/// absent.
fn check_upstream(
    got: &Outcome,
    backend: &str,
    host: &str,
    path: &str,
    present: &[(&str, &str)],
    absent: &[&str],
) {
    assert_eq!(got.backend.as_deref(), Some(backend), "{got:?}");
    let (h, p, headers) = got.upstream.as_ref().expect("forwarded");
    assert_eq!((h.as_str(), p.as_str()), (host, path), "{got:?}");
    for (name, value) in present {
        assert_eq!(
            joined(headers, name).as_deref(),
            Some(*value),
            "{name} in {headers:?}"
        );
    }
    for name in absent {
        assert!(headers.get(*name).is_none(), "{name} in {headers:?}");
    }
}

fn route(name: &str, parent: &str, body: &str) -> String {
    format!(
        "kind: HTTPRoute\nmetadata: {{name: {name}, namespace: infra}}\nspec:\n  parentRefs: [{{name: {parent}}}]\n{body}"
    )
}

// === Core: simple attachment, matching ===

#[test]
fn http_route_simple_same_namespace() {
    let gw = serve(
        "same-namespace",
        &route(
            "simple",
            "same-namespace",
            "  rules: [{backendRefs: [{name: backend-v1, port: 8080}]}]",
        ),
    );
    check(&gw, &[(get("/"), Backend("backend-v1"))]);
}

#[test]
fn http_route_matching() {
    let gw = serve(
        "same-namespace",
        &route(
            "matching",
            "same-namespace",
            r#"  rules:
  - matches: [{path: {type: PathPrefix, value: /}}, {headers: [{name: version, value: one}]}]
    backendRefs: [{name: backend-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /v2}}, {headers: [{name: version, value: two}]}]
    backendRefs: [{name: backend-v2, port: 8080}]
"#,
        ),
    );
    check(
        &gw,
        &[
            (get("/"), Backend("backend-v1")),
            (get("/example"), Backend("backend-v1")),
            (get("/").header("Version", "one"), Backend("backend-v1")),
            (get("/v2"), Backend("backend-v2")),
            (get("/v2/example"), Backend("backend-v2")),
            (get("/").header("Version", "two"), Backend("backend-v2")),
            (get("/v2/"), Backend("backend-v2")),
            // not a whole segment of /v2
            (get("/v2example"), Backend("backend-v1")),
            (get("/foo/v2/example"), Backend("backend-v1")),
        ],
    );
}

#[test]
fn http_route_exact_path_matching() {
    let gw = serve(
        "same-namespace",
        &route(
            "exact",
            "same-namespace",
            r#"  rules:
  - matches: [{path: {type: Exact, value: /one}}]
    backendRefs: [{name: backend-v1, port: 8080}]
  - matches: [{path: {type: Exact, value: /two}}]
    backendRefs: [{name: backend-v2, port: 8080}]
"#,
        ),
    );
    check(
        &gw,
        &[
            (get("/one"), Backend("backend-v1")),
            (get("/two"), Backend("backend-v2")),
            (get("/"), Status(404)),
            (get("/one/example"), Status(404)),
            (get("/two/"), Status(404)),
            (get("/Two"), Status(404)),
        ],
    );
}

#[test]
fn http_route_path_match_order() {
    let gw = serve(
        "same-namespace",
        &route(
            "order",
            "same-namespace",
            r#"  rules:
  - {matches: [{path: {type: Exact, value: /match}}], backendRefs: [{name: backend-v1, port: 8080}]}
  - {matches: [{path: {type: Exact, value: /match/exact}}], backendRefs: [{name: backend-v2, port: 8080}]}
  - {matches: [{path: {type: Exact, value: /match/exact/one}}], backendRefs: [{name: backend-v3, port: 8080}]}
  - {matches: [{path: {type: PathPrefix, value: /match/}}], backendRefs: [{name: backend-v3, port: 8080}]}
  - {matches: [{path: {type: PathPrefix, value: /match/prefix/}}], backendRefs: [{name: backend-v1, port: 8080}]}
  - {matches: [{path: {type: PathPrefix, value: /match/prefix/one}}], backendRefs: [{name: backend-v2, port: 8080}]}
"#,
        ),
    );
    check(
        &gw,
        &[
            (get("/match/exact/one"), Backend("backend-v3")),
            (get("/match/exact"), Backend("backend-v2")),
            (get("/match"), Backend("backend-v1")),
            (get("/match/prefix/one/any"), Backend("backend-v2")),
            (get("/match/prefix/any"), Backend("backend-v1")),
            (get("/match/any"), Backend("backend-v3")),
        ],
    );
}

#[test]
fn http_route_header_matching() {
    let gw = serve(
        "same-namespace",
        &route(
            "headers",
            "same-namespace",
            r#"  rules:
  - matches: [{headers: [{name: version, value: one}]}]
    backendRefs: [{name: backend-v1, port: 8080}]
  - matches: [{headers: [{name: version, value: two}]}]
    backendRefs: [{name: backend-v2, port: 8080}]
  - matches: [{headers: [{name: version, value: two}, {name: color, value: orange}]}]
    backendRefs: [{name: backend-v1, port: 8080}]
  - matches: [{headers: [{name: color, value: blue}]}, {headers: [{name: color, value: green}]}]
    backendRefs: [{name: backend-v1, port: 8080}]
  - matches: [{headers: [{name: color, value: red}]}, {headers: [{name: color, value: yellow}]}]
    backendRefs: [{name: backend-v2, port: 8080}]
"#,
        ),
    );
    check(
        &gw,
        &[
            (get("/").header("Version", "one"), Backend("backend-v1")),
            (get("/").header("Version", "two"), Backend("backend-v2")),
            // both headers: the match with more headers wins
            (
                get("/").header("Version", "two").header("Color", "orange"),
                Backend("backend-v1"),
            ),
            (
                get("/").header("Version", "two").header("Color", "blue"),
                Backend("backend-v2"),
            ),
            (get("/").header("Color", "orange"), Status(404)),
            (get("/").header("Some-Other-Header", "one"), Status(404)),
            (get("/").header("Color", "blue"), Backend("backend-v1")),
            (get("/").header("Color", "green"), Backend("backend-v1")),
            (get("/").header("Color", "red"), Backend("backend-v2")),
            (get("/").header("Color", "yellow"), Backend("backend-v2")),
            (get("/").header("Color", "purple"), Status(404)),
        ],
    );
}

#[test]
fn http_route_query_param_matching() {
    let gw = serve(
        "same-namespace",
        &route(
            "query",
            "same-namespace",
            r#"  rules:
  - matches: [{queryParams: [{name: animal, value: whale}]}]
    backendRefs: [{name: backend-v1, port: 8080}]
  - matches: [{queryParams: [{name: animal, value: dolphin}]}]
    backendRefs: [{name: backend-v2, port: 8080}]
  - matches:
    - queryParams: [{name: animal, value: dolphin}, {name: color, value: blue}]
    - queryParams: [{name: ANIMAL, value: Whale}]
    backendRefs: [{name: backend-v3, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /path1}, queryParams: [{name: animal, value: whale}]}]
    backendRefs: [{name: backend-v1, port: 8080}]
  - matches: [{headers: [{name: version, value: one}], queryParams: [{name: animal, value: whale}]}]
    backendRefs: [{name: backend-v2, port: 8080}]
  - matches:
    - path: {type: PathPrefix, value: /path2}
      headers: [{name: version, value: two}]
      queryParams: [{name: animal, value: whale}]
    backendRefs: [{name: backend-v3, port: 8080}]
  - matches:
    - path: {type: PathPrefix, value: /path3}
      queryParams: [{name: animal, value: shark}]
    - path: {type: PathPrefix, value: /path4}
      headers: [{name: version, value: three}]
      queryParams: [{name: animal, value: kraken}]
    backendRefs: [{name: backend-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /path5}}]
    backendRefs: [{name: backend-v1, port: 8080}]
  - matches: [{queryParams: [{name: animal, value: hydra}]}]
    backendRefs: [{name: backend-v2, port: 8080}]
  - matches: [{headers: [{name: version, value: four}]}]
    backendRefs: [{name: backend-v3, port: 8080}]
"#,
        ),
    );
    check(
        &gw,
        &[
            (get("/?animal=whale"), Backend("backend-v1")),
            (get("/?animal=dolphin"), Backend("backend-v2")),
            (get("/?animal=dolphin&color=blue"), Backend("backend-v3")),
            (get("/?ANIMAL=Whale"), Backend("backend-v3")),
            (get("/?animal=whale&otherparam=irrelevant"), Backend("backend-v1")),
            (get("/?animal=dolphin&color=yellow"), Backend("backend-v2")),
            (get("/?color=blue"), Status(404)),
            (get("/?animal=dog"), Status(404)),
            (get("/?animal=whaledolphin"), Status(404)),
            (get("/"), Status(404)),
            // with other matches
            (get("/path1?animal=whale"), Backend("backend-v1")),
            (
                get("/?animal=whale").header("version", "one"),
                Backend("backend-v2"),
            ),
            (
                get("/path2?animal=whale").header("version", "two"),
                Backend("backend-v3"),
            ),
            // either of two matches
            (get("/path3?animal=shark"), Backend("backend-v1")),
            (
                get("/path4?animal=kraken").header("version", "three"),
                Backend("backend-v1"),
            ),
            // not all of one match
            (get("/?animal=shark"), Status(404)),
            (get("/path4?animal=kraken"), Status(404)),
            // precedence: the longer path, then headers before query parameters
            (get("/path5?animal=hydra"), Backend("backend-v1")),
            (
                get("/?animal=hydra").header("version", "four"),
                Backend("backend-v3"),
            ),
        ],
    );
}

#[test]
fn http_route_method_matching() {
    let gw = serve(
        "same-namespace",
        &route(
            "methods",
            "same-namespace",
            r#"  rules:
  - {matches: [{method: POST}], backendRefs: [{name: backend-v1, port: 8080}]}
  - {matches: [{method: GET}], backendRefs: [{name: backend-v2, port: 8080}]}
  - matches: [{path: {type: PathPrefix, value: /path1}, method: GET}]
    backendRefs: [{name: backend-v1, port: 8080}]
  - matches: [{headers: [{name: version, value: one}], method: PUT}]
    backendRefs: [{name: backend-v2, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /path2}, headers: [{name: version, value: two}], method: POST}]
    backendRefs: [{name: backend-v3, port: 8080}]
  - matches:
    - {path: {type: PathPrefix, value: /path3}, method: PATCH}
    - {path: {type: PathPrefix, value: /path4}, headers: [{name: version, value: three}], method: DELETE}
    backendRefs: [{name: backend-v1, port: 8080}]
  - {matches: [{path: {type: PathPrefix, value: /path5}}], backendRefs: [{name: backend-v1, port: 8080}]}
  - {matches: [{method: PATCH}], backendRefs: [{name: backend-v2, port: 8080}]}
  - {matches: [{headers: [{name: version, value: four}]}], backendRefs: [{name: backend-v3, port: 8080}]}
"#,
        ),
    );
    check(
        &gw,
        &[
            (get("/").method("POST"), Backend("backend-v1")),
            (get("/"), Backend("backend-v2")),
            (get("/").method("HEAD"), Status(404)),
            (get("/path1"), Backend("backend-v1")),
            (
                get("/").method("PUT").header("version", "one"),
                Backend("backend-v2"),
            ),
            (
                get("/path2").method("POST").header("version", "two"),
                Backend("backend-v3"),
            ),
            (get("/path3").method("PATCH"), Backend("backend-v1")),
            (
                get("/path4").method("DELETE").header("version", "three"),
                Backend("backend-v1"),
            ),
            (get("/").method("PUT"), Status(404)),
            (get("/path4").method("DELETE"), Status(404)),
            // precedence: the longer path, then a method before headers
            (get("/path5").method("PATCH"), Backend("backend-v1")),
            (
                get("/").method("PATCH").header("version", "four"),
                Backend("backend-v2"),
            ),
        ],
    );
}

#[test]
fn http_route_matching_across_routes() {
    let gw = serve(
        "same-namespace",
        &format!(
            "{}\n---\n{}",
            route(
                "part1",
                "same-namespace",
                r#"  hostnames: [example.com, example.net]
  rules:
  - matches: [{path: {type: PathPrefix, value: /}}, {headers: [{name: version, value: one}]}]
    backendRefs: [{name: backend-v1, port: 8080}]
"#
            ),
            route(
                "part2",
                "same-namespace",
                r#"  hostnames: [example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /v2}}, {headers: [{name: version, value: two}]}]
    backendRefs: [{name: backend-v2, port: 8080}]
"#
            )
        ),
    );
    check(
        &gw,
        &[
            (get("/").host("example.com"), Backend("backend-v1")),
            (get("/example").host("example.com"), Backend("backend-v1")),
            (get("/example").host("example.net"), Backend("backend-v1")),
            (
                get("/example").host("example.com").header("Version", "one"),
                Backend("backend-v1"),
            ),
            (get("/v2").host("example.com"), Backend("backend-v2")),
            // the /v2 route is example.com's only
            (get("/v2").host("example.net"), Backend("backend-v1")),
            (get("/v2/example").host("example.com"), Backend("backend-v2")),
            (
                get("/").host("example.com").header("Version", "two"),
                Backend("backend-v2"),
            ),
        ],
    );
}

// === Hostnames and listeners ===

#[test]
fn http_route_hostname_intersection() {
    let gateway = r#"
kind: Gateway
metadata: {name: intersection, namespace: infra}
spec:
  gatewayClassName: wasmesh
  listeners:
  - {name: listener-1, port: 80, protocol: HTTP, hostname: very.specific.com}
  - {name: listener-2, port: 80, protocol: HTTP, hostname: "*.wildcard.io"}
  - {name: listener-3, port: 80, protocol: HTTP, hostname: "*.anotherwildcard.io"}
"#;
    let routes = [
        (
            "s1",
            "[non.matching.com, '*.nonmatchingwildcard.io', very.specific.com]",
            "backend-v1",
        ),
        (
            "s2",
            "[non.matching.com, wildcard.io, foo.wildcard.io, bar.wildcard.io, foo.bar.wildcard.io]",
            "backend-v2",
        ),
        ("s3", "[non.matching.com, '*.specific.com']", "backend-v3"),
        ("s4", "['*.anotherwildcard.io']", "backend-v1"),
        ("s5", "[specific.but.wrong.com, wildcard.io]", "backend-v2"),
    ];
    let mut manifests = gateway.to_string();
    for (path, hosts, backend) in routes {
        manifests.push_str(&format!(
            "---\n{}",
            route(
                &format!("route-{path}"),
                "intersection",
                &format!(
                    "  hostnames: {hosts}\n  rules:\n  - matches: [{{path: {{type: PathPrefix, value: /{path}}}}}]\n    backendRefs: [{{name: {backend}, port: 8080}}]\n"
                )
            )
        ));
    }
    let gw = serve("intersection", &manifests);
    check(
        &gw,
        &[
            (get("/s1").host("very.specific.com"), Backend("backend-v1")),
            // the Host's port is not part of the name
            (get("/s1").host("very.specific.com:1234"), Backend("backend-v1")),
            (get("/s1").host("non.matching.com"), Status(404)),
            (get("/s1").host("foo.nonmatchingwildcard.io"), Status(404)),
            (get("/s1").host("foo.wildcard.io"), Status(404)),
            (get("/non-matching-prefix").host("very.specific.com"), Status(404)),
            (get("/s2").host("foo.wildcard.io"), Backend("backend-v2")),
            (get("/s2").host("bar.wildcard.io"), Backend("backend-v2")),
            (get("/s2").host("foo.bar.wildcard.io"), Backend("backend-v2")),
            (get("/s2").host("non.matching.com"), Status(404)),
            (get("/s2").host("wildcard.io"), Status(404)),
            (get("/s2").host("very.specific.com"), Status(404)),
            (get("/non-matching-prefix").host("foo.wildcard.io"), Status(404)),
            (get("/s3").host("very.specific.com"), Backend("backend-v3")),
            (get("/s3").host("non.matching.com"), Status(404)),
            (get("/s3").host("foo.specific.com"), Status(404)),
            (get("/s3").host("foo.wildcard.io"), Status(404)),
            (get("/s4").host("foo.anotherwildcard.io"), Backend("backend-v1")),
            (get("/s4").host("bar.anotherwildcard.io"), Backend("backend-v1")),
            (
                get("/s4").host("foo.bar.anotherwildcard.io"),
                Backend("backend-v1"),
            ),
            (get("/s4").host("anotherwildcard.io"), Status(404)),
            (get("/s4").host("foo.wildcard.io"), Status(404)),
            (get("/s4").host("very.specific.com"), Status(404)),
            (
                get("/non-matching-prefix").host("foo.anotherwildcard.io"),
                Status(404),
            ),
            // a route whose hostnames meet no listener's attaches nowhere
            (get("/s5").host("specific.but.wrong.com"), Status(404)),
            (get("/s5").host("wildcard.io"), Status(404)),
        ],
    );
    assert!(
        gw.notes
            .iter()
            .any(|n| n.kind == NoteKind::NotAttached && n.object == "HTTPRoute infra/route-s5"),
        "{:?}",
        gw.notes
    );

    // a listener without a hostname: the route's names only
    let gw = serve(
        "all-hosts",
        &format!(
            "kind: Gateway\nmetadata: {{name: all-hosts, namespace: infra}}\nspec:\n  gatewayClassName: wasmesh\n  listeners: [{{name: l, port: 80, protocol: HTTP}}]\n---\n{}",
            route(
                "names",
                "all-hosts",
                "  hostnames: [first.com, sub.first.com, second.com, sub.second.com]\n  rules: [{backendRefs: [{name: backend-v2, port: 8080}]}]\n"
            )
        ),
    );
    check(
        &gw,
        &[
            (get("/").host("first.com"), Backend("backend-v2")),
            (get("/").host("sub.first.com"), Backend("backend-v2")),
            (get("/").host("second.com"), Backend("backend-v2")),
            (get("/").host("sub.second.com"), Backend("backend-v2")),
            (get("/").host("third.com"), Status(404)),
            (get("/").host("sub.third.com"), Status(404)),
        ],
    );
}

#[test]
fn http_route_listener_hostname_matching() {
    let gw = serve(
        "hostnames",
        r#"
kind: Gateway
metadata: {name: hostnames, namespace: infra}
spec:
  gatewayClassName: wasmesh
  listeners:
  - {name: listener-1, port: 80, protocol: HTTP, hostname: bar.com}
  - {name: listener-2, port: 80, protocol: HTTP, hostname: foo.bar.com}
  - {name: listener-3, port: 80, protocol: HTTP, hostname: "*.bar.com"}
  - {name: listener-4, port: 80, protocol: HTTP, hostname: "*.foo.com"}
---
kind: HTTPRoute
metadata: {name: v1, namespace: infra}
spec:
  parentRefs: [{name: hostnames, sectionName: listener-1}]
  rules: [{backendRefs: [{name: backend-v1, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: v2, namespace: infra}
spec:
  parentRefs: [{name: hostnames, sectionName: listener-2}]
  rules: [{backendRefs: [{name: backend-v2, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: v3, namespace: infra}
spec:
  parentRefs: [{name: hostnames, sectionName: listener-3}, {name: hostnames, sectionName: listener-4}]
  rules: [{backendRefs: [{name: backend-v3, port: 8080}]}]
"#,
    );
    check(
        &gw,
        &[
            (get("/").host("bar.com"), Backend("backend-v1")),
            (get("/").host("foo.bar.com"), Backend("backend-v2")),
            (get("/").host("baz.bar.com"), Backend("backend-v3")),
            (get("/").host("boo.bar.com"), Backend("backend-v3")),
            (get("/").host("multiple.prefixes.bar.com"), Backend("backend-v3")),
            (get("/").host("multiple.prefixes.foo.com"), Backend("backend-v3")),
            (get("/").host("foo.com"), Status(404)),
            (get("/").host("no.matching.host"), Status(404)),
        ],
    );
}

#[test]
fn http_route_listener_port_matching() {
    let gw = serve(
        "ports",
        r#"
kind: Gateway
metadata: {name: ports, namespace: infra}
spec:
  gatewayClassName: wasmesh
  listeners:
  - {name: listener-1, port: 80, protocol: HTTP, hostname: foo.com}
  - {name: listener-2, port: 8080, protocol: HTTP, hostname: foo.com}
  - {name: listener-3, port: 8080, protocol: HTTP, hostname: bar.com}
  - {name: listener-4, port: 8090, protocol: HTTP, hostname: foo.com}
  - {name: listener-5, port: 8090, protocol: HTTP, hostname: bar.com}
---
kind: HTTPRoute
metadata: {name: v1, namespace: infra}
spec:
  parentRefs: [{name: ports, port: 80}]
  rules: [{backendRefs: [{name: backend-v1, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: v2, namespace: infra}
spec:
  parentRefs: [{name: ports, port: 8080}]
  rules: [{backendRefs: [{name: backend-v2, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: v3, namespace: infra}
spec:
  parentRefs: [{name: ports, port: 8090, sectionName: listener-4}]
  rules: [{backendRefs: [{name: backend-v3, port: 8080}]}]
"#,
    );
    check(
        &gw,
        &[
            (get("/").host("foo.com"), Backend("backend-v1")),
            (get("/").host("foo.com:8080").on(8080), Backend("backend-v2")),
            (get("/").host("bar.com:8080").on(8080), Backend("backend-v2")),
            (get("/").host("foo.com:8090").on(8090), Backend("backend-v3")),
            (get("/").host("bar.com:8090").on(8090), Status(404)),
        ],
    );
}

#[test]
fn gateway_http_listener_isolation() {
    let gateway = |name: &str| {
        format!(
            r#"kind: Gateway
metadata: {{name: {name}, namespace: infra}}
spec:
  gatewayClassName: wasmesh
  listeners:
  - {{name: empty-hostname, port: 80, protocol: HTTP, allowedRoutes: {{namespaces: {{from: All}}}}}}
  - {{name: wildcard-example-com, port: 80, protocol: HTTP, hostname: "*.example.com", allowedRoutes: {{namespaces: {{from: All}}}}}}
  - {{name: wildcard-foo-example-com, port: 80, protocol: HTTP, hostname: "*.foo.example.com", allowedRoutes: {{namespaces: {{from: All}}}}}}
  - {{name: abc-foo-example-com, port: 80, protocol: HTTP, hostname: abc.foo.example.com, allowedRoutes: {{namespaces: {{from: All}}}}}}
"#
        )
    };
    let listeners = [
        "empty-hostname",
        "wildcard-example-com",
        "wildcard-foo-example-com",
        "abc-foo-example-com",
    ];
    let table = |gw: &Served| {
        let hosts = [
            "bar.com",
            "bar.example.com",
            "bar.foo.example.com",
            "abc.foo.example.com",
        ];
        let mut rows = Vec::new();
        // each host reaches its own listener's route, and no other
        for (h, host) in hosts.iter().enumerate() {
            for (l, listener) in listeners.iter().enumerate() {
                let path: &'static str = Box::leak(format!("/{listener}").into_boxed_str());
                let want = if h == l {
                    Backend("backend-v1")
                } else {
                    Status(404)
                };
                rows.push((get(path).host(host), want));
            }
        }
        check(gw, &rows);
    };
    // routes without hostnames, one per listener
    let mut manifests = gateway("isolation");
    for listener in listeners {
        manifests.push_str(&format!(
            "---\nkind: HTTPRoute\nmetadata: {{name: to-{listener}, namespace: infra}}\nspec:\n  parentRefs: [{{name: isolation, sectionName: {listener}}}]\n  rules:\n  - matches: [{{path: {{type: PathPrefix, value: /{listener}}}}}]\n    backendRefs: [{{name: backend-v1, port: 8080}}]\n"
        ));
    }
    table(&serve("isolation", &manifests));
    // the same with every route naming all four hosts: isolation still holds
    let mut manifests = gateway("isolation-hosts");
    for listener in listeners {
        manifests.push_str(&format!(
            "---\nkind: HTTPRoute\nmetadata: {{name: to-{listener}, namespace: infra}}\nspec:\n  parentRefs: [{{name: isolation-hosts, sectionName: {listener}}}]\n  hostnames: [bar.com, '*.example.com', '*.foo.example.com', abc.foo.example.com]\n  rules:\n  - matches: [{{path: {{type: PathPrefix, value: /{listener}}}}}]\n    backendRefs: [{{name: backend-v1, port: 8080}}]\n"
        ));
    }
    table(&serve("isolation-hosts", &manifests));
}

// === Weights ===

#[test]
fn http_route_weight() {
    let gw = serve(
        "same-namespace",
        &route(
            "weights",
            "same-namespace",
            r#"  rules:
  - backendRefs:
    - {name: backend-v1, port: 8080, weight: 70}
    - {name: backend-v2, port: 8080, weight: 30}
    - {name: backend-v3, port: 8080, weight: 0}
"#,
        ),
    );
    let mut seen: HashMap<String, usize> = HashMap::new();
    for _ in 0..1000 {
        let got = gw.ask(&get("/"));
        assert_eq!(got.status, 200);
        *seen.entry(got.backend.unwrap()).or_default() += 1;
    }
    // the turns are smooth weighted round robin: exact over whole rounds
    assert_eq!(seen.get("backend-v1"), Some(&700), "{seen:?}");
    assert_eq!(seen.get("backend-v2"), Some(&300), "{seen:?}");
    assert_eq!(seen.get("backend-v3"), None, "{seen:?}");
}

// === Header modifiers ===

/// The rules of the request (or response) header modifier cases: one path per edit,
/// the filter on the rule (`on_backend` false) or on its backendRef.
fn header_modifier_rules(kind: &str, key: &str, on_backend: bool) -> String {
    let edits = [
        ("/set", "{set: [{name: X-Header-Set, value: set-overwrites-values}]}"),
        ("/add", "{add: [{name: X-Header-Add, value: add-appends-values}]}"),
        ("/remove", "{remove: [X-Header-Remove]}"),
        (
            "/multiple",
            "{set: [{name: X-Header-Set-1, value: header-set-1}, {name: X-Header-Set-2, value: header-set-2}], \
             add: [{name: X-Header-Add-1, value: header-add-1}, {name: X-Header-Add-2, value: header-add-2}, \
             {name: X-Header-Add-3, value: header-add-3}], remove: [X-Header-Remove-1, X-Header-Remove-2]}",
        ),
        (
            "/case-insensitivity",
            "{set: [{name: X-Header-Set, value: header-set}], add: [{name: X-Header-Add, value: header-add}, \
             {name: x-lowercase-add, value: lowercase-add}, {name: x-Mixedcase-ADD-1, value: mixedcase-add-1}, \
             {name: X-UPPERCASE-ADD, value: uppercase-add}], remove: [X-Header-Remove]}",
        ),
    ];
    let mut rules = String::from("  rules:\n");
    for (path, edit) in edits {
        let filter = format!("[{{type: {kind}, {key}: {edit}}}]");
        if on_backend {
            rules.push_str(&format!(
                "  - matches: [{{path: {{type: PathPrefix, value: {path}}}}}]\n    backendRefs: [{{name: backend-v1, port: 8080, filters: {filter}}}]\n"
            ));
        } else {
            rules.push_str(&format!(
                "  - matches: [{{path: {{type: PathPrefix, value: {path}}}}}]\n    filters: {filter}\n    backendRefs: [{{name: backend-v1, port: 8080}}]\n"
            ));
        }
    }
    rules
}

/// The request header modifier table, on the rule or on the backendRef.
fn check_request_header_modifier(on_backend: bool) {
    let gw = serve(
        "same-namespace",
        &route(
            "request-headers",
            "same-namespace",
            &header_modifier_rules("RequestHeaderModifier", "requestHeaderModifier", on_backend),
        ),
    );
    let host = "gateway.test";
    let up = |req: Req, present: &[(&str, &str)], absent: &[&str]| {
        let path = req.path;
        check_upstream(&gw.ask(&req), "backend-v1", host, path, present, absent);
    };
    up(
        get("/set").header("Some-Other-Header", "val"),
        &[
            ("some-other-header", "val"),
            ("x-header-set", "set-overwrites-values"),
        ],
        &[],
    );
    up(
        get("/set")
            .header("Some-Other-Header", "val")
            .header("X-Header-Set", "some-other-value"),
        &[("x-header-set", "set-overwrites-values")],
        &[],
    );
    up(
        get("/add").header("Some-Other-Header", "val"),
        &[("x-header-add", "add-appends-values")],
        &[],
    );
    up(
        get("/add").header("X-Header-Add", "some-other-value"),
        &[("x-header-add", "some-other-value,add-appends-values")],
        &[],
    );
    up(
        get("/remove").header("X-Header-Remove", "val"),
        &[],
        &["x-header-remove"],
    );
    up(
        get("/multiple")
            .header("X-Header-Set-2", "set-val-2")
            .header("X-Header-Add-2", "add-val-2")
            .header("X-Header-Remove-2", "remove-val-2")
            .header("Another-Header", "another-header-val"),
        &[
            ("x-header-set-1", "header-set-1"),
            ("x-header-set-2", "header-set-2"),
            ("x-header-add-1", "header-add-1"),
            ("x-header-add-2", "add-val-2,header-add-2"),
            ("x-header-add-3", "header-add-3"),
            ("another-header", "another-header-val"),
        ],
        &["x-header-remove-1", "x-header-remove-2"],
    );
    up(
        get("/case-insensitivity")
            .header("x-header-set", "original-val-set")
            .header("x-header-add", "original-val-add")
            .header("x-header-remove", "original-val-remove"),
        &[
            ("x-header-set", "header-set"),
            ("x-header-add", "original-val-add,header-add"),
            ("x-lowercase-add", "lowercase-add"),
            ("x-mixedcase-add-1", "mixedcase-add-1"),
            ("x-uppercase-add", "uppercase-add"),
        ],
        &["x-header-remove"],
    );
}

#[test]
fn http_route_request_header_modifier() {
    check_request_header_modifier(false);
}

#[test]
fn http_route_backend_request_header_modifier() {
    check_request_header_modifier(true);
}

#[test]
fn http_route_request_header_modifier_backend_weights() {
    let gw = serve(
        "same-namespace",
        &route(
            "split",
            "same-namespace",
            r#"  rules:
  - backendRefs:
    - name: backend-v1
      port: 8080
      weight: 10
      filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: Backend, value: backend-v1}]}}]
    - name: backend-v2
      port: 8080
      weight: 10
      filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: Backend, value: backend-v2}]}}]
"#,
        ),
    );
    let mut seen = HashMap::<String, usize>::new();
    for _ in 0..100 {
        let got = gw.ask(&get("/"));
        let backend = got.backend.clone().expect("forwarded");
        let (_, _, headers) = got.upstream.as_ref().unwrap();
        let values: Vec<_> = headers.get_all("backend").iter().collect();
        assert_eq!(
            values,
            [backend.as_str()],
            "each backend gets its own header, once"
        );
        *seen.entry(backend).or_default() += 1;
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
}

#[test]
fn http_route_response_header_modifier() {
    let mut rules = header_modifier_rules("ResponseHeaderModifier", "responseHeaderModifier", false);
    rules.push_str(
        r#"  - matches: [{path: {type: PathPrefix, value: /response-and-request-header-modifiers}}]
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier: {set: [{name: X-Header-Set-1, value: header-set-1}], remove: [X-Header-Remove-1]}
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: X-Header-Set, value: set-overwrites-values}], remove: [X-Header-Remove]}
    backendRefs: [{name: backend-v1, port: 8080}]
"#,
    );
    let gw = serve(
        "same-namespace",
        &route("response-headers", "same-namespace", &rules),
    );
    let resp = |path: &'static str, backend: &[(&str, &str)], present: &[(&str, &str)], absent: &[&str]| {
        let got = gw.send(&get(path), backend);
        assert_eq!(got.backend.as_deref(), Some("backend-v1"), "{path}");
        for (name, value) in present {
            assert_eq!(
                joined(&got.response, name).as_deref(),
                Some(*value),
                "{path}: {name}"
            );
        }
        for name in absent {
            assert!(got.response.get(*name).is_none(), "{path}: {name}");
        }
        got
    };
    resp(
        "/set",
        &[("Some-Other-Header", "val")],
        &[
            ("some-other-header", "val"),
            ("x-header-set", "set-overwrites-values"),
        ],
        &[],
    );
    resp(
        "/set",
        &[("X-Header-Set", "some-other-value")],
        &[("x-header-set", "set-overwrites-values")],
        &[],
    );
    resp("/add", &[], &[("x-header-add", "add-appends-values")], &[]);
    resp(
        "/add",
        &[("X-Header-Add", "some-other-value")],
        &[("x-header-add", "some-other-value,add-appends-values")],
        &[],
    );
    resp(
        "/remove",
        &[("X-Header-Remove", "val")],
        &[],
        &["x-header-remove"],
    );
    resp(
        "/multiple",
        &[
            ("X-Header-Set-2", "set-val-2"),
            ("X-Header-Add-2", "add-val-2"),
            ("X-Header-Remove-2", "remove-val-2"),
            ("X-Header-Remove-1", "val"),
            ("Another-Header", "another-header-val"),
        ],
        &[
            ("x-header-set-1", "header-set-1"),
            ("x-header-set-2", "header-set-2"),
            ("x-header-add-1", "header-add-1"),
            ("x-header-add-2", "add-val-2,header-add-2"),
            ("x-header-add-3", "header-add-3"),
            ("another-header", "another-header-val"),
        ],
        &["x-header-remove-1", "x-header-remove-2"],
    );
    resp(
        "/case-insensitivity",
        &[
            ("x-header-set", "original-val-set"),
            ("x-header-add", "original-val-add"),
            ("x-header-remove", "v"),
        ],
        &[
            ("x-header-set", "header-set"),
            ("x-header-add", "original-val-add,header-add"),
            ("x-mixedcase-add-1", "mixedcase-add-1"),
        ],
        &["x-header-remove"],
    );
    // both modifiers on one rule: the request and the response each get theirs
    let got = gw.send(
        &get("/response-and-request-header-modifiers").header("X-Header-Remove", "r"),
        &[("X-Header-Remove-1", "r")],
    );
    check_upstream(
        &got,
        "backend-v1",
        "gateway.test",
        "/response-and-request-header-modifiers",
        &[("x-header-set", "set-overwrites-values")],
        &["x-header-remove"],
    );
    assert_eq!(
        joined(&got.response, "x-header-set-1").as_deref(),
        Some("header-set-1")
    );
    assert!(got.response.get("x-header-remove-1").is_none());
}

// === Redirects ===

/// A route of redirect rules: (path prefix, the `requestRedirect` object).
fn redirects(name: &str, parent: &str, rules: &[(&str, &str)]) -> String {
    let mut body = String::from("  rules:\n");
    for (path, redirect) in rules {
        body.push_str(&format!(
            "  - matches: [{{path: {{type: PathPrefix, value: {path}}}}}]\n    filters: [{{type: RequestRedirect, requestRedirect: {redirect}}}]\n"
        ));
    }
    route(name, parent, &body)
}

#[test]
fn http_route_redirect_host_and_status() {
    let gw = serve(
        "same-namespace",
        &redirects(
            "r",
            "same-namespace",
            &[
                ("/hostname-redirect", "{hostname: example.org}"),
                ("/host-and-status", "{hostname: example.org, statusCode: 301}"),
            ],
        ),
    );
    check(
        &gw,
        &[
            (
                get("/hostname-redirect"),
                Redirect(302, "http://example.org/hostname-redirect"),
            ),
            (
                get("/host-and-status"),
                Redirect(301, "http://example.org/host-and-status"),
            ),
        ],
    );
}

#[test]
fn http_route_redirect_path() {
    let gw = serve(
        "same-namespace",
        &redirects(
            "r",
            "same-namespace",
            &[
                ("/original-prefix", "{path: {type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix}}"),
                ("/full", "{path: {type: ReplaceFullPath, replaceFullPath: /full-path-replacement}}"),
                (
                    "/path-and-host",
                    "{hostname: example.org, path: {type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix}}",
                ),
                (
                    "/path-and-status",
                    "{statusCode: 301, path: {type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix}}",
                ),
                (
                    "/full-path-and-host",
                    "{hostname: example.org, path: {type: ReplaceFullPath, replaceFullPath: /replacement-full}}",
                ),
                (
                    "/full-path-and-status",
                    "{statusCode: 301, path: {type: ReplaceFullPath, replaceFullPath: /replacement-full}}",
                ),
            ],
        ),
    );
    check(
        &gw,
        &[
            (
                get("/original-prefix/lemon"),
                Redirect(302, "http://gateway.test/replacement-prefix/lemon"),
            ),
            (
                get("/full/path/original"),
                Redirect(302, "http://gateway.test/full-path-replacement"),
            ),
            (
                get("/path-and-host"),
                Redirect(302, "http://example.org/replacement-prefix"),
            ),
            (
                get("/path-and-status"),
                Redirect(301, "http://gateway.test/replacement-prefix"),
            ),
            (
                get("/full-path-and-host"),
                Redirect(302, "http://example.org/replacement-full"),
            ),
            (
                get("/full-path-and-status"),
                Redirect(301, "http://gateway.test/replacement-full"),
            ),
        ],
    );
}

#[test]
fn http_route_redirect_port() {
    let gw = serve(
        "same-namespace",
        &redirects(
            "r",
            "same-namespace",
            &[
                ("/port", "{port: 8083}"),
                ("/port-and-host", "{hostname: example.org, port: 8083}"),
                ("/port-and-status", "{port: 8083, statusCode: 301}"),
                (
                    "/port-and-host-and-status",
                    "{port: 8083, hostname: example.org, statusCode: 302}",
                ),
            ],
        ),
    );
    check(
        &gw,
        &[
            (get("/port"), Redirect(302, "http://gateway.test:8083/port")),
            (
                get("/port-and-host"),
                Redirect(302, "http://example.org:8083/port-and-host"),
            ),
            (
                get("/port-and-status"),
                Redirect(301, "http://gateway.test:8083/port-and-status"),
            ),
            (
                get("/port-and-host-and-status"),
                Redirect(302, "http://example.org:8083/port-and-host-and-status"),
            ),
        ],
    );
}

#[test]
fn http_route_redirect_scheme() {
    let gw = serve(
        "same-namespace",
        &redirects(
            "r",
            "same-namespace",
            &[
                ("/scheme", "{scheme: https}"),
                ("/scheme-and-host", "{hostname: example.org, scheme: https}"),
                ("/scheme-and-status", "{scheme: https, statusCode: 301}"),
                (
                    "/scheme-and-host-and-status",
                    "{scheme: https, statusCode: 302, hostname: example.org}",
                ),
            ],
        ),
    );
    check(
        &gw,
        &[
            (get("/scheme"), Redirect(302, "https://gateway.test/scheme")),
            (
                get("/scheme-and-host"),
                Redirect(302, "https://example.org/scheme-and-host"),
            ),
            (
                get("/scheme-and-status"),
                Redirect(301, "https://gateway.test/scheme-and-status"),
            ),
            (
                get("/scheme-and-host-and-status"),
                Redirect(302, "https://example.org/scheme-and-host-and-status"),
            ),
        ],
    );
}

/// The HTTP listeners' part (ports 80 and 8080); the HTTPS listener's part follows.
#[test]
fn http_route_redirect_port_and_scheme() {
    let rules = [
        ("/scheme-nil-and-port-nil", "{hostname: example.org}"),
        ("/scheme-nil-and-port-80", "{port: 80, hostname: example.org}"),
        ("/scheme-nil-and-port-8080", "{port: 8080, hostname: example.org}"),
        (
            "/scheme-https-and-port-nil",
            "{scheme: https, hostname: example.org}",
        ),
        (
            "/scheme-https-and-port-443",
            "{scheme: https, port: 443, hostname: example.org}",
        ),
        (
            "/scheme-https-and-port-8443",
            "{scheme: https, port: 8443, hostname: example.org}",
        ),
    ];
    let gw = serve(
        "two-ports",
        &format!(
            "kind: Gateway\nmetadata: {{name: two-ports, namespace: infra}}\nspec:\n  gatewayClassName: wasmesh\n  listeners:\n  - {{name: http, port: 80, protocol: HTTP}}\n  - {{name: http-8080, port: 8080, protocol: HTTP}}\n---\n{}",
            redirects("r", "two-ports", &rules)
        ),
    );
    check(
        &gw,
        &[
            (
                get("/scheme-nil-and-port-nil"),
                Redirect(302, "http://example.org/scheme-nil-and-port-nil"),
            ),
            (
                get("/scheme-nil-and-port-80"),
                Redirect(302, "http://example.org/scheme-nil-and-port-80"),
            ),
            (
                get("/scheme-nil-and-port-8080"),
                Redirect(302, "http://example.org:8080/scheme-nil-and-port-8080"),
            ),
            (
                get("/scheme-https-and-port-nil"),
                Redirect(302, "https://example.org/scheme-https-and-port-nil"),
            ),
            (
                get("/scheme-https-and-port-443"),
                Redirect(302, "https://example.org/scheme-https-and-port-443"),
            ),
            (
                get("/scheme-https-and-port-8443"),
                Redirect(302, "https://example.org:8443/scheme-https-and-port-8443"),
            ),
            // on the 8080 listener, no scheme and no port: the listener's port
            (
                get("/scheme-nil-and-port-nil").host("gateway.test:8080").on(8080),
                Redirect(302, "http://example.org:8080/scheme-nil-and-port-nil"),
            ),
            (
                get("/scheme-nil-and-port-80").host("gateway.test:8080").on(8080),
                Redirect(302, "http://example.org/scheme-nil-and-port-80"),
            ),
            (
                get("/scheme-https-and-port-nil")
                    .host("gateway.test:8080")
                    .on(8080),
                Redirect(302, "https://example.org/scheme-https-and-port-nil"),
            ),
        ],
    );
}

/// A `kubernetes.io/tls` Secret `infra/NAME` with a self-signed certificate made for the
/// run (openssl, as the end-to-end tests make theirs).
fn tls_secret(name: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    wasmesh_testkit::certificate::self_signed(&cert, &key, "/CN=example.org", "DNS:example.org");
    let read = |file: &std::path::Path| std::fs::read_to_string(file).unwrap();
    let indent = |block: &str| block.lines().map(|l| format!("    {l}\n")).collect::<String>();
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: infra}}\ntype: kubernetes.io/tls\n\
         stringData:\n  tls.crt: |\n{}  tls.key: |\n{}",
        indent(&read(&cert)),
        indent(&read(&key))
    )
}

/// The HTTPS listener's part (port 443): without a scheme, the redirect keeps `https` and
/// drops its default port; with `http`, it takes port 80's default.
#[test]
fn http_route_redirect_port_and_scheme_on_an_https_listener() {
    let rules = [
        ("/scheme-nil-and-port-nil", "{hostname: example.org}"),
        ("/scheme-nil-and-port-443", "{port: 443, hostname: example.org}"),
        ("/scheme-nil-and-port-8443", "{port: 8443, hostname: example.org}"),
        (
            "/scheme-http-and-port-nil",
            "{scheme: http, hostname: example.org}",
        ),
        (
            "/scheme-http-and-port-80",
            "{scheme: http, port: 80, hostname: example.org}",
        ),
        (
            "/scheme-http-and-port-8080",
            "{scheme: http, port: 8080, hostname: example.org}",
        ),
    ];
    let gw = serve(
        "https-port",
        &format!(
            "{}\n---\nkind: Gateway\nmetadata: {{name: https-port, namespace: infra}}\nspec:\n  gatewayClassName: wasmesh\n  listeners:\n  - {{name: https, port: 443, protocol: HTTPS, tls: {{certificateRefs: [{{name: tls-validity-checks-certificate}}]}}}}\n---\n{}",
            tls_secret("tls-validity-checks-certificate"),
            redirects("r", "https-port", &rules)
        ),
    );
    let on_443 = |path: &'static str| get(path).host("example.org").on(443);
    check(
        &gw,
        &[
            (
                on_443("/scheme-nil-and-port-nil"),
                Redirect(302, "https://example.org/scheme-nil-and-port-nil"),
            ),
            (
                on_443("/scheme-nil-and-port-443"),
                Redirect(302, "https://example.org/scheme-nil-and-port-443"),
            ),
            (
                on_443("/scheme-nil-and-port-8443"),
                Redirect(302, "https://example.org:8443/scheme-nil-and-port-8443"),
            ),
            (
                on_443("/scheme-http-and-port-nil"),
                Redirect(302, "http://example.org/scheme-http-and-port-nil"),
            ),
            (
                on_443("/scheme-http-and-port-80"),
                Redirect(302, "http://example.org/scheme-http-and-port-80"),
            ),
            (
                on_443("/scheme-http-and-port-8080"),
                Redirect(302, "http://example.org:8080/scheme-http-and-port-8080"),
            ),
        ],
    );
}

/// The Gateway of the GatewaySecret* cases: an HTTPS listener whose certificate is the
/// Secret `certificate` of namespace `web`, with `grant` beside it.
fn secret_across_namespaces(name: &'static str, grant: &str) -> Served {
    let secret = tls_secret("certificate").replace("namespace: infra", "namespace: web");
    serve(
        name,
        &format!(
            "{secret}\n---\nkind: Gateway\nmetadata: {{name: {name}, namespace: infra}}\nspec:\n  gatewayClassName: wasmesh\n  listeners:\n  - {{name: https, port: 443, protocol: HTTPS, allowedRoutes: {{namespaces: {{from: All}}}}, tls: {{certificateRefs: [{{group: '', kind: Secret, name: certificate, namespace: web}}]}}}}\n  - {{name: http, port: 80, protocol: HTTP}}\n{grant}"
        ),
    )
}

/// A ReferenceGrant in `namespace` from Gateways of `infra` to Secrets (`name`: one).
fn secret_grant(namespace: &str, name: Option<&str>) -> String {
    let name = name.map(|n| format!(", name: {n}")).unwrap_or_default();
    format!(
        "---\napiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: {{name: grant, namespace: {namespace}}}\nspec:\n  from: [{{group: gateway.networking.k8s.io, kind: Gateway, namespace: infra}}]\n  to: [{{group: '', kind: Secret{name}}}]\n"
    )
}

const RESOLVED: [&str; 2] = ["ResolvedRefs=True ResolvedRefs", "Programmed=True Programmed"];
const REFUSED: [&str; 2] = ["ResolvedRefs=False RefNotPermitted", "Programmed=False Invalid"];

/// `ResolvedRefs` and `Programmed` of the listener `https`.
fn resolved_and_programmed(gw: &Served) -> Vec<String> {
    let said = gw.listener_status("https");
    vec![said[1].clone(), said[3].clone()]
}

#[test]
fn gateway_secret_missing_reference_grant() {
    let gw = secret_across_namespaces("secret-missing-grant", "");
    assert_eq!(resolved_and_programmed(&gw), REFUSED);
    assert!(
        gw.snapshot.listeners.iter().all(|l| l.address.port() != 443),
        "not bound"
    );
}

#[test]
fn gateway_secret_invalid_reference_grant() {
    // the grant is in another namespace than the Secret's
    let gw = secret_across_namespaces("secret-invalid-grant", &secret_grant("app", None));
    assert_eq!(resolved_and_programmed(&gw), REFUSED);
}

#[test]
fn gateway_secret_reference_grant_all_in_namespace() {
    let gw = secret_across_namespaces("secret-grant-all", &secret_grant("web", None));
    assert_eq!(resolved_and_programmed(&gw), RESOLVED);
    let https = gw.snapshot.listeners.iter().find(|l| l.address.port() == 443);
    assert!(https.is_some_and(|l| l.tls.is_some()), "bound with TLS");
}

#[test]
fn gateway_secret_reference_grant_specific() {
    let gw = secret_across_namespaces("secret-grant-specific", &secret_grant("web", Some("certificate")));
    assert_eq!(resolved_and_programmed(&gw), RESOLVED);
    // a grant naming another Secret does not do
    let gw = secret_across_namespaces("secret-grant-other", &secret_grant("web", Some("other")));
    assert_eq!(resolved_and_programmed(&gw), REFUSED);
}

#[test]
fn http_route_303_redirect() {
    let gw = serve(
        "same-namespace",
        &redirects("r", "same-namespace", &[("/see-other", "{statusCode: 303}")]),
    );
    check(
        &gw,
        &[(
            get("/see-other").method("POST"),
            Redirect(303, "http://gateway.test/see-other"),
        )],
    );
}

#[test]
fn http_route_307_redirect() {
    let gw = serve(
        "same-namespace",
        &redirects("r", "same-namespace", &[("/temporary", "{statusCode: 307}")]),
    );
    check(
        &gw,
        &[(get("/temporary"), Redirect(307, "http://gateway.test/temporary"))],
    );
}

#[test]
fn http_route_308_redirect() {
    let gw = serve(
        "same-namespace",
        &redirects("r", "same-namespace", &[("/permanent", "{statusCode: 308}")]),
    );
    check(
        &gw,
        &[(get("/permanent"), Redirect(308, "http://gateway.test/permanent"))],
    );
}

// === Rewrites ===

#[test]
fn http_route_rewrite_host() {
    let gw = serve(
        "same-namespace",
        &route(
            "rewrite-host",
            "same-namespace",
            r#"  hostnames: [rewrite.example]
  rules:
  - matches: [{path: {type: PathPrefix, value: /one}}]
    filters: [{type: URLRewrite, urlRewrite: {hostname: one.example.org}}]
    backendRefs: [{name: backend-v1, port: 8080}]
  - filters: [{type: URLRewrite, urlRewrite: {hostname: example.org}}]
    backendRefs: [{name: backend-v2, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /rewrite-host-and-modify-headers}}]
    filters:
    - {type: URLRewrite, urlRewrite: {hostname: test.example.org}}
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: X-Header-Set, value: set-overwrites-values}]
        add: [{name: X-Header-Add, value: header-val-1}, {name: X-Header-Add-Append, value: header-val-2}]
        remove: [X-Header-Remove]
    backendRefs: [{name: backend-v2, port: 8080}]
"#,
        ),
    );
    let host = "rewrite.example";
    check_upstream(
        &gw.ask(&get("/one").host(host)),
        "backend-v1",
        "one.example.org",
        "/one",
        &[],
        &[],
    );
    check_upstream(
        &gw.ask(&get("/two").host(host)),
        "backend-v2",
        "example.org",
        "/two",
        &[],
        &[],
    );
    check_upstream(
        &gw.ask(
            &get("/rewrite-host-and-modify-headers")
                .host(host)
                .header("X-Header-Remove", "remove-val")
                .header("X-Header-Add-Append", "append-val-1"),
        ),
        "backend-v2",
        "test.example.org",
        "/rewrite-host-and-modify-headers",
        &[
            ("x-header-add", "header-val-1"),
            ("x-header-add-append", "append-val-1,header-val-2"),
            ("x-header-set", "set-overwrites-values"),
        ],
        &["x-header-remove"],
    );
}

#[test]
fn http_route_rewrite_path() {
    let gw = serve(
        "same-namespace",
        &route(
            "rewrite-path",
            "same-namespace",
            r#"  rules:
  - matches: [{path: {type: PathPrefix, value: /prefix/one}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /one}}}]
    backendRefs: [{name: backend-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /strip-prefix}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}}]
    backendRefs: [{name: backend-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /full/one}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /one}}}]
    backendRefs: [{name: backend-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /full/rewrite-path-and-modify-headers}}]
    filters:
    - {type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /test}}}
    - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Header-Set, value: set-overwrites-values}], remove: [X-Header-Remove]}}
    backendRefs: [{name: backend-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /prefix/rewrite-path-and-modify-headers}}]
    filters:
    - {type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /prefix}}}
    - {type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: X-Header-Add, value: header-val-1}], remove: [X-Header-Remove]}}
    backendRefs: [{name: backend-v1, port: 8080}]
"#,
        ),
    );
    let host = "gateway.test";
    let up = |path: &'static str, want: &str| {
        check_upstream(&gw.ask(&get(path)), "backend-v1", host, want, &[], &[]);
    };
    up("/prefix/one/two", "/one/two");
    up("/strip-prefix/three", "/three");
    up("/strip-prefix", "/");
    up("/full/one/two", "/one");
    // the query string stays
    up("/full/one/two?a=b", "/one?a=b");
    check_upstream(
        &gw.ask(
            &get("/full/rewrite-path-and-modify-headers/test")
                .header("X-Header-Remove", "remove-val")
                .header("X-Header-Set", "set-val"),
        ),
        "backend-v1",
        host,
        "/test",
        &[("x-header-set", "set-overwrites-values")],
        &["x-header-remove"],
    );
    check_upstream(
        &gw.ask(&get("/prefix/rewrite-path-and-modify-headers/one").header("X-Header-Remove", "remove-val")),
        "backend-v1",
        host,
        "/prefix/one",
        &[("x-header-add", "header-val-1")],
        &["x-header-remove"],
    );
}

// === Backends that do not resolve, rules without backends ===

#[test]
fn http_route_no_backend_refs() {
    let gw = serve(
        "same-namespace",
        &route(
            "omitted",
            "same-namespace",
            r#"  rules:
  - matches: [{path: {type: Exact, value: /omitted-no-forward}}]
  - matches: [{path: {type: Exact, value: /empty-no-forward}}]
    backendRefs: []
  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs: [{name: backend-v1, port: 8080}]
"#,
        ),
    );
    check(
        &gw,
        &[
            (get("/forward"), Backend("backend-v1")),
            (get("/omitted-no-forward"), Status(500)),
            (get("/empty-no-forward"), Status(500)),
        ],
    );
}

#[test]
fn http_route_invalid_non_existent_backend_ref() {
    let gw = serve(
        "same-namespace",
        &route(
            "nonexistent",
            "same-namespace",
            "  rules: [{backendRefs: [{name: nonexistent, namespace: infra, port: 8080}]}]\n",
        ),
    );
    check(&gw, &[(get("/"), Status(500))]);
}

#[test]
fn http_route_invalid_backend_ref_unknown_kind() {
    let gw = serve(
        "same-namespace",
        &route(
            "unknown-kind",
            "same-namespace",
            "  rules: [{backendRefs: [{group: unknownkind.example.com, kind: NonExistent, name: backend-v1, port: 8080}]}]\n",
        ),
    );
    check(&gw, &[(get("/v2"), Status(500))]);
}

#[test]
fn http_route_invalid_cross_namespace_backend_ref() {
    let gw = serve(
        "same-namespace",
        &route(
            "cross",
            "same-namespace",
            "  rules: [{backendRefs: [{name: web-backend, namespace: web, port: 8080}]}]\n",
        ),
    );
    check(&gw, &[(get("/"), Status(500))]);
}

/// With a ReferenceGrant in `web` letting HTTPRoutes of `infra` refer to `web-backend`,
/// the backend is served.
#[test]
fn http_route_reference_grant() {
    let gw = serve(
        "same-namespace",
        &format!(
            "kind: ReferenceGrant\nmetadata: {{name: grant, namespace: web}}\nspec:\n  from: [{{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: infra}}]\n  to: [{{group: \"\", kind: Service, name: web-backend}}]\n---\n{}",
            route(
                "granted",
                "same-namespace",
                "  rules: [{backendRefs: [{name: web-backend, namespace: web, port: 8080}]}]\n"
            )
        ),
    );
    check(&gw, &[(get("/"), Backend("web-backend"))]);
}

/// A route of `web` attaching to a Gateway of `infra` whose listener takes the routes of
/// namespaces labelled `gateway-conformance: backend`; a route of `infra` (labelled
/// `gateway-conformance: infra`) naming it does not attach.
#[test]
fn http_route_cross_namespace() {
    let gw = serve(
        "backend-namespaces",
        "kind: HTTPRoute\nmetadata: {name: cross, namespace: web}\nspec:\n  parentRefs: [{name: backend-namespaces, namespace: infra}]\n  rules: [{backendRefs: [{name: web-backend, port: 8080}]}]\n\
         ---\nkind: HTTPRoute\nmetadata: {name: infra, namespace: infra}\nspec:\n  parentRefs: [{name: backend-namespaces}]\n  rules:\n  - matches: [{path: {type: PathPrefix, value: /infra}}]\n    backendRefs: [{name: backend-v1, port: 8080}]\n",
    );
    check(
        &gw,
        &[
            (get("/"), Backend("web-backend")),
            (get("/infra"), Backend("web-backend")),
        ],
    );
    assert!(
        gw.notes
            .iter()
            .any(|n| n.kind == NoteKind::NotAttached && n.object == "HTTPRoute infra/infra"),
        "{:?}",
        gw.notes
    );
}

/// GatewayWithAttachedRoutes' Gateways take the routes of the namespace their selector
/// names by the label every namespace carries, `kubernetes.io/metadata.name`; beside a
/// UDP listener (not served) the HTTP one still takes its route. The case's status part
/// (`attachedRoutes`) is the status tests'.
#[test]
fn gateway_with_attached_routes() {
    let manifests = r#"
kind: Gateway
metadata: {name: one-attached, namespace: infra}
spec:
  gatewayClassName: wasmesh
  listeners:
  - {name: udp, port: 8080, protocol: UDP, allowedRoutes: {kinds: [{kind: UDPRoute}]}}
  - name: http
    port: 80
    protocol: HTTP
    allowedRoutes:
      kinds: [{kind: HTTPRoute}]
      namespaces: {from: Selector, selector: {matchLabels: {kubernetes.io/metadata.name: infra}}}
---
kind: HTTPRoute
metadata: {name: route-1, namespace: infra}
spec:
  parentRefs: [{name: one-attached}]
  rules: [{backendRefs: [{name: backend-v1, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: route-web, namespace: web}
spec:
  parentRefs: [{name: one-attached, namespace: infra}]
  hostnames: [web.test]
  rules: [{backendRefs: [{name: web-backend, port: 8080}]}]
"#;
    let gw = serve("one-attached", manifests);
    check(
        &gw,
        &[
            (get("/"), Backend("backend-v1")),
            // web's route does not attach: its host falls to infra's route
            (get("/").host("web.test"), Backend("backend-v1")),
        ],
    );
    assert!(
        gw.notes
            .iter()
            .any(|n| n.kind == NoteKind::NotAttached && n.object == "HTTPRoute web/route-web"),
        "{:?}",
        gw.notes
    );
}

// === Attachment ===

#[test]
fn http_route_named_rule() {
    let gw = serve(
        "same-namespace",
        &route(
            "named",
            "same-namespace",
            r#"  rules:
  - name: named-rule
    matches: [{path: {type: PathPrefix, value: /named}}]
    backendRefs: [{name: backend-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /unnamed}}]
    backendRefs: [{name: backend-v2, port: 8080}]
"#,
        ),
    );
    check(
        &gw,
        &[
            (get("/named"), Backend("backend-v1")),
            (get("/unnamed"), Backend("backend-v2")),
        ],
    );
}

/// A Gateway whose only listener takes TLSRoutes: the HTTPRoute does not attach, and
/// the Proxy has no listener to route it on.
#[test]
fn http_route_disallowed_kind() {
    let gw = serve(
        "tls-only",
        r#"
kind: Gateway
metadata: {name: tls-only, namespace: infra}
spec:
  gatewayClassName: wasmesh
  listeners:
  - name: tls
    port: 443
    protocol: TLS
    tls: {mode: Passthrough}
    allowedRoutes: {kinds: [{kind: TLSRoute}]}
---
kind: HTTPRoute
metadata: {name: disallowed, namespace: infra}
spec:
  parentRefs: [{name: tls-only}]
  rules: [{backendRefs: [{name: backend-v1, port: 8080}]}]
"#,
    );
    assert!(gw.snapshot.listeners.is_empty());
    assert!(
        gw.notes
            .iter()
            .any(|n| n.kind == NoteKind::NotAttached && n.object == "HTTPRoute infra/disallowed"),
        "{:?}",
        gw.notes
    );
}

/// parentRefs that name no listener of the Gateway (a port, a section, a section on
/// another port): the route attaches nowhere and its requests find no route.
#[test]
fn http_route_invalid_parent_ref_not_matching_listener() {
    for parent in [
        "{name: same-namespace, port: 81}",
        "{name: same-namespace, sectionName: nope}",
        "{name: same-namespace, sectionName: http, port: 81}",
    ] {
        let gw = serve(
            "same-namespace",
            &format!(
                "kind: HTTPRoute\nmetadata: {{name: unattached, namespace: infra}}\nspec:\n  parentRefs: [{parent}]\n  rules: [{{backendRefs: [{{name: backend-v1, port: 8080}}]}}]\n"
            ),
        );
        check(&gw, &[(get("/"), Status(404))]);
        assert!(
            gw.notes.iter().any(|n| n.kind == NoteKind::NotAttached),
            "{parent}: {:?}",
            gw.notes
        );
    }
}

// === Extended: RequestMirror ===

#[test]
fn http_route_request_mirror() {
    let gw = serve(
        "same-namespace",
        &route(
            "mirror",
            "same-namespace",
            r#"  rules:
  - matches: [{path: {type: PathPrefix, value: /mirror}}]
    filters: [{type: RequestMirror, requestMirror: {backendRef: {name: backend-v2, port: 8080}}}]
    backendRefs: [{name: backend-v1, port: 8080}]
"#,
        ),
    );
    assert!(gw.notes.is_empty(), "{:?}", gw.notes);
    check(&gw, &[(get("/mirror"), Backend("backend-v1"))]);
    // the mirror gets the request too, its host with `-shadow` (as Envoy's)
    let got = gw.ask(&get("/mirror/x?a=b"));
    assert_eq!(
        got.mirrored,
        [(
            "backend-v2".to_string(),
            "gateway.test-shadow".to_string(),
            "/mirror/x?a=b".to_string()
        )]
    );
}

#[test]
fn http_route_request_multiple_mirrors() {
    let gw = serve(
        "same-namespace",
        &route(
            "mirrors",
            "same-namespace",
            r#"  rules:
  - matches: [{path: {type: PathPrefix, value: /multi-mirror}}]
    filters:
    - {type: RequestMirror, requestMirror: {backendRef: {name: backend-v2, port: 8080}}}
    - {type: RequestMirror, requestMirror: {backendRef: {name: backend-v3, port: 8080}}}
    backendRefs: [{name: backend-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /multi-mirror-and-modify-request-headers}}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: X-Header-Set, value: set-overwrites-values}], add: [{name: X-Header-Add, value: header-val-1}], remove: [X-Header-Remove]}
    - {type: RequestMirror, requestMirror: {backendRef: {name: backend-v2, port: 8080}}}
    - {type: RequestMirror, requestMirror: {backendRef: {name: backend-v3, port: 8080}}}
    backendRefs: [{name: backend-v1, port: 8080}]
"#,
        ),
    );
    assert!(gw.notes.is_empty(), "{:?}", gw.notes);
    for path in ["/multi-mirror", "/multi-mirror-and-modify-request-headers"] {
        let got = gw.ask(&get(path).header("x-header-remove", "gone"));
        assert_eq!(got.backend.as_deref(), Some("backend-v1"), "{path}");
        let services: Vec<&str> = got.mirrored.iter().map(|m| m.0.as_str()).collect();
        assert_eq!(services, ["backend-v2", "backend-v3"], "{path}");
        assert!(got
            .mirrored
            .iter()
            .all(|m| m.1 == "gateway.test-shadow" && m.2 == path));
    }
}

#[test]
fn http_route_request_percentage_mirror() {
    let gw = serve(
        "same-namespace",
        &route(
            "percentage-mirror",
            "same-namespace",
            r#"  rules:
  - matches: [{path: {type: PathPrefix, value: /percent-mirror}}]
    filters: [{type: RequestMirror, requestMirror: {backendRef: {name: backend-v2, port: 8080}, percent: 20}}]
    backendRefs: [{name: backend-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /percent-mirror-fraction}}]
    filters: [{type: RequestMirror, requestMirror: {backendRef: {name: backend-v2, port: 8080}, fraction: {numerator: 25, denominator: 50}}}]
    backendRefs: [{name: backend-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /percent-mirror-and-modify-headers}}]
    filters:
    - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Header-Set, value: set-overwrites-values}]}}
    - {type: RequestMirror, requestMirror: {backendRef: {name: backend-v2, port: 8080}, percent: 35}}
    backendRefs: [{name: backend-v1, port: 8080}]
"#,
        ),
    );
    assert!(gw.notes.is_empty(), "{:?}", gw.notes);
    for (path, percent) in [
        ("/percent-mirror", 20),
        ("/percent-mirror-fraction", 50),
        ("/percent-mirror-and-modify-headers", 35),
    ] {
        let mut copies = 0;
        for _ in 0..1000 {
            let got = gw.ask(&get(path));
            assert_eq!(got.backend.as_deref(), Some("backend-v1"), "{path}");
            copies += got.mirrored.len();
        }
        assert_eq!(copies, percent * 10, "{path}: {percent}% of 1000");
    }
}

/// HTTPRouteTimeoutBackendRequest: `timeouts.backendRequest` is the route's per-try
/// timeout, so a backend slower than it answers 504. The table sees the route each request
/// takes and its timeouts; the 504 of a slow upstream is end to end
/// (`tests/proxy_http.rs`, the route with `perTryTimeout`).
#[test]
fn http_route_timeout_backend_request() {
    let gw = serve(
        "same-namespace",
        &route(
            "backend-request-timeout",
            "same-namespace",
            r#"  rules:
  - matches: [{path: {type: PathPrefix, value: /backend-timeout}}]
    timeouts: {backendRequest: 500ms}
    backendRefs: [{name: backend-v1, port: 8080}]
"#,
        ),
    );
    assert!(gw.notes.is_empty(), "{:?}", gw.notes);
    let got = gw.ask(&get("/backend-timeout"));
    assert_eq!(got.backend.as_deref(), Some("backend-v1"));
    assert_eq!(got.timeouts, (None, Some(std::time::Duration::from_millis(500))));
}
