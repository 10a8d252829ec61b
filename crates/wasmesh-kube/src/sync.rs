//! The watchers' events into one store. Each stream (a kind, or one pull Secret) keeps its
//! objects as parsed; a list (the first, or one after `410 Gone`) is gathered aside and
//! swapped in whole at its end. A snapshot is made only when every stream has listed, so
//! the data plane never sees a partial state: not at start, not during a relist. With
//! `--gateway`, the Gateway API objects are kept as sent and turned into the workload's
//! Proxy at each snapshot (`wasmesh_api::gateway`, docs/gateway-api.md), with the TLS
//! Secrets its HTTPS listeners name.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kube::api::{ApiResource, DynamicObject};
use kube::runtime::watcher::Event;
use serde::de::DeserializeOwned;
use wasmesh_api::gateway::{self, Objects, Target};
use wasmesh_api::{Document, Kind, NamespacedName, Origin, Parsed, Resource, ResourceKey};
use wasmesh_config::{Diagnostic, Snapshot, Store};

use crate::kinds::GatewayKind;

/// What one watcher follows.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StreamId {
    /// A kind, in one namespace or (`None`) in all.
    Kind { kind: Kind, namespace: Option<String> },
    /// One pull Secret, by name.
    Secret { namespace: String, name: String },
    /// A kind the Gateway's Proxy is made from, in one namespace or (`None`) in all.
    Gateway {
        kind: GatewayKind,
        namespace: Option<String>,
    },
}

impl StreamId {
    /// wasmesh's kind of the stream's objects; `None` for the Gateway API's.
    pub fn kind(&self) -> Option<Kind> {
        match self {
            StreamId::Kind { kind, .. } => Some(*kind),
            StreamId::Secret { .. } => Some(Kind::Secret),
            StreamId::Gateway { .. } => None,
        }
    }

    /// Where the API server serves the stream's objects.
    pub fn resource(&self) -> ApiResource {
        match self {
            StreamId::Kind { kind, .. } => crate::kinds::resource_of(*kind),
            StreamId::Secret { .. } => crate::kinds::secret().resource,
            StreamId::Gateway { kind, .. } => kind.resource(),
        }
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (plural, namespace) = match self {
            StreamId::Kind { kind, namespace } => (crate::kinds::plural(*kind), namespace),
            StreamId::Gateway { kind, namespace } => (kind.plural(), namespace),
            StreamId::Secret { namespace, name } => return write!(f, "Secret {namespace}/{name}"),
        };
        match namespace {
            None => write!(f, "{plural} in all namespaces"),
            Some(ns) => write!(f, "{plural} in namespace {ns}"),
        }
    }
}

/// An object's place in its stream: namespace and name.
type ObjectKey = (String, String);

/// An object as a stream keeps it.
enum Stored {
    /// One of wasmesh's kinds, parsed and validated.
    Resource(Parsed),
    /// A Gateway API object (or a Service, an EndpointSlice), as sent.
    Gateway(Box<DynamicObject>),
}

#[derive(Default)]
struct Stream {
    objects: BTreeMap<ObjectKey, Stored>,
    /// A list under way: its objects so far.
    listing: Option<BTreeMap<ObjectKey, Stored>>,
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
    /// `--gateway`: the Proxy to make from the Gateway API objects.
    gateway: Option<Target>,
    /// The Gateway API objects of the last complete state, for their status.
    gateway_objects: Option<Arc<Objects>>,
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

    /// A sync that makes the Proxy of `target` from the Gateway API streams.
    pub fn with_gateway(target: Target) -> Self {
        Sync {
            gateway: Some(target),
            ..Self::default()
        }
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
        let resource = stream.resource();
        let store = |object: DynamicObject| match stream {
            StreamId::Gateway { .. } => Stored::Gateway(Box::new(object)),
            _ => Stored::Resource(crate::object::parse(&resource, &object)),
        };
        match event {
            Event::Init => state.listing = Some(BTreeMap::new()),
            Event::InitApply(object) => {
                let key = key_of(&object);
                state
                    .listing
                    .get_or_insert_with(BTreeMap::new)
                    .insert(key, store(object));
            }
            Event::InitDone => {
                state.objects = state.listing.take().unwrap_or_default();
                state.listed = true;
                self.dirty = true;
            }
            Event::Apply(object) => {
                let key = key_of(&object);
                state.objects.insert(key, store(object));
                self.dirty = true;
            }
            Event::Delete(object) => {
                state.objects.remove(&key_of(&object));
                self.dirty = true;
            }
        }
    }

    /// The streams whose list is not in yet (the first, or one after `410 Gone`).
    pub fn pending_streams(&self) -> impl Iterator<Item = &StreamId> + '_ {
        self.streams
            .iter()
            .filter(|(_, s)| !s.listed || s.listing.is_some())
            .map(|(id, _)| id)
    }

    /// [`Sync::pending_streams`] in words.
    pub fn pending(&self) -> Vec<String> {
        self.pending_streams()
            .map(|id| format!("the list of {id}"))
            .collect()
    }

    /// With `--gateway`: the Gateway API objects as of the last time every stream had
    /// listed and something changed (what their status is made from); the same `Arc`
    /// until then.
    pub fn gateway_objects(&self) -> Option<Arc<Objects>> {
        self.gateway_objects.clone()
    }

    /// The Secrets to follow, as (namespace, name): the pull Secrets the valid
    /// `WasmPlugin`s name, the TLS Secrets of the valid `Proxy`s' listeners
    /// (`tls.secretName`), and with `--gateway` those its HTTPS listeners' `certificateRefs`
    /// name in its namespace.
    pub fn wanted_secrets(&self) -> BTreeSet<(String, String)> {
        let mut wanted = BTreeSet::new();
        // the ReferenceGrants, which let a certificateRef name another namespace's Secret
        let mut granted = Objects::default();
        for (id, stream) in &self.streams {
            if let StreamId::Gateway {
                kind: GatewayKind::ReferenceGrant,
                ..
            } = id
            {
                for stored in stream.objects.values() {
                    if let Stored::Gateway(object) = stored {
                        // one that does not read is left out here as in the snapshot
                        let _ = read_into(&mut granted, GatewayKind::ReferenceGrant, object);
                    }
                }
            }
        }
        for (id, stream) in &self.streams {
            if let StreamId::Gateway {
                kind: GatewayKind::Gateway,
                ..
            } = id
            {
                let Some(target) = &self.gateway else { continue };
                for stored in stream.objects.values() {
                    let Stored::Gateway(object) = stored else { continue };
                    let served = object.metadata.namespace.as_deref() == Some(&target.gateway.namespace)
                        && object.metadata.name.as_deref() == Some(&target.gateway.name);
                    if !served {
                        continue;
                    }
                    let mut objects = Objects::default();
                    if read_into(&mut objects, GatewayKind::Gateway, object).is_ok() {
                        for g in &objects.gateways {
                            let namespace = &target.gateway.namespace;
                            for n in
                                gateway::tls::wanted_secrets(namespace, &g.spec.listeners, &granted.grants)
                            {
                                wanted.insert((n.namespace, n.name));
                            }
                        }
                    }
                }
                continue;
            }
            if !matches!(id.kind(), Some(Kind::WasmPlugin | Kind::Proxy)) {
                continue;
            }
            let docs = stream.objects.values().filter_map(|s| match s {
                Stored::Resource(Ok(doc)) => Some(doc),
                _ => None,
            });
            for doc in docs {
                match &doc.resource {
                    Resource::WasmPlugin(plugin) => {
                        if let Some(secret) = &plugin.spec.image_pull_secret {
                            let namespace = plugin.metadata.namespace().to_string();
                            wanted.insert((namespace, secret.clone()));
                        }
                    }
                    Resource::Proxy(proxy) => {
                        // a Proxy object's own namespace only: whoever writes one may not
                        // have the gateway read another namespace's Secrets (only the Proxy
                        // made from a Gateway names one, through a ReferenceGrant); the
                        // certificate is then not found (docs/proxy.md, "TLS")
                        let namespace = proxy.metadata.namespace();
                        for tls in proxy.spec.listeners.iter().filter_map(|l| l.tls.as_ref()) {
                            for (ns, name) in tls.secrets(namespace) {
                                if ns == namespace {
                                    wanted.insert((ns.to_string(), name.to_string()));
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        wanted
    }

    /// A new snapshot when every stream has listed and something changed since the last
    /// one (the first is made even when empty). A resource whose object is now invalid
    /// keeps its last good version, as in the config directory.
    pub fn snapshot(&mut self) -> Option<Arc<Snapshot>> {
        if !self.dirty || self.pending_streams().next().is_some() {
            return None;
        }
        self.dirty = false;
        let mut documents = Vec::new();
        let mut errors = Vec::new();
        let mut gateway_objects = Objects::default();
        let mut notes = Vec::new();
        for (id, stream) in &self.streams {
            for stored in stream.objects.values() {
                match stored {
                    Stored::Resource(Ok(doc)) => {
                        if let (StreamId::Secret { namespace, name }, Resource::Secret(secret)) =
                            (id, &doc.resource)
                        {
                            gateway_objects.secrets.insert(
                                NamespacedName {
                                    namespace: namespace.clone(),
                                    name: name.clone(),
                                },
                                Ok(Arc::clone(secret)),
                            );
                        }
                        documents.push(doc.clone())
                    }
                    Stored::Resource(Err(error)) => {
                        if let StreamId::Secret { namespace, name } = id {
                            gateway_objects.secrets.insert(
                                NamespacedName {
                                    namespace: namespace.clone(),
                                    name: name.clone(),
                                },
                                Err(field_errors(error)),
                            );
                        }
                        errors.push((**error).clone())
                    }
                    Stored::Gateway(object) => {
                        if let StreamId::Gateway { kind, .. } = id {
                            if let Err(note) = read_into(&mut gateway_objects, *kind, object) {
                                notes.push(note);
                            }
                        }
                    }
                }
            }
        }
        if let Some(target) = &self.gateway {
            let translation = gateway::translate(&gateway_objects, target);
            self.gateway_objects = Some(Arc::new(gateway_objects.clone()));
            match translation.proxy {
                Ok(proxy) => documents.push(Document {
                    origin: gateway_origin(&gateway_objects, target),
                    span: 0..0,
                    resource: Resource::Proxy(Arc::new(proxy)),
                }),
                Err(waiting) => notes.push(format!("no Proxy made for the Gateway yet: {waiting}")),
            }
            notes.extend(translation.notes.iter().map(ToString::to_string));
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
            .chain(notes.into_iter().map(Diagnostic::Gateway))
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

/// Reads a Gateway API object (or a Service, an EndpointSlice) into `objects`; one that
/// does not read is left out, and the reason names it.
fn read_into(objects: &mut Objects, kind: GatewayKind, object: &DynamicObject) -> Result<(), String> {
    fn read<T: DeserializeOwned>(object: &DynamicObject, kind: GatewayKind) -> Result<T, String> {
        let mut value = serde_json::to_value(object).map_err(|e| e.to_string())?;
        if let Some(meta) = value.get_mut("metadata").and_then(|m| m.as_object_mut()) {
            meta.remove("managedFields");
        }
        serde_json::from_value(value).map_err(|e| {
            format!(
                "{} {}/{}: cannot be read: {e}; left out",
                kind.resource().kind,
                object.metadata.namespace.as_deref().unwrap_or_default(),
                object.metadata.name.as_deref().unwrap_or_default()
            )
        })
    }
    match kind {
        GatewayKind::GatewayClass => objects.classes.push(read(object, kind)?),
        GatewayKind::Gateway => objects.gateways.push(read(object, kind)?),
        GatewayKind::HttpRoute => objects.routes.push(read(object, kind)?),
        GatewayKind::Service => objects.services.push(read(object, kind)?),
        GatewayKind::EndpointSlice => objects.slices.push(read(object, kind)?),
        GatewayKind::ReferenceGrant => objects.grants.push(read(object, kind)?),
        GatewayKind::Namespace => objects.namespaces.push(read(object, kind)?),
    }
    Ok(())
}

/// A rejected object's errors as `path: what`, for a note that names the object itself.
fn field_errors(error: &wasmesh_api::DocumentError) -> String {
    let each = error.errors.iter().map(|e| match e.path.as_str() {
        "" => e.kind.to_string(),
        path => format!("{path}: {}", e.kind),
    });
    each.collect::<Vec<_>>().join("; ")
}

/// The made Proxy's origin: the Gateway it is made from.
fn gateway_origin(objects: &Objects, target: &Target) -> Origin {
    let gateway = objects.gateways.iter().find(|g| {
        g.metadata.namespace() == target.gateway.namespace && g.metadata.name == target.gateway.name
    });
    Origin::Object {
        kind: "Gateway".into(),
        namespace: target.gateway.namespace.clone(),
        name: target.gateway.name.clone(),
        resource_version: gateway.and_then(|g| g.metadata.resource_version.clone()),
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

    fn gateway_stream(kind: GatewayKind) -> StreamId {
        StreamId::Gateway {
            kind,
            namespace: None,
        }
    }

    fn object(value: serde_json::Value) -> DynamicObject {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn with_a_gateway_the_proxy_is_made_from_the_gateway_api_objects() {
        let target = Target {
            gateway: wasmesh_api::NamespacedName {
                namespace: "edge".into(),
                name: "public".into(),
            },
            workload: "public".into(),
            address: "127.0.0.1".parse().unwrap(),
        };
        let mut sync = Sync::with_gateway(target);
        for kind in GatewayKind::ALL {
            sync.add(gateway_stream(kind));
        }
        for kind in GatewayKind::ALL {
            sync.apply(&gateway_stream(kind), Event::Init);
            sync.apply(&gateway_stream(kind), Event::InitDone);
        }
        let first = sync.snapshot().expect("all listed");
        assert!(first.resources.is_empty());
        let said: Vec<String> = first.diagnostics.iter().map(ToString::to_string).collect();
        assert_eq!(
            said,
            ["no Proxy made for the Gateway yet: Gateway edge/public not found"]
        );

        let class = object(json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
            "metadata": {"name": "wasmesh", "resourceVersion": "1"},
            "spec": {"controllerName": "wasmesh.io/gateway-controller"},
        }));
        let gateway = object(json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "public", "namespace": "edge", "resourceVersion": "2",
                         "managedFields": [{"manager": "kubectl"}]},
            "spec": {"gatewayClassName": "wasmesh",
                     "listeners": [{"name": "http", "port": 8080, "protocol": "HTTP"}]},
        }));
        sync.apply(&gateway_stream(GatewayKind::GatewayClass), Event::Apply(class));
        sync.apply(&gateway_stream(GatewayKind::Gateway), Event::Apply(gateway));
        let made = sync.snapshot().expect("a change");
        assert!(made.diagnostics.is_empty(), "{:?}", made.diagnostics);
        let proxy = made.resources.proxy("edge", "public").expect("the Proxy made");
        assert_eq!(proxy.spec.listeners[0].address.to_string(), "127.0.0.1:8080");
        let key = ResourceKey::new(Kind::Proxy, "edge", "public");
        assert_eq!(
            made.origins[&key].to_string(),
            "Gateway edge/public (resourceVersion 2)"
        );

        // an object that does not read is reported and left out
        let broken = object(json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "r", "namespace": "edge"},
            "spec": {"rules": "not a list"},
        }));
        sync.apply(&gateway_stream(GatewayKind::HttpRoute), Event::Apply(broken));
        let after = sync.snapshot().expect("a diagnostic is a change");
        let said: Vec<String> = after.diagnostics.iter().map(ToString::to_string).collect();
        assert_eq!(said.len(), 1);
        assert!(
            said[0].starts_with("HTTPRoute edge/r: cannot be read: "),
            "{said:?}"
        );
        assert!(after.resources.proxy("edge", "public").is_some());
    }

    #[test]
    fn with_a_gateway_the_tls_secrets_of_its_https_listeners_are_followed_and_used() {
        let target = Target {
            gateway: wasmesh_api::NamespacedName {
                namespace: "edge".into(),
                name: "public".into(),
            },
            workload: "public".into(),
            address: "127.0.0.1".parse().unwrap(),
        };
        let mut sync = Sync::with_gateway(target);
        for kind in GatewayKind::ALL {
            sync.add(gateway_stream(kind));
            sync.apply(&gateway_stream(kind), Event::Init);
            sync.apply(&gateway_stream(kind), Event::InitDone);
        }
        let class = object(json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
            "metadata": {"name": "wasmesh"},
            "spec": {"controllerName": "wasmesh.io/gateway-controller"},
        }));
        // two ports: two listeners on one without hostnames would conflict
        let listener = |name: &str, port: u16, secret: &str| {
            json!({"name": name, "port": port, "protocol": "HTTPS",
                   "tls": {"certificateRefs": [{"name": secret}]}})
        };
        let gateway = |name: &str| {
            object(json!({
                "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                "metadata": {"name": name, "namespace": "edge"},
                "spec": {"gatewayClassName": "wasmesh",
                         "listeners": [listener("https", 8443, "cert"), listener("other", 8444, "other/x")]},
            }))
        };
        sync.apply(&gateway_stream(GatewayKind::GatewayClass), Event::Apply(class));
        sync.apply(
            &gateway_stream(GatewayKind::Gateway),
            Event::Apply(gateway("public")),
        );
        // another Gateway's Secrets are not followed
        sync.apply(
            &gateway_stream(GatewayKind::Gateway),
            Event::Apply(gateway("private")),
        );
        let wanted: Vec<_> = sync.wanted_secrets().into_iter().collect();
        assert_eq!(
            wanted,
            [
                ("edge".to_string(), "cert".to_string()),
                ("edge".to_string(), "other/x".to_string())
            ]
        );
        let cert = StreamId::Secret {
            namespace: "edge".into(),
            name: "cert".into(),
        };
        sync.add(cert.clone());
        sync.apply(&cert, Event::Init);
        sync.apply(&cert, Event::InitDone);
        let missing = sync.snapshot().expect("listed");
        let said: Vec<String> = missing.diagnostics.iter().map(ToString::to_string).collect();
        assert!(
            said.iter()
                .any(|d| d.contains("certificateRefs[0]: Secret edge/cert not found")),
            "{said:?}"
        );
        assert!(missing
            .resources
            .proxy("edge", "public")
            .unwrap()
            .spec
            .listeners
            .is_empty());

        let pem = "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n";
        let key = "-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n";
        let secret = object(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "cert", "namespace": "edge", "resourceVersion": "7"},
            "type": "kubernetes.io/tls",
            "stringData": {"tls.crt": pem, "tls.key": key},
        }));
        sync.apply(&cert, Event::Apply(secret));
        let served = sync.snapshot().expect("a change");
        let proxy = served.resources.proxy("edge", "public").unwrap();
        let tls = proxy.spec.listeners[0].tls.as_ref().expect("a TLS listener");
        assert_eq!(tls.certificates[0].secret_name.as_deref(), Some("cert"));
        assert!(
            served.resources.secret("edge", "cert").is_some(),
            "in the store, for the proxy"
        );

        // a certificateRef to another namespace: followed once a ReferenceGrant there
        // opens its Secrets to the Gateways of edge
        let elsewhere = object(json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "public", "namespace": "edge"},
            "spec": {"gatewayClassName": "wasmesh", "listeners": [{
                "name": "https", "port": 8443, "protocol": "HTTPS",
                "tls": {"certificateRefs": [{"name": "shared", "namespace": "certs"}]}}]},
        }));
        sync.apply(&gateway_stream(GatewayKind::Gateway), Event::Apply(elsewhere));
        let followed = |sync: &Sync| -> Vec<(String, String)> { sync.wanted_secrets().into_iter().collect() };
        assert_eq!(followed(&sync), [], "not without a grant");
        let grant = object(json!({
            "apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
            "metadata": {"name": "gateways", "namespace": "certs"},
            "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "edge"}],
                     "to": [{"group": "", "kind": "Secret"}]},
        }));
        sync.apply(&gateway_stream(GatewayKind::ReferenceGrant), Event::Apply(grant));
        assert_eq!(followed(&sync), [("certs".to_string(), "shared".to_string())]);
    }
}
