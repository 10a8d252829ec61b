use std::time::{Duration, UNIX_EPOCH};

use super::*;

#[test]
fn values_are_encoded_as_envoy_encodes_them() {
    assert_eq!(&Value::str("GET").encode()[..], b"GET");
    assert_eq!(&Value::Int(-2).encode()[..], &(-2i64).to_le_bytes());
    assert_eq!(&Value::Uint(7).encode()[..], &7u64.to_le_bytes());
    assert_eq!(&Value::Bool(true).encode()[..], &[1]);
    assert_eq!(&Value::Bool(false).encode()[..], &[0]);
    let t = UNIX_EPOCH + Duration::new(1_700_000_000, 5);
    assert_eq!(
        &Value::Time(t).encode()[..],
        &1_700_000_000_000_000_005i64.to_le_bytes()
    );
    let d = Duration::from_millis(3);
    assert_eq!(&Value::Duration(d).encode()[..], &3_000_000i64.to_le_bytes());
    let mut map = HeaderMap::new();
    map.add("a", Bytes::from_static(b"1"));
    // count, then key and value sizes, then each NUL-terminated.
    let expected = [
        &1u32.to_le_bytes()[..],
        &1u32.to_le_bytes(),
        &1u32.to_le_bytes(),
        b"a\x001\x00",
    ]
    .concat();
    assert_eq!(&Value::Map(map).encode()[..], &expected[..]);
}

fn node() -> NodeInfo {
    NodeInfo {
        id: "apps/gw".into(),
        cluster: String::new(),
        metadata: vec![
            ("NAME".into(), MetaValue::String("gw".into())),
            (
                "LABELS".into(),
                MetaValue::Map(vec![("app".into(), "web".into())]),
            ),
        ],
    }
}

#[test]
fn node_paths_reach_ids_metadata_and_labels() {
    let n = node();
    assert_eq!(n.lookup("id"), Some(Value::str("apps/gw")));
    assert_eq!(n.lookup("metadata.NAME"), Some(Value::str("gw")));
    assert_eq!(n.lookup("metadata.LABELS.app"), Some(Value::str("web")));
    assert_eq!(n.lookup("metadata.LABELS.nope"), None);
    assert_eq!(n.lookup("metadata.NAME.x"), None, "a string has no fields");
    assert_eq!(
        n.lookup("metadata.MESH_ID"),
        None,
        "what the proxy does not know is absent"
    );
    let Some(Value::Bytes(labels)) = n.lookup("metadata.LABELS") else {
        panic!("labels")
    };
    assert_eq!(&labels[..4], &1u32.to_le_bytes(), "a struct reads as pairs");
}

#[test]
fn node_proto_decodes_with_the_wire_format() {
    let bytes = node().to_proto();
    let fields = proto::fields(&bytes).unwrap();
    assert_eq!(fields[0], (1, proto::Field::Bytes(b"apps/gw")));
    assert_eq!(fields.len(), 2, "an empty cluster is left out: {fields:?}");
    let proto::Field::Bytes(metadata) = fields[1].1 else {
        panic!()
    };
    let entries = proto::fields(metadata).unwrap();
    assert_eq!(entries.len(), 2);
    let proto::Field::Bytes(first) = entries[0].1 else {
        panic!()
    };
    let entry = proto::fields(first).unwrap();
    assert_eq!(entry[0], (1, proto::Field::Bytes(b"NAME")));
    let proto::Field::Bytes(value) = entry[1].1 else {
        panic!()
    };
    assert_eq!(
        proto::fields(value).unwrap(),
        vec![(3, proto::Field::Bytes(&b"gw"[..]))]
    );
}

#[test]
fn proto_fields_refuse_truncated_input() {
    let mut msg = Vec::new();
    proto::bytes(&mut msg, 1, b"envoy.tcp_proxy.cluster");
    proto::varint(&mut msg, 5 << 3);
    proto::varint(&mut msg, 300);
    let fields = proto::fields(&msg).unwrap();
    assert_eq!(fields[1], (5, proto::Field::Varint(300)));
    assert_eq!(proto::fields(&msg[..msg.len() - 1]), None);
    assert_eq!(proto::fields(&[0x0a, 0x05, b'a']), None, "length past the end");
    assert_eq!(
        proto::fields(&[0x0d, 0, 0, 0, 0]),
        None,
        "fixed32 is not expected"
    );
}
