//! The Gateway API status writer (docs/gateway-api.md, "Status"), run with `--gateway` by
//! the holder of that Gateway's own election Lease ([`lease_name`]) among the gateways
//! that serve it: the statuses `wasmesh_api::gateway::status` makes from the source's
//! objects, `Programmed` from the live gateways' reports, written as the WasmPlugins'
//! status is (`patch`).

use std::sync::Arc;

use kube::api::{Api, DynamicObject};
use kube::Client;
use tokio::sync::watch;
use wasmesh_api::gateway::status::{writes, StatusKind};
use wasmesh_api::gateway::{Objects, Target};

use super::patch::Patcher;
use super::report::GatewayReport;
use crate::kinds::GatewayKind;

/// What the status of a served Gateway is made from.
pub struct GatewayFeed {
    pub target: Target,
    /// The source's objects (`KubeSource::gateway_objects`).
    pub objects: watch::Receiver<Option<Arc<Objects>>>,
}

/// The election Lease of the gateways serving `target`'s Gateway:
/// `wasmesh-status-gateway.<namespace>.<name>`.
pub fn lease_name(target: &Target) -> String {
    let g = &target.gateway;
    format!("wasmesh-status-gateway.{}.{}", g.namespace, g.name)
}

/// `Programmed` from the live reports: `Ok` when every gateway that reports serving the
/// Gateway serves it, made from its `generation`, else who does not and why.
pub fn programmed(
    target: &Target,
    generation: Option<i64>,
    gateways: &[(String, GatewayReport)],
) -> Result<(), String> {
    let wanted = target.gateway.to_string();
    let serving: Vec<_> = gateways
        .iter()
        .filter_map(|(id, r)| {
            r.gateway
                .as_ref()
                .filter(|g| g.gateway == wanted)
                .map(|g| (id, g))
        })
        .collect();
    if serving.is_empty() {
        return Err("no live wasmesh gateway reports serving it yet".into());
    }
    let not: Vec<String> = serving
        .iter()
        .filter_map(|(id, g)| match &g.not_ready {
            Some(why) => Some(format!("{id}: {why}")),
            None if g.generation != generation => Some(format!(
                "{id}: runs generation {} of the Gateway, not {} yet",
                shown(g.generation),
                shown(generation)
            )),
            None => None,
        })
        .collect();
    if !not.is_empty() {
        return Err(format!(
            "not programmed on {} of {}: {}",
            not.len(),
            serving.len(),
            not.join("; ")
        ));
    }
    Ok(())
}

fn shown(generation: Option<i64>) -> String {
    generation.map_or_else(|| "none".into(), |g| g.to_string())
}

/// Writes the statuses that differ from what the objects have.
pub async fn write(
    client: &Client,
    patcher: &mut Patcher,
    feed: &GatewayFeed,
    gateways: &[(String, GatewayReport)],
) {
    let Some(objects) = feed.objects.borrow().clone() else {
        return;
    };
    let wanted = &feed.target.gateway;
    let generation = objects
        .gateways
        .iter()
        .find(|g| g.metadata.namespace() == wanted.namespace && g.metadata.name == wanted.name)
        .and_then(|g| g.metadata.generation);
    let programmed = programmed(&feed.target, generation, gateways);
    let now = super::writer::now_timestamp();
    for w in writes(&objects, &feed.target, &programmed, &now) {
        let (kind, hint) = match w.kind {
            StatusKind::GatewayClass => (
                GatewayKind::GatewayClass,
                "may this service account patch gatewayclasses/status?",
            ),
            StatusKind::Gateway => (
                GatewayKind::Gateway,
                "may this service account patch gateways/status?",
            ),
            StatusKind::HttpRoute => (
                GatewayKind::HttpRoute,
                "may this service account patch httproutes/status?",
            ),
        };
        let resource = kind.resource();
        let api: Api<DynamicObject> = match &w.namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
            None => Api::all_with(client.clone(), &resource),
        };
        let key = match &w.namespace {
            Some(ns) => format!("{} {ns}/{}", resource.kind, w.name),
            None => format!("{} {}", resource.kind, w.name),
        };
        let fingerprint = without_times(&w.status);
        patcher
            .patch(&api, &key, &w.name, &w.status, fingerprint, hint)
            .await;
    }
}

/// The status as text without its `lastTransitionTime`s: the same wanted status, whenever
/// it was made.
fn without_times(status: &serde_json::Value) -> String {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.remove("lastTransitionTime");
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = status.clone();
    strip(&mut v);
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::report::ServedReport;

    fn target() -> Target {
        Target {
            gateway: wasmesh_api::NamespacedName {
                namespace: "edge".into(),
                name: "public".into(),
            },
            workload: "public".into(),
            address: "127.0.0.1".parse().unwrap(),
        }
    }

    fn report(gateway: &str, not_ready: Option<&str>) -> GatewayReport {
        GatewayReport {
            plugins: Vec::new(),
            policies: Vec::new(),
            gateway: Some(ServedReport {
                gateway: gateway.into(),
                generation: Some(2),
                not_ready: not_ready.map(str::to_string),
            }),
        }
    }

    #[test]
    fn programmed_when_every_live_gateway_serving_it_is_ready() {
        let t = target();
        assert_eq!(lease_name(&t), "wasmesh-status-gateway.edge.public");
        let g = Some(2);
        let none = programmed(&t, g, &[]).unwrap_err();
        assert!(none.contains("no live wasmesh gateway"), "{none}");
        let a = ("a".to_string(), report("edge/public", None));
        let other = ("o".to_string(), report("edge/private", Some("down")));
        assert_eq!(programmed(&t, g, &[a.clone(), other]), Ok(()));
        let why = "listener http: cannot bind";
        let b = ("b".to_string(), report("edge/public", Some(why)));
        assert_eq!(
            programmed(&t, g, &[a.clone(), b]),
            Err("not programmed on 1 of 2: b: listener http: cannot bind".into())
        );
        // a newer generation of the Gateway: not programmed until it runs it
        assert_eq!(
            programmed(&t, Some(3), &[a]),
            Err("not programmed on 1 of 1: a: runs generation 2 of the Gateway, not 3 yet".into())
        );
    }

    #[test]
    fn a_fingerprint_leaves_the_times_out() {
        let a = serde_json::json!({"conditions": [{"type": "A", "lastTransitionTime": "1"}]});
        let b = serde_json::json!({"conditions": [{"type": "A", "lastTransitionTime": "2"}]});
        assert_eq!(without_times(&a), without_times(&b));
    }
}
