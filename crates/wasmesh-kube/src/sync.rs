//! The watchers' events into one store. Each stream (a kind, or one pull Secret) keeps its
//! objects as parsed; a list (the first, or one after `410 Gone`) is gathered aside and
//! swapped in whole at its end. A snapshot is made only when every stream has listed, so
//! the data plane never sees a partial state: not at start, not during a relist.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kube::api::DynamicObject;
use kube::runtime::watcher::Event;
use wasmesh_api::{Kind, Parsed, Resource, ResourceKey};
use wasmesh_config::{Diagnostic, Snapshot, Store};

/// What one watcher follows.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StreamId {
    /// A kind, in one namespace or (`None`) in all.
    Kind { kind: Kind, namespace: Option<String> },
    /// One pull Secret, by name.
    Secret { namespace: String, name: String },
}

impl StreamId {
    pub fn kind(&self) -> Kind {
        match self {
            StreamId::Kind { kind, .. } => *kind,
            StreamId::Secret { .. } => Kind::Secret,
        }
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StreamId::Kind {
                kind,
                namespace: None,
            } => write!(f, "{} in all namespaces", crate::kinds::plural(*kind)),
            StreamId::Kind {
                kind,
                namespace: Some(ns),
            } => write!(f, "{} in namespace {ns}", crate::kinds::plural(*kind)),
            StreamId::Secret { namespace, name } => write!(f, "Secret {namespace}/{name}"),
        }
    }
}

/// An object's place in its stream: namespace and name.
type ObjectKey = (String, String);

#[derive(Default)]
struct Stream {
    objects: BTreeMap<ObjectKey, Parsed>,
    /// A list under way: its objects so far.
    listing: Option<BTreeMap<ObjectKey, Parsed>>,
    /// A list has ended once.
    listed: bool,
}

/// Every stream's objects, and the store the snapshots are made from.
#[derive(Default)]
pub struct Sync {
    streams: BTreeMap<StreamId, Stream>,
    store: Store,
    /// Something changed since the last snapshot.
    dirty: bool,
    last: Option<Arc<Snapshot>>,
}

fn key_of(object: &DynamicObject) -> ObjectKey {
    (
        object.metadata.namespace.clone().unwrap_or_default(),
        object.metadata.name.clone().unwrap_or_default(),
    )
}

impl Sync {
    pub fn new() -> Self {
        Self::default()
    }

    /// Follows one more stream; no snapshot until it has listed.
    pub fn add(&mut self, stream: StreamId) {
        self.streams.entry(stream).or_default();
    }

    /// Stops following a stream: its objects leave the store at the next snapshot.
    pub fn remove(&mut self, stream: &StreamId) {
        if self.streams.remove(stream).is_some() {
            self.dirty = true;
        }
    }

    pub fn streams(&self) -> impl Iterator<Item = &StreamId> + '_ {
        self.streams.keys()
    }

    /// One event of `stream`'s watcher.
    pub fn apply(&mut self, stream: &StreamId, event: Event<DynamicObject>) {
        let Some(state) = self.streams.get_mut(stream) else {
            return;
        };
        let resource = crate::kinds::resource_of(stream.kind());
        match event {
            Event::Init => state.listing = Some(BTreeMap::new()),
            Event::InitApply(object) => {
                let parsed = crate::object::parse(&resource, &object);
                state
                    .listing
                    .get_or_insert_with(BTreeMap::new)
                    .insert(key_of(&object), parsed);
            }
            Event::InitDone => {
                state.objects = state.listing.take().unwrap_or_default();
                state.listed = true;
                self.dirty = true;
            }
            Event::Apply(object) => {
                let parsed = crate::object::parse(&resource, &object);
                state.objects.insert(key_of(&object), parsed);
                self.dirty = true;
            }
            Event::Delete(object) => {
                state.objects.remove(&key_of(&object));
                self.dirty = true;
            }
        }
    }

    /// The streams whose list is not in yet (the first, or one after `410 Gone`).
    pub fn pending(&self) -> Vec<String> {
        self.streams
            .iter()
            .filter(|(_, s)| !s.listed || s.listing.is_some())
            .map(|(id, _)| format!("the list of {id}"))
            .collect()
    }

    /// The pull Secrets the valid `WasmPlugin`s name, as (namespace, name).
    pub fn wanted_secrets(&self) -> BTreeSet<(String, String)> {
        let mut wanted = BTreeSet::new();
        for (id, stream) in &self.streams {
            if id.kind() != Kind::WasmPlugin {
                continue;
            }
            for doc in stream.objects.values().flatten() {
                if let Resource::WasmPlugin(plugin) = &doc.resource {
                    if let Some(secret) = &plugin.spec.image_pull_secret {
                        let namespace = plugin.metadata.namespace().to_string();
                        wanted.insert((namespace, secret.clone()));
                    }
                }
            }
        }
        wanted
    }

    /// A new snapshot when every stream has listed and something changed since the last
    /// one (the first is made even when empty). A resource whose object is now invalid
    /// keeps its last good version, as in the config directory.
    pub fn snapshot(&mut self) -> Option<Arc<Snapshot>> {
        if !self.dirty || !self.pending().is_empty() {
            return None;
        }
        self.dirty = false;
        let mut documents = Vec::new();
        let mut errors = Vec::new();
        for stream in self.streams.values() {
            for parsed in stream.objects.values() {
                match parsed {
                    Ok(doc) => documents.push(doc.clone()),
                    Err(error) => errors.push((**error).clone()),
                }
            }
        }
        let present: BTreeSet<ResourceKey> = documents.iter().map(|d| d.resource.key()).collect();
        let failed: BTreeSet<ResourceKey> = errors.iter().filter_map(|e| e.key.clone()).collect();
        let gone: Vec<ResourceKey> = self
            .store
            .resources()
            .keys()
            .filter(|k| !present.contains(*k) && !failed.contains(*k))
            .cloned()
            .collect();
        for key in gone {
            self.store.apply(wasmesh_config::Event::Delete(key));
        }
        for doc in documents {
            self.store.apply(wasmesh_config::Event::Apply(doc));
        }
        let diagnostics: Vec<Diagnostic> = errors
            .into_iter()
            .map(|error| {
                let kept = error.key.clone().filter(|k| self.store.resources().contains(k));
                Diagnostic::Invalid { error, kept }
            })
            .collect();
        if let Some(last) = &self.last {
            if last.generation == self.store.generation() && last.diagnostics == diagnostics {
                return None;
            }
        }
        for d in &diagnostics {
            let known = self.last.as_ref().is_some_and(|l| l.diagnostics.contains(d));
            if !known {
                tracing::warn!("{d}");
            }
        }
        let snapshot = self.store.snapshot(diagnostics);
        self.last = Some(Arc::clone(&snapshot));
        Some(snapshot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plugin(name: &str, url: &str, version: u32) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "extensions.istio.io/v1alpha1",
            "kind": "WasmPlugin",
            "metadata": {"name": name, "namespace": "web", "resourceVersion": version.to_string()},
            "spec": {"url": url, "imagePullSecret": "pull"},
        }))
        .unwrap()
    }

    fn plugins() -> StreamId {
        StreamId::Kind {
            kind: Kind::WasmPlugin,
            namespace: None,
        }
    }

    fn names(snapshot: &Snapshot) -> Vec<String> {
        snapshot.resources.keys().map(|k| k.to_string()).collect()
    }

    #[test]
    fn nothing_is_published_until_every_stream_has_listed() {
        let mut sync = Sync::new();
        let proxies = StreamId::Kind {
            kind: Kind::Proxy,
            namespace: None,
        };
        sync.add(plugins());
        sync.add(proxies.clone());
        sync.apply(&plugins(), Event::Init);
        sync.apply(&plugins(), Event::InitApply(plugin("a", "file:///a.wasm", 1)));
        sync.apply(&plugins(), Event::InitDone);
        assert!(sync.snapshot().is_none(), "Proxies not listed yet");
        assert_eq!(sync.pending(), ["the list of Proxies in all namespaces"]);
        sync.apply(&proxies, Event::Init);
        sync.apply(&proxies, Event::InitDone);
        let first = sync.snapshot().expect("all listed");
        assert_eq!(names(&first), ["WasmPlugin web/a"]);
        assert!(sync.snapshot().is_none(), "no change, no snapshot");
    }

    #[test]
    fn a_relist_is_swapped_in_whole_and_a_bad_object_keeps_its_last_good_version() {
        let mut sync = Sync::new();
        sync.add(plugins());
        sync.apply(&plugins(), Event::Init);
        sync.apply(&plugins(), Event::InitApply(plugin("a", "file:///a.wasm", 1)));
        sync.apply(&plugins(), Event::InitApply(plugin("b", "file:///b.wasm", 2)));
        sync.apply(&plugins(), Event::InitDone);
        assert_eq!(names(&sync.snapshot().unwrap()).len(), 2);

        // 410: a list again, in which b is gone; nothing is published half-way
        sync.apply(&plugins(), Event::Init);
        sync.apply(&plugins(), Event::InitApply(plugin("a", "file:///a.wasm", 1)));
        assert!(sync.snapshot().is_none());
        sync.apply(&plugins(), Event::InitDone);
        assert_eq!(names(&sync.snapshot().unwrap()), ["WasmPlugin web/a"]);

        // a broken change to a: reported, the last good a stays
        sync.apply(&plugins(), Event::Apply(plugin("a", "", 3)));
        let snapshot = sync.snapshot().unwrap();
        assert_eq!(names(&snapshot), ["WasmPlugin web/a"]);
        assert_eq!(snapshot.diagnostics.len(), 1);
        let shown = snapshot.diagnostics[0].to_string();
        assert!(
            shown.starts_with("WasmPlugin web/a (resourceVersion 3): spec.url"),
            "{shown}"
        );
        assert!(
            shown.contains("the last good version of WasmPlugin web/a stays"),
            "{shown}"
        );

        sync.apply(&plugins(), Event::Delete(plugin("a", "", 3)));
        assert!(names(&sync.snapshot().unwrap()).is_empty());
    }

    #[test]
    fn pull_secrets_are_those_valid_plugins_name() {
        let mut sync = Sync::new();
        sync.add(plugins());
        sync.apply(&plugins(), Event::Apply(plugin("a", "oci://r.test/a:1", 1)));
        sync.apply(&plugins(), Event::Apply(plugin("bad", "", 1)));
        let wanted: Vec<_> = sync.wanted_secrets().into_iter().collect();
        assert_eq!(wanted, [("web".to_string(), "pull".to_string())]);
    }
}
