//! The resources in force: one of each (kind, namespace, name), cheap to clone and share.

use crate::{
    authorization_policy::AuthorizationPolicy,
    meta::{Kind, ResourceKey},
    proxy::Proxy,
    request_authentication::RequestAuthentication,
    resource::Resource,
    secret::Secret,
    wasm_plugin::WasmPlugin,
};
use std::{collections::BTreeMap, sync::Arc};

/// A set of resources keyed by [`ResourceKey`]. Iteration is in key order, so anything
/// computed from it does not depend on the order the resources arrived in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resources {
    entries: BTreeMap<ResourceKey, Resource>,
}

macro_rules! kind_iter {
    ($name:ident, $kind:ident, $ty:ty) => {
        #[doc = concat!("Every `", stringify!($kind), "`, in (namespace, name) order.")]
        pub fn $name(&self) -> impl Iterator<Item = &Arc<$ty>> + '_ {
            self.entries.values().filter_map(|r| match r {
                Resource::$kind(x) => Some(x),
                _ => None,
            })
        }
    };
}

impl Resources {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a resource; returns the one it replaced.
    pub fn insert(&mut self, resource: Resource) -> Option<Resource> {
        self.entries.insert(resource.key(), resource)
    }

    /// Removes a resource; returns it.
    pub fn remove(&mut self, key: &ResourceKey) -> Option<Resource> {
        self.entries.remove(key)
    }

    pub fn get(&self, key: &ResourceKey) -> Option<&Resource> {
        self.entries.get(key)
    }

    pub fn contains(&self, key: &ResourceKey) -> bool {
        self.entries.contains_key(key)
    }

    /// Every resource, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&ResourceKey, &Resource)> + '_ {
        self.entries.iter()
    }

    /// Every key, in order.
    pub fn keys(&self) -> impl Iterator<Item = &ResourceKey> + '_ {
        self.entries.keys()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    kind_iter!(wasm_plugins, WasmPlugin, WasmPlugin);
    kind_iter!(secrets, Secret, Secret);
    kind_iter!(
        request_authentications,
        RequestAuthentication,
        RequestAuthentication
    );
    kind_iter!(authorization_policies, AuthorizationPolicy, AuthorizationPolicy);
    kind_iter!(proxies, Proxy, Proxy);

    /// The `Proxy` `namespace/name`.
    pub fn proxy(&self, namespace: &str, name: &str) -> Option<&Arc<Proxy>> {
        match self.get(&ResourceKey::new(Kind::Proxy, namespace, name)) {
            Some(Resource::Proxy(p)) => Some(p),
            _ => None,
        }
    }

    /// The `Secret` `namespace/name` (for a plugin's `imagePullSecret`, the plugin's
    /// namespace).
    pub fn secret(&self, namespace: &str, name: &str) -> Option<&Arc<Secret>> {
        match self.get(&ResourceKey::new(Kind::Secret, namespace, name)) {
            Some(Resource::Secret(s)) => Some(s),
            _ => None,
        }
    }

    /// The `WasmPlugin` `namespace/name`.
    pub fn wasm_plugin(&self, namespace: &str, name: &str) -> Option<&Arc<WasmPlugin>> {
        match self.get(&ResourceKey::new(Kind::WasmPlugin, namespace, name)) {
            Some(Resource::WasmPlugin(p)) => Some(p),
            _ => None,
        }
    }
}

impl FromIterator<Resource> for Resources {
    fn from_iter<I: IntoIterator<Item = Resource>>(iter: I) -> Self {
        let mut resources = Resources::new();
        for r in iter {
            resources.insert(r);
        }
        resources
    }
}
