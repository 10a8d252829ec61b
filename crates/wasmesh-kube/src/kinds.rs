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
/// Istio's CRDs keep both versions in one storage.
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
