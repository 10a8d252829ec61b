//! What the source follows, at which group and version (docs/kubernetes-source.md).

use kube::api::{ApiResource, GroupVersionKind};
use wasmesh_api::Kind;

/// A followed kind: which of ours, and where the API server serves it.
#[derive(Debug, Clone)]
pub struct Followed {
    pub kind: Kind,
    pub resource: ApiResource,
}

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// The kinds followed in every namespace (or in each `--namespace`). The security kinds are
/// read at `v1`: an API server serves the objects written as `v1beta1` there too, as
/// Istio's CRDs keep both versions in one storage. With `--gateway` the Proxy is made from
/// the Gateway API objects ([`GatewayKind`]) and the `Proxy` kind is not followed.
pub fn followed_with(gateway: bool) -> Vec<Followed> {
    let mut kinds = followed();
    if gateway {
        kinds.retain(|f| f.kind != Kind::Proxy);
    }
    kinds
}

/// The kinds followed without `--gateway`.
pub fn followed() -> Vec<Followed> {
    vec![
        Followed {
            kind: Kind::WasmPlugin,
            resource: resource("extensions.istio.io", "v1alpha1", "WasmPlugin", "wasmplugins"),
        },
        Followed {
            kind: Kind::RequestAuthentication,
            resource: resource(
                "security.istio.io",
                "v1",
                "RequestAuthentication",
                "requestauthentications",
            ),
        },
        Followed {
            kind: Kind::AuthorizationPolicy,
            resource: resource(
                "security.istio.io",
                "v1",
                "AuthorizationPolicy",
                "authorizationpolicies",
            ),
        },
        Followed {
            kind: Kind::Proxy,
            resource: resource("wasmesh.io", "v1alpha1", "Proxy", "proxies"),
        },
    ]
}

/// `v1 Secret`: followed one by one, for the pull secrets `WasmPlugin`s name.
pub fn secret() -> Followed {
    Followed {
        kind: Kind::Secret,
        resource: resource("", "v1", "Secret", "secrets"),
    }
}

/// `WasmPlugins`, `Proxies`: how messages name the objects of a kind.
pub fn plural(kind: Kind) -> &'static str {
    match kind {
        Kind::WasmPlugin => "WasmPlugins",
        Kind::Secret => "Secrets",
        Kind::RequestAuthentication => "RequestAuthentications",
        Kind::AuthorizationPolicy => "AuthorizationPolicies",
        Kind::Proxy => "Proxies",
    }
}

/// Where the API server serves `kind`.
pub fn resource_of(kind: Kind) -> ApiResource {
    if kind == Kind::Secret {
        return secret().resource;
    }
    followed()
        .into_iter()
        .find(|f| f.kind == kind)
        .map(|f| f.resource)
        .unwrap_or_else(|| secret().resource)
}

/// The kinds a `--gateway` proxy follows besides wasmesh's own, read as they are and
/// turned into its Proxy together (`wasmesh_api::gateway`, docs/gateway-api.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GatewayKind {
    GatewayClass,
    Gateway,
    HttpRoute,
    Service,
    EndpointSlice,
    ReferenceGrant,
    /// For their labels, which `allowedRoutes.namespaces.selector` matches.
    Namespace,
}

impl GatewayKind {
    pub const ALL: [GatewayKind; 7] = [
        GatewayKind::GatewayClass,
        GatewayKind::Gateway,
        GatewayKind::HttpRoute,
        GatewayKind::Service,
        GatewayKind::EndpointSlice,
        GatewayKind::ReferenceGrant,
        GatewayKind::Namespace,
    ];

    /// Where the API server serves it.
    pub fn resource(self) -> ApiResource {
        let gateway = wasmesh_api::gateway::types::GROUP;
        match self {
            GatewayKind::GatewayClass => resource(gateway, "v1", "GatewayClass", "gatewayclasses"),
            GatewayKind::Gateway => resource(gateway, "v1", "Gateway", "gateways"),
            GatewayKind::HttpRoute => resource(gateway, "v1", "HTTPRoute", "httproutes"),
            GatewayKind::Service => resource("", "v1", "Service", "services"),
            GatewayKind::EndpointSlice => {
                resource("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices")
            }
            GatewayKind::ReferenceGrant => resource(gateway, "v1beta1", "ReferenceGrant", "referencegrants"),
            GatewayKind::Namespace => resource("", "v1", "Namespace", "namespaces"),
        }
    }

    /// GatewayClasses and Namespaces are cluster-scoped: followed once, never per namespace.
    pub fn cluster_scoped(self) -> bool {
        matches!(self, GatewayKind::GatewayClass | GatewayKind::Namespace)
    }

    /// How messages name the objects of the kind.
    pub fn plural(self) -> &'static str {
        match self {
            GatewayKind::GatewayClass => "GatewayClasses",
            GatewayKind::Gateway => "Gateways",
            GatewayKind::HttpRoute => "HTTPRoutes",
            GatewayKind::Service => "Services",
            GatewayKind::EndpointSlice => "EndpointSlices",
            GatewayKind::ReferenceGrant => "ReferenceGrants",
            GatewayKind::Namespace => "Namespaces",
        }
    }
}
