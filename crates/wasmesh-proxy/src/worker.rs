//! A worker: one thread, one current-thread tokio runtime, its own `SO_REUSEPORT` accept
//! loops, upstream pools and (per plugin) VMs — Envoy's threading model. A worker follows
//! the snapshot channel: on each new snapshot it rebuilds its per-listener state, binds new
//! listeners and closes removed ones; requests in flight keep the state they started with.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use hyper_util::rt::TokioTimer;
use hyper_util::server::conn::auto;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use wasmesh_wasm::{Host, PluginVm};

use crate::chain::{ConnInfo, FilterSpec};
use crate::cluster::Endpoint;
use crate::exec::LocalExec;
use crate::listener;
use crate::plugin::host::WorkerHost;
use crate::request_id::RequestIds;
use crate::run::Shared;
use crate::snapshot::{ListenerConfig, ListenerProtocol, Snapshot, TrafficDirection};
use crate::stats::{Labels, Series, WorkerStats};
use crate::upstream::UpstreamPool;

/// Envoy's default limit on request headers (60 KiB); more gets 431.
pub(crate) const MAX_HEADER_BYTES: usize = 60 * 1024;
/// Envoy's default limit on the number of header fields (`max_headers_count`), for requests
/// and, on the upstream side, responses.
pub(crate) const MAX_HEADERS: usize = 100;

/// One worker's state, shared by its tasks.
pub struct WorkerCtx {
    /// The worker's number (0..`--workers`), as `/plugins` names it.
    pub id: usize,
    pub pool: Rc<UpstreamPool>,
    /// Makes the `x-request-id` of requests that arrive without one.
    pub request_ids: RequestIds,
    pub stats: WorkerStats,
    /// hyper's server settings common to every listener ([`WorkerListener::http`] adds
    /// each listener's own).
    http: auto::Builder<LocalExec>,
    /// What this worker's plugin VMs reach the outside world through.
    host: Rc<WorkerHost>,
    /// This worker's VM of each loaded plugin, by the plugin's address; a reload keeps the
    /// VMs of plugins that did not change.
    vms: RefCell<HashMap<usize, Rc<PluginVm>>>,
    /// Flips to true when the proxy starts draining.
    pub shutdown: watch::Receiver<bool>,
    active: Cell<usize>,
    idle: Notify,
}

/// A listener as one worker serves it under one snapshot.
pub struct WorkerListener {
    pub config: Arc<ListenerConfig>,
    /// hyper's server with this listener's timeouts; a connection keeps its own handle
    /// (not the listener's, which would keep the snapshot alive as long as it).
    pub http: Rc<auto::Builder<LocalExec>>,
    pub snapshot: Arc<Snapshot>,
    /// This worker's VM for each plugin filter of the chain, by filter index.
    pub vms: Vec<Option<Rc<PluginVm>>>,
    /// The properties plugins read of each route (by its place in the table; one more,
    /// last, for a request no route takes), made once, not per request (empty without
    /// plugins).
    pub route_properties: Vec<Properties>,
    /// Round-robin positions, per cluster index.
    rr: Vec<Cell<usize>>,
    /// Cluster names, per cluster index, as worker-local strings for stats labels.
    pub cluster_names: Vec<Rc<str>>,
    pub reporter: &'static str,
    pub workload: Arc<str>,
    pub workload_namespace: Arc<str>,
    pub unknown: Arc<str>,
    /// The stats series this listener's requests were recorded in, by what tells them
    /// apart; a short list, scanned, so a request costs no label hashing.
    series: RefCell<Vec<(StatKey, Arc<Series>)>>,
}

/// Properties by dotted path, as plugins read them (`wasmesh_wasm::StreamInfo::extra`).
pub type Properties = Arc<[(String, bytes::Bytes)]>;

/// What distinguishes the stats series of one listener's requests.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct StatKey {
    pub cluster: Option<usize>,
    pub code: u16,
    pub flag: &'static str,
    pub protocol: &'static str,
}

/// The current [`WorkerListener`] of one bound socket; replaced on each snapshot.
pub struct ListenerSlot {
    current: RefCell<Rc<WorkerListener>>,
}

/// One downstream connection.
pub struct ConnCtx {
    pub info: ConnInfo,
    pub slot: Rc<ListenerSlot>,
    pub worker: Rc<WorkerCtx>,
}

/// A bound listener of this worker.
struct Bound {
    slot: Rc<ListenerSlot>,
    key: ListenerKey,
    accept: JoinHandle<()>,
}

/// What makes a bound socket reusable across snapshots.
#[derive(PartialEq, Eq, Clone, Copy)]
struct ListenerKey {
    address: SocketAddr,
    protocol: ListenerProtocol,
    tls: bool,
}

// === impl WorkerListener ===

impl WorkerListener {
    fn new(
        config: Arc<ListenerConfig>,
        snapshot: Arc<Snapshot>,
        vms: Vec<Option<Rc<PluginVm>>>,
        base: &auto::Builder<LocalExec>,
    ) -> Self {
        let clusters = &snapshot.clusters;
        let mut http = base.clone();
        // hyper starts its header timer when it waits for a head, keep-alive included.
        http.http1().header_read_timeout(config.timeouts.head_wait());
        let route_properties = if config.chain.has_plugins() {
            crate::plugin::attributes::route_properties(&config)
        } else {
            Vec::new()
        };
        WorkerListener {
            http: Rc::new(http),
            vms,
            route_properties,
            rr: (0..clusters.len()).map(|_| Cell::new(0)).collect(),
            cluster_names: clusters.iter().map(|c| Rc::from(c.name.as_str())).collect(),
            reporter: match config.traffic_direction {
                TrafficDirection::Server => "destination",
                TrafficDirection::Client => "source",
            },
            workload: Arc::from(snapshot.workload.name.as_str()),
            workload_namespace: Arc::from(snapshot.workload.namespace.as_str()),
            unknown: Arc::from("unknown"),
            series: RefCell::new(Vec::new()),
            config,
            snapshot,
        }
    }

    /// The series a request with `key` is recorded in.
    pub fn series(&self, stats: &WorkerStats, key: StatKey, labels: impl FnOnce() -> Labels) -> Arc<Series> {
        let mut list = self.series.borrow_mut();
        if let Some((_, s)) = list.iter().find(|(k, _)| *k == key) {
            return s.clone();
        }
        let s = stats.series(&labels());
        list.push((key, s.clone()));
        s
    }

    /// The next endpoint of a cluster, round robin.
    pub fn pick_endpoint(&self, cluster: usize) -> Option<&Endpoint> {
        let endpoints = &self.snapshot.clusters.get(cluster).endpoints;
        if endpoints.is_empty() {
            return None;
        }
        let pos = self.rr[cluster].get();
        self.rr[cluster].set(pos.wrapping_add(1));
        Some(&endpoints[pos % endpoints.len()])
    }
}

// === impl ListenerSlot ===

impl ListenerSlot {
    pub fn current(&self) -> Rc<WorkerListener> {
        self.current.borrow().clone()
    }
}

// === impl WorkerCtx ===

impl WorkerCtx {
    /// Counts a connection in; the guard counts it out when dropped.
    pub fn track(self: &Rc<Self>) -> ConnGuard {
        self.active.set(self.active.get() + 1);
        ConnGuard(self.clone())
    }

    async fn drained(&self) {
        while self.active.get() > 0 {
            self.idle.notified().await;
        }
    }
}

/// Keeps a connection counted while it lives.
pub struct ConnGuard(Rc<WorkerCtx>);

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let n = self.0.active.get() - 1;
        self.0.active.set(n);
        if n == 0 {
            self.0.idle.notify_waiters();
        }
    }
}

/// Runs one worker until shutdown; called on its own thread.
pub fn run(id: usize, shared: Arc<Shared>) {
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(worker = id, error = %e, "worker runtime failed to start");
            return;
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, serve(id, shared));
}

async fn serve(id: usize, shared: Arc<Shared>) {
    let mut http = auto::Builder::new(LocalExec);
    http.http1()
        .timer(TokioTimer::new())
        .max_buf_size(MAX_HEADER_BYTES.max(8192))
        .max_headers(MAX_HEADERS);
    http.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_BYTES as u32);
    let pool = Rc::new(UpstreamPool::default());
    tokio::task::spawn_local(UpstreamPool::sweep_every(Rc::downgrade(&pool)));
    let worker = Rc::new(WorkerCtx {
        id,
        pool: pool.clone(),
        request_ids: RequestIds::new(),
        stats: WorkerStats::new(shared.stats.clone()),
        http,
        host: Rc::new(WorkerHost::new(pool.clone())),
        vms: RefCell::new(HashMap::new()),
        shutdown: shared.shutdown.subscribe(),
        active: Cell::new(0),
        idle: Notify::new(),
    });
    let mut snapshots = shared.snapshots.subscribe();
    let mut shutdown = shared.shutdown.subscribe();
    let mut bound: HashMap<String, Bound> = HashMap::new();
    loop {
        let snapshot = snapshots.borrow_and_update().clone();
        apply(&worker, &shared, &snapshot, &mut bound);
        shared.applied[id].store(snapshot.version, Ordering::Release);
        tokio::select! {
            changed = snapshots.changed() => if changed.is_err() { break },
            _ = shutdown.wait_for(|s| *s) => break,
        }
    }
    for (_, b) in bound.drain() {
        b.accept.abort();
    }
    let deadline = shared.drain_timeout;
    if tokio::time::timeout(deadline, worker.drained()).await.is_err() {
        tracing::warn!(worker = id, open = worker.active.get(), "drain deadline passed");
    }
}

/// Brings this worker's listeners in line with a snapshot.
fn apply(
    worker: &Rc<WorkerCtx>,
    shared: &Arc<Shared>,
    snapshot: &Arc<Snapshot>,
    bound: &mut HashMap<String, Bound>,
) {
    let workload = &snapshot.workload;
    worker.host.update(
        snapshot.clusters.clone(),
        crate::plugin::attributes::node(&workload.namespace, &workload.name, &snapshot.labels),
    );
    let mut old_vms = std::mem::take(&mut *worker.vms.borrow_mut());
    let mut vms = HashMap::new();
    let mut keep: HashMap<String, Bound> = HashMap::new();
    for config in &snapshot.listeners {
        let listener_vms = config
            .chain
            .filters
            .iter()
            .map(|f| match f {
                FilterSpec::Wasm(w) => {
                    let key = Arc::as_ptr(&w.plugin) as usize;
                    let vm = vms
                        .get(&key)
                        .cloned()
                        .or_else(|| old_vms.remove(&key))
                        .unwrap_or_else(|| {
                            let host: Rc<dyn Host> = worker.host.clone();
                            Rc::new(PluginVm::start_on_worker(w.plugin.clone(), host, worker.id))
                        });
                    if let Some(failure) = vm.failure() {
                        // The failure itself was logged once, when it happened.
                        tracing::debug!(plugin = %w.name, "plugin VM is not usable on this worker: {failure}");
                    }
                    vms.insert(key, vm.clone());
                    Some(vm)
                }
                _ => None,
            })
            .collect();
        let key = ListenerKey {
            address: config.address,
            protocol: config.protocol,
            tls: config.tls.is_some(),
        };
        let state = Rc::new(WorkerListener::new(
            config.clone(),
            snapshot.clone(),
            listener_vms,
            &worker.http,
        ));
        match bound.remove(&config.name) {
            Some(b) if b.key == key => {
                *b.slot.current.borrow_mut() = state;
                keep.insert(config.name.clone(), b);
            }
            other => {
                if let Some(old) = other {
                    old.accept.abort();
                }
                let slot = Rc::new(ListenerSlot {
                    current: RefCell::new(state),
                });
                match listener::bind(config.address) {
                    Ok(tcp) => {
                        shared.clear_bind_error(&config.name);
                        let accept = tokio::task::spawn_local(listener::accept_loop(
                            tcp,
                            slot.clone(),
                            worker.clone(),
                        ));
                        keep.insert(config.name.clone(), Bound { slot, key, accept });
                    }
                    Err(e) => {
                        tracing::error!(listener = %config.name, address = %config.address, error = %e, "cannot bind listener");
                        shared.set_bind_error(&config.name, format!("cannot bind {}: {e}", config.address));
                    }
                }
            }
        }
    }
    for (_, old) in bound.drain() {
        old.accept.abort();
    }
    *bound = keep;
    *worker.vms.borrow_mut() = vms;
}
