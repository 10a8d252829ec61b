use super::*;
use crate::gateway::tests::{join, objects, route, target, CLASS, ECHO};
use crate::gateway::tests_tls::{gateway as tls_gateway, secret_grant, tls_secret, to_echo};

const GATEWAY: &str = "
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public, namespace: edge, generation: 3}
spec:
  gatewayClassName: wasmesh
  listeners:
  - {name: http, port: 8080, protocol: HTTP}
  - {name: api, port: 8080, protocol: HTTP, hostname: api.example.com}
  - {name: https, port: 8443, protocol: HTTPS, tls: {mode: Passthrough}}";

const OTHER_CLASS: &str = "
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: istio}
spec: {controllerName: istio.io/gateway-controller}";

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix_seconds(seconds)
}

fn yaml() -> String {
    join(&[
        CLASS,
        OTHER_CLASS,
        GATEWAY,
        ECHO,
        &route(
            "good",
            "  parentRefs: [{name: public}]\n  rules: [{backendRefs: [{name: echo, port: 80}]}]",
        ),
        &route(
            "missing",
            "  parentRefs: [{name: public, sectionName: http}]\n  rules:\n  - backendRefs: [{name: echo, port: 80}]\n  - backendRefs: [{name: nope, port: 80}, {kind: Bucket, group: x.io, name: b}]",
        ),
        &route(
            "nosection",
            "  parentRefs: [{name: public, sectionName: nope}]\n  rules: [{backendRefs: [{name: echo, port: 80}]}]",
        ),
        &route(
            "nohost",
            "  parentRefs: [{name: public, sectionName: api}]\n  hostnames: [www.example.com]\n  rules: [{backendRefs: [{name: echo, port: 80}]}]",
        ),
        &route(
            "elsewhere",
            "  parentRefs: [{name: private}]\n  rules: [{backendRefs: [{name: echo, port: 80}]}]",
        ),
    ])
}

fn find<'a>(writes: &'a [StatusWrite], kind: StatusKind, name: &str) -> Option<&'a Value> {
    writes
        .iter()
        .find(|w| w.kind == kind && w.name == name)
        .map(|w| &w.status)
}

/// `type=status reason` of each condition.
fn said(conditions: &Value) -> Vec<String> {
    conditions
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

#[test]
fn the_class_the_gateway_its_listeners_and_its_routes_get_the_specifications_conditions() {
    let objects = objects(&yaml());
    let writes = writes(&objects, &target(), &Ok(()), &at(1_000));

    let class = find(&writes, StatusKind::GatewayClass, "wasmesh").expect("our class");
    assert_eq!(said(&class["conditions"]), ["Accepted=True Accepted"]);
    assert!(
        find(&writes, StatusKind::GatewayClass, "istio").is_none(),
        "another controller's class"
    );

    let gw = find(&writes, StatusKind::Gateway, "public").expect("the Gateway");
    assert_eq!(
        said(&gw["conditions"]),
        ["Accepted=True ListenersNotValid", "Programmed=True Programmed"]
    );
    assert_eq!(gw["conditions"][0]["observedGeneration"], 3);
    assert!(gw["conditions"][0]["message"]
        .as_str()
        .unwrap()
        .contains("listener https: protocol HTTPS"));
    let listeners = gw["listeners"].as_array().unwrap();
    let names: Vec<&str> = listeners.iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["http", "api", "https"]);
    // good (no sectionName) and missing (sectionName http) on http; good and nohost
    // (allowed, hostname apart: attachment is parentRefs and allowedRoutes) on api
    let attached: Vec<u64> = listeners
        .iter()
        .map(|l| l["attachedRoutes"].as_u64().unwrap())
        .collect();
    assert_eq!(attached, [2, 2, 0]);
    assert_eq!(
        listeners[0]["supportedKinds"],
        json!([{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}])
    );
    assert_eq!(listeners[2]["supportedKinds"], json!([]));
    assert_eq!(
        said(&listeners[0]["conditions"]),
        [
            "Accepted=True Accepted",
            "ResolvedRefs=True ResolvedRefs",
            "Conflicted=False NoConflicts",
            "Programmed=True Programmed"
        ]
    );
    assert_eq!(
        said(&listeners[2]["conditions"]),
        [
            "Accepted=False UnsupportedProtocol",
            "ResolvedRefs=True ResolvedRefs",
            "Conflicted=False NoConflicts",
            "Programmed=False Invalid"
        ]
    );

    let parent = |name: &str| {
        let status = find(&writes, StatusKind::HttpRoute, name).unwrap_or_else(|| panic!("{name}"));
        let parents = status["parents"].as_array().unwrap();
        assert_eq!(parents.len(), 1, "{status}");
        assert_eq!(parents[0]["controllerName"], CONTROLLER_NAME);
        parents[0].clone()
    };
    let good = parent("good");
    assert_eq!(good["parentRef"], json!({"name": "public"}));
    assert_eq!(
        said(&good["conditions"]),
        ["Accepted=True Accepted", "ResolvedRefs=True ResolvedRefs"]
    );
    let missing = parent("missing");
    assert_eq!(
        said(&missing["conditions"]),
        ["Accepted=True Accepted", "ResolvedRefs=False BackendNotFound"]
    );
    let message = missing["conditions"][1]["message"].as_str().unwrap();
    assert_eq!(
        message,
        "spec.rules[1].backendRefs[0]: Service edge/nope not found; spec.rules[1].backendRefs[1]: \
         x.io/Bucket b: only Services (group \"\", kind Service) are backends"
    );
    let nosection = parent("nosection");
    assert_eq!(
        said(&nosection["conditions"]),
        [
            "Accepted=False NoMatchingParent",
            "ResolvedRefs=True ResolvedRefs"
        ]
    );
    assert_eq!(
        nosection["conditions"][0]["message"],
        "the Gateway has no listener nope"
    );
    assert_eq!(
        said(&parent("nohost")["conditions"])[0],
        "Accepted=False NoMatchingListenerHostname"
    );
    assert!(
        find(&writes, StatusKind::HttpRoute, "elsewhere").is_none(),
        "names another Gateway"
    );
}

/// The objects with the writes applied, as the API server would have them after.
fn written(mut objects: Objects, writes: &[StatusWrite]) -> Objects {
    for w in writes {
        let named = |m: &crate::meta::ObjectMeta| m.name == w.name;
        let o = &mut objects;
        let slot = match w.kind {
            StatusKind::GatewayClass => o
                .classes
                .iter_mut()
                .find(|c| named(&c.metadata))
                .map(|c| &mut c.status),
            StatusKind::Gateway => o
                .gateways
                .iter_mut()
                .find(|g| named(&g.metadata))
                .map(|g| &mut g.status),
            StatusKind::HttpRoute => o
                .routes
                .iter_mut()
                .find(|r| named(&r.metadata))
                .map(|r| &mut r.status),
        };
        *slot.expect("written to an object that exists") = Some(w.status.clone());
    }
    objects
}

#[test]
fn a_status_already_right_is_not_written_again_and_a_transition_moves_its_time_only() {
    let first = writes(
        &objects(&yaml()),
        &target(),
        &Err("not applied yet".into()),
        &at(1_000),
    );
    let objects = written(objects(&yaml()), &first);
    assert!(writes(&objects, &target(), &Err("not applied yet".into()), &at(2_000)).is_empty());

    // programmed now: only the Gateway changes; Accepted keeps its time, Programmed moves
    let next = writes(&objects, &target(), &Ok(()), &at(3_000));
    assert_eq!(next.len(), 1, "{next:?}");
    let gw = &next[0].status;
    let time = |i: usize| {
        gw["conditions"][i]["lastTransitionTime"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(time(0), at(1_000).to_string());
    assert_eq!(time(1), at(3_000).to_string());
    assert_eq!(said(&gw["conditions"])[1], "Programmed=True Programmed");
    let pending = find(&first, StatusKind::Gateway, "public").unwrap();
    assert_eq!(said(&pending["conditions"])[1], "Programmed=False Pending");
    assert_eq!(pending["conditions"][1]["message"], "not applied yet");
}

#[test]
fn other_controllers_entries_and_conditions_are_kept() {
    let mut objects = objects(&yaml());
    let theirs = json!({
        "parentRef": {"name": "other"},
        "controllerName": "istio.io/gateway-controller",
        "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted", "message": "",
                        "lastTransitionTime": "2020-01-01T00:00:00Z"}],
    });
    let good = objects
        .routes
        .iter_mut()
        .find(|r| r.metadata.name == "good")
        .unwrap();
    good.status = Some(json!({ "parents": [theirs.clone()] }));
    let class = objects
        .classes
        .iter_mut()
        .find(|c| c.metadata.name == "wasmesh")
        .unwrap();
    let supported = json!({"type": "SupportedVersion", "status": "True", "reason": "SupportedVersion",
                           "message": "", "lastTransitionTime": "2020-01-01T00:00:00Z"});
    class.status = Some(json!({ "conditions": [supported.clone()] }));
    let writes = writes(&objects, &target(), &Ok(()), &at(1_000));
    let parents = find(&writes, StatusKind::HttpRoute, "good").unwrap()["parents"].clone();
    assert_eq!(parents[0], theirs);
    assert_eq!(parents[1]["controllerName"], CONTROLLER_NAME);
    let conditions = find(&writes, StatusKind::GatewayClass, "wasmesh").unwrap()["conditions"].clone();
    assert_eq!(
        said(&conditions),
        ["Accepted=True Accepted", "SupportedVersion=True SupportedVersion"]
    );
    assert_eq!(conditions[1], supported);
}

#[test]
fn listeners_on_one_port_conflict_by_protocol_or_hostname() {
    let gateway = "
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public, namespace: edge}
spec:
  gatewayClassName: wasmesh
  listeners:
  - {name: a, port: 8080, protocol: HTTP, hostname: a.example.com}
  - {name: b, port: 8080, protocol: HTTP, hostname: a.example.com}
  - {name: c, port: 9090, protocol: HTTP}
  - {name: d, port: 9090, protocol: TCP}
  - {name: e, port: 7070, protocol: HTTP}";
    let to_all = route(
        "all",
        "  parentRefs: [{name: public}]\n  hostnames: [a.example.com]\n  rules: [{backendRefs: [{name: echo, port: 80}]}]",
    );
    let writes = writes(
        &objects(&join(&[CLASS, gateway, ECHO, &to_all])),
        &target(),
        &Ok(()),
        &at(1),
    );
    let gw = find(&writes, StatusKind::Gateway, "public").unwrap();
    // the conflicted listeners are left out: not programmed, no route attached; the Gateway
    // serves the one without a conflict
    let listeners = gw["listeners"].as_array().unwrap();
    let programmed: Vec<String> = listeners
        .iter()
        .map(|l| said(&l["conditions"])[3].clone())
        .collect();
    let attached: Vec<u64> = listeners
        .iter()
        .map(|l| l["attachedRoutes"].as_u64().unwrap())
        .collect();
    assert_eq!(programmed[..3], ["Programmed=False Invalid"; 3]);
    assert_eq!(programmed[4], "Programmed=True Programmed");
    assert_eq!(attached, [0, 0, 0, 0, 1]);
    assert_eq!(said(&gw["conditions"])[0], "Accepted=True ListenersNotValid");
    let conflicted: Vec<String> = gw["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| said(&l["conditions"])[2].clone())
        .collect();
    assert_eq!(
        conflicted,
        [
            "Conflicted=True HostnameConflict",
            "Conflicted=True HostnameConflict",
            "Conflicted=True ProtocolConflict",
            "Conflicted=True ProtocolConflict",
            "Conflicted=False NoConflicts"
        ]
    );
}

#[test]
fn nothing_is_written_for_a_gateway_of_another_class_but_our_class_is_accepted() {
    let gateway = GATEWAY.replace("gatewayClassName: wasmesh", "gatewayClassName: istio");
    let writes = writes(
        &objects(&join(&[
            CLASS,
            OTHER_CLASS,
            &gateway,
            &route("good", "  parentRefs: [{name: public}]"),
        ])),
        &target(),
        &Ok(()),
        &at(1),
    );
    let kinds: Vec<(StatusKind, &str)> = writes.iter().map(|w| (w.kind, w.name.as_str())).collect();
    assert_eq!(kinds, [(StatusKind::GatewayClass, "wasmesh")]);
}

#[test]
fn a_backend_in_another_namespace_without_a_grant_is_ref_not_permitted() {
    let rules =
        "  parentRefs: [{name: public}]\n  rules: [{backendRefs: [{name: echo, namespace: web, port: 80}]}]";
    let writes = writes(
        &objects(&join(&[CLASS, GATEWAY, &route("r", rules)])),
        &target(),
        &Ok(()),
        &at(1),
    );
    let parents = &find(&writes, StatusKind::HttpRoute, "r").unwrap()["parents"];
    assert_eq!(
        said(&parents[0]["conditions"])[1],
        "ResolvedRefs=False RefNotPermitted"
    );
}

#[test]
fn a_route_that_no_longer_names_the_gateway_loses_our_entry_only() {
    let first = writes(&objects(&yaml()), &target(), &Ok(()), &at(1));
    let mut objects = written(objects(&yaml()), &first);
    let theirs = json!({"parentRef": {"name": "other"}, "controllerName": "example.com/x", "conditions": []});
    let good = objects
        .routes
        .iter_mut()
        .find(|r| r.metadata.name == "good")
        .unwrap();
    let mut status = good.status.clone().unwrap();
    status["parents"]
        .as_array_mut()
        .unwrap()
        .insert(0, theirs.clone());
    good.status = Some(status);
    // its parentRef now names another Gateway
    good.spec.parent_refs[0].name = "private".into();
    let next = writes(&objects, &target(), &Ok(()), &at(2));
    let route = find(&next, StatusKind::HttpRoute, "good").expect("our entry taken out");
    assert_eq!(route["parents"], json!([theirs]));
    let gw = find(&next, StatusKind::Gateway, "public").expect("one route fewer attached");
    assert_eq!(gw["listeners"][0]["attachedRoutes"], 1);
}

#[test]
fn a_listener_whose_certificate_refs_do_not_resolve_says_so_in_resolved_refs() {
    let listeners = "
  - {name: good, port: 8443, protocol: HTTPS, hostname: a.example.com, tls: {certificateRefs: [{name: a-cert}]}}
  - {name: missing, port: 8443, protocol: HTTPS, hostname: b.example.com, tls: {certificateRefs: [{name: nope}]}}
  - {name: elsewhere, port: 9443, protocol: HTTPS, tls: {certificateRefs: [{name: a-cert, namespace: other}]}}
  - {name: partly, port: 9444, protocol: HTTPS, tls: {certificateRefs: [{name: a-cert}, {name: nope}]}}";
    let yaml = join(&[
        CLASS,
        &tls_gateway(listeners),
        ECHO,
        &tls_secret("a-cert", "edge"),
        &tls_secret("a-cert", "other"),
        &to_echo(),
    ]);
    let writes = writes(&objects(&yaml), &target(), &Ok(()), &at(1));
    let gateway = find(&writes, StatusKind::Gateway, "public").expect("the Gateway");
    let resolved_and_programmed = |name: &str| {
        let listener = gateway["listeners"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == name)
            .unwrap_or_else(|| panic!("listener {name}"));
        let said = said(&listener["conditions"]);
        [said[1].clone(), said[3].clone()]
    };
    assert_eq!(
        resolved_and_programmed("good"),
        ["ResolvedRefs=True ResolvedRefs", "Programmed=True Programmed"]
    );
    assert_eq!(
        resolved_and_programmed("missing"),
        [
            "ResolvedRefs=False InvalidCertificateRef",
            "Programmed=False Invalid"
        ]
    );
    assert_eq!(
        resolved_and_programmed("elsewhere"),
        ["ResolvedRefs=False RefNotPermitted", "Programmed=False Invalid"]
    );
    // one of two resolves: bound with it, the other said
    assert_eq!(
        resolved_and_programmed("partly"),
        [
            "ResolvedRefs=False InvalidCertificateRef",
            "Programmed=True Programmed"
        ]
    );
    assert_eq!(
        gateway["conditions"][0]["reason"], "ListenersNotValid",
        "{gateway}"
    );
    assert_eq!(
        gateway["conditions"][0]["status"], "True",
        "other listeners serve: {gateway}"
    );
}

#[test]
fn a_route_of_a_namespace_the_selector_does_not_select_is_not_allowed_by_listeners() {
    use crate::gateway::tests::{route_in, SELECTED};
    let yaml = join(&[
        CLASS,
        SELECTED,
        ECHO,
        &route_in("ops", "/ops"),
        &route_in("web", "/web"),
    ]);
    let writes = writes(&objects(&yaml), &target(), &Ok(()), &at(1));
    let accepted = |writes: &[StatusWrite], ns: &str| {
        let w = writes
            .iter()
            .find(|w| w.kind == StatusKind::HttpRoute && w.namespace.as_deref() == Some(ns))
            .unwrap();
        said(&w.status["parents"][0]["conditions"])[0].clone()
    };
    assert_eq!(accepted(&writes, "ops"), "Accepted=False NotAllowedByListeners");
    assert_eq!(accepted(&writes, "web"), "Accepted=True Accepted");
    let gateway = find(&writes, StatusKind::Gateway, "public").unwrap();
    assert_eq!(gateway["listeners"][0]["attachedRoutes"], 1);
}

#[test]
fn a_certificate_ref_to_another_namespace_is_resolved_once_granted() {
    let listeners = "
  - {name: https, port: 8443, protocol: HTTPS, tls: {certificateRefs: [{name: a-cert, namespace: certs}]}}";
    let gateway = tls_gateway(listeners);
    let secret = tls_secret("a-cert", "certs");
    let resolved = |grant: &str| {
        let yaml = join(&[CLASS, &gateway, ECHO, &to_echo(), &secret, grant]);
        let writes = writes(&objects(&yaml), &target(), &Ok(()), &at(1));
        let gateway = find(&writes, StatusKind::Gateway, "public").expect("the Gateway");
        said(&gateway["listeners"][0]["conditions"])[1].clone()
    };
    assert_eq!(
        resolved(&secret_grant("edge", None)),
        "ResolvedRefs=True ResolvedRefs"
    );
    assert_eq!(
        resolved(&secret_grant("edge", Some("b-cert"))),
        "ResolvedRefs=False RefNotPermitted"
    );
}
