//! The running source: the watchers, the loop that turns what they see into snapshots, and
//! the probe that tells when an unreachable API server answers again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kube::runtime::watcher;
use kube::Client;
use tokio::sync::{mpsc, watch};
use wasmesh_api::gateway::Objects;
use wasmesh_config::{ConfigSource, Snapshot, SourceHealth, Store};

use crate::client::{connect, Options, StartError};
use crate::follow::{self, Seen, Task};
use crate::health::Health;
use crate::sync::{StreamId, Sync};

/// How often a reachable API server is asked whether it still answers (`/version`).
const PROBE_INTERVAL: Duration = Duration::from_secs(5);

/// The Kubernetes source, running on the runtime it was started on; dropping it stops it.
pub struct KubeSource {
    rx: watch::Receiver<Arc<Snapshot>>,
    gateway_objects: watch::Receiver<Option<Arc<Objects>>>,
    health: Arc<Health>,
    _tasks: Vec<Task>,
}

impl KubeSource {
    /// With `--gateway`: the Gateway API objects of each complete state, for their status
    /// (`crate::status`); `None` until the first.
    pub fn gateway_objects(&self) -> watch::Receiver<Option<Arc<Objects>>> {
        self.gateway_objects.clone()
    }
}

impl ConfigSource for KubeSource {
    fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.rx.clone()
    }

    fn description(&self) -> String {
        format!("Kubernetes API server {}", self.health.url())
    }

    fn health(&self) -> SourceHealth {
        self.health.source_health()
    }
}

/// Starts following the API server `options` name; must run inside a tokio runtime, which
/// runs the watchers. Fails only when no client can be configured: an API server that does
/// not answer yet is waited for (and the proxy is not ready until everything is listed).
pub async fn start(options: &Options) -> Result<KubeSource, StartError> {
    let (client, url) = connect(options).await?;
    let health = Arc::new(Health::new(url));
    let (tx, rx) = watch::channel(Store::new().snapshot(Vec::new()));
    let (seen_tx, seen_rx) = mpsc::unbounded_channel();
    let (objects_tx, objects_rx) = watch::channel(None);
    let mut sync = match &options.gateway {
        Some(target) => Sync::with_gateway(target.clone()),
        None => Sync::new(),
    };
    let mut watchers = BTreeMap::new();
    let streams = crate::scope::streams(options);
    for stream in streams {
        sync.add(stream.clone());
        watchers.insert(stream.clone(), follow::watch(&client, stream, seen_tx.clone()));
    }
    health.set_pending(sync.pending());
    let namespaces: Vec<String> = options.followed_namespaces().into_iter().flatten().collect();
    let namespaces = namespaces.join(",");
    match &options.gateway {
        None => tracing::info!(
            url = %health.url(),
            namespaces = %namespaces,
            "following WasmPlugins, RequestAuthentications, AuthorizationPolicies and Proxies"
        ),
        Some(target) => tracing::info!(
            url = %health.url(),
            namespaces = %namespaces,
            gateway = %target.gateway,
            "following WasmPlugins, RequestAuthentications, AuthorizationPolicies, and the \
             GatewayClasses, Gateways, HTTPRoutes, Services, EndpointSlices, ReferenceGrants and Namespaces the Gateway's \
             Proxy is made from"
        ),
    }
    let run = Task::spawn(run(
        client.clone(),
        sync,
        watchers,
        seen_rx,
        seen_tx,
        (tx, objects_tx),
        Arc::clone(&health),
    ));
    let probe = Task::spawn(probe(client, Arc::clone(&health)));
    Ok(KubeSource {
        rx,
        gateway_objects: objects_rx,
        health,
        _tasks: vec![run, probe],
    })
}

/// What a watcher's error means.
enum Fault {
    /// No answer: an outage.
    Unreachable(String),
    /// `410 Gone`: the watcher lists again.
    Expired,
    /// The server answered with an error (403, 404: RBAC, a CRD not installed).
    Refused(String),
}

fn classify(error: &watcher::Error) -> Fault {
    let status = |s: &kube::core::Status| {
        if s.code == 410 {
            Fault::Expired
        } else {
            Fault::Refused(format!("{} {}: {}", s.code, s.reason, s.message))
        }
    };
    match error {
        watcher::Error::WatchError(s) => status(s),
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => match e {
            kube::Error::Api(s) => status(s),
            other => Fault::Unreachable(other.to_string()),
        },
        watcher::Error::NoResourceVersion => Fault::Refused(error.to_string()),
    }
}

async fn run(
    client: Client,
    mut sync: Sync,
    mut watchers: BTreeMap<StreamId, Task>,
    mut seen: mpsc::UnboundedReceiver<Seen>,
    seen_tx: mpsc::UnboundedSender<Seen>,
    (tx, objects_tx): (watch::Sender<Arc<Snapshot>>, watch::Sender<Option<Arc<Objects>>>),
    health: Arc<Health>,
) {
    // per stream, the error last logged: said once until the stream works again
    let mut refused: BTreeMap<StreamId, String> = BTreeMap::new();
    while let Some(first) = seen.recv().await {
        let mut next = Some(first);
        // everything already waiting, as one batch
        while let Some(Seen { stream, item }) = next.take().or_else(|| seen.try_recv().ok()) {
            match item {
                Ok(event) => {
                    health.reached();
                    if refused.remove(&stream).is_some() {
                        tracing::info!(stream = %stream, "Kubernetes API server answers again");
                    }
                    sync.apply(&stream, event);
                }
                Err(error) => match classify(&error) {
                    Fault::Unreachable(why) => health.lost(&why),
                    Fault::Expired => {
                        health.reached();
                        tracing::info!(stream = %stream, "watch expired (410 Gone); listing again");
                    }
                    Fault::Refused(why) => {
                        health.reached();
                        if refused.get(&stream) != Some(&why) {
                            tracing::warn!(
                                stream = %stream,
                                error = %why,
                                "the Kubernetes API server refused to list or watch (is the CRD \
                                 installed, may this service account read it?); retrying"
                            );
                            refused.insert(stream.clone(), why);
                        }
                    }
                },
            }
        }
        follow_secrets(&client, &mut sync, &mut watchers, &seen_tx);
        // what is awaited, and why when the server refused it (`/ready` shows this)
        let pending = sync
            .pending_streams()
            .map(|id| match refused.get(id) {
                Some(why) => format!("the list of {id} (refused: {why})"),
                None => format!("the list of {id}"),
            })
            .collect();
        health.set_pending(pending);
        if let Some(snapshot) = sync.snapshot() {
            tracing::info!(
                generation = snapshot.generation,
                resources = snapshot.resources.len(),
                invalid = snapshot.diagnostics.len(),
                "Kubernetes resources synced"
            );
            health.synced();
            tx.send_replace(snapshot);
        }
        // a status write changes no snapshot but is an object of its own: sent too
        let objects = sync.gateway_objects();
        objects_tx.send_if_modified(|current| {
            let changed = match (&*current, &objects) {
                (Some(a), Some(b)) => !Arc::ptr_eq(a, b),
                (None, None) => false,
                _ => true,
            };
            if changed {
                *current = objects;
            }
            changed
        });
    }
}

/// Watches each pull Secret a valid `WasmPlugin` names, by name in its namespace, and
/// stops watching those no plugin names any more.
fn follow_secrets(
    client: &Client,
    sync: &mut Sync,
    watchers: &mut BTreeMap<StreamId, Task>,
    seen_tx: &mpsc::UnboundedSender<Seen>,
) {
    let wanted: Vec<StreamId> = sync
        .wanted_secrets()
        .into_iter()
        .map(|(namespace, name)| StreamId::Secret { namespace, name })
        .collect();
    let unwanted: Vec<StreamId> = sync
        .streams()
        .filter(|s| matches!(s, StreamId::Secret { .. }) && !wanted.contains(s))
        .cloned()
        .collect();
    for stream in unwanted {
        sync.remove(&stream);
        watchers.remove(&stream);
    }
    for stream in wanted {
        if !watchers.contains_key(&stream) {
            sync.add(stream.clone());
            watchers.insert(stream.clone(), follow::watch(client, stream, seen_tx.clone()));
        }
    }
}

/// Asks the API server for `/version`: every [`PROBE_INTERVAL`] while it answers, and
/// after each watcher-like backoff while it does not, so that the end of an outage is seen
/// (and logged) even when no object changes.
async fn probe(client: Client, health: Arc<Health>) {
    let mut retry = follow::Retry::default();
    loop {
        let wait = if health.is_connected() {
            PROBE_INTERVAL
        } else {
            retry.next().unwrap_or(follow::RETRY_MAX)
        };
        tokio::time::sleep(wait).await;
        match client.apiserver_version().await {
            Ok(_) => {
                health.reached();
                kube::runtime::utils::Backoff::reset(&mut retry);
            }
            Err(kube::Error::Api(_)) => health.reached(),
            Err(e) => health.lost(&e.to_string()),
        }
    }
}
