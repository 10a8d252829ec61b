//! One object followed by its name with the verbs `get` and `watch` only, never `list`: a
//! Secret may be read by name but no Secret may be enumerated (docs/kubernetes.md, "RBAC"),
//! and kube-rs's watcher starts with a list (a `fieldSelector` on the name is still a list,
//! which RBAC refuses without `list` on the resource).
//!
//! GET the object (a 404 is an answer: it is not there yet), then WATCH the collection with
//! `fieldSelector=metadata.name=NAME` from the version read; on `410 Gone` or a watch that
//! ends, GET again. The GET is told to the sync as a list of one object or none (`Init`,
//! `InitApply`, `InitDone`), the watch's events as `Apply` and `Delete`, so that the sync
//! treats this stream as any other. Errors come through with the watchers' backoff.

use futures::StreamExt as _;
use kube::api::{Api, DynamicObject, WatchEvent, WatchParams};
use kube::runtime::watcher::{self, Event};
use tokio::sync::mpsc;

use super::{Retry, Seen};
use crate::sync::StreamId;

/// How long one watch asks to stay open (the API server may end it sooner); kube-rs's
/// watcher asks the same.
const WATCH_TIMEOUT_SECS: u32 = 290;

/// Follows `name` through `api` until the receiver is gone.
pub async fn follow(
    api: Api<DynamicObject>,
    name: String,
    stream: StreamId,
    to: mpsc::UnboundedSender<Seen>,
) {
    let send = |item: Result<Event<DynamicObject>, watcher::Error>| {
        to.send(Seen {
            stream: stream.clone(),
            item,
        })
        .is_ok()
    };
    let mut retry = Retry::default();
    let wait = |retry: &mut Retry| tokio::time::sleep(retry.next().unwrap_or(super::RETRY_MAX));
    let params = WatchParams::default()
        .fields(&format!("metadata.name={name}"))
        .timeout(WATCH_TIMEOUT_SECS);
    loop {
        let object = match api.get_opt(&name).await {
            Ok(object) => object,
            Err(error) => {
                if !send(Err(watcher::Error::InitialListFailed(error))) {
                    return;
                }
                wait(&mut retry).await;
                continue;
            }
        };
        kube::runtime::utils::Backoff::reset(&mut retry);
        // without a version (not there yet) the watch starts with the object as it is then,
        // so one created between the GET and the WATCH is not missed
        let version = object
            .as_ref()
            .and_then(|o| o.metadata.resource_version.clone())
            .unwrap_or_default();
        let listed = [Ok(Event::Init)]
            .into_iter()
            .chain(object.map(|o| Ok(Event::InitApply(o))))
            .chain([Ok(Event::InitDone)]);
        for item in listed {
            if !send(item) {
                return;
            }
        }
        let mut events = match api.watch(&params, &version).await {
            Ok(events) => events.boxed(),
            Err(error) => {
                if !send(Err(watcher::Error::WatchStartFailed(error))) {
                    return;
                }
                wait(&mut retry).await;
                continue;
            }
        };
        while let Some(event) = events.next().await {
            let item = match event {
                Ok(WatchEvent::Added(o) | WatchEvent::Modified(o)) => Ok(Event::Apply(o)),
                Ok(WatchEvent::Deleted(o)) => Ok(Event::Delete(o)),
                Ok(WatchEvent::Bookmark(_)) => continue,
                Ok(WatchEvent::Error(status)) => {
                    let expired = status.code == 410;
                    if !send(Err(watcher::Error::WatchError(status))) {
                        return;
                    }
                    if !expired {
                        wait(&mut retry).await;
                    }
                    break;
                }
                Err(error) => {
                    if !send(Err(watcher::Error::WatchFailed(error))) {
                        return;
                    }
                    wait(&mut retry).await;
                    break;
                }
            };
            if !send(item) {
                return;
            }
        }
        // the watch ended (its timeout, the server, 410): read the object again
    }
}

#[cfg(test)]
mod tests;
