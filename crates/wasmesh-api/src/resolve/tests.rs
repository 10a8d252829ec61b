//! Selection and order: explicit cases for every rule and tie-break, and properties (the
//! order is total and does not depend on input order).

use super::*;
use crate::{
    parse::{parse, Format},
    resource::Resource,
    Kind,
};
use proptest::prelude::*;

fn resources(yaml: &str) -> Resources {
    parse("t.yaml", yaml, Format::Yaml)
        .into_iter()
        .map(|d| d.unwrap_or_else(|e| panic!("{e}")).resource)
        .collect()
}

fn plugin_yaml(ns: &str, name: &str, extra: &str) -> String {
    format!(
        "---\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {{name: {name}, namespace: {ns}{ts}}}\nspec:\n  url: file:///{name}.wasm\n{spec}",
        ts = extra
            .lines()
            .find_map(|l| l.strip_prefix("ts: "))
            .map(|t| format!(", creationTimestamp: \"{t}\""))
            .unwrap_or_default(),
        spec = extra
            .lines()
            .filter(|l| !l.starts_with("ts: "))
            .map(|l| format!("  {l}\n"))
            .collect::<String>()
    )
}

const GATEWAY: &str = "---
apiVersion: wasmesh.io/v1alpha1
kind: Proxy
metadata:
  name: gw
  namespace: apps
  labels: {istio: ingressgateway, gateway.networking.k8s.io/gateway-name: public}
spec:
  listeners:
  - {name: http, address: 127.0.0.1:8080, routes: [{match: {prefix: /}, cluster: b}]}
  - {name: out, address: 127.0.0.1:8081, trafficDirection: CLIENT, routes: [{match: {prefix: /}, cluster: b}]}
  - {name: tcp, address: 127.0.0.1:9090, protocol: tcp, cluster: b}
  clusters: [{name: b, endpoints: [\"127.0.0.1:1\"]}]
";

fn chains(plugins: &str) -> WorkloadChains {
    let res = resources(&format!("{GATEWAY}{plugins}"));
    let proxy = res.proxy("apps", "gw").expect("proxy").clone();
    resolve(&proxy, &res, "istio-system")
}

/// The chain of a listener as names: plugins as `ns/name`, built-ins by name.
fn names(chains: &WorkloadChains, listener: &str) -> Vec<String> {
    chains
        .listener(listener)
        .expect("listener")
        .filters
        .iter()
        .map(|f| match f {
            Filter::Wasm(p) => format!("{}/{}", p.metadata.namespace(), p.metadata.name),
            Filter::Builtin(b) => b.name().to_string(),
        })
        .collect()
}

fn reason_for(chains: &WorkloadChains, name: &str, listener: Option<&str>) -> String {
    chains
        .not_selected
        .iter()
        .find(|n| n.plugin.name == name && n.listener.as_deref() == listener)
        .map(|n| n.reason.to_string())
        .unwrap_or_else(|| {
            panic!(
                "{name} on {listener:?} should be listed as not selected: {:?}",
                chains.not_selected
            )
        })
}

#[test]
fn builtins_sit_in_their_slots() {
    let c = chains(
        &[
            plugin_yaml("apps", "u", ""),
            plugin_yaml("apps", "s", "phase: STATS"),
            plugin_yaml("apps", "z", "phase: AUTHZ"),
            plugin_yaml("apps", "n", "phase: AUTHN"),
        ]
        .concat(),
    );
    assert_eq!(
        names(&c, "http"),
        ["apps/n", "authn", "apps/z", "authz", "apps/s", "apps/u", "stats", "router"]
    );
    let phases: Vec<&str> = c.listeners[0]
        .filters
        .iter()
        .map(|f| f.phase().describe_name())
        .collect();
    assert_eq!(
        phases,
        [
            "AUTHN",
            "AUTHN",
            "AUTHZ",
            "AUTHZ",
            "STATS",
            "UNSPECIFIED",
            "STATS",
            "UNSPECIFIED"
        ]
    );
}

#[test]
fn empty_chain_has_only_builtins() {
    let c = chains("");
    assert_eq!(names(&c, "http"), ["authn", "authz", "stats", "router"]);
    assert!(names(&c, "tcp").is_empty());
}

#[test]
fn priority_descending_with_unset_as_zero() {
    let c = chains(
        &[
            plugin_yaml("apps", "minus", "priority: -1"),
            plugin_yaml("apps", "unset", ""),
            plugin_yaml("apps", "ten", "priority: 10"),
            plugin_yaml("apps", "one", "priority: 1"),
        ]
        .concat(),
    );
    assert_eq!(
        names(&c, "http"),
        [
            "authn",
            "authz",
            "apps/ten",
            "apps/one",
            "apps/unset",
            "apps/minus",
            "stats",
            "router"
        ]
    );
}

#[test]
fn ties_break_by_creation_timestamp_then_name_then_namespace() {
    let c = chains(
        &[
            plugin_yaml("apps", "a-new", "ts: 2024-02-01T00:00:00Z"),
            plugin_yaml("apps", "z-old", "ts: 2024-01-01T00:00:00Z"),
            plugin_yaml("apps", "m-no-ts", ""),
            plugin_yaml("apps", "b-no-ts", ""),
            plugin_yaml("istio-system", "b-no-ts", ""),
        ]
        .concat(),
    );
    assert_eq!(
        names(&c, "http"),
        [
            "authn",
            "authz",
            "apps/z-old",
            "apps/a-new",
            "apps/b-no-ts",
            "istio-system/b-no-ts",
            "apps/m-no-ts",
            "stats",
            "router"
        ]
    );
}

#[test]
fn root_namespace_plugins_apply_everywhere_and_other_namespaces_never() {
    let c = chains(
        &[
            plugin_yaml("istio-system", "mesh-wide", ""),
            plugin_yaml("other", "elsewhere", ""),
            plugin_yaml("apps", "local", ""),
        ]
        .concat(),
    );
    assert_eq!(
        names(&c, "http"),
        [
            "authn",
            "authz",
            "apps/local",
            "istio-system/mesh-wide",
            "stats",
            "router"
        ]
    );
    let selected: Vec<String> = c
        .selected
        .iter()
        .map(|s| format!("{}: {}", s.plugin.name, s.why))
        .collect();
    assert_eq!(
        selected,
        [
            "local: no selector: applies to every workload of its namespace",
            "mesh-wide: in the root namespace without selector: applies to every workload",
        ]
    );
    let why = reason_for(&c, "elsewhere", None);
    assert!(
        why.contains("namespace other") && why.contains("istio-system"),
        "{why}"
    );
}

#[test]
fn a_different_root_namespace_is_honoured() {
    let res = resources(&format!("{GATEWAY}{}", plugin_yaml("mesh-root", "mesh-wide", "")));
    let proxy = res.proxy("apps", "gw").unwrap().clone();
    assert_eq!(
        resolve(&proxy, &res, "istio-system").listeners[0]
            .plugins()
            .count(),
        0
    );
    assert_eq!(
        resolve(&proxy, &res, "mesh-root").listeners[0].plugins().count(),
        1
    );
}

#[test]
fn selector_and_target_refs() {
    let c = chains(
        &[
            plugin_yaml(
                "apps",
                "match",
                "selector: {matchLabels: {istio: ingressgateway}}",
            ),
            plugin_yaml("apps", "empty-selector", "selector: {matchLabels: {}}"),
            plugin_yaml(
                "apps",
                "wrong-value",
                "selector: {matchLabels: {istio: egressgateway}}",
            ),
            plugin_yaml("apps", "missing-label", "selector: {matchLabels: {app: web}}"),
            plugin_yaml(
                "apps",
                "gw-ref",
                "targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: public}]",
            ),
            plugin_yaml(
                "apps",
                "gw-other",
                "targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: private}]",
            ),
            plugin_yaml(
                "istio-system",
                "gw-root",
                "targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: public}]",
            ),
            plugin_yaml(
                "apps",
                "svc-ref",
                "targetRefs: [{kind: Service, group: \"\", name: public}]",
            ),
        ]
        .concat(),
    );
    assert_eq!(
        names(&c, "http"),
        [
            "authn",
            "authz",
            "apps/empty-selector",
            "apps/gw-ref",
            "apps/match",
            "stats",
            "router"
        ]
    );
    let why: Vec<String> = c
        .selected
        .iter()
        .map(|s| format!("{}: {}", s.plugin.name, s.why))
        .collect();
    assert_eq!(
        why,
        [
            "empty-selector: empty selector: applies to every workload in scope",
            "gw-ref: targetRefs names this workload's Gateway public",
            "match: selector matches istio=ingressgateway",
        ]
    );
    assert!(reason_for(&c, "wrong-value", None)
        .contains("istio=egressgateway; the workload has istio=ingressgateway"));
    assert!(reason_for(&c, "missing-label", None).contains("no label app"));
    assert!(reason_for(&c, "gw-other", None).contains("Gateway private"));
    assert!(reason_for(&c, "gw-root", None).contains("namespace istio-system"));
    assert!(reason_for(&c, "svc-ref", None).contains("waypoints"));
}

#[test]
fn type_and_match_against_listeners() {
    let c = chains(
        &[
            plugin_yaml("apps", "net", "type: NETWORK"),
            plugin_yaml("apps", "server", "match: [{mode: SERVER}]"),
            plugin_yaml("apps", "client", "match: [{mode: CLIENT}]"),
            plugin_yaml("apps", "port-8081", "match: [{ports: [{number: 8081}]}]"),
            plugin_yaml(
                "apps",
                "either",
                "match: [{mode: CLIENT, ports: [{number: 1}]}, {mode: SERVER, ports: [{number: 8080}]}]",
            ),
        ]
        .concat(),
    );
    assert_eq!(
        names(&c, "http"),
        ["authn", "authz", "apps/either", "apps/server", "stats", "router"]
    );
    assert_eq!(
        names(&c, "out"),
        [
            "authn",
            "authz",
            "apps/client",
            "apps/port-8081",
            "stats",
            "router"
        ]
    );
    assert_eq!(names(&c, "tcp"), ["apps/net"]);
    assert!(reason_for(&c, "net", Some("http")).contains("type NETWORK runs on tcp listeners"));
    assert!(reason_for(&c, "server", Some("tcp")).contains("type HTTP"));
    assert!(reason_for(&c, "client", Some("http")).contains("trafficDirection SERVER, port 8080"));
}

#[test]
fn policies_are_selected_like_plugins() {
    let policies = "---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny, namespace: apps}
spec: {action: DENY, selector: {matchLabels: {istio: ingressgateway}}, rules: [{to: [{operation: {paths: [/admin]}}]}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: other-workload, namespace: apps}
spec: {selector: {matchLabels: {app: web}}}
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: istio-system}
spec: {jwtRules: [{issuer: https://issuer.test}]}
";
    let c = chains(policies);
    let authz: Vec<&str> = c
        .authorization_policies
        .iter()
        .map(|p| p.metadata.name.as_str())
        .collect();
    let authn: Vec<&str> = c
        .request_authentications
        .iter()
        .map(|p| p.metadata.name.as_str())
        .collect();
    assert_eq!(authz, ["deny"]);
    assert_eq!(authn, ["jwt"]);
}

#[derive(Debug, Clone)]
struct Gen {
    ns: bool,
    name: u8,
    phase: u8,
    priority: Option<i8>,
    ts: Option<u8>,
}

fn gen_plugin() -> impl Strategy<Value = Gen> {
    (
        any::<bool>(),
        0u8..6,
        0u8..4,
        proptest::option::of(-2i8..3),
        proptest::option::of(0u8..3),
    )
        .prop_map(|(ns, name, phase, priority, ts)| Gen {
            ns,
            name,
            phase,
            priority,
            ts,
        })
}

fn to_yaml(g: &Gen) -> String {
    let phase = ["AUTHN", "AUTHZ", "STATS", "UNSPECIFIED_PHASE"][g.phase as usize];
    let mut extra = format!("phase: {phase}\n");
    if let Some(p) = g.priority {
        extra.push_str(&format!("priority: {p}\n"));
    }
    if let Some(t) = g.ts {
        extra.push_str(&format!("ts: 2024-01-0{}T00:00:00Z\n", t + 1));
    }
    plugin_yaml(
        if g.ns { "apps" } else { "istio-system" },
        &format!("p{}", g.name),
        &extra,
    )
}

proptest! {
    #[test]
    fn order_does_not_depend_on_input_order(gens in proptest::collection::vec(gen_plugin(), 0..10), seed in any::<u64>()) {
        let docs: Vec<String> = gens.iter().map(to_yaml).collect();
        // Later documents replace earlier ones with the same key in both runs alike.
        let mut dedup: std::collections::BTreeMap<(bool, u8), String> = Default::default();
        for (g, d) in gens.iter().zip(&docs) { dedup.insert((g.ns, g.name), d.clone()); }
        let mut docs: Vec<String> = dedup.into_values().collect();
        let forward = chains(&docs.concat());
        // A deterministic shuffle from the seed.
        let mut s = seed;
        for i in (1..docs.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            docs.swap(i, (s >> 33) as usize % (i + 1));
        }
        let shuffled = chains(&docs.concat());
        prop_assert_eq!(&forward, &shuffled);
        prop_assert_eq!(names(&forward, "http").len(), docs.len() + 4);
    }

    #[test]
    fn execution_order_is_a_total_order(gens in proptest::collection::vec(gen_plugin(), 3)) {
        let res = resources(&gens.iter().map(to_yaml).collect::<String>());
        let ps: Vec<_> = res.wasm_plugins().cloned().collect();
        for a in &ps {
            prop_assert_eq!(execution_order(a, a), std::cmp::Ordering::Equal);
            for b in &ps {
                prop_assert_eq!(execution_order(a, b), execution_order(b, a).reverse());
                if !std::sync::Arc::ptr_eq(a, b) {
                    prop_assert_ne!(execution_order(a, b), std::cmp::Ordering::Equal, "distinct plugins never tie");
                }
                for c in &ps {
                    if execution_order(a, b).is_le() && execution_order(b, c).is_le() {
                        prop_assert!(execution_order(a, c).is_le());
                    }
                }
            }
        }
    }
}

#[test]
fn resources_are_keyed_by_kind_namespace_and_name() {
    let res = resources(&format!(
        "{}{}",
        plugin_yaml("apps", "p", ""),
        plugin_yaml("apps", "p", "priority: 5")
    ));
    assert_eq!(res.len(), 1);
    let Some(Resource::WasmPlugin(p)) = res.get(&crate::ResourceKey::new(Kind::WasmPlugin, "apps", "p"))
    else {
        panic!("missing");
    };
    assert_eq!(
        p.spec.priority,
        Some(5),
        "the later document replaces the earlier"
    );
}
