//! The store: resources by (kind, namespace, name), changed only through events.

use crate::{diagnostic::Diagnostic, snapshot::Snapshot};
use std::{collections::BTreeMap, sync::Arc};
use wasmesh_api::{Document, Origin, ResourceKey, Resources};

/// A change from a source.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Add or replace a resource with this valid document.
    Apply(Document),
    /// Remove a resource.
    Delete(ResourceKey),
}

/// The resources in force, where each came from, and a generation that grows with every
/// change.
#[derive(Debug, Default)]
pub struct Store {
    resources: Resources,
    origins: BTreeMap<ResourceKey, Origin>,
    generation: u64,
}

impl Store {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one event; returns whether the resources changed (an `Apply` of an identical
    /// resource only updates where it came from). Every change bumps the generation.
    pub fn apply(&mut self, event: Event) -> bool {
        match event {
            Event::Apply(doc) => {
                let key = doc.resource.key();
                self.origins.insert(key.clone(), doc.origin);
                if self.resources.get(&key) == Some(&doc.resource) {
                    return false;
                }
                tracing::debug!(%key, "apply");
                self.resources.insert(doc.resource);
            }
            Event::Delete(key) => {
                self.origins.remove(&key);
                if self.resources.remove(&key).is_none() {
                    return false;
                }
                tracing::debug!(%key, "delete");
            }
        }
        self.generation += 1;
        true
    }

    pub fn resources(&self) -> &Resources {
        &self.resources
    }

    /// Where the resource in force came from.
    pub fn origin(&self, key: &ResourceKey) -> Option<&Origin> {
        self.origins.get(key)
    }

    /// Number of changes applied so far.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// An immutable view of the store, with the diagnostics of the last load.
    pub fn snapshot(&self, diagnostics: Vec<Diagnostic>) -> Arc<Snapshot> {
        Arc::new(Snapshot {
            generation: self.generation,
            resources: self.resources.clone(),
            origins: self.origins.clone(),
            diagnostics,
        })
    }
}
