//! The Envoy attributes the proxy publishes to plugins (docs/wasm-host.md, "Attributes"):
//! the listener's direction, the route and cluster a request or connection goes to, and
//! the node — the workload's identity with Istio's node metadata keys.

use std::collections::BTreeMap;

use bytes::Bytes;
use wasmesh_wasm::{AttributeValue, MetaValue, NodeInfo, TrafficDirection as Direction};

use crate::snapshot::TrafficDirection;

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

/// `node`: id `<namespace>/<name>` of the workload, and the Istio node metadata wasmesh
/// knows: `NAME` and `WORKLOAD_NAME` (the workload's name), `NAMESPACE`, `LABELS` (the
/// labels selectors match). `CLUSTER_ID` and `MESH_ID` are not known and absent.
pub fn node(namespace: &str, name: &str, labels: &BTreeMap<String, String>) -> NodeInfo {
    let labels = labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    NodeInfo {
        id: format!("{namespace}/{name}"),
        cluster: String::new(),
        metadata: vec![
            ("NAME".into(), MetaValue::String(name.into())),
            ("NAMESPACE".into(), MetaValue::String(namespace.into())),
            ("WORKLOAD_NAME".into(), MetaValue::String(name.into())),
            ("LABELS".into(), MetaValue::Map(labels)),
        ],
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
        assert_eq!(node.lookup("metadata.CLUSTER_ID"), None);
    }
}
