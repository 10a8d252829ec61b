//! `backendRefs` to Services (in another namespace when a ReferenceGrant there allows it),
//! resolved to endpoints through EndpointSlices: the ready
//! endpoints of the slices labelled with the Service's name, at the slice port named as
//! the Service port is. A reference that does not resolve says why; the rule then
//! answers 500, as the Gateway API specifies.

use super::grants::{self, reference_granted};
use super::types::{HttpBackendRef, SERVICE_NAME_LABEL};
use super::Objects;
use crate::proxy::{Cluster, ClusterProtocol};
use std::collections::BTreeSet;

/// Why a backendRef does not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unresolved {
    /// A kind other than a core `Service` (the specification's `InvalidKind`).
    #[error("{group}/{kind} {name}: only Services (group \"\", kind Service) are backends")]
    InvalidKind {
        group: String,
        kind: String,
        name: String,
    },
    /// Another namespace, and no ReferenceGrant there allows it (the specification's
    /// `RefNotPermitted`).
    #[error(
        "Service {namespace}/{name} is in another namespace than the route, and no \
         ReferenceGrant in namespace {namespace} allows HTTPRoutes of namespace {from} to refer to it"
    )]
    OtherNamespace {
        namespace: String,
        name: String,
        from: String,
    },
    /// A Service reference without `port`.
    #[error("Service {namespace}/{name}: port is required for a Service backend")]
    NoPort { namespace: String, name: String },
    /// No such Service (the specification's `BackendNotFound`).
    #[error("Service {namespace}/{name} not found")]
    NoService { namespace: String, name: String },
    /// The Service has no such port.
    #[error("Service {namespace}/{name} has no port {port}")]
    NoServicePort {
        namespace: String,
        name: String,
        port: u16,
    },
}

impl Unresolved {
    /// The reason of the route's `ResolvedRefs=False`, as the Gateway API names it.
    pub fn reason(&self) -> &'static str {
        match self {
            Unresolved::InvalidKind { .. } => "InvalidKind",
            Unresolved::OtherNamespace { .. } => "RefNotPermitted",
            Unresolved::NoPort { .. } | Unresolved::NoService { .. } | Unresolved::NoServicePort { .. } => {
                "BackendNotFound"
            }
        }
    }
}

/// The cluster a backendRef resolves to. Its endpoints may be empty (no ready endpoint:
/// the proxy answers 503, as Envoy does without a healthy upstream).
pub fn resolve(
    backend: &HttpBackendRef,
    route_namespace: &str,
    objects: &Objects,
) -> Result<Cluster, Unresolved> {
    let (services, slices) = (&objects.services, &objects.slices);
    let group = backend.group.as_deref().unwrap_or("");
    let kind = backend.kind.as_deref().unwrap_or("Service");
    if !group.is_empty() || kind != "Service" {
        return Err(Unresolved::InvalidKind {
            group: group.to_string(),
            kind: kind.to_string(),
            name: backend.name.clone(),
        });
    }
    let namespace = backend.namespace.as_deref().unwrap_or(route_namespace);
    let name = backend.name.clone();
    let granted = reference_granted(
        &objects.grants,
        grants::HTTP_ROUTE,
        route_namespace,
        grants::SERVICE,
        namespace,
        &name,
    );
    if !granted {
        return Err(Unresolved::OtherNamespace {
            namespace: namespace.to_string(),
            name,
            from: route_namespace.to_string(),
        });
    }
    let Some(port) = backend.port else {
        return Err(Unresolved::NoPort {
            namespace: namespace.to_string(),
            name,
        });
    };
    let Some(service) = services
        .iter()
        .find(|s| s.metadata.namespace() == namespace && s.metadata.name == name)
    else {
        return Err(Unresolved::NoService {
            namespace: namespace.to_string(),
            name,
        });
    };
    let Some(service_port) = service.spec.ports.iter().find(|p| p.port == port) else {
        return Err(Unresolved::NoServicePort {
            namespace: namespace.to_string(),
            name,
            port,
        });
    };
    let port_name = service_port.name.as_deref().unwrap_or("");
    let mut endpoints = BTreeSet::new();
    for slice in slices.iter().filter(|s| {
        s.metadata.namespace() == namespace && s.metadata.labels.get(SERVICE_NAME_LABEL) == Some(&name)
    }) {
        let ipv6 = match slice.address_type.as_str() {
            "IPv4" => false,
            "IPv6" => true,
            // FQDN slices are deprecated and no Service controller writes them
            _ => continue,
        };
        let Some(target) = slice
            .ports
            .iter()
            .find(|p| p.name.as_deref().unwrap_or("") == port_name)
            .and_then(|p| p.port)
        else {
            continue;
        };
        for endpoint in &slice.endpoints {
            if endpoint.conditions.ready == Some(false) {
                continue;
            }
            // the addresses of one endpoint are fungible; the first is the one to use
            if let Some(address) = endpoint.addresses.first() {
                endpoints.insert(if ipv6 {
                    format!("[{address}]:{target}")
                } else {
                    format!("{address}:{target}")
                });
            }
        }
    }
    let protocol = match service_port.app_protocol.as_deref() {
        Some("kubernetes.io/h2c") => ClusterProtocol::Http2,
        _ => ClusterProtocol::Http1,
    };
    Ok(Cluster {
        name: cluster_name(namespace, &name, port),
        endpoints: endpoints.into_iter().collect(),
        protocol,
        connect_timeout: None,
    })
}

/// `web/echo:8080`: one cluster per Service port.
pub fn cluster_name(namespace: &str, service: &str, port: u16) -> String {
    format!("{namespace}/{service}:{port}")
}
