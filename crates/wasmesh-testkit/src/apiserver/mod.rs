//! A test double of the Kubernetes API server's REST protocol, for driving the real kube-rs
//! client and the real kubectl against it (no API server can run where the tests run). It
//! speaks the subset they use: discovery, `Namespace`s, `Secret`s, `Service`s, `EndpointSlice`s, `Event`s, `Lease`s and
//! `CustomResourceDefinition`s built in and custom resources once their CRD is created;
//! get, list (selectors, pages), watch (from a version, bookmarks, 410), create, update,
//! merge / strategic-merge (as merge) / apply patches, delete; the `status` subresource.
//! What it leaves out is listed in docs/kubernetes-testing.md.
//!
//! It runs on a runtime of its own, so sync tests and async tests of either flavour can use
//! it, and its hooks (restart, watch lifetime, outage, expired history, request counters)
//! are plain method calls.
//!
//! ```no_run
//! let server = wasmesh_testkit::apiserver::ApiServer::start().unwrap();
//! let kubeconfig = server.kubeconfig().unwrap(); // KUBECONFIG=… kubectl get secrets
//! server.go_down(std::time::Duration::from_secs(2)); // connections refused for 2 s
//! let lists = server.requests("list"); // how many lists clients made
//! ```

mod builtin;
mod crd;
mod discovery;
mod handlers;
mod kinds;
mod kubeconfig;
mod load;
mod meta;
mod patch;
mod query;
mod router;
mod selector;
mod server;
mod shared;
mod status;
mod store;
mod table;
mod watch;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;

pub use kubeconfig::{write as write_kubeconfig, Kubeconfig};
pub use status::ApiError;

use shared::Shared;
use store::Store;

/// How a server starts; the hooks change some of it later.
#[derive(Debug, Clone)]
pub struct ApiServerConfig {
    /// How many changes are kept for watches to resume from; a watch from before them gets
    /// 410 `Expired`.
    pub history_limit: usize,
    /// How often a watch that allows bookmarks gets one.
    pub bookmark_interval: Duration,
    /// Watches are closed after this long (as the real server closes each after a while);
    /// `None`: only at the client's `timeoutSeconds`.
    pub watch_lifetime: Option<Duration>,
}

impl Default for ApiServerConfig {
    fn default() -> Self {
        ApiServerConfig {
            history_limit: 1000,
            bookmark_interval: Duration::from_secs(1),
            watch_lifetime: None,
        }
    }
}

/// A running double on `127.0.0.1`; it stops when dropped.
#[derive(Debug)]
pub struct ApiServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
    accept: Arc<Mutex<Option<JoinHandle<()>>>>,
    outages: tokio::sync::watch::Sender<u64>,
}

impl ApiServer {
    /// Starts a double with the default settings on a free loopback port.
    pub fn start() -> std::io::Result<Self> {
        Self::start_with(ApiServerConfig::default())
    }

    /// Starts a double with `config` on a free loopback port.
    pub fn start_with(config: ApiServerConfig) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("apiserver-double")
            .enable_all()
            .build()?;
        // entered, not blocked on: a test's own runtime may be running on this thread
        let _entered = runtime.enter();
        let listener = server::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let addr = listener.local_addr()?;
        let store = Store::new(config.history_limit);
        let shared = Arc::new(Shared::new(
            store,
            config.bookmark_interval,
            config.watch_lifetime,
            addr.to_string(),
        ));
        let outages = tokio::sync::watch::channel(0).0;
        let accept = server::serve(listener, Arc::clone(&shared), outages.subscribe());
        drop(_entered);
        Ok(ApiServer {
            addr,
            shared,
            runtime: Some(runtime),
            accept: Arc::new(Mutex::new(Some(accept))),
            outages,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A kubeconfig for this server in a temporary directory (kept while the value lives).
    pub fn kubeconfig(&self) -> std::io::Result<Kubeconfig> {
        Kubeconfig::new(&self.url())
    }

    /// How many requests of `verb` came: `get`, `list`, `watch`, `create`, `update`,
    /// `patch`, `delete`, or `discovery` (the discovery documents and `/version`).
    pub fn requests(&self, verb: &str) -> u64 {
        self.shared.requests(verb)
    }

    /// Creates `object` straight in the store, without HTTP (its `apiVersion`, `kind` and
    /// `metadata.namespace` say where), with the rules and the watch event of a `POST`:
    /// for loading many objects fast (a CRD created so makes its kind served at once).
    pub fn create(&self, object: serde_json::Value) -> Result<serde_json::Value, ApiError> {
        load::create(&mut self.shared.store(), object)
    }

    /// Applies the JSON merge patch `patch` straight in the store to the object its
    /// `apiVersion`, `kind`, `metadata.namespace` and `metadata.name` name, as a `PATCH`
    /// would; answers with the object as it is now.
    pub fn merge_patch(&self, patch: &serde_json::Value) -> Result<serde_json::Value, ApiError> {
        load::merge_patch(&mut self.shared.store(), patch)
    }

    /// The latest `resourceVersion`.
    pub fn resource_version(&self) -> u64 {
        self.shared.store().resource_version()
    }

    /// A restart as clients see it: every open watch ends (the objects stay).
    pub fn restart(&self) {
        self.shared.watch_epoch.send_modify(|e| *e += 1);
    }

    /// Closes each watch `lifetime` after it opened (`None`: only at its `timeoutSeconds`);
    /// for watches opened from now on.
    pub fn set_watch_lifetime(&self, lifetime: Option<Duration>) {
        self.shared.set_watch_lifetime(lifetime);
    }

    /// Keeps only the last `limit` changes for watches to resume from.
    pub fn set_history_limit(&self, limit: usize) {
        self.shared.store().set_history_limit(limit);
    }

    /// Forgets the history of changes and ends every watch, so that each client's next watch
    /// is from a version too old: it gets 410 `Expired` and must list again.
    pub fn expire_history(&self) {
        self.shared.store().expire_history();
        self.restart();
    }

    /// Goes down for `outage`: returns once the port refuses connections and every open
    /// connection (watches too) is dropped; the same port serves again after `outage`.
    pub fn go_down(&self, outage: Duration) {
        let Some(runtime) = &self.runtime else { return };
        let (done, down) = mpsc::channel();
        let accept = Arc::clone(&self.accept);
        let shared = Arc::clone(&self.shared);
        let outages = self.outages.clone();
        let addr = self.addr;
        runtime.spawn(async move {
            let running = accept.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(running) = running {
                running.abort();
                // the listener is closed once the aborted task is dropped
                let _ = running.await;
            }
            outages.send_modify(|o| *o += 1);
            let _ = done.send(());
            tokio::time::sleep(outage).await;
            match server::rebind(addr).await {
                Ok(listener) => {
                    let serving = server::serve(listener, shared, outages.subscribe());
                    *accept.lock().unwrap_or_else(|e| e.into_inner()) = Some(serving);
                }
                Err(e) => eprintln!("apiserver double: cannot listen on {addr} again after an outage: {e}"),
            }
        });
        // the task above answers unless the runtime is gone, and then the server is down too
        let _ = down.recv();
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        // a test's own runtime may be dropping us: a runtime cannot be dropped there, only
        // told to stop
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
