//! `resources`: parsing and validation of arbitrary text as a resource file (multi-document
//! YAML, and JSON), then `resolve` for every `Proxy` that parsed.
//!
//! Properties: no panic; a valid document written back out (`Resource`'s Kubernetes-style
//! serialisation) parses to the same resource (Secrets excepted: their values are
//! redacted); `resolve` accounts for every WasmPlugin (it
//! applies to the workload or says why not), and each listener runs selected plugins only,
//! in the selected order, and none it says it refuses.

use std::sync::Arc;

use wasmesh_api::{parse, resolve, Format, Resource, Resources, WasmPlugin, DEFAULT_ROOT_NAMESPACE};

pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut resources = Vec::new();
    for format in [Format::Yaml, Format::Json] {
        for document in parse("fuzz.yaml", text, format).into_iter().flatten() {
            // A Secret serialises with its values redacted, for display: no round trip.
            if !matches!(document.resource, Resource::Secret(_)) {
                assert_round_trip(&document.resource);
            }
            resources.push(document.resource);
        }
    }
    check_resolve(&resources);
}

fn assert_round_trip(resource: &Resource) {
    let written = serde_yaml_ng::to_string(resource).expect("a resource serialises");
    let mut again = parse("written.yaml", &written, Format::Yaml);
    assert_eq!(again.len(), 1, "one document written, in:\n{written}");
    match again.pop() {
        Some(Ok(document)) => assert_eq!(&document.resource, resource, "written as:\n{written}"),
        other => panic!("a valid resource written out does not parse: {other:?}\n{written}"),
    }
}

fn check_resolve(parsed: &[Resource]) {
    let mut resources = Resources::new();
    for resource in parsed {
        resources.insert(resource.clone());
    }
    let key = |plugin: &Arc<WasmPlugin>| Resource::WasmPlugin(plugin.clone()).key();
    for proxy in resources.proxies() {
        let chains = resolve(proxy, &resources, DEFAULT_ROOT_NAMESPACE);
        for plugin in resources.wasm_plugins() {
            let key = key(plugin);
            let selected = chains.selected.iter().any(|s| s.plugin == key);
            let refused = chains
                .not_selected
                .iter()
                .any(|n| n.plugin == key && n.listener.is_none());
            assert!(
                selected != refused,
                "{key:?} must be either selected ({selected}) or refused for the workload ({refused})"
            );
        }
        for chain in &chains.listeners {
            let mut last = None;
            for plugin in chain.plugins() {
                let key = key(plugin);
                let at = chains.selected.iter().position(|s| s.plugin == key);
                assert!(
                    at.is_some(),
                    "{key:?} runs on {} but was not selected",
                    chain.listener
                );
                assert!(
                    at > last,
                    "{} runs its plugins out of the selected order",
                    chain.listener
                );
                last = at;
                let refused = chains
                    .not_selected
                    .iter()
                    .any(|n| n.plugin == key && n.listener.as_deref() == Some(chain.listener.as_str()));
                assert!(
                    !refused,
                    "{key:?} runs on {} and is refused there",
                    chain.listener
                );
            }
        }
    }
}
