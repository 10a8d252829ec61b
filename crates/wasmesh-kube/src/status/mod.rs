//! Status back on each WasmPlugin, RequestAuthentication and AuthorizationPolicy
//! (docs/kubernetes.md, "Status"): `Accepted` (valid, or the field path and value of each
//! error) and `Ready` (run by the gateways that select it, or their fetch / signature /
//! compile / `on_configure` error; for a policy: applied by the gateways that select it),
//! with `observedGeneration`, written through the status subresource.
//!
//! Replicas do not fight over it:
//! - each gateway publishes what it runs in a Lease of its own (`report`), which no other
//!   process writes;
//! - one gateway, the holder of the Lease `wasmesh-status` (`lease`), reads every live report
//!   and writes the status of every WasmPlugin it follows (`conditions`, `writer`);
//! - a status that is already what it would write is not written, so the watch event of a
//!   write leads to no further write;
//! - a new failure written is reported once as a Kubernetes Event, by the writer alone
//!   (`events`).
//!
//! With `--gateway`, the Gateway API status of the Gateway served, its class and its routes
//! (`gateway`) is written the same way by the holder of that Gateway's own election Lease,
//! `wasmesh-status-gateway.<namespace>.<name>`, among the gateways that serve it
//! (docs/gateway-api.md, "Status").

pub mod conditions;
pub mod events;
mod gateway;
mod lease;
mod patch;
pub mod report;
mod writer;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, DynamicObject};
use kube::runtime::reflector::store::Writer;
use kube::runtime::{reflector, watcher, WatchStreamExt as _};
use tokio::sync::watch;

use crate::client::{connect, Options, StartError};
use crate::follow::Task;
pub use gateway::GatewayFeed;
pub use report::{GatewayReport, PluginReport, PluginState, PolicyReport, ServedReport};

/// The kinds whose status the election holder writes (the `Proxy` kind's is not written).
const STATUS_KINDS: [wasmesh_api::Kind; 3] = [
    wasmesh_api::Kind::WasmPlugin,
    wasmesh_api::Kind::RequestAuthentication,
    wasmesh_api::Kind::AuthorizationPolicy,
];
/// The Lease whose holder writes the status.
pub const ELECTION_LEASE: &str = "wasmesh-status";
/// How often the loop looks at the reports and the objects (while it writes).
const TICK: Duration = Duration::from_secs(1);
/// How often a Lease is renewed (a third of its duration).
const RENEW: Duration = Duration::from_secs(5);

/// This gateway's side of the status: give it what the gateway runs with
/// [`StatusReporter::report`]; dropping it stops the reporting and the writing.
pub struct StatusReporter {
    tx: watch::Sender<Option<GatewayReport>>,
    identity: String,
    _tasks: Vec<Task>,
}

impl StatusReporter {
    /// What this gateway runs now; only a change is published (and the Lease renewed).
    pub fn report(&self, report: GatewayReport) {
        self.tx.send_if_modified(|current| {
            let changed = current.as_ref() != Some(&report);
            if changed {
                *current = Some(report);
            }
            changed
        });
    }

    /// This gateway's name in the reports and the election: `POD_NAME`, else host and pid.
    pub fn identity(&self) -> &str {
        &self.identity
    }
}

/// Starts reporting for this gateway, and writing status whenever it holds the election
/// Lease; the Leases are kept in `lease_namespace`. With `gateway`, the Gateway API status
/// too. Must run inside a tokio runtime.
pub async fn start(
    options: &Options,
    lease_namespace: &str,
    gateway: Option<GatewayFeed>,
) -> Result<StatusReporter, StartError> {
    let (client, _) = connect(options).await?;
    let identity = report::identity();
    // the namespaces the source follows, the root namespace among them
    let namespaces = options.followed_namespaces();
    let mut tasks = Vec::new();
    let mut kinds = Vec::new();
    for kind in STATUS_KINDS {
        let resource = crate::kinds::resource_of(kind);
        let mut stores = Vec::new();
        for namespace in &namespaces {
            let api: Api<DynamicObject> = match namespace {
                Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
                None => Api::all_with(client.clone(), &resource),
            };
            let store = Writer::<DynamicObject>::new(resource.clone());
            stores.push(store.as_reader());
            let stream = reflector(store, watcher(api, watcher::Config::default())).default_backoff();
            tasks.push(Task::spawn(stream.for_each(|_| async {})));
        }
        kinds.push(writer::Written {
            kind,
            resource,
            stores,
        });
    }
    let (tx, rx) = watch::channel(None);
    let leases: Api<Lease> = Api::namespaced(client.clone(), lease_namespace);
    let writer = writer::Writer::new(client.clone(), kinds, identity.clone());
    let gateway = gateway.map(|feed| Elected::new(feed, client));
    tasks.push(Task::spawn(run(leases, identity.clone(), rx, writer, gateway)));
    tracing::info!(
        identity = %identity,
        namespace = lease_namespace,
        "WasmPlugin status: reporting as {identity}; the holder of Lease {lease_namespace}/{ELECTION_LEASE} writes it"
    );
    Ok(StatusReporter {
        tx,
        identity,
        _tasks: tasks,
    })
}

/// Says `error` once, until the step it came from works again.
struct Once(Option<String>);

impl Once {
    fn fail(&mut self, what: &str, error: &kube::Error) {
        let text = format!("{what}: {error}");
        if self.0.as_deref() != Some(text.as_str()) {
            tracing::warn!("WasmPlugin status: {text}; retrying (may this service account write Leases?)");
            self.0 = Some(text);
        }
    }

    fn ok(&mut self) {
        self.0 = None;
    }
}

/// The Gateway status writer and its election.
struct Elected {
    feed: GatewayFeed,
    client: kube::Client,
    patcher: patch::Patcher,
    lease: String,
    leader: bool,
    electing: Once,
}

impl Elected {
    fn new(feed: GatewayFeed, client: kube::Client) -> Self {
        Elected {
            lease: gateway::lease_name(&feed.target),
            feed,
            client,
            patcher: patch::Patcher::default(),
            leader: false,
            electing: Once(None),
        }
    }

    /// Takes or renews its Lease; says when this gateway starts or stops writing.
    async fn elect(&mut self, leases: &Api<Lease>, identity: &str) {
        let held = match lease::hold(leases, &self.lease, identity).await {
            Ok(held) => {
                self.electing.ok();
                held
            }
            Err(e) => {
                self.electing
                    .fail(&format!("cannot read or take Lease {}", self.lease), &e);
                false
            }
        };
        if held != self.leader {
            let gateway = &self.feed.target.gateway;
            if held {
                tracing::info!(identity = %identity, "this gateway now writes the status of Gateway {gateway} and its routes");
            } else {
                tracing::info!(identity = %identity, "this gateway no longer writes the status of Gateway {gateway}");
            }
            self.leader = held;
        }
    }
}

async fn run(
    leases: Api<Lease>,
    identity: String,
    mut reports: watch::Receiver<Option<GatewayReport>>,
    mut writer: writer::Writer,
    mut gateway: Option<Elected>,
) {
    let mut objects = gateway.as_ref().map(|g| g.feed.objects.clone());
    let own = report::lease_name(&identity);
    let mut published: Option<(GatewayReport, Instant)> = None;
    let mut elected: Option<Instant> = None;
    let mut leader = false;
    let (mut publishing, mut electing) = (Once(None), Once(None));
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // with --gateway, a change of the Gateway API objects is written at once too
        let objects_changed = async {
            let changed = match objects.as_mut() {
                Some(rx) => rx.changed().await.is_ok(),
                None => false,
            };
            if !changed {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            _ = tick.tick() => {}
            _ = reports.changed() => {}
            _ = objects_changed => {}
        }
        let now = Instant::now();
        let current = reports.borrow_and_update().clone();
        if let Some(report) = current {
            let due = match &published {
                Some((last, at)) => *last != report || now.duration_since(*at) >= RENEW,
                None => true,
            };
            if due {
                let labels = BTreeMap::from([(report::REPORT_LABEL.to_string(), "true".to_string())]);
                let text = serde_json::to_string(&report).unwrap_or_default();
                let annotations = BTreeMap::from([(report::REPORT_ANNOTATION.to_string(), text)]);
                match lease::publish(&leases, &own, &identity, labels, annotations).await {
                    Ok(true) => {
                        publishing.ok();
                        published = Some((report, now));
                    }
                    // raced with itself (a restart under the same name): again next tick
                    Ok(false) => {}
                    Err(e) => {
                        publishing.fail(&format!("cannot publish this gateway's report (Lease {own})"), &e)
                    }
                }
            }
        }
        if elected.is_none_or(|at| now.duration_since(at) >= RENEW) {
            elected = Some(now);
            if let Some(g) = gateway.as_mut() {
                g.elect(&leases, &identity).await;
            }
            let held = match lease::hold(&leases, ELECTION_LEASE, &identity).await {
                Ok(held) => {
                    electing.ok();
                    held
                }
                Err(e) => {
                    electing.fail(&format!("cannot read or take Lease {ELECTION_LEASE}"), &e);
                    false
                }
            };
            if held != leader {
                if held {
                    tracing::info!(identity = %identity, "this gateway now writes the WasmPlugins' status");
                } else {
                    tracing::info!(identity = %identity, "this gateway no longer writes the WasmPlugins' status");
                }
                leader = held;
            }
        }
        let gateway_leader = gateway.as_ref().is_some_and(|g| g.leader);
        if !leader && !gateway_leader {
            continue;
        }
        let gateways = match writer::gateways(&leases).await {
            Ok(g) => g,
            Err(e) => {
                tracing::debug!(error = %e, "cannot list the gateways' reports; next time");
                continue;
            }
        };
        if leader {
            writer.write(&gateways).await;
        }
        if let Some(g) = gateway.as_mut().filter(|g| g.leader) {
            gateway::write(&g.client, &mut g.patcher, &g.feed, &gateways).await;
        }
    }
}
