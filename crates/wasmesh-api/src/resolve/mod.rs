//! Selection and order: which plugins and policies apply to one workload (a `Proxy`), and
//! the filter chain of each of its listeners in execution order (docs/api.md, "Which plugins apply").
//!
//! HTTP chain (Istio's real order):
//!
//! ```text
//! [AUTHN plugins] → authn → [AUTHZ plugins] → authz → [STATS plugins]
//!   → [UNSPECIFIED plugins] → stats → router
//! ```
//!
//! Network (tcp) chain: the NETWORK plugins in the same phase order; the built-in filters
//! are HTTP filters and are not part of it.

mod order;
mod select;
#[cfg(test)]
mod tests;

pub use order::execution_order;
pub use select::{Reason, Selection};

use crate::{
    authorization_policy::AuthorizationPolicy,
    meta::{NamespacedName, ResourceKey},
    proxy::{ListenerProtocol, Proxy},
    request_authentication::RequestAuthentication,
    resources::Resources,
    wasm_plugin::{Phase, WasmPlugin},
};
use std::sync::Arc;

/// What applies to one workload.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadChains {
    pub workload: NamespacedName,
    pub root_namespace: String,
    /// One per listener, in the `Proxy`'s order.
    pub listeners: Vec<ListenerChain>,
    /// Plugins that apply to the workload, and why, in execution order (whether they
    /// fit a listener is in `listeners` and `not_selected`).
    pub selected: Vec<Selected>,
    /// Plugins that do not run on the workload or on some listener, and why. Sorted by
    /// plugin, then listener.
    pub not_selected: Vec<NotSelected>,
    /// The RequestAuthentications the `authn` filter enforces.
    pub request_authentications: Vec<Arc<RequestAuthentication>>,
    /// The AuthorizationPolicies the `authz` filter enforces.
    pub authorization_policies: Vec<Arc<AuthorizationPolicy>>,
}

impl WorkloadChains {
    /// The chain of the listener named `name`.
    pub fn listener(&self, name: &str) -> Option<&ListenerChain> {
        self.listeners.iter().find(|l| l.listener == name)
    }
}

/// The filter chain of one listener.
#[derive(Debug, Clone, PartialEq)]
pub struct ListenerChain {
    pub listener: String,
    pub protocol: ListenerProtocol,
    /// In execution order (requests); responses pass it in reverse.
    pub filters: Vec<Filter>,
}

impl ListenerChain {
    /// The Wasm plugins of the chain, in execution order.
    pub fn plugins(&self) -> impl Iterator<Item = &Arc<WasmPlugin>> + '_ {
        self.filters.iter().filter_map(|f| match f {
            Filter::Wasm(p) => Some(p),
            Filter::Builtin(_) => None,
        })
    }
}

/// One filter of a chain.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Wasm(Arc<WasmPlugin>),
    Builtin(Builtin),
}

impl Filter {
    /// The phase `describe` shows: the plugin's, or the one a built-in belongs to.
    pub fn phase(&self) -> Phase {
        match self {
            Filter::Wasm(p) => p.phase(),
            Filter::Builtin(b) => b.phase(),
        }
    }
}

/// wasmesh's built-in HTTP filters, each sitting after the plugins of its phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Builtin {
    /// JWT checks from RequestAuthentication; after the AUTHN plugins.
    Authn,
    /// AuthorizationPolicy; after the AUTHZ plugins.
    Authz,
    /// Istio-style request metrics; after the STATS and UNSPECIFIED plugins.
    Stats,
    /// Routes to clusters; always last.
    Router,
}

impl Builtin {
    /// `authn`, `authz`, `stats`, `router`.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Authn => "authn",
            Builtin::Authz => "authz",
            Builtin::Stats => "stats",
            Builtin::Router => "router",
        }
    }

    /// The phase named after the built-in: plugins of that phase run right before it
    /// (`stats` also has the UNSPECIFIED plugins before it); the router is UNSPECIFIED.
    pub fn phase(self) -> Phase {
        match self {
            Builtin::Authn => Phase::Authn,
            Builtin::Authz => Phase::Authz,
            Builtin::Stats => Phase::Stats,
            Builtin::Router => Phase::Unspecified,
        }
    }
}

/// A plugin that applies to the workload, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Selected {
    pub plugin: ResourceKey,
    pub why: Selection,
}

/// A plugin that does not run on the workload (`listener: None`) or on one listener.
#[derive(Debug, Clone, PartialEq)]
pub struct NotSelected {
    pub plugin: ResourceKey,
    pub listener: Option<String>,
    pub reason: Reason,
}

/// Selects and orders what applies to `workload`. Pure and deterministic: the result does
/// not depend on the order resources were added.
pub fn resolve(workload: &Proxy, resources: &Resources, root_namespace: &str) -> WorkloadChains {
    let mut not_selected = Vec::new();
    let mut selected: Vec<(&Arc<WasmPlugin>, Selection)> = Vec::new();
    for plugin in resources.wasm_plugins() {
        let spec = &plugin.spec;
        match select::applies_to_workload(
            &plugin.metadata,
            spec.selector.as_ref(),
            spec.target_ref.as_ref(),
            &spec.target_refs,
            workload,
            root_namespace,
        ) {
            Ok(why) => selected.push((plugin, why)),
            Err(reason) => not_selected.push(NotSelected {
                plugin: key_of(plugin),
                listener: None,
                reason,
            }),
        }
    }
    selected.sort_by(|(a, _), (b, _)| execution_order(a, b));

    let listeners = workload
        .spec
        .listeners
        .iter()
        .map(|listener| {
            let mut plugins = Vec::new();
            for (plugin, _) in &selected {
                match select::fits_listener(plugin, listener) {
                    Ok(()) => plugins.push(Arc::clone(plugin)),
                    Err(reason) => not_selected.push(NotSelected {
                        plugin: key_of(plugin),
                        listener: Some(listener.name.clone()),
                        reason,
                    }),
                }
            }
            ListenerChain {
                listener: listener.name.clone(),
                protocol: listener.protocol,
                filters: match listener.protocol {
                    ListenerProtocol::Http => http_chain(plugins),
                    ListenerProtocol::Tcp => plugins.into_iter().map(Filter::Wasm).collect(),
                },
            }
        })
        .collect();
    not_selected.sort_by(|a, b| (&a.plugin, &a.listener).cmp(&(&b.plugin, &b.listener)));

    let request_authentications = resources
        .request_authentications()
        .filter(|r| {
            let s = &r.spec;
            select::applies_to_workload(
                &r.metadata,
                s.selector.as_ref(),
                s.target_ref.as_ref(),
                &s.target_refs,
                workload,
                root_namespace,
            )
            .is_ok()
        })
        .cloned()
        .collect();
    let authorization_policies = resources
        .authorization_policies()
        .filter(|r| {
            let s = &r.spec;
            select::applies_to_workload(
                &r.metadata,
                s.selector.as_ref(),
                s.target_ref.as_ref(),
                &s.target_refs,
                workload,
                root_namespace,
            )
            .is_ok()
        })
        .cloned()
        .collect();

    WorkloadChains {
        workload: NamespacedName {
            namespace: workload.metadata.namespace().to_string(),
            name: workload.metadata.name.clone(),
        },
        root_namespace: root_namespace.to_string(),
        listeners,
        selected: selected
            .into_iter()
            .map(|(plugin, why)| Selected {
                plugin: key_of(plugin),
                why,
            })
            .collect(),
        not_selected,
        request_authentications,
        authorization_policies,
    }
}

fn key_of(plugin: &WasmPlugin) -> ResourceKey {
    ResourceKey::new(
        crate::meta::Kind::WasmPlugin,
        plugin.metadata.namespace(),
        &plugin.metadata.name,
    )
}

/// Puts the ordered plugins and the built-ins in their slots.
fn http_chain(plugins: Vec<Arc<WasmPlugin>>) -> Vec<Filter> {
    let mut filters = Vec::with_capacity(plugins.len() + 4);
    let mut plugins = plugins.into_iter().peekable();
    let mut take_phase = |filters: &mut Vec<Filter>, phase: Phase| {
        while let Some(p) = plugins.next_if(|p| p.phase() == phase) {
            filters.push(Filter::Wasm(p));
        }
    };
    take_phase(&mut filters, Phase::Authn);
    filters.push(Filter::Builtin(Builtin::Authn));
    take_phase(&mut filters, Phase::Authz);
    filters.push(Filter::Builtin(Builtin::Authz));
    take_phase(&mut filters, Phase::Stats);
    take_phase(&mut filters, Phase::Unspecified);
    filters.push(Filter::Builtin(Builtin::Stats));
    filters.push(Filter::Builtin(Builtin::Router));
    filters
}
