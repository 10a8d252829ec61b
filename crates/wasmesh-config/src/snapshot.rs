//! What readers get: the resources in force at one generation, and what went wrong.

use crate::diagnostic::Diagnostic;
use std::collections::BTreeMap;
use wasmesh_api::{resolve, Origin, ResourceKey, Resources, WorkloadChains};

/// An immutable view of the configuration. A request keeps the snapshot it started with.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Grows with every change of `resources`.
    pub generation: u64,
    pub resources: Resources,
    /// Where each resource in force came from.
    pub origins: BTreeMap<ResourceKey, Origin>,
    /// Problems found by the last load; the resources above are what survived them.
    pub diagnostics: Vec<Diagnostic>,
}

impl Snapshot {
    /// The chains of the `Proxy` `namespace/name`, if it exists.
    pub fn resolve(&self, namespace: &str, name: &str, root_namespace: &str) -> Option<WorkloadChains> {
        let proxy = self.resources.proxy(namespace, name)?;
        Some(resolve(proxy, &self.resources, root_namespace))
    }
}
