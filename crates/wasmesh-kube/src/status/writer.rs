//! The status writer, run by the holder of the election Lease: every live gateway report
//! and every WasmPlugin, RequestAuthentication and AuthorizationPolicy followed, into
//! `status` — written (`patch`: a JSON merge patch on `<plural>/NAME/status`) only where it
//! differs from what the object has; a new failure of a WasmPlugin written is also reported
//! as an Event (`events`); the security kinds get no Events (docs/kubernetes.md, "Status").

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams};
use kube::runtime::reflector::Store;
use kube::Client;
use serde_json::Value;
use wasmesh_api::crd::status::{Condition, ResourceStatus};
use wasmesh_api::timestamp::Timestamp;

use wasmesh_api::Kind;

use super::conditions::{self, Object};
use super::events;
use super::patch::Patcher;
use super::report::{GatewayReport, REPORT_ANNOTATION, REPORT_LABEL};

/// How long after its last renewal a gateway's report Lease is deleted.
const GONE_AFTER: Duration = Duration::from_secs(300);

/// The objects of one kind whose status is written.
pub struct Written {
    pub kind: Kind,
    pub resource: ApiResource,
    /// One reflector store per namespace followed.
    pub stores: Vec<Store<DynamicObject>>,
}

pub struct Writer {
    client: Client,
    kinds: Vec<Written>,
    patcher: Patcher,
    events: events::Reporter,
    /// Per `Kind namespace/name`: the `resourceVersion` at which its status was found right,
    /// given `reports`. Such an object is not looked at again (parsed, its conditions
    /// worked out) until it or a report changes: with a thousand WasmPlugins, a pass over
    /// all of them every second cost a few % of a core at rest (BENCHMARKS.md, "Kubernetes
    /// at scale").
    settled: HashMap<String, String>,
    /// The reports of the last pass.
    reports: Vec<(String, GatewayReport)>,
}

impl Writer {
    /// `identity` is this gateway's, the Events' `reportingInstance`.
    pub fn new(client: Client, kinds: Vec<Written>, identity: String) -> Self {
        Writer {
            events: events::Reporter::new(client.clone(), identity),
            client,
            kinds,
            patcher: Patcher::default(),
            settled: HashMap::new(),
            reports: Vec::new(),
        }
    }

    /// One pass: each object whose status is not what it should be, given the live
    /// gateways' reports ([`gateways`]).
    pub async fn write(&mut self, gateways: &[(String, GatewayReport)]) {
        if gateways != self.reports.as_slice() {
            self.settled.clear();
            self.reports = gateways.to_vec();
        }
        let mut seen = HashSet::new();
        for i in 0..self.kinds.len() {
            let objects: Vec<_> = self.kinds[i].stores.iter().flat_map(|s| s.state()).collect();
            for object in objects {
                self.write_one(i, &object, gateways, &mut seen).await;
            }
        }
        // objects gone are forgotten
        self.settled.retain(|key, _| seen.contains(key));
    }

    /// The status of one object of `self.kinds[i]`, written if it differs.
    async fn write_one(
        &mut self,
        i: usize,
        object: &DynamicObject,
        gateways: &[(String, GatewayReport)],
        seen: &mut HashSet<String>,
    ) {
        let (kind, resource) = (self.kinds[i].kind, self.kinds[i].resource.clone());
        let namespace = object.metadata.namespace.clone().unwrap_or_default();
        let name = object.metadata.name.clone().unwrap_or_default();
        let key = format!("{} {namespace}/{name}", resource.kind);
        seen.insert(key.clone());
        let version = object.metadata.resource_version.clone().unwrap_or_default();
        if self.settled.get(&key) == Some(&version) {
            return;
        }
        let generation = object.metadata.generation;
        // each error as `wasmesh validate` prints it: `path: what is wrong`
        let invalid = match crate::object::parse(&resource, object) {
            Ok(_) => Vec::new(),
            Err(e) => e
                .errors
                .iter()
                .map(|e| match e.path.as_str() {
                    "" => e.kind.to_string(),
                    path => format!("{path}: {}", e.kind),
                })
                .collect(),
        };
        let view = Object {
            namespace: &namespace,
            name: &name,
            generation,
            invalid,
        };
        let wanted = match kind {
            Kind::WasmPlugin => conditions::conditions(&view, gateways),
            _ => conditions::policy_conditions(&view, &resource.kind, gateways),
        };
        let current = current_status(object);
        let next = conditions::status(&current, wanted.clone(), generation, now_timestamp());
        if next == current {
            self.patcher.settled(&key);
            self.settled.insert(key, version);
            return;
        }
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), &namespace, &resource);
        let status = serde_json::to_value(&next).unwrap_or(Value::Null);
        let hint = format!(
            "may this service account patch {}/status? does the CRD have the status subresource?",
            resource.plural
        );
        let fingerprint = format!("{wanted:?} {generation:?}");
        let written = self
            .patcher
            .patch(&api, &key, &name, &status, fingerprint, &hint)
            .await;
        if written && kind == Kind::WasmPlugin {
            self.events
                .report(object, &resource.api_version, &current, &next)
                .await;
        }
    }
}

pub(super) fn now_timestamp() -> Timestamp {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Timestamp::from_unix_seconds(i64::try_from(seconds).unwrap_or(i64::MAX))
}

/// The live gateways' reports, by identity (sorted).
pub(super) async fn gateways(leases: &Api<Lease>) -> Result<Vec<(String, GatewayReport)>, kube::Error> {
    let list = leases.list(&ListParams::default().labels(REPORT_LABEL)).await?;
    let now = k8s_openapi::jiff::Timestamp::now();
    let mut found = BTreeMap::new();
    for lease in list.items {
        if !super::lease::live(&lease, now) {
            forget_if_gone(leases, &lease, now).await;
            continue;
        }
        let Some(identity) = lease.spec.as_ref().and_then(|s| s.holder_identity.clone()) else {
            continue;
        };
        let report = lease
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(REPORT_ANNOTATION))
            .and_then(|text| serde_json::from_str::<GatewayReport>(text).ok());
        match report {
            Some(report) => {
                found.insert(identity, report);
            }
            None => tracing::debug!(identity = %identity, "a gateway report that cannot be read; skipped"),
        }
    }
    Ok(found.into_iter().collect())
}

/// A gateway that has not renewed its report for [`GONE_AFTER`] is gone (a pod deleted, a
/// process stopped): its Lease is deleted, so that report Leases do not pile up in the
/// namespace as pods come and go. A failed delete is tried again on the next pass.
async fn forget_if_gone(leases: &Api<Lease>, lease: &Lease, now: k8s_openapi::jiff::Timestamp) {
    let renewed = lease
        .spec
        .as_ref()
        .and_then(|s| s.renew_time.as_ref())
        .map(|t| t.0.as_second());
    let gone = renewed.is_none_or(|r| now.as_second() - r > GONE_AFTER.as_secs() as i64);
    if let (true, Some(name)) = (gone, lease.metadata.name.as_deref()) {
        match leases.delete(name, &DeleteParams::default()).await {
            Ok(_) => tracing::info!(
                lease = name,
                "a gateway's report expired long ago; its Lease is deleted"
            ),
            Err(e) => {
                tracing::debug!(lease = name, error = %e, "cannot delete an expired report Lease; next time")
            }
        }
    }
}

/// What the object's `status` holds of ours: its conditions and `observedGeneration`
/// (anything else another writer put there is left alone and not compared).
fn current_status(object: &DynamicObject) -> ResourceStatus {
    let status = object.data.get("status");
    let conditions = status
        .and_then(|s| s.get("conditions"))
        .and_then(|c| serde_json::from_value::<Vec<Condition>>(c.clone()).ok())
        .unwrap_or_default();
    let observed_generation = status
        .and_then(|s| s.get("observedGeneration"))
        .and_then(Value::as_i64);
    ResourceStatus {
        conditions,
        observed_generation,
    }
}
