//! What the request handlers and the test's handle share: the store, the request counters
//! and the knobs the hooks turn.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;

use super::store::Store;

/// The shared state of one server.
#[derive(Debug)]
pub struct Shared {
    store: Mutex<Store>,
    counters: Mutex<BTreeMap<&'static str, u64>>,
    /// Per verb and resource (its plural): what RBAC would have to allow.
    on_resources: Mutex<BTreeMap<(&'static str, String), u64>>,
    /// Bumped to end every open watch (a restart of the server).
    pub watch_epoch: watch::Sender<u64>,
    /// The longest a watch stays open, as the real server's `--min-request-timeout`
    /// bounds it; `None`: until the client's `timeoutSeconds`.
    watch_lifetime: Mutex<Option<Duration>>,
    /// How often a watch that allows bookmarks gets one.
    pub bookmark_interval: Duration,
    /// `host:port`, for `/api`'s `serverAddressByClientCIDRs`.
    pub address: String,
}

impl Shared {
    pub fn new(
        store: Store,
        bookmark_interval: Duration,
        watch_lifetime: Option<Duration>,
        address: String,
    ) -> Self {
        Shared {
            store: Mutex::new(store),
            counters: Mutex::new(BTreeMap::new()),
            on_resources: Mutex::new(BTreeMap::new()),
            watch_epoch: watch::channel(0).0,
            watch_lifetime: Mutex::new(watch_lifetime),
            bookmark_interval,
            address,
        }
    }

    /// The store, locked. A handler that panicked mid-write leaves it as it was, which a
    /// test double may keep using.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one request of `verb`.
    pub fn count(&self, verb: &'static str) {
        *self
            .counters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(verb)
            .or_default() += 1;
    }

    /// Counts one request of `verb` on the resource `plural`, and of `verb` at all.
    pub fn count_on(&self, verb: &'static str, plural: &str) {
        self.count(verb);
        *self
            .on_resources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((verb, plural.to_string()))
            .or_default() += 1;
    }

    /// How many requests of `verb` on the resource `plural` came.
    pub fn requests_on(&self, verb: &str, plural: &str) -> u64 {
        self.on_resources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|((v, p), _)| *v == verb && p == plural)
            .map(|(_, n)| *n)
            .sum()
    }

    /// How many requests of `verb` came.
    pub fn requests(&self, verb: &str) -> u64 {
        self.counters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(verb)
            .copied()
            .unwrap_or(0)
    }

    pub fn watch_lifetime(&self) -> Option<Duration> {
        *self.watch_lifetime.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_watch_lifetime(&self, lifetime: Option<Duration>) {
        *self.watch_lifetime.lock().unwrap_or_else(|e| e.into_inner()) = lifetime;
    }
}
