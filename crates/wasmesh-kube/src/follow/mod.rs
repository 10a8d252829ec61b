//! One watcher per stream: a kind in every namespace, a kind in one namespace, or one
//! Secret by name. kube-rs's watcher lists, then watches from the list's version; after
//! `410 Gone` it lists again (its events say so: `Init` … `InitDone`), and a watch that ends
//! is resumed from the last version seen. Errors come through with a backoff between tries.
//! A Secret is followed without a list at all (`by_name`): get, then watch.

mod by_name;

use std::time::Duration;

use futures::StreamExt as _;
use kube::api::{Api, DynamicObject};
use kube::runtime::utils::Backoff;
use kube::runtime::{watcher, WatchStreamExt as _};
use kube::Client;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::sync::StreamId;

/// What a watcher saw: an event or an error, from one stream.
pub struct Seen {
    pub stream: StreamId,
    pub item: Result<watcher::Event<DynamicObject>, watcher::Error>,
}

/// A task that is stopped when this is dropped.
pub struct Task(JoinHandle<()>);

impl Task {
    pub fn spawn(future: impl std::future::Future<Output = ()> + Send + 'static) -> Self {
        Task(tokio::spawn(future))
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the watcher of `stream`; what it sees goes to `to`, until the task is dropped or
/// the receiver is gone.
pub fn watch(client: &Client, stream: StreamId, to: mpsc::UnboundedSender<Seen>) -> Task {
    let resource = stream.resource();
    let api = match &stream {
        // one Secret by its name: `get` and `watch`, never a list of a namespace's Secrets
        StreamId::Secret { namespace, name } => {
            let api = Api::namespaced_with(client.clone(), namespace, &resource);
            let name = name.clone();
            return Task::spawn(by_name::follow(api, name, stream, to));
        }
        StreamId::Kind { namespace, .. } | StreamId::Gateway { namespace, .. } => match namespace {
            None => Api::<DynamicObject>::all_with(client.clone(), &resource),
            Some(namespace) => Api::namespaced_with(client.clone(), namespace, &resource),
        },
    };
    Task::spawn(async move {
        let config = watcher::Config::default();
        let mut events = watcher(api, config).backoff(Retry::default()).boxed();
        while let Some(item) = events.next().await {
            let seen = Seen {
                stream: stream.clone(),
                item,
            };
            if to.send(seen).is_err() {
                return;
            }
        }
    })
}

/// The wait before a watcher tries again after an error: from 250 ms, doubling, to 5 s at
/// most, so a watcher is back within seconds of an API server's return. Reset by the first
/// event after the error.
#[derive(Debug, Clone)]
pub struct Retry {
    next: Duration,
}

pub const RETRY_FIRST: Duration = Duration::from_millis(250);
pub const RETRY_MAX: Duration = Duration::from_secs(5);

impl Default for Retry {
    fn default() -> Self {
        Retry { next: RETRY_FIRST }
    }
}

impl Iterator for Retry {
    type Item = Duration;
    fn next(&mut self) -> Option<Duration> {
        let wait = self.next;
        self.next = (self.next * 2).min(RETRY_MAX);
        Some(wait)
    }
}

impl Backoff for Retry {
    fn reset(&mut self) {
        self.next = RETRY_FIRST;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_to_a_cap_and_start_over_after_a_reset() {
        let mut retry = Retry::default();
        let waits: Vec<u64> = retry.by_ref().take(7).map(|d| d.as_millis() as u64).collect();
        assert_eq!(waits, [250, 500, 1000, 2000, 4000, 5000, 5000]);
        retry.reset();
        assert_eq!(retry.next(), Some(RETRY_FIRST));
    }
}
