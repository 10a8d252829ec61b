//! Which listeners of the Gateway an HTTPRoute attaches to: its `parentRefs` (with
//! `sectionName` and `port`), each listener's `allowedRoutes`, and the hostnames they
//! share. The translation and the status (`status`) both read [`parents`], so what a
//! route's status says is what its requests get.

use super::conflicts::{conflicts, Conflict};
use super::hostnames::{intersect, isolate, HostKey};
use super::namespaces;
use super::types::{Gateway, GatewayListener, HttpRoute, Namespace, ParentReference, GROUP};
use super::{Note, NoteKind};

/// Where a route attached: one HTTP listener's port, of the Gateway, for these hosts.
#[derive(Debug)]
pub struct Attachment {
    pub port: u16,
    pub hosts: Vec<HostKey>,
}

/// Why a parentRef naming the Gateway attaches nowhere: the Gateway API's reasons for a
/// route's `Accepted=False`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No listener has the `sectionName` / `port` asked for.
    NoMatchingParent,
    /// The listeners asked for do not take the route (`allowedRoutes`, a protocol wasmesh
    /// does not serve, or a conflict that leaves them out).
    NotAllowedByListeners,
    /// They would, but no hostname of the route falls within theirs.
    NoMatchingListenerHostname,
}

impl Refused {
    /// The condition's `reason`.
    pub fn reason(self) -> &'static str {
        match self {
            Refused::NoMatchingParent => "NoMatchingParent",
            Refused::NotAllowedByListeners => "NotAllowedByListeners",
            Refused::NoMatchingListenerHostname => "NoMatchingListenerHostname",
        }
    }
}

/// One parentRef of a route that names the Gateway, and where it got.
#[derive(Debug)]
pub struct Parent<'a> {
    /// Its index in `spec.parentRefs`.
    pub index: usize,
    pub reference: &'a ParentReference,
    /// The listeners (indices) it selects and that allow the route: the ones whose
    /// `attachedRoutes` count it, as the specification bases attachment on `parentRefs`
    /// and `allowedRoutes` alone.
    pub allowed: Vec<usize>,
    pub attached: Vec<Attachment>,
    /// Why it attached nowhere (`attached` is empty), in words.
    pub refused: Option<(Refused, String)>,
}

/// Is `listener` served (HTTP, or HTTPS terminated)? The others are reported once, by the
/// caller.
pub fn served(listener: &GatewayListener) -> bool {
    super::tls::protocol_served(listener)
}

/// Does `parent` name `gateway`? Group and kind default to the Gateway's, the namespace
/// to the route's.
pub fn names(parent: &ParentReference, route_namespace: &str, gateway: &Gateway) -> bool {
    parent.group.as_deref().unwrap_or(GROUP) == GROUP
        && parent.kind.as_deref().unwrap_or("Gateway") == "Gateway"
        && parent.namespace.as_deref().unwrap_or(route_namespace) == gateway.metadata.namespace()
        && parent.name == gateway.metadata.name
}

/// Each parentRef of `route` that names `gateway`, with the listeners it attaches to;
/// `namespaces` give the labels a listener's `allowedRoutes` selector matches.
pub fn parents<'a>(gateway: &Gateway, route: &'a HttpRoute, namespaces: &[Namespace]) -> Vec<Parent<'a>> {
    let gw_namespace = gateway.metadata.namespace();
    let route_namespace = route.metadata.namespace();
    let conflicted = conflicts(&gateway.spec.listeners);
    let mut out = Vec::new();
    for (p, parent) in route.spec.parent_refs.iter().enumerate() {
        if !names(parent, route_namespace, gateway) {
            continue;
        }
        let mut why_not = Vec::new();
        let (mut selected, mut allowed, mut attached) = (false, Vec::new(), Vec::new());
        for (i, listener) in gateway.spec.listeners.iter().enumerate() {
            if parent.section_name.as_ref().is_some_and(|s| *s != listener.name) {
                continue;
            }
            if parent.port.is_some_and(|port| port != listener.port) {
                continue;
            }
            selected = true;
            if !served(listener) {
                why_not.push(format!(
                    "listener {} is {}, which wasmesh does not serve yet",
                    listener.name, listener.protocol
                ));
                continue;
            }
            if let Some(conflict) = &conflicted[i] {
                why_not.push(format!(
                    "listener {} conflicts ({}) and is not served",
                    listener.name, conflict.reason
                ));
                continue;
            }
            if let Err(why) = allowed_routes(listener, gw_namespace, route_namespace, namespaces) {
                why_not.push(why);
                continue;
            }
            allowed.push(i);
            match intersect(&route.spec.hostnames, listener.hostname.as_deref()) {
                Some(hosts) => attached.push(Attachment {
                    port: listener.port,
                    hosts: isolate(
                        hosts,
                        listener.hostname.as_deref(),
                        &port_hostnames(gateway, listener, &conflicted),
                    ),
                }),
                None => why_not.push(format!(
                    "no hostname of the route falls within listener {}'s hostname {}",
                    listener.name,
                    listener.hostname.as_deref().unwrap_or_default()
                )),
            }
        }
        let refused = attached.is_empty().then(|| {
            let kind = if !selected {
                why_not.push(match (&parent.section_name, parent.port) {
                    (Some(s), Some(port)) => format!("the Gateway has no listener {s} on port {port}"),
                    (Some(s), None) => format!("the Gateway has no listener {s}"),
                    (None, Some(port)) => format!("the Gateway has no listener on port {port}"),
                    (None, None) => "the Gateway has no listener".to_string(),
                });
                Refused::NoMatchingParent
            } else if allowed.is_empty() {
                Refused::NotAllowedByListeners
            } else {
                Refused::NoMatchingListenerHostname
            };
            (kind, why_not.join("; "))
        });
        out.push(Parent {
            index: p,
            reference: parent,
            allowed,
            attached,
            refused,
        });
    }
    out
}

/// The listeners of `gateway` that `route` attaches to, with its hosts on each. What
/// keeps a parentRef that names this Gateway from attaching goes to `notes`.
pub fn attachments(
    gateway: &Gateway,
    route: &HttpRoute,
    namespaces: &[Namespace],
    notes: &mut Vec<Note>,
) -> Vec<Attachment> {
    let object = format!("HTTPRoute {}/{}", route.metadata.namespace(), route.metadata.name);
    let mut out = Vec::new();
    for parent in parents(gateway, route, namespaces) {
        if let Some((_, why)) = &parent.refused {
            notes.push(Note {
                kind: NoteKind::NotAttached,
                object: object.clone(),
                field: format!("spec.parentRefs[{}]", parent.index),
                message: format!(
                    "not attached to Gateway {}/{}: {why}",
                    gateway.metadata.namespace(),
                    gateway.metadata.name,
                ),
            });
        }
        out.extend(parent.attached);
    }
    out
}

/// The hostnames of the other served listeners on `listener`'s port (`None`: no hostname);
/// a conflicted listener is not served.
fn port_hostnames<'a>(
    gateway: &'a Gateway,
    listener: &GatewayListener,
    conflicted: &[Option<Conflict>],
) -> Vec<Option<&'a str>> {
    gateway
        .spec
        .listeners
        .iter()
        .zip(conflicted)
        .filter(|(l, c)| l.port == listener.port && l.name != listener.name && served(l) && c.is_none())
        .map(|(l, _)| l.hostname.as_deref())
        .collect()
}

/// `allowedRoutes`: the namespaces (`Same`, the default, `All`, or those a label
/// `Selector` selects) and the kinds (HTTPRoute, the default) a listener takes routes from.
fn allowed_routes(
    listener: &GatewayListener,
    gw_namespace: &str,
    route_namespace: &str,
    namespaces: &[Namespace],
) -> Result<(), String> {
    let allowed = listener.allowed_routes.clone().unwrap_or_default();
    let from = allowed.namespaces.as_ref();
    match from.and_then(|n| n.from.as_deref()).unwrap_or("Same") {
        "All" => {}
        "Same" if route_namespace == gw_namespace => {}
        "Same" => {
            return Err(format!(
            "listener {} takes routes of namespace {gw_namespace} only (allowedRoutes.namespaces.from: Same)",
            listener.name
        ))
        }
        "Selector" => {
            let name = &listener.name;
            let Some(selector) = from.and_then(|n| n.selector.as_ref()) else {
                return Err(format!(
                    "listener {name}: allowedRoutes.namespaces.from is Selector without a selector; it takes no route"
                ));
            };
            let Some(labels) = namespaces::labels_of(namespaces, route_namespace) else {
                return Err(format!(
                    "listener {name} takes routes of the namespaces its allowedRoutes.namespaces.selector selects, \
                     and namespace {route_namespace} is not known (yet)"
                ));
            };
            match namespaces::selects(selector, &labels) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(format!(
                        "listener {name}: allowedRoutes.namespaces.selector does not select namespace {route_namespace}"
                    ))
                }
                Err(why) => {
                    return Err(format!(
                        "listener {name}: allowedRoutes.namespaces.selector.{why}; it takes no route"
                    ))
                }
            }
        }
        other => {
            return Err(format!(
                "listener {}: allowedRoutes.namespaces.from {other} is not one of Same, All, Selector",
                listener.name
            ))
        }
    }
    if !takes_http_routes(listener) {
        return Err(format!(
            "listener {}: allowedRoutes.kinds does not include HTTPRoute",
            listener.name
        ));
    }
    Ok(())
}

/// `allowedRoutes.kinds` unset, or naming HTTPRoute of the Gateway API's group.
pub fn takes_http_routes(listener: &GatewayListener) -> bool {
    let kinds = listener.allowed_routes.as_ref().and_then(|a| a.kinds.as_ref());
    kinds.is_none_or(|kinds| {
        kinds
            .iter()
            .any(|k| k.kind == "HTTPRoute" && k.group.as_deref().unwrap_or(GROUP) == GROUP)
    })
}
