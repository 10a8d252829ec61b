//! Watch streams: newline-delimited JSON events (`ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK`,
//! `ERROR`) from a `resourceVersion` on. Without a version (or with `0`) a watch starts with
//! an `ADDED` for every object there is; with `sendInitialEvents=true` those end with a
//! bookmark annotated `k8s.io/initial-events-end`, as for kube-rs's streaming lists. A
//! version older than the kept history gets an `ERROR` event with a 410 `Expired` `Status`,
//! as the real server sends it (HTTP 200, then the event).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::handlers::{selectors, Body};
use super::query::Query;
use super::router::Target;
use super::selector::{FieldSelector, LabelSelector};
use super::shared::Shared;
use super::status::ApiError;
use super::store::{set_type, Change, Event};

/// What one watch sends.
struct Filter {
    target: Target,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    fn selects(&self, object: &Value) -> bool {
        self.labels.matches(object) && self.fields.matches(object)
    }

    /// The event this watch sees of `event`, if any: an object that moves into the
    /// selection is `ADDED` to it, one that moves out is `DELETED` from it.
    fn view(&self, event: &Event) -> Option<Value> {
        let kind = &self.target.kind;
        if event.group != kind.group || event.plural != kind.plural {
            return None;
        }
        if let Some(ns) = &self.target.namespace {
            if event.object["metadata"]["namespace"].as_str() != Some(ns.as_str()) {
                return None;
            }
        }
        let now = self.selects(&event.object);
        let before = event.previous.as_ref().map(|p| self.selects(p));
        let change = match (event.change, before) {
            (Change::Modified, Some(true)) if !now => Change::Deleted,
            (Change::Modified, Some(false)) if now => Change::Added,
            (Change::Modified, Some(false)) => return None,
            (change, _) if now => change,
            _ => return None,
        };
        Some(self.line(change.as_str(), event.object.clone()))
    }

    fn line(&self, kind: &str, mut object: Value) -> Value {
        set_type(&mut object, &self.target.kind, &self.target.version);
        json!({ "type": kind, "object": object })
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Value {
        let mut metadata = json!({ "resourceVersion": rv.to_string() });
        if initial_end {
            metadata["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
        }
        self.line("BOOKMARK", json!({ "metadata": metadata }))
    }
}

fn encode(event: &Value) -> Bytes {
    let mut line = event.to_string();
    line.push('\n');
    Bytes::from(line)
}

/// Starts a watch of `target` as `query` asks, answering with its stream.
pub fn start(shared: &Arc<Shared>, target: &Target, query: &Query) -> Result<Response<Body>, ApiError> {
    let (labels, fields) = selectors(query, &target.kind)?;
    let filter = Filter {
        target: target.clone(),
        labels,
        fields,
    };
    let from = match query.get("resourceVersion") {
        None | Some("0") => None,
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| ApiError::BadRequest(format!("invalid resource version {v:?}")))?,
        ),
    };
    let initial_events = from.is_none() || query.flag("sendInitialEvents");
    let bookmarks = query.flag("allowWatchBookmarks");
    let mut lifetime = shared.watch_lifetime();
    if let Some(secs) = query.get("timeoutSeconds").and_then(|s| s.parse::<u64>().ok()) {
        let asked = Duration::from_secs(secs);
        lifetime = Some(lifetime.map_or(asked, |l| l.min(asked)));
    }

    // the first lines and the version to go on from, read under one lock so that no change
    // falls between them
    let mut first = Vec::new();
    let mut changes = shared.store().subscribe();
    let mut epoch = shared.watch_epoch.subscribe();
    let last = {
        let store = shared.store();
        let now = store.resource_version();
        if initial_events {
            for object in store.list(&target.kind, target.namespace.as_deref()) {
                if filter.selects(&object) {
                    first.push(filter.line("ADDED", object));
                }
            }
        }
        if let Some(from) = from.filter(|_| !query.flag("sendInitialEvents")) {
            match store.events_after(from) {
                Ok(events) => first.extend(events.iter().filter_map(|e| filter.view(e))),
                Err(expired) => first.push(json!({ "type": "ERROR", "object": expired.to_status() })),
            }
        }
        if query.flag("sendInitialEvents") {
            first.push(filter.bookmark(now, true));
        }
        now
    };
    let expired = first.last().is_some_and(|e| e["type"] == "ERROR");

    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        for line in &first {
            if tx.send(encode(line)).await.is_err() {
                return;
            }
        }
        if expired {
            return;
        }
        let deadline = lifetime.map(|l| Instant::now() + l);
        let mut ticks = tokio::time::interval(shared.bookmark_interval);
        ticks.tick().await;
        let mut last = last;
        loop {
            let bookmark = tokio::select! {
                changed = changes.changed() => {
                    if changed.is_err() { return; }
                    false
                }
                _ = epoch.changed() => return,
                // the client went away (or its connection was dropped in an outage)
                _ = tx.closed() => return,
                _ = sleep_until(deadline) => return,
                _ = ticks.tick(), if bookmarks => true,
            };
            let (lines, now) = {
                let store = shared.store();
                let lines: Vec<Value> = match store.events_after(last) {
                    Ok(events) => events.iter().filter_map(|e| filter.view(e)).collect(),
                    Err(expired) => vec![json!({ "type": "ERROR", "object": expired.to_status() })],
                };
                (lines, store.resource_version())
            };
            let failed = lines.iter().any(|l| l["type"] == "ERROR");
            for line in lines
                .iter()
                .chain(bookmark.then(|| filter.bookmark(now, false)).iter())
            {
                if tx.send(encode(line)).await.is_err() {
                    return;
                }
            }
            if failed {
                return;
            }
            last = now;
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(Frame::data(b)), rx))
    });
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(StreamBody::new(stream).boxed())
        .expect("a response of a valid status and header"))
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
