//! Which listeners of the Gateway an HTTPRoute attaches to: its `parentRefs` (with
//! `sectionName` and `port`), each listener's `allowedRoutes`, and the hostnames they
//! share.

use super::hostnames::{intersect, isolate, HostKey};
use super::types::{Gateway, GatewayListener, HttpRoute, GROUP};
use super::{Note, NoteKind};

/// Where a route attached: one HTTP listener's port, of the Gateway, for these hosts.
#[derive(Debug)]
pub struct Attachment {
    pub port: u16,
    pub hosts: Vec<HostKey>,
}

/// Is `listener` served (HTTP, or HTTPS terminated)? The others are reported once, by the
/// caller.
pub fn served(listener: &GatewayListener) -> bool {
    super::tls::protocol_served(listener)
}

/// The listeners of `gateway` that `route` attaches to, with its hosts on each. What
/// keeps a parentRef that names this Gateway from attaching goes to `notes`.
pub fn attachments(gateway: &Gateway, route: &HttpRoute, notes: &mut Vec<Note>) -> Vec<Attachment> {
    let gw_namespace = gateway.metadata.namespace();
    let route_namespace = route.metadata.namespace();
    let object = format!("HTTPRoute {route_namespace}/{}", route.metadata.name);
    let mut out = Vec::new();
    for (p, parent) in route.spec.parent_refs.iter().enumerate() {
        let group = parent.group.as_deref().unwrap_or(GROUP);
        let kind = parent.kind.as_deref().unwrap_or("Gateway");
        let namespace = parent.namespace.as_deref().unwrap_or(route_namespace);
        if group != GROUP
            || kind != "Gateway"
            || namespace != gw_namespace
            || parent.name != gateway.metadata.name
        {
            continue;
        }
        let field = format!("spec.parentRefs[{p}]");
        let mut why_not = Vec::new();
        let mut attached = false;
        for listener in &gateway.spec.listeners {
            if parent.section_name.as_ref().is_some_and(|s| *s != listener.name) {
                continue;
            }
            if parent.port.is_some_and(|port| port != listener.port) {
                continue;
            }
            if !served(listener) {
                why_not.push(format!(
                    "listener {} is {}, which wasmesh does not serve yet",
                    listener.name, listener.protocol
                ));
                continue;
            }
            if let Err(why) = allowed(listener, gw_namespace, route_namespace) {
                why_not.push(why);
                continue;
            }
            match intersect(&route.spec.hostnames, listener.hostname.as_deref()) {
                Some(hosts) => {
                    attached = true;
                    out.push(Attachment {
                        port: listener.port,
                        hosts: isolate(
                            hosts,
                            listener.hostname.as_deref(),
                            &port_hostnames(gateway, listener),
                        ),
                    });
                }
                None => why_not.push(format!(
                    "no hostname of the route falls within listener {}'s hostname {}",
                    listener.name,
                    listener.hostname.as_deref().unwrap_or_default()
                )),
            }
        }
        if !attached {
            if why_not.is_empty() {
                why_not.push(match (&parent.section_name, parent.port) {
                    (Some(s), Some(port)) => format!("the Gateway has no listener {s} on port {port}"),
                    (Some(s), None) => format!("the Gateway has no listener {s}"),
                    (None, Some(port)) => format!("the Gateway has no listener on port {port}"),
                    (None, None) => "the Gateway has no listener".to_string(),
                });
            }
            notes.push(Note {
                kind: NoteKind::NotAttached,
                object: object.clone(),
                field,
                message: format!(
                    "not attached to Gateway {gw_namespace}/{}: {}",
                    gateway.metadata.name,
                    why_not.join("; ")
                ),
            });
        }
    }
    out
}

/// The hostnames of the other served listeners on `listener`'s port (`None`: no hostname).
fn port_hostnames<'a>(gateway: &'a Gateway, listener: &GatewayListener) -> Vec<Option<&'a str>> {
    gateway
        .spec
        .listeners
        .iter()
        .filter(|l| l.port == listener.port && l.name != listener.name && served(l))
        .map(|l| l.hostname.as_deref())
        .collect()
}

/// `allowedRoutes`: the namespaces (`Same`, the default, or `All`; `Selector` is not
/// implemented) and the kinds (HTTPRoute, the default) a listener takes routes from.
fn allowed(listener: &GatewayListener, gw_namespace: &str, route_namespace: &str) -> Result<(), String> {
    let allowed = listener.allowed_routes.clone().unwrap_or_default();
    let from = allowed
        .namespaces
        .as_ref()
        .and_then(|n| n.from.as_deref())
        .unwrap_or("Same");
    match from {
        "All" => {}
        "Same" if route_namespace == gw_namespace => {}
        "Same" => {
            return Err(format!(
            "listener {} takes routes of namespace {gw_namespace} only (allowedRoutes.namespaces.from: Same)",
            listener.name
        ))
        }
        other => {
            return Err(format!(
            "listener {}: allowedRoutes.namespaces.from {other} is not implemented yet (Same and All are)",
            listener.name
        ))
        }
    }
    if let Some(kinds) = &allowed.kinds {
        let http = kinds
            .iter()
            .any(|k| k.kind == "HTTPRoute" && k.group.as_deref().unwrap_or(GROUP) == GROUP);
        if !http {
            return Err(format!(
                "listener {}: allowedRoutes.kinds does not include HTTPRoute",
                listener.name
            ));
        }
    }
    Ok(())
}
