//! The objects, one global `resourceVersion` counter and the recent history of changes that
//! watches replay. Every write rule of the double lives here, apart from HTTP: what the
//! server fills into `metadata`, when `generation` moves, what a `status` subresource keeps,
//! conflicts, and what a CRD or a namespace brings along when it comes or goes.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{json, Value};
use tokio::sync::watch;

use super::builtin::normalize;
use super::crd::{check_unchanged_names, established, is_crd};
use super::kinds::{Registry, ResourceKind};
use super::meta::{new_uid, now_rfc3339};
use super::status::ApiError;

/// What a change did to an object, as a watch event's `type` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Modified,
    Deleted,
}

impl Change {
    /// The event `type` on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "ADDED",
            Change::Modified => "MODIFIED",
            Change::Deleted => "DELETED",
        }
    }
}

/// One change in the history.
#[derive(Debug, Clone)]
pub struct Event {
    pub rv: u64,
    pub group: String,
    pub plural: String,
    pub change: Change,
    /// The object after the change (for `Deleted`, its last state at the deletion's version).
    pub object: Value,
    /// The object before a `Modified` change, so that a selecting watch can tell an object
    /// that came into or left its selection.
    pub previous: Option<Value>,
}

/// Which part of an object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The main path: everything but `status` when `status` is a subresource.
    Main,
    /// The `/status` path: only `status`.
    Status,
}

/// (group, plural, namespace or "", name)
type Key = (String, String, String, String);

/// The state of the double's "etcd".
#[derive(Debug)]
pub struct Store {
    registry: Registry,
    objects: BTreeMap<Key, Value>,
    rv: u64,
    history: VecDeque<Event>,
    history_limit: usize,
    /// A watch from a version below this one has missed changes: 410.
    oldest: u64,
    notify: watch::Sender<u64>,
    /// Set during a dry run: watches are not told of changes that will be undone.
    muted: bool,
}

fn key(kind: &ResourceKind, namespace: &str, name: &str) -> Key {
    (
        kind.group.clone(),
        kind.plural.clone(),
        namespace.to_string(),
        name.to_string(),
    )
}

/// An object without what the server owns, to tell whether a write changed anything.
fn content(object: &Value) -> Value {
    let mut v = object.clone();
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
    }
    v
}

/// An object without `metadata` and `status`: what `generation` counts changes of.
fn spec_part(object: &Value) -> Value {
    let mut v = object.clone();
    if let Some(map) = v.as_object_mut() {
        map.remove("metadata");
        map.remove("status");
    }
    v
}

/// A DNS-1123 subdomain, the rule for the names of most kinds.
fn valid_name(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

impl Store {
    /// A store with the namespaces a fresh cluster has, keeping `history_limit` changes.
    pub fn new(history_limit: usize) -> Self {
        let (notify, _) = watch::channel(0);
        let mut store = Store {
            registry: Registry::default(),
            objects: BTreeMap::new(),
            rv: 0,
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            oldest: 0,
            notify,
            muted: false,
        };
        let namespaces = store
            .registry
            .find("", "v1", "namespaces")
            .cloned()
            .expect("namespaces are built in");
        for ns in ["default", "kube-system", "kube-public"] {
            let object = json!({ "metadata": { "name": ns } });
            store
                .create(&namespaces, "", object)
                .expect("a fresh store takes its namespaces");
        }
        store
    }

    /// The served resources.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The latest `resourceVersion`.
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    /// A receiver told the latest version after every change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.notify.subscribe()
    }

    /// Keeps the last `limit` changes (at least one) from now on.
    pub fn set_history_limit(&mut self, limit: usize) {
        self.history_limit = limit.max(1);
        self.trim();
    }

    /// Forgets the whole history and moves the version on (as a write elsewhere in etcd
    /// would), so that every version a client has seen is too old for a watch: its next
    /// watch gets 410 and must relist.
    pub fn expire_history(&mut self) {
        self.rv += 1;
        self.history.clear();
        self.oldest = self.rv;
    }

    /// Runs `write` as a dry run (`dryRun=All`): its answer as the write would give it,
    /// and the store, its history and its version as they were before.
    pub fn dry_run<T>(&mut self, write: impl FnOnce(&mut Store) -> T) -> T {
        let saved = (
            self.registry.clone(),
            self.objects.clone(),
            self.rv,
            self.history.clone(),
            self.oldest,
        );
        self.muted = true;
        let answer = write(self);
        self.muted = false;
        (self.registry, self.objects, self.rv, self.history, self.oldest) = saved;
        answer
    }

    /// The changes after version `after`, or 410 when some of them are no longer kept.
    pub fn events_after(&self, after: u64) -> Result<Vec<Event>, ApiError> {
        if after < self.oldest {
            return Err(ApiError::Expired {
                asked: after,
                oldest: self.oldest,
            });
        }
        Ok(self.history.iter().filter(|e| e.rv > after).cloned().collect())
    }

    fn trim(&mut self) {
        while self.history.len() > self.history_limit {
            if let Some(dropped) = self.history.pop_front() {
                self.oldest = dropped.rv;
            }
        }
    }

    fn record(&mut self, kind: &ResourceKind, change: Change, object: Value, previous: Option<Value>) {
        let rv = object["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .unwrap_or(self.rv);
        self.history.push_back(Event {
            rv,
            group: kind.group.clone(),
            plural: kind.plural.clone(),
            change,
            object,
            previous,
        });
        self.trim();
        if !self.muted {
            self.notify.send_replace(self.rv);
        }
    }

    fn next_rv(&mut self) -> String {
        self.rv += 1;
        self.rv.to_string()
    }

    fn not_found(kind: &ResourceKind, name: &str) -> ApiError {
        ApiError::NotFound {
            resource: kind.resource_name(),
            name: name.to_string(),
        }
    }

    fn check_namespace(&self, kind: &ResourceKind, namespace: &str) -> Result<(), ApiError> {
        if !kind.namespaced {
            return Ok(());
        }
        let exists = self.objects.contains_key(&(
            String::new(),
            "namespaces".to_string(),
            String::new(),
            namespace.to_string(),
        ));
        if exists {
            Ok(())
        } else {
            Err(ApiError::NotFound {
                resource: "namespaces".to_string(),
                name: namespace.to_string(),
            })
        }
    }

    /// The object `name`.
    pub fn get(&self, kind: &ResourceKind, namespace: &str, name: &str) -> Result<Value, ApiError> {
        self.objects
            .get(&key(kind, namespace, name))
            .cloned()
            .ok_or_else(|| Self::not_found(kind, name))
    }

    /// The objects of `kind` in `namespace` (all namespaces when `None`), by namespace and name.
    pub fn list(&self, kind: &ResourceKind, namespace: Option<&str>) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|((g, p, ns, _), _)| {
                *g == kind.group && *p == kind.plural && namespace.is_none_or(|n| n == ns)
            })
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Creates `object`: 409 when the name is taken, 422 without a valid name, 404 in a
    /// namespace that does not exist.
    pub fn create(
        &mut self,
        kind: &ResourceKind,
        namespace: &str,
        mut object: Value,
    ) -> Result<Value, ApiError> {
        if !object.is_object() {
            return Err(ApiError::BadRequest(
                "the body of the request is not a JSON object".to_string(),
            ));
        }
        let mut name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if name.is_empty() {
            if let Some(prefix) = object["metadata"]["generateName"]
                .as_str()
                .filter(|p| !p.is_empty())
            {
                name = format!("{prefix}{}", &new_uid()[..5]);
            }
        }
        let invalid = |detail: String| ApiError::Invalid {
            kind: kind.kind.clone(),
            name: name.clone(),
            detail,
        };
        if name.is_empty() {
            return Err(invalid(
                "metadata.name: Required value: name or generateName is required".to_string(),
            ));
        }
        if !valid_name(&name) {
            return Err(invalid(format!(
                "metadata.name: Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'"
            )));
        }
        self.check_object_namespace(kind, namespace, &object)?;
        self.check_namespace(kind, namespace)?;
        if self.objects.contains_key(&key(kind, namespace, &name)) {
            return Err(ApiError::AlreadyExists {
                resource: kind.resource_name(),
                name,
            });
        }
        if kind.status_subresource {
            // a create through the main path sets no status, as for an update
            if let Some(map) = object.as_object_mut() {
                map.remove("status");
            }
        }
        let crd = if is_crd(kind) {
            object["metadata"]["name"] = json!(name);
            let defined = ResourceKind::from_crd(&object)?;
            established(&mut object, &defined);
            Some(defined)
        } else {
            None
        };
        let rv = self.next_rv();
        let meta = object["metadata"]
            .as_object_mut()
            .expect("checked to hold a name");
        meta.insert("name".to_string(), json!(name));
        if kind.namespaced {
            meta.insert("namespace".to_string(), json!(namespace));
        } else {
            meta.remove("namespace");
        }
        meta.insert("uid".to_string(), json!(new_uid()));
        meta.insert("creationTimestamp".to_string(), json!(now_rfc3339()));
        meta.insert("generation".to_string(), json!(1));
        meta.insert("resourceVersion".to_string(), json!(rv));
        meta.remove("deletionTimestamp");
        meta.remove("managedFields");
        set_type(&mut object, kind, &kind.versions[0]);
        normalize(kind, &mut object);
        self.objects.insert(key(kind, namespace, &name), object.clone());
        if let Some(defined) = crd {
            self.registry.register(defined);
        }
        self.record(kind, Change::Added, object.clone(), None);
        Ok(object)
    }

    fn check_object_namespace(
        &self,
        kind: &ResourceKind,
        namespace: &str,
        object: &Value,
    ) -> Result<(), ApiError> {
        match object["metadata"]["namespace"].as_str() {
            Some(ns) if kind.namespaced && !ns.is_empty() && ns != namespace => Err(ApiError::BadRequest(
                "the namespace of the provided object does not match the namespace sent on the request"
                    .to_string(),
            )),
            _ => Ok(()),
        }
    }

    /// Replaces the object `name` with `object` (the `part` of it that the path may change):
    /// 409 when `object` carries a `resourceVersion` that is not the current one; no new
    /// version and no event when nothing changed.
    pub fn update(
        &mut self,
        kind: &ResourceKind,
        namespace: &str,
        name: &str,
        object: Value,
        part: Part,
    ) -> Result<Value, ApiError> {
        let old = self.get(kind, namespace, name)?;
        if !object.is_object() {
            return Err(ApiError::BadRequest(
                "the body of the request is not a JSON object".to_string(),
            ));
        }
        match object["metadata"]["name"].as_str() {
            Some(n) if n == name => {}
            Some(n) => {
                return Err(ApiError::BadRequest(format!(
                    "the name of the object ({n}) does not match the name on the URL ({name})"
                )))
            }
            None => {
                return Err(ApiError::Invalid {
                    kind: kind.kind.clone(),
                    name: name.to_string(),
                    detail: "metadata.name: Required value: name or generateName is required".to_string(),
                })
            }
        }
        self.check_object_namespace(kind, namespace, &object)?;
        if let Some(asked) = object["metadata"]["resourceVersion"]
            .as_str()
            .filter(|v| !v.is_empty())
        {
            if Some(asked) != old["metadata"]["resourceVersion"].as_str() {
                return Err(ApiError::Conflict {
                    resource: kind.resource_name(),
                    name: name.to_string(),
                });
            }
        }
        let mut new = match part {
            Part::Status => {
                let mut new = old.clone();
                match object.get("status") {
                    Some(status) => new["status"] = status.clone(),
                    None => {
                        new.as_object_mut().map(|m| m.remove("status"));
                    }
                }
                new
            }
            Part::Main => {
                let mut new = object;
                if kind.status_subresource {
                    match old.get("status") {
                        Some(status) => new["status"] = status.clone(),
                        None => {
                            new.as_object_mut().map(|m| m.remove("status"));
                        }
                    }
                }
                // what the server owns stays as it was
                for field in [
                    "uid",
                    "creationTimestamp",
                    "generation",
                    "namespace",
                    "resourceVersion",
                ] {
                    match old["metadata"].get(field) {
                        Some(v) => new["metadata"][field] = v.clone(),
                        None => {
                            new["metadata"].as_object_mut().map(|m| m.remove(field));
                        }
                    }
                }
                new["metadata"].as_object_mut().map(|m| m.remove("managedFields"));
                new
            }
        };
        set_type(&mut new, kind, &kind.versions[0]);
        normalize(kind, &mut new);
        let crd = if is_crd(kind) && part == Part::Main {
            let defined = ResourceKind::from_crd(&new)?;
            check_unchanged_names(&old, &defined)?;
            established(&mut new, &defined);
            Some(defined)
        } else {
            None
        };
        if content(&new) == content(&old) {
            return Ok(old);
        }
        if spec_part(&new) != spec_part(&old) {
            let generation = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
            new["metadata"]["generation"] = json!(generation);
        }
        new["metadata"]["resourceVersion"] = json!(self.next_rv());
        self.objects.insert(key(kind, namespace, name), new.clone());
        if let Some(defined) = crd {
            self.registry.register(defined);
        }
        self.record(kind, Change::Modified, new.clone(), Some(old));
        Ok(new)
    }

    /// Deletes the object `name` and answers with its last state. A CRD takes its objects
    /// with it and a namespace its contents, each with its own DELETED event.
    pub fn delete(&mut self, kind: &ResourceKind, namespace: &str, name: &str) -> Result<Value, ApiError> {
        let mut object = self
            .objects
            .remove(&key(kind, namespace, name))
            .ok_or_else(|| Self::not_found(kind, name))?;
        let doomed: Vec<Key> = if is_crd(kind) {
            let group = object["spec"]["group"].as_str().unwrap_or_default().to_string();
            let plural = object["spec"]["names"]["plural"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            self.objects
                .keys()
                .filter(|(g, p, _, _)| *g == group && *p == plural)
                .cloned()
                .collect()
        } else if kind.group.is_empty() && kind.plural == "namespaces" {
            self.objects
                .keys()
                .filter(|(_, _, ns, _)| ns == name)
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        for k in doomed {
            if let Some(mut inner) = self.objects.remove(&k) {
                inner["metadata"]["resourceVersion"] = json!(self.next_rv());
                let inner_kind = self
                    .registry
                    .all()
                    .iter()
                    .find(|r| r.group == k.0 && r.plural == k.1)
                    .cloned()
                    .expect("stored objects are of served kinds");
                self.record(&inner_kind, Change::Deleted, inner, None);
            }
        }
        if is_crd(kind) {
            let defined = ResourceKind::from_crd(&object)?;
            self.registry.unregister(&defined.group, &defined.plural);
        }
        object["metadata"]["resourceVersion"] = json!(self.next_rv());
        self.record(kind, Change::Deleted, object.clone(), None);
        Ok(object)
    }
}

/// Sets `apiVersion` and `kind` as read at `version`.
pub fn set_type(object: &mut Value, kind: &ResourceKind, version: &str) {
    object["apiVersion"] = json!(kind.api_version(version));
    object["kind"] = json!(kind.kind);
}
