//! From a request path to what it names: a discovery document, or a resource (a
//! collection, an object, or an object's `status`), namespaced or not.

use super::kinds::{Registry, ResourceKind};
use super::store::Part;

/// What a path names.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    Version,
    /// `/api`
    CoreVersions,
    /// `/apis`
    Groups,
    /// `/apis/<group>`
    Group(String),
    /// `/api/<version>` (group `""`) or `/apis/<group>/<version>`
    Resources {
        group: String,
        version: String,
    },
    /// `/healthz`, `/readyz`, `/livez`
    Health,
    /// `/openapi/v3`: the index of OpenAPI v3 documents
    OpenApiV3,
    /// `/openapi/v2`: the OpenAPI v2 document
    OpenApiV2,
    Resource(Box<Target>),
    NotFound,
}

/// A resource path.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub kind: ResourceKind,
    /// The version the path asks for (objects are answered at it).
    pub version: String,
    /// `None`: cluster-scoped, or every namespace.
    pub namespace: Option<String>,
    /// `None`: the collection.
    pub name: Option<String>,
    pub part: Part,
}

impl Target {
    /// The namespace key of the store: `""` for cluster-scoped kinds.
    pub fn namespace_key(&self) -> &str {
        self.namespace.as_deref().unwrap_or_default()
    }
}

/// Reads `path` (without the query) against the served resources.
pub fn route(registry: &Registry, path: &str) -> Route {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let (group, version, rest) = match segments.as_slice() {
        ["version"] => return Route::Version,
        ["healthz" | "readyz" | "livez", ..] => return Route::Health,
        ["api"] => return Route::CoreVersions,
        ["openapi", "v3"] => return Route::OpenApiV3,
        ["openapi", "v2"] => return Route::OpenApiV2,
        ["apis"] => return Route::Groups,
        ["apis", group] => return Route::Group(group.to_string()),
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Route::NotFound,
    };
    if rest.is_empty() {
        return Route::Resources {
            group: group.to_string(),
            version: version.to_string(),
        };
    }
    let namespaced = |plural: &str| registry.find(group, version, plural).filter(|k| k.namespaced);
    let (namespace, rest) = match rest {
        ["namespaces", ns, plural, more @ ..] if namespaced(plural).is_some() => {
            (Some(ns.to_string()), (*plural, more))
        }
        [plural, more @ ..] => (None, (*plural, more)),
        [] => return Route::NotFound,
    };
    let (plural, more) = rest;
    let Some(kind) = registry.find(group, version, plural) else {
        return Route::NotFound;
    };
    // a namespaced object needs its namespace; a cluster-scoped one has none
    if namespace.is_some() != kind.namespaced && !(kind.namespaced && more.is_empty()) {
        return Route::NotFound;
    }
    let (name, part) = match more {
        [] => (None, Part::Main),
        [name] => (Some(name.to_string()), Part::Main),
        [name, "status"] if kind.status_subresource => (Some(name.to_string()), Part::Status),
        _ => return Route::NotFound,
    };
    Route::Resource(Box::new(Target {
        kind: kind.clone(),
        version: version.to_string(),
        namespace,
        name,
        part,
    }))
}
