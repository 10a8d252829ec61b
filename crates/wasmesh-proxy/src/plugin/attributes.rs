//! The Envoy attributes the proxy publishes to plugins (docs/wasm-host.md, "Attributes"):
//! the listener's direction, the route and cluster a request or connection goes to, and
//! the node — the workload's identity with Istio's node metadata keys.

use std::collections::BTreeMap;

use bytes::Bytes;
use wasmesh_wasm::{AttributeValue, MetaValue, NodeInfo, TrafficDirection as Direction};

use crate::snapshot::{ListenerConfig, TrafficDirection};
use crate::worker::Properties;
use std::sync::Arc;

/// `xds.listener_direction`: `INBOUND` (1) for a SERVER listener, `OUTBOUND` (2) for a
/// CLIENT one, as an integer.
pub fn listener_direction(direction: TrafficDirection) -> (String, Bytes) {
    let number = match direction {
        TrafficDirection::Server => Direction::Inbound,
        TrafficDirection::Client => Direction::Outbound,
    };
    (
        "xds.listener_direction".into(),
        AttributeValue::Int(number as i64).encode(),
    )
}

/// `xds.route_name`, `xds.cluster_name`, and their metadata — empty, as Envoy serializes
/// a route or cluster without metadata: ours carry none.
pub fn route(route: &str, cluster: &str) -> [(String, Bytes); 4] {
    [
        ("xds.route_name".into(), Bytes::from(route.to_owned())),
        ("xds.route_metadata".into(), Bytes::new()),
        ("xds.cluster_name".into(), Bytes::from(cluster.to_owned())),
        ("xds.cluster_metadata".into(), Bytes::new()),
    ]
}

/// The properties a listener's plugins read of each route, in the table's order
/// (`xds.listener_direction` and [`route`]'s), and last those of a request no route takes
/// (`xds.listener_direction` alone): made once per listener and worker, shared by every
/// request (docs/performance.md).
pub fn route_properties(config: &ListenerConfig) -> Vec<Properties> {
    let direction = listener_direction(config.traffic_direction);
    let routes = config.routes.iter().map(|r| {
        std::iter::once(direction.clone())
            .chain(route(&r.name, &r.cluster))
            .collect()
    });
    routes
        .chain(std::iter::once(Arc::from([direction.clone()])))
        .collect()
}

/// A request's properties: its route's, with `connection.requested_server_name` when the
/// connection named a server (TLS SNI).
pub fn request_properties(route: &Properties, sni: Option<&str>) -> Properties {
    match sni {
        None => route.clone(),
        Some(sni) => {
            let sni = (
                "connection.requested_server_name".to_string(),
                Bytes::copy_from_slice(sni.as_bytes()),
            );
            route.iter().cloned().chain(std::iter::once(sni)).collect()
        }
    }
}

/// [`node_with`] with `CLUSTER_ID` and `MESH_ID` from this process's environment, the
/// variables Istio's injector gives a sidecar (Istio passes each `ISTIO_META_<KEY>` on
/// as `<KEY>`).
pub fn node(namespace: &str, name: &str, labels: &BTreeMap<String, String>) -> NodeInfo {
    let env = [
        ("CLUSTER_ID", std::env::var("ISTIO_META_CLUSTER_ID")),
        ("MESH_ID", std::env::var("ISTIO_META_MESH_ID")),
    ];
    let env: Vec<(&str, String)> = env
        .into_iter()
        .filter_map(|(key, value)| Some((key, value.ok().filter(|v| !v.is_empty())?)))
        .collect();
    node_with(namespace, name, labels, &env)
}

/// `node`: id `<namespace>/<name>` of the workload; `cluster` as Istio's bootstrap names
/// it (`<app label>.<namespace>`, else `<workload name>.<namespace>`); and the Istio node
/// metadata wasmesh knows: `NAME` and `WORKLOAD_NAME` (the workload's name), `NAMESPACE`,
/// `LABELS` (the labels selectors match), and the `extra` keys (`CLUSTER_ID`, `MESH_ID`)
/// that were given.
pub fn node_with(
    namespace: &str,
    name: &str,
    labels: &BTreeMap<String, String>,
    extra: &[(&str, String)],
) -> NodeInfo {
    let service = labels.get("app").map_or(name, String::as_str);
    let mut metadata = vec![
        ("NAME".into(), MetaValue::String(name.into())),
        ("NAMESPACE".into(), MetaValue::String(namespace.into())),
        ("WORKLOAD_NAME".into(), MetaValue::String(name.into())),
        (
            "LABELS".into(),
            MetaValue::Map(labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        ),
    ];
    for (key, value) in extra {
        metadata.push(((*key).into(), MetaValue::String(value.clone())));
    }
    NodeInfo {
        id: format!("{namespace}/{name}"),
        cluster: format!("{service}.{namespace}"),
        metadata,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_is_envoys_number_and_node_has_istios_keys() {
        let (path, value) = listener_direction(TrafficDirection::Client);
        assert_eq!(path, "xds.listener_direction");
        assert_eq!(&value[..], &2i64.to_le_bytes());
        let labels = BTreeMap::from([("app".to_string(), "web".to_string())]);
        let node = node("apps", "gw", &labels);
        assert_eq!(node.lookup("id"), Some(AttributeValue::str("apps/gw")));
        assert_eq!(
            node.lookup("metadata.NAMESPACE"),
            Some(AttributeValue::str("apps"))
        );
        assert_eq!(
            node.lookup("metadata.LABELS.app"),
            Some(AttributeValue::str("web"))
        );
        assert_eq!(node.lookup("metadata.CLUSTER_ID"), None, "not given");
        assert_eq!(
            node.lookup("cluster"),
            Some(AttributeValue::str("web.apps")),
            "the app label"
        );
    }

    #[test]
    fn cluster_and_mesh_ids_are_the_ones_given() {
        let node = node_with(
            "apps",
            "gw",
            &BTreeMap::new(),
            &[("CLUSTER_ID", "east".into()), ("MESH_ID", "mesh1".into())],
        );
        assert_eq!(
            node.lookup("cluster"),
            Some(AttributeValue::str("gw.apps")),
            "no app label"
        );
        assert_eq!(
            node.lookup("metadata.CLUSTER_ID"),
            Some(AttributeValue::str("east"))
        );
        assert_eq!(
            node.lookup("metadata.MESH_ID"),
            Some(AttributeValue::str("mesh1"))
        );
    }
}
