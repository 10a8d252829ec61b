//! Starting and stopping the proxy: the workers, the admin endpoint, the config loop that
//! swaps snapshots in, and graceful shutdown on SIGTERM/SIGINT.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::watch;

use crate::plugin::status::PluginStatus;
use crate::snapshot::{Snapshot, Workload};
use crate::stats::Stats;

/// Where the resources come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigFrom {
    /// `--config DIR`: a folder, watched.
    Dir(PathBuf),
    /// `--kubernetes`: a Kubernetes API server (docs/kubernetes-source.md).
    Kubernetes(wasmesh_kube::Options),
}

/// How `wasmesh proxy` was asked to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub config: ConfigFrom,
    pub workload: Workload,
    /// `--labels-file`: the pod's labels (the downward API's file), matched against
    /// selectors instead of the `Proxy` resource's labels.
    pub labels_file: Option<PathBuf>,
    pub admin: SocketAddr,
    pub root_namespace: String,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// How long in-flight requests may take to finish on shutdown.
    pub drain_timeout: Duration,
    /// Where fetched modules and compiled code are kept.
    pub cache_dir: Option<PathBuf>,
}

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The admin address could not be bound.
    #[error("cannot bind the admin endpoint {addr}: {source}")]
    Admin {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The control runtime or a worker thread could not start.
    #[error("cannot start: {0}")]
    Start(#[source] std::io::Error),
    /// The config directory could not be read or watched when the proxy started.
    #[error(transparent)]
    ConfigDir(#[from] wasmesh_config::ConfigError),
    /// The Kubernetes client could not be configured.
    #[error(transparent)]
    Kubernetes(#[from] wasmesh_kube::StartError),
    /// The labels file could not be read when the proxy started.
    #[error("{0}")]
    Labels(String),
    /// The config could not be followed any more.
    #[error("{0}")]
    Config(String),
}

/// Appends metrics text to `/stats/prometheus`.
pub type MetricsRenderer = Arc<dyn Fn(&mut String) + Send + Sync>;

/// The last outcome of applying the config, for `/ready`, `/config_dump` and `/plugins`.
#[derive(Default)]
pub struct Status {
    /// Set when the last change could not be applied; the previous snapshot stays.
    pub last_error: Option<String>,
    /// Every plugin of the workload with its state (filled in by the plugin loader; the
    /// VMs' states are read when asked).
    pub plugins: Arc<PluginStatus>,
    /// Metrics text that other parts of the process add to `/stats/prometheus`.
    pub extra_metrics: Vec<MetricsRenderer>,
    /// Where modules and compiled code are cached (`--cache-dir`), for `/config_dump`.
    pub cache_dir: Option<PathBuf>,
    /// The `metadata.generation` of the workload's Proxy in force (with `--gateway`: the
    /// Gateway's), for the Gateway's `Programmed` (`kube_status.rs`).
    pub proxy_generation: Option<i64>,
    /// The RequestAuthentications and AuthorizationPolicies the snapshot in force applies,
    /// for their `Ready` (`kube_status.rs`).
    pub policies: Vec<AppliedPolicy>,
}

/// One security policy a snapshot's `authn` or `authz` filter enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedPolicy {
    pub kind: wasmesh_api::Kind,
    pub namespace: String,
    pub name: String,
    pub generation: Option<i64>,
}

/// State shared by the control thread and the workers. Only the snapshot channel and the
/// stats atomics are touched on the request path, and the snapshot only on a change.
pub struct Shared {
    pub snapshots: watch::Sender<Arc<Snapshot>>,
    pub shutdown: watch::Sender<bool>,
    pub stats: Arc<Stats>,
    /// The snapshot version each worker has applied.
    pub applied: Vec<AtomicU64>,
    pub drain_timeout: Duration,
    bind_errors: Mutex<BTreeMap<String, String>>,
    pub status: Mutex<Status>,
}

// === impl Shared ===

impl Shared {
    pub fn new(workload: Workload, workers: usize, drain_timeout: Duration) -> Arc<Self> {
        Arc::new(Shared {
            snapshots: watch::Sender::new(Arc::new(Snapshot::empty(workload))),
            shutdown: watch::Sender::new(false),
            stats: Arc::new(Stats::default()),
            applied: (0..workers).map(|_| AtomicU64::new(0)).collect(),
            drain_timeout,
            bind_errors: Mutex::new(BTreeMap::new()),
            status: Mutex::new(Status::default()),
        })
    }

    pub fn set_bind_error(&self, listener: &str, error: String) {
        lock(&self.bind_errors).insert(listener.to_string(), error);
    }

    pub fn clear_bind_error(&self, listener: &str) {
        lock(&self.bind_errors).remove(listener);
    }

    /// Ready once a config is in force, every worker serves it and every listener is bound.
    pub fn readiness(&self) -> Result<(), String> {
        if *self.shutdown.borrow() {
            return Err("draining".into());
        }
        let version = self.snapshots.borrow().version;
        if version == 0 {
            let why = lock(&self.status).last_error.clone();
            return Err(why.unwrap_or_else(|| "no config applied yet".into()));
        }
        if let Some(w) = self
            .applied
            .iter()
            .position(|a| a.load(Ordering::Acquire) < version)
        {
            return Err(format!("worker {w} has not applied config version {version} yet"));
        }
        let errors = lock(&self.bind_errors);
        if let Some((l, e)) = errors.iter().next() {
            return Err(format!("listener {l}: {e}"));
        }
        Ok(())
    }

    /// Publishes a new snapshot to the workers.
    pub fn publish(&self, snapshot: Snapshot) {
        tracing::info!(
            version = snapshot.version,
            listeners = snapshot.listeners.len(),
            "config applied"
        );
        lock(&self.status).last_error = None;
        self.snapshots.send_replace(Arc::new(snapshot));
    }

    /// Records documents that were skipped while the rest of the change applied.
    pub fn note_problems(&self, problems: String) {
        lock(&self.status).last_error = Some(problems);
    }

    /// Records a change that could not be applied.
    pub fn reject(&self, error: String) {
        tracing::error!(error = %error, "config change rejected; the previous config stays in force");
        lock(&self.status).last_error = Some(error);
    }

    pub fn render_extra_metrics(&self, out: &mut String) {
        let (renderers, plugins) = {
            let status = lock(&self.status);
            (status.extra_metrics.clone(), status.plugins.clone())
        };
        for r in renderers {
            r(out);
        }
        plugins.write_prometheus(out);
    }

    pub fn config_dump(&self) -> Value {
        let snapshot = self.snapshots.borrow().clone();
        let status = lock(&self.status);
        json!({
            "version": snapshot.version,
            "workload": snapshot.workload,
            "lastError": status.last_error,
            "listeners": snapshot.listeners,
            "clusters": snapshot.clusters.iter().collect::<Vec<_>>(),
            "bindErrors": *lock(&self.bind_errors),
            "cacheDir": status.cache_dir,
        })
    }

    pub fn plugins_json(&self) -> Value {
        let plugins = lock(&self.status).plugins.clone();
        plugins.to_json()
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs the proxy until SIGTERM or SIGINT, then drains. Blocks the calling thread.
pub fn run(options: Options) -> Result<(), RunError> {
    let workers = if options.workers == 0 {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    } else {
        options.workers
    };
    // A config directory that is missing, not a directory or unreadable, a labels file that
    // cannot be read, a kubeconfig that cannot be used: mistakes made at startup, said
    // before anything starts, not after a start/drain/stop sequence.
    if let Some(path) = &options.labels_file {
        crate::labels::read(path).map_err(RunError::Labels)?;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(RunError::Start)?;
    let mut gateway_feed = None;
    let source: Arc<dyn wasmesh_config::ConfigSource> = match &options.config {
        ConfigFrom::Dir(dir) => wasmesh_config::watch_dir(dir)?.into_source(),
        // the watchers run on the control runtime
        ConfigFrom::Kubernetes(kube) => {
            let source = rt.block_on(wasmesh_kube::start(kube))?;
            // with --gateway, the Gateway API objects' status is made from the same objects
            gateway_feed = kube
                .gateway
                .clone()
                .map(|target| wasmesh_kube::status::GatewayFeed {
                    target,
                    objects: source.gateway_objects(),
                });
            Arc::new(source)
        }
    };
    let served = gateway_feed.as_ref().map(|f| f.target.gateway.to_string());
    // With --kubernetes, what this gateway runs goes back to each WasmPlugin's status; the
    // Leases live in the pod's namespace, else the workload's (docs/kubernetes.md, "Status").
    let reporter = match &options.config {
        ConfigFrom::Kubernetes(kube) => {
            let namespace = std::env::var("POD_NAMESPACE")
                .ok()
                .filter(|ns| !ns.is_empty())
                .unwrap_or_else(|| options.workload.namespace.clone());
            Some(rt.block_on(wasmesh_kube::status::start(kube, &namespace, gateway_feed))?)
        }
        ConfigFrom::Dir(_) => None,
    };
    let shared = Shared::new(options.workload.clone(), workers, options.drain_timeout);
    {
        let mut status = lock(&shared.status);
        status.cache_dir = options.cache_dir.clone();
        let source = Arc::clone(&source);
        status.extra_metrics.push(Arc::new(move |out: &mut String| {
            source.health().render_metrics(out)
        }));
    }
    let admin = rt
        .block_on(tokio::net::TcpListener::bind(options.admin))
        .map_err(|source| RunError::Admin {
            addr: options.admin,
            source,
        })?;
    tracing::info!(admin = %options.admin, workers, "wasmesh proxy starting");
    let mut threads = Vec::new();
    for id in 0..workers {
        let shared = shared.clone();
        let t = std::thread::Builder::new()
            .name(format!("wasmesh-worker-{id}"))
            .spawn(move || crate::worker::run(id, shared))
            .map_err(RunError::Start)?;
        threads.push(t);
    }
    let result = rt.block_on(async {
        tokio::spawn(crate::admin::serve(admin, shared.clone()));
        if let Some(reporter) = reporter {
            tokio::spawn(crate::kube_status::run(shared.clone(), reporter, served));
        }
        let control = tokio::spawn(crate::source::follow(options.clone(), source, shared.clone()));
        let result = tokio::select! {
            _ = shutdown_signal() => Ok(()),
            r = control => match r {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e),
                Err(e) => Err(RunError::Config(format!("config loop failed: {e}"))),
            },
        };
        tracing::info!(deadline = ?options.drain_timeout, "draining");
        shared.shutdown.send_replace(true);
        // The admin endpoint keeps answering (`/ready`: draining) while the workers finish.
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
        result
    });
    tracing::info!("stopped");
    // The workers have drained and stopped; nothing is left to wait for. A blocking task
    // still running on the control runtime — a module being compiled, which takes seconds —
    // is abandoned rather than awaited (dropping the runtime would wait for it), so the
    // process exits at once. Caches are written to a temporary file and renamed, so an
    // abandoned write leaves no half entry.
    rt.shutdown_background();
    result
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
    }
}
