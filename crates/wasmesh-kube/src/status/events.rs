//! A Kubernetes Event for each failure the status writer records (docs/kubernetes.md,
//! "Events"): when it sets `Accepted=False` or `Ready=False` with a reason the object did
//! not have, one core v1 `Event` regarding the WasmPlugin — type `Warning`, the condition's
//! reason and message, reported by `wasmesh.io/gateway-controller` as this gateway.
//!
//! Only the holder of the election Lease writes status, so only it reports (replicas make
//! no duplicates); the comparison is with the status the object has, so a reason that
//! stays makes no new Event, and a new writer after a failover does not repeat the old
//! writer's. `Ready=False` with `NotAccepted` is left out: it follows from `Accepted=False`,
//! whose own Event says why.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kube::api::{Api, DynamicObject, PostParams};
use kube::Client;
use wasmesh_api::crd::status::{Condition, ConditionStatus, ConditionType, ResourceStatus};

/// Who reports: the controller name of wasmesh's Gateway API class, also in `source`.
pub const REPORTING_CONTROLLER: &str = "wasmesh.io/gateway-controller";
/// What the reporter did when the failure was seen.
const ACTION: &str = "WriteStatus";
/// The API server refuses a longer `note` (core v1: `message`) on an Event with an `eventTime`.
const MESSAGE_LIMIT: usize = 1024;
/// Nor a longer `reportingInstance`.
const INSTANCE_LIMIT: usize = 128;

/// The conditions of `next` an Event reports: `False` with a reason that `current` does
/// not have as `False` already.
pub fn new_failures<'a>(current: &ResourceStatus, next: &'a ResourceStatus) -> Vec<&'a Condition> {
    next.conditions
        .iter()
        .filter(|c| c.status == ConditionStatus::False)
        .filter(|c| !(c.kind == ConditionType::Ready && c.reason == "NotAccepted"))
        .filter(|c| {
            current
                .condition(c.kind)
                .is_none_or(|was| was.status != ConditionStatus::False || was.reason != c.reason)
        })
        .collect()
}

/// The Event of `condition` on the WasmPlugin `object` (at `api_version`), by `instance`,
/// at `now`.
pub fn event(
    object: &DynamicObject,
    api_version: &str,
    condition: &Condition,
    instance: &str,
    now: k8s_openapi::jiff::Timestamp,
) -> Event {
    let name = object.metadata.name.clone().unwrap_or_default();
    let namespace = object.metadata.namespace.clone();
    Event {
        metadata: ObjectMeta {
            // as client-go names Events: unique per object and instant
            name: Some(format!("{name}.{:x}", now.as_nanosecond())),
            namespace: namespace.clone(),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some(api_version.to_string()),
            kind: Some("WasmPlugin".to_string()),
            name: Some(name),
            namespace,
            uid: object.metadata.uid.clone(),
            resource_version: object.metadata.resource_version.clone(),
            field_path: None,
        },
        type_: Some("Warning".to_string()),
        reason: Some(condition.reason.clone()),
        message: Some(truncate(&condition.message, MESSAGE_LIMIT)),
        action: Some(ACTION.to_string()),
        count: Some(1),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        event_time: Some(MicroTime(now)),
        source: Some(EventSource {
            component: Some(REPORTING_CONTROLLER.to_string()),
            host: None,
        }),
        reporting_component: Some(REPORTING_CONTROLLER.to_string()),
        reporting_instance: Some(truncate(instance, INSTANCE_LIMIT)),
        related: None,
        series: None,
    }
}

/// `text` cut to at most `limit` bytes at a character boundary.
fn truncate(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// Creates the Events; a failure (no RBAC to create events, say) is logged once per
/// error text and not retried: the status holds the same news.
pub struct Reporter {
    client: Client,
    instance: String,
    said: Option<String>,
}

impl Reporter {
    pub fn new(client: Client, instance: String) -> Self {
        Reporter {
            client,
            instance,
            said: None,
        }
    }

    /// Reports each new failure of `next` over `current` on `object`.
    pub async fn report(
        &mut self,
        object: &DynamicObject,
        api_version: &str,
        current: &ResourceStatus,
        next: &ResourceStatus,
    ) {
        let Some(namespace) = object.metadata.namespace.as_deref() else {
            return;
        };
        let events: Api<Event> = Api::namespaced(self.client.clone(), namespace);
        for condition in new_failures(current, next) {
            let event = event(
                object,
                api_version,
                condition,
                &self.instance,
                k8s_openapi::jiff::Timestamp::now(),
            );
            match events.create(&PostParams::default(), &event).await {
                Ok(_) => {
                    self.said = None;
                    tracing::debug!(reason = %condition.reason, "WasmPlugin Event created");
                }
                Err(e) => {
                    let text = e.to_string();
                    if self.said.as_deref() != Some(text.as_str()) {
                        tracing::warn!(
                            error = %text,
                            "cannot create an Event for a WasmPlugin's failure (may this service \
                             account create events?); its status says the same"
                        );
                        self.said = Some(text);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
