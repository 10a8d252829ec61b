//! Status back on each WasmPlugin (docs/kubernetes.md, "Status"): `Accepted` (valid, or the
//! field path and value of each error) and `Ready` (run by the gateways that select it, or
//! their fetch / signature / compile / `on_configure` error), with `observedGeneration`,
//! written through the status subresource.
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

pub mod conditions;
pub mod events;
mod lease;
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
pub use report::{GatewayReport, PluginReport, PluginState};

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
/// Lease; the Leases are kept in `lease_namespace`. Must run inside a tokio runtime.
pub async fn start(options: &Options, lease_namespace: &str) -> Result<StatusReporter, StartError> {
    let (client, _) = connect(options).await?;
    let identity = report::identity();
    let resource = crate::kinds::resource_of(wasmesh_api::Kind::WasmPlugin);
    // the namespaces the source follows, the root namespace among them
    let namespaces = options.followed_namespaces();
    let mut tasks = Vec::new();
    let mut stores = Vec::new();
    for namespace in namespaces {
        let api: Api<DynamicObject> = match &namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
            None => Api::all_with(client.clone(), &resource),
        };
        let store = Writer::<DynamicObject>::new(resource.clone());
        stores.push(store.as_reader());
        let stream = reflector(store, watcher(api, watcher::Config::default())).default_backoff();
        tasks.push(Task::spawn(stream.for_each(|_| async {})));
    }
    let (tx, rx) = watch::channel(None);
    let leases: Api<Lease> = Api::namespaced(client.clone(), lease_namespace);
    let writer = writer::Writer::new(client, resource, stores, identity.clone());
    tasks.push(Task::spawn(run(leases, identity.clone(), rx, writer)));
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

async fn run(
    leases: Api<Lease>,
    identity: String,
    mut reports: watch::Receiver<Option<GatewayReport>>,
    mut writer: writer::Writer,
) {
    let own = report::lease_name(&identity);
    let mut published: Option<(GatewayReport, Instant)> = None;
    let mut elected: Option<Instant> = None;
    let mut leader = false;
    let (mut publishing, mut electing) = (Once(None), Once(None));
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = reports.changed() => {}
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
        if leader {
            writer.write(&leases).await;
        }
    }
}
