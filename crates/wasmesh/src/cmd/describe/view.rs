//! What `describe` prints: the table and `-o json`, both made from one [`View`], so the JSON
//! carries everything the table shows (docs/api.md describes its shape).

use serde_json::{json, Value};
use std::fmt::Write as _;
use wasmesh_api::{
    Builtin, Filter, ListenerProtocol, Origin, Proxy, Reason, ResourceKey, TrafficDirection, WorkloadChains,
};

use super::source::Read;

/// What `describe` shows, whichever the format.
pub struct View {
    workload: String,
    /// Where the resources were read.
    source: String,
    labels: Vec<(String, String)>,
    root_namespace: String,
    listeners: Vec<ListenerView>,
    /// `(plugin, why)`, in execution order.
    selected: Vec<(ResourceKey, String)>,
    not_selected: Vec<NotSelectedView>,
    /// `(plugin, what will go wrong)`.
    problems: Vec<(ResourceKey, String)>,
    /// Where each resource shown came from: the Proxy, the plugins, the policies.
    origins: Vec<(ResourceKey, Origin)>,
}

struct ListenerView {
    name: String,
    protocol: &'static str,
    address: String,
    direction: &'static str,
    filters: Vec<FilterView>,
}

struct FilterView {
    phase: &'static str,
    kind: FilterKind,
    /// The table's DETAIL column: a plugin's url, what a built-in enforces.
    detail: String,
}

enum FilterKind {
    Wasm {
        plugin: ResourceKey,
        priority: i64,
        priority_unset: bool,
        url: String,
    },
    Builtin {
        name: &'static str,
        /// authn: the RequestAuthentications; authz: the AuthorizationPolicies.
        policies: Vec<String>,
        /// router: the listener's routes.
        routes: Option<usize>,
    },
}

struct NotSelectedView {
    plugin: ResourceKey,
    listener: Option<String>,
    reason: String,
}

impl View {
    pub fn new(proxy: &Proxy, chains: &WorkloadChains, read: &Read, only: Option<&str>) -> View {
        let resources = &read.snapshot.resources;
        let names = |metas: &mut dyn Iterator<Item = &wasmesh_api::ObjectMeta>| -> Vec<String> {
            metas.map(|m| format!("{}/{}", m.namespace(), m.name)).collect()
        };
        let authn = names(&mut chains.request_authentications.iter().map(|r| &r.metadata));
        let authz = names(&mut chains.authorization_policies.iter().map(|r| &r.metadata));
        let listeners = proxy
            .spec
            .listeners
            .iter()
            .zip(&chains.listeners)
            .filter(|(l, _)| only.is_none_or(|name| l.name == name))
            .map(|(listener, chain)| ListenerView {
                name: listener.name.clone(),
                protocol: match listener.protocol {
                    ListenerProtocol::Http => "http",
                    ListenerProtocol::Tcp => "tcp",
                },
                address: listener.address.to_string(),
                direction: match listener.traffic_direction {
                    TrafficDirection::Server => "SERVER",
                    TrafficDirection::Client => "CLIENT",
                },
                filters: chain
                    .filters
                    .iter()
                    .map(|f| {
                        let phase = f.phase().describe_name();
                        match f {
                            Filter::Wasm(p) => FilterView {
                                phase,
                                detail: p.spec.url.clone(),
                                kind: FilterKind::Wasm {
                                    plugin: ResourceKey::new(
                                        wasmesh_api::Kind::WasmPlugin,
                                        p.metadata.namespace(),
                                        &p.metadata.name,
                                    ),
                                    priority: p.effective_priority(),
                                    priority_unset: p.spec.priority.is_none(),
                                    url: p.spec.url.clone(),
                                },
                            },
                            Filter::Builtin(b) => {
                                let (policies, routes, detail) = match b {
                                    Builtin::Authn if authn.is_empty() => {
                                        (vec![], None, "no RequestAuthentication applies".to_string())
                                    }
                                    Builtin::Authn => (
                                        authn.clone(),
                                        None,
                                        format!("RequestAuthentication {}", authn.join(", ")),
                                    ),
                                    Builtin::Authz if authz.is_empty() => {
                                        (vec![], None, "no AuthorizationPolicy applies".to_string())
                                    }
                                    Builtin::Authz => (
                                        authz.clone(),
                                        None,
                                        format!("AuthorizationPolicy {}", authz.join(", ")),
                                    ),
                                    Builtin::Stats => (vec![], None, "request metrics".to_string()),
                                    Builtin::Router => {
                                        let n = listener.routes.len();
                                        let s = if n == 1 { "" } else { "s" };
                                        (vec![], Some(n), format!("{n} route{s}"))
                                    }
                                };
                                FilterView {
                                    phase,
                                    detail,
                                    kind: FilterKind::Builtin {
                                        name: b.name(),
                                        policies,
                                        routes,
                                    },
                                }
                            }
                        }
                    })
                    .collect(),
            })
            .collect();
        let selected: Vec<(ResourceKey, String)> = chains
            .selected
            .iter()
            .map(|s| (s.plugin.clone(), s.why.to_string()))
            .collect();
        let not_selected = not_selected(chains, only);
        let origins = origins(proxy, chains, &selected, &not_selected, read);
        View {
            workload: chains.workload.to_string(),
            source: read.described.clone(),
            labels: proxy
                .metadata
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            root_namespace: chains.root_namespace.clone(),
            listeners,
            selected,
            not_selected,
            problems: problems(chains, resources, only, read.secrets_from),
            origins,
        }
    }

    pub fn json(&self) -> Value {
        let plugin = |k: &ResourceKey| json!({"namespace": k.namespace, "name": k.name});
        let with = |mut base: Value, extra: Value| {
            if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
                b.extend(e);
            }
            base
        };
        json!({
            "workload": self.workload,
            "labels": self.labels.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect::<serde_json::Map<String, Value>>(),
            "rootNamespace": self.root_namespace,
            "listeners": self.listeners.iter().map(|l| json!({
                "name": l.name,
                "protocol": l.protocol,
                "address": l.address,
                "trafficDirection": l.direction,
                "filters": l.filters.iter().map(|f| match &f.kind {
                    FilterKind::Wasm { plugin, priority, priority_unset, url } => json!({
                        "phase": f.phase,
                        "kind": "wasm",
                        "name": plugin.name,
                        "namespace": plugin.namespace,
                        "priority": priority,
                        "priorityUnset": priority_unset,
                        "url": url,
                        "detail": f.detail,
                    }),
                    FilterKind::Builtin { name, policies, routes } => {
                        let base = json!({"phase": f.phase, "kind": "builtin", "name": name, "detail": f.detail});
                        match (*name, routes) {
                            ("authn", _) => with(base, json!({"requestAuthentications": policies})),
                            ("authz", _) => with(base, json!({"authorizationPolicies": policies})),
                            (_, Some(n)) => with(base, json!({"routes": n})),
                            _ => base,
                        }
                    }
                }).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "selected": self.selected.iter().map(|(k, why)| with(plugin(k), json!({"why": why}))).collect::<Vec<_>>(),
            "notSelected": self.not_selected.iter().map(|n| with(plugin(&n.plugin), json!({"listener": n.listener, "reason": n.reason}))).collect::<Vec<_>>(),
            "problems": self.problems.iter().map(|(k, p)| with(plugin(k), json!({"problem": p}))).collect::<Vec<_>>(),
            "source": self.source,
            "origins": self.origins.iter().map(|(k, o)| json!({
                "kind": k.kind.as_str(),
                "namespace": k.namespace,
                "name": k.name,
                "origin": origin_json(o),
            })).collect::<Vec<_>>(),
        })
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let labels: Vec<String> = self.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(
            out,
            "Workload {} (labels: {}), root namespace {}",
            self.workload,
            if labels.is_empty() {
                "none".to_string()
            } else {
                labels.join(", ")
            },
            self.root_namespace
        );
        let _ = writeln!(out, "Read from {}", self.source);
        for l in &self.listeners {
            let kind = match l.protocol {
                "tcp" => "network filter chain",
                _ => "HTTP filter chain",
            };
            let _ = writeln!(
                out,
                "\nListener {} ({}, {}, {}): {kind}, in request order",
                l.name, l.protocol, l.address, l.direction
            );
            if l.filters.is_empty() {
                let _ = writeln!(
                    out,
                    "  (no NETWORK plugins apply; bytes go straight to the cluster)"
                );
                continue;
            }
            let mut rows = vec![["#", "PHASE", "KIND", "NAME", "PRIORITY", "DETAIL"]
                .map(String::from)
                .to_vec()];
            for (i, f) in l.filters.iter().enumerate() {
                let (kind, name, priority) = match &f.kind {
                    FilterKind::Wasm {
                        plugin,
                        priority,
                        priority_unset,
                        ..
                    } => (
                        "wasm",
                        format!("{}/{}", plugin.namespace, plugin.name),
                        priority.to_string() + if *priority_unset { " (unset)" } else { "" },
                    ),
                    FilterKind::Builtin { name, .. } => ("builtin", name.to_string(), "-".to_string()),
                };
                rows.push(vec![
                    (i + 1).to_string(),
                    f.phase.to_string(),
                    kind.to_string(),
                    name,
                    priority,
                    f.detail.clone(),
                ]);
            }
            out.push_str(&columns(&rows));
        }
        let _ = writeln!(out, "\nSelected:");
        if self.selected.is_empty() {
            let _ = writeln!(out, "  (none)");
        }
        for (k, why) in &self.selected {
            let _ = writeln!(out, "  {}/{}: {why}", k.namespace, k.name);
        }
        let _ = writeln!(out, "\nNot selected:");
        if self.not_selected.is_empty() {
            let _ = writeln!(out, "  (none: every WasmPlugin applies)");
        }
        for n in &self.not_selected {
            let on = n
                .listener
                .as_ref()
                .map(|l| format!(" on listener {l}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {}/{}{on}: {}",
                n.plugin.namespace, n.plugin.name, n.reason
            );
        }
        if !self.problems.is_empty() {
            let _ = writeln!(out, "\nProblems:");
            for (k, problem) in &self.problems {
                let _ = writeln!(out, "  {}/{}: {problem}", k.namespace, k.name);
            }
        }
        let _ = writeln!(out, "\nOrigins:");
        for (key, origin) in &self.origins {
            let _ = writeln!(out, "  {key} from {origin}");
        }
        out
    }
}

/// The plugins that do not run, and why: on the workload, or on a shown listener. A plugin
/// that runs on some listener is not listed for listeners of the other protocol: that it
/// is HTTP and the listener tcp (or the reverse) says nothing new.
fn not_selected(chains: &WorkloadChains, only: Option<&str>) -> Vec<NotSelectedView> {
    let runs_somewhere = |key: &ResourceKey| {
        chains.listeners.iter().any(|l| {
            l.plugins()
                .any(|p| p.metadata.name == key.name && p.metadata.namespace() == key.namespace)
        })
    };
    chains
        .not_selected
        .iter()
        .filter(|n| match (&n.listener, only) {
            (Some(l), Some(only)) => l == only,
            _ => true,
        })
        .filter(|n| {
            n.listener.is_none()
                || !matches!(n.reason, Reason::TypeMismatch { .. })
                || !runs_somewhere(&n.plugin)
        })
        .map(|n| NotSelectedView {
            plugin: n.plugin.clone(),
            listener: n.listener.clone(),
            reason: n.reason.to_string(),
        })
        .collect()
}

/// What will go wrong when the proxy loads the plugins of the shown listeners, found from
/// the configuration alone: a pull secret that is not there.
fn problems(
    chains: &WorkloadChains,
    resources: &wasmesh_api::Resources,
    only: Option<&str>,
    secrets_from: &str,
) -> Vec<(ResourceKey, String)> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    let shown = chains
        .listeners
        .iter()
        .filter(|l| only.is_none_or(|name| l.listener == name));
    for plugin in shown.flat_map(|l| l.plugins()) {
        let ns = plugin.metadata.namespace();
        if !seen.insert((ns.to_string(), plugin.metadata.name.clone())) {
            continue;
        }
        if let Some(secret) = &plugin.spec.image_pull_secret {
            if resources.secret(ns, secret).is_none() {
                out.push((
                    ResourceKey::new(wasmesh_api::Kind::WasmPlugin, ns, &plugin.metadata.name),
                    format!("imagePullSecret {secret}: no Secret {ns}/{secret} {secrets_from}"),
                ));
            }
        }
    }
    out
}

/// Where the resources shown came from, each once: the Proxy, the plugins selected and not,
/// the policies the built-ins enforce.
fn origins(
    proxy: &Proxy,
    chains: &WorkloadChains,
    selected: &[(ResourceKey, String)],
    not_selected: &[NotSelectedView],
    read: &Read,
) -> Vec<(ResourceKey, Origin)> {
    let key = |kind, meta: &wasmesh_api::ObjectMeta| ResourceKey::new(kind, meta.namespace(), &meta.name);
    let mut keys = vec![key(wasmesh_api::Kind::Proxy, &proxy.metadata)];
    keys.extend(selected.iter().map(|(k, _)| k.clone()));
    keys.extend(not_selected.iter().map(|n| n.plugin.clone()));
    keys.extend(
        chains
            .request_authentications
            .iter()
            .map(|r| key(wasmesh_api::Kind::RequestAuthentication, &r.metadata)),
    );
    keys.extend(
        chains
            .authorization_policies
            .iter()
            .map(|a| key(wasmesh_api::Kind::AuthorizationPolicy, &a.metadata)),
    );
    let mut seen = std::collections::BTreeSet::new();
    keys.into_iter()
        .filter(|k| seen.insert(k.clone()))
        .filter_map(|k| {
            let origin = read.snapshot.origins.get(&k)?.clone();
            Some((k, origin))
        })
        .collect()
}

/// An origin for programs: a file's document, or an API object.
fn origin_json(origin: &Origin) -> Value {
    match origin {
        Origin::File { file, document, line } => json!({"file": file, "document": document, "line": line}),
        Origin::Object {
            kind,
            namespace,
            name,
            resource_version,
        } => json!({"kind": kind, "namespace": namespace, "name": name, "resourceVersion": resource_version}),
    }
}

/// Left-aligned columns, two spaces apart, indented by two.
fn columns(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let _ = writeln!(out, "  {}", line.join("  ").trim_end());
    }
    out
}
