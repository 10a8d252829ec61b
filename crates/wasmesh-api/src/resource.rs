//! A parsed, validated document: one resource of any kind, with its origin.

use crate::{
    authorization_policy::AuthorizationPolicy,
    error::Origin,
    meta::{Kind, ObjectMeta, ResourceKey},
    proxy::Proxy,
    request_authentication::RequestAuthentication,
    secret::Secret,
    wasm_plugin::WasmPlugin,
};
use serde::{Serialize, Serializer};
use std::{ops::Range, sync::Arc};

/// One resource of any kind wasmesh understands. Cheap to clone: snapshots share them.
#[derive(Debug, Clone, PartialEq)]
pub enum Resource {
    WasmPlugin(Arc<WasmPlugin>),
    Secret(Arc<Secret>),
    RequestAuthentication(Arc<RequestAuthentication>),
    AuthorizationPolicy(Arc<AuthorizationPolicy>),
    Proxy(Arc<Proxy>),
}

/// Serializes as the resource itself (a Kubernetes-style document).
impl Serialize for Resource {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Resource::WasmPlugin(r) => r.serialize(serializer),
            Resource::Secret(r) => r.serialize(serializer),
            Resource::RequestAuthentication(r) => r.serialize(serializer),
            Resource::AuthorizationPolicy(r) => r.serialize(serializer),
            Resource::Proxy(r) => r.serialize(serializer),
        }
    }
}

impl Resource {
    pub fn kind(&self) -> Kind {
        match self {
            Resource::WasmPlugin(_) => Kind::WasmPlugin,
            Resource::Secret(_) => Kind::Secret,
            Resource::RequestAuthentication(_) => Kind::RequestAuthentication,
            Resource::AuthorizationPolicy(_) => Kind::AuthorizationPolicy,
            Resource::Proxy(_) => Kind::Proxy,
        }
    }

    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Resource::WasmPlugin(r) => &r.metadata,
            Resource::Secret(r) => &r.metadata,
            Resource::RequestAuthentication(r) => &r.metadata,
            Resource::AuthorizationPolicy(r) => &r.metadata,
            Resource::Proxy(r) => &r.metadata,
        }
    }

    /// Kind, namespace (defaulted) and name.
    pub fn key(&self) -> ResourceKey {
        let meta = self.metadata();
        ResourceKey::new(self.kind(), meta.namespace(), &meta.name)
    }
}

/// A valid document.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub origin: Origin,
    /// Byte range of the document in the file's text (with its `---` line), so tools can
    /// replace or remove it while keeping the rest of the file as written.
    pub span: Range<usize>,
    pub resource: Resource,
}
