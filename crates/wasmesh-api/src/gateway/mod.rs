//! The Gateway API as a `Proxy` (docs/gateway-api.md): a GatewayClass whose
//! `controllerName` is wasmesh's, the one Gateway a gateway process serves
//! (`--gateway NS/NAME`), the HTTPRoutes attached to it, and the Services and
//! EndpointSlices their backends resolve through become the listeners, routes and
//! clusters of the `Proxy` that the rest of wasmesh serves. Pure: the objects come in,
//! a Proxy and notes come out.
//!
//! - `types`: the kinds read, as serde types named after the specification.
//! - `attach`: which listeners a route attaches to (parentRefs, allowedRoutes, hostnames).
//! - `namespaces`: `allowedRoutes.namespaces.selector` against a route's Namespace labels.
//! - `hostnames`: hostname intersection and precedence.
//! - `rules`: rules and matches as routes, with the specification's match precedence.
//! - `filters`: a rule's and a backendRef's filters as route edits, rewrites, redirects.
//! - `backends`: backendRefs to Services, resolved through EndpointSlices.
//! - `conflicts`: listeners that conflict on a port, which are left out.
//! - `tls`: HTTPS listeners' certificateRefs, resolved to `kubernetes.io/tls` Secrets.
//! - `grants`: ReferenceGrants, which let a reference cross namespaces.
//! - `status`: the status written back on the GatewayClass, the Gateway and its routes,
//!   from the same attachment and resolution as the Proxy.
//!
//! What the Proxy cannot express, or wasmesh does not implement yet, is a [`Note`] of kind
//! [`NoteKind::Unimplemented`]; nothing is dropped without one.

mod attach;
mod backends;
mod conflicts;
mod filters;
pub mod grants;
mod hostnames;
pub mod namespaces;
mod rules;
pub mod status;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_filters;
#[cfg(test)]
mod tests_tls;
pub mod tls;
pub mod types;

pub use backends::cluster_name;
pub use grants::reference_granted;
pub use types::{EndpointSlice, Gateway, GatewayClass, HttpRoute, Namespace, ReferenceGrant, Service};

use crate::meta::{NamespacedName, ObjectMeta};
use crate::proxy::{
    DirectResponse, Listener, ListenerHttp, ListenerProtocol, ListenerTls, Proxy, ProxySpec, Route,
    RouteMatch, TlsCertificate, TrafficDirection,
};
use crate::selector::{GATEWAY_CLASS_LABEL, GATEWAY_NAME_LABEL};
use hostnames::HostKey;
use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// The `controllerName` of the GatewayClasses wasmesh serves.
pub const CONTROLLER_NAME: &str = "wasmesh.io/gateway-controller";

/// The objects the translation reads, as the API server has them now.
#[derive(Debug, Clone, Default)]
pub struct Objects {
    pub classes: Vec<GatewayClass>,
    pub gateways: Vec<Gateway>,
    pub routes: Vec<HttpRoute>,
    pub services: Vec<Service>,
    pub slices: Vec<EndpointSlice>,
    /// The Secrets HTTPS listeners name (`tls::wanted_secrets`), as followed.
    pub secrets: tls::Secrets,
    pub grants: Vec<ReferenceGrant>,
    /// The Namespaces, for their labels (`allowedRoutes.namespaces.from: Selector`).
    pub namespaces: Vec<Namespace>,
}

/// What to make: the Proxy of `workload` (in the Gateway's namespace) from the Gateway
/// `gateway`, its listeners bound on `address`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub gateway: NamespacedName,
    /// The name of the Proxy made (`--workload`'s name).
    pub workload: String,
    /// The IP every listener binds (`--gateway-address`).
    pub address: IpAddr,
}

/// Why there is no Proxy yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Waiting {
    /// The Gateway `--gateway` names does not exist.
    #[error("Gateway {0} not found")]
    NoGateway(NamespacedName),
    /// Its GatewayClass does not exist.
    #[error("Gateway {gateway}: GatewayClass {class} not found")]
    NoClass { gateway: NamespacedName, class: String },
    /// Its GatewayClass belongs to another controller.
    #[error(
        "Gateway {gateway}: GatewayClass {class} has controllerName {controller}, not {CONTROLLER_NAME}"
    )]
    OtherController {
        gateway: NamespacedName,
        class: String,
        controller: String,
    },
}

/// The kind of a [`Note`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKind {
    /// A feature wasmesh does not implement yet; the note says what happens instead.
    Unimplemented,
    /// A backendRef that does not resolve; its rule answers 500.
    Unresolved,
    /// A value the specification does not allow.
    Invalid,
    /// A parentRef naming this Gateway that could not attach.
    NotAttached,
    /// A listener's `tls.certificateRefs[]` that does not resolve to a valid
    /// `kubernetes.io/tls` Secret (the listener's `ResolvedRefs=False` reason
    /// `InvalidCertificateRef`); a listener left with none is not served.
    InvalidCertificateRef,
    /// A reference to another namespace that no ReferenceGrant allows (`ResolvedRefs=False`
    /// reason `RefNotPermitted`).
    RefNotPermitted,
}

/// Something the translation could not do as written, with the object and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub kind: NoteKind,
    /// `HTTPRoute web/echo`, `Gateway edge/public`.
    pub object: String,
    /// The field path within the object.
    pub field: String,
    pub message: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.object, self.field, self.message)
    }
}

/// The Proxy made, or why there is none, and the notes.
#[derive(Debug, Clone, PartialEq)]
pub struct Translation {
    pub proxy: Result<Proxy, Waiting>,
    pub notes: Vec<Note>,
}

/// One port's Proxy listener, as the Gateway's listeners on it make it.
struct Port {
    /// The first Gateway listener's name.
    name: String,
    /// The listeners' hostnames.
    hosts: Vec<HostKey>,
    /// HTTPS: the certificates, of every listener on the port.
    certificates: Option<Vec<TlsCertificate>>,
}

/// Makes the Proxy of `target` from `objects`.
pub fn translate(objects: &Objects, target: &Target) -> Translation {
    let mut notes = Vec::new();
    let proxy = proxy(objects, target, &mut notes);
    Translation { proxy, notes }
}

/// The Gateway `target` names and its class, when the class is wasmesh's.
pub fn served<'a>(objects: &'a Objects, target: &Target) -> Result<(&'a Gateway, &'a GatewayClass), Waiting> {
    let wanted = &target.gateway;
    let gateway = objects
        .gateways
        .iter()
        .find(|g| g.metadata.namespace() == wanted.namespace && g.metadata.name == wanted.name)
        .ok_or_else(|| Waiting::NoGateway(wanted.clone()))?;
    let class_name = &gateway.spec.gateway_class_name;
    let class = objects
        .classes
        .iter()
        .find(|c| c.metadata.name == *class_name)
        .ok_or_else(|| Waiting::NoClass {
            gateway: wanted.clone(),
            class: class_name.clone(),
        })?;
    if class.spec.controller_name != CONTROLLER_NAME {
        return Err(Waiting::OtherController {
            gateway: wanted.clone(),
            class: class_name.clone(),
            controller: class.spec.controller_name.clone(),
        });
    }
    Ok((gateway, class))
}

fn proxy(objects: &Objects, target: &Target, notes: &mut Vec<Note>) -> Result<Proxy, Waiting> {
    let wanted = &target.gateway;
    let (gateway, class) = served(objects, target)?;
    let class_name = &gateway.spec.gateway_class_name;
    if class.spec.parameters_ref.is_some() {
        notes.push(Note {
            kind: NoteKind::Unimplemented,
            object: format!("GatewayClass {class_name}"),
            field: "spec.parametersRef".into(),
            message: "wasmesh takes no parameters yet; the reference is not read".into(),
        });
    }
    let gw_object = format!("Gateway {wanted}");
    let mut listener_notes = Vec::new();
    let mut unimplemented = |field: &str, message: String| {
        notes.push(Note {
            kind: NoteKind::Unimplemented,
            object: gw_object.clone(),
            field: field.to_string(),
            message,
        })
    };
    if !gateway.spec.addresses.is_empty() {
        unimplemented(
            "spec.addresses",
            format!(
                "not implemented yet; the listeners bind {} (--gateway-address)",
                target.address
            ),
        );
    }
    if gateway.spec.infrastructure.is_some() {
        unimplemented("spec.infrastructure", "not implemented yet; not read".into());
    }
    // the Proxy listener of each port: named after the first Gateway listener on it
    let mut ports: BTreeMap<u16, Port> = BTreeMap::new();
    let conflicted = conflicts::conflicts(&gateway.spec.listeners);
    for (i, l) in gateway.spec.listeners.iter().enumerate() {
        if !tls::protocol_served(l) {
            let why = match l.protocol.as_str() {
                "HTTPS" => format!(
                    "listener {} is HTTPS with tls.mode {}: only Terminate is served yet; it is left out",
                    l.name,
                    tls::mode(l)
                ),
                _ => format!(
                    "listener {} has protocol {}: only HTTP and HTTPS listeners are served yet (TLS, TCP and UDP are not); it is left out",
                    l.name, l.protocol
                ),
            };
            unimplemented(&format!("spec.listeners[{i}]"), why);
            continue;
        }
        if let Some(conflict) = &conflicted[i] {
            listener_notes.push(Note {
                kind: NoteKind::Invalid,
                object: gw_object.clone(),
                field: format!("spec.listeners[{i}]"),
                message: format!(
                    "listener {} conflicts ({}: {}); it is left out",
                    l.name, conflict.reason, conflict.message
                ),
            });
            continue;
        }
        let certificates = match l.protocol.as_str() {
            "HTTPS" => {
                let found = tls::certificates(
                    &gw_object,
                    &wanted.namespace,
                    i,
                    l,
                    &objects.secrets,
                    &objects.grants,
                    &mut listener_notes,
                );
                if found.is_empty() {
                    continue;
                }
                Some(found)
            }
            _ => None,
        };
        let port = ports.entry(l.port).or_insert_with(|| Port {
            name: l.name.clone(),
            hosts: Vec::new(),
            certificates: certificates.as_ref().map(|_| Vec::new()),
        });
        if let (Some(all), Some(found)) = (&mut port.certificates, certificates) {
            all.extend(found);
        }
        if let Some(h) = &l.hostname {
            port.hosts.push(HostKey::new(h));
        }
    }
    notes.append(&mut listener_notes);

    // routes, oldest first, then by namespace/name (the order the precedence ends with)
    let mut routes: Vec<&HttpRoute> = objects.routes.iter().collect();
    routes.sort_by(|a, b| {
        (
            &a.metadata.creation_timestamp,
            a.metadata.namespace(),
            &a.metadata.name,
        )
            .cmp(&(
                &b.metadata.creation_timestamp,
                b.metadata.namespace(),
                &b.metadata.name,
            ))
    });
    let mut clusters = BTreeMap::new();
    // per port, per host: the routes
    let mut tables: BTreeMap<u16, BTreeMap<HostKey, Vec<rules::Entry>>> = BTreeMap::new();
    for route in routes {
        let attached = attach::attachments(gateway, route, &objects.namespaces, notes);
        if attached.is_empty() {
            continue;
        }
        let mut per_rule = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (i, rule) in route.spec.rules.iter().enumerate() {
            let action = rules::action(route, i, rule, objects, notes);
            for cluster in action.clusters() {
                clusters.insert(cluster.name.clone(), cluster.clone());
            }
            per_rule.push(rules::entries(route, i, rule, &action, notes));
        }
        for attachment in attached {
            let table = tables.entry(attachment.port).or_default();
            for host in &attachment.hosts {
                // two listeners of one port may take the route for the same host
                if !seen.insert((attachment.port, host.clone())) {
                    continue;
                }
                let group = table.entry(host.clone()).or_default();
                for entries in &per_rule {
                    for e in entries {
                        let mut e = e.clone();
                        e.route.r#match.hosts = host.hosts();
                        group.push(e);
                    }
                }
            }
        }
    }

    let mut listeners = Vec::new();
    for (
        port,
        Port {
            name,
            hosts: listener_hosts,
            certificates,
        },
    ) in ports
    {
        let mut table = tables.remove(&port).unwrap_or_default();
        // a listener's hostname is a host of its own even without routes: a request for
        // it never reaches the routes of a less specific listener (listener isolation)
        for h in listener_hosts {
            table.entry(h).or_default();
        }
        let mut routes: Vec<Route> = Vec::new();
        let mut hosts: Vec<(HostKey, Vec<rules::Entry>)> = table.into_iter().collect();
        hosts.sort_by(|a, b| a.0.cmp(&b.0));
        for (host, mut entries) in hosts {
            entries.sort_by(|a, b| a.precedence.cmp(&b.precedence));
            routes.extend(entries.into_iter().map(|e| e.route));
            if host != HostKey::Any {
                // the host's own routes are the only ones it gets: the rest is 404
                routes.push(Route {
                    name: Some(format!("no-route/{}", host.hosts().join(","))),
                    r#match: RouteMatch {
                        hosts: host.hosts(),
                        prefix: Some("/".into()),
                        ..RouteMatch::default()
                    },
                    direct_response: Some(DirectResponse { status: 404 }),
                    ..Route::default()
                });
            }
        }
        listeners.push(Listener {
            name,
            address: SocketAddr::new(target.address, port),
            protocol: ListenerProtocol::Http,
            traffic_direction: TrafficDirection::Server,
            tls: certificates.map(|certificates| ListenerTls {
                certificates,
                ..ListenerTls::default()
            }),
            http: ListenerHttp::default(),
            routes,
            cluster: None,
        });
    }

    let mut labels = BTreeMap::new();
    labels.insert(GATEWAY_NAME_LABEL.to_string(), wanted.name.clone());
    labels.insert(GATEWAY_CLASS_LABEL.to_string(), class_name.clone());
    Ok(Proxy {
        api_version: "wasmesh.io/v1alpha1".into(),
        kind: "Proxy".into(),
        metadata: ObjectMeta {
            name: target.workload.clone(),
            namespace: Some(wanted.namespace.clone()),
            labels,
            // the Gateway's: a gateway says which generation it runs (its `Programmed`)
            generation: gateway.metadata.generation,
            ..ObjectMeta::default()
        },
        spec: ProxySpec {
            listeners,
            clusters: clusters.into_values().collect(),
        },
        status: None,
    })
}
