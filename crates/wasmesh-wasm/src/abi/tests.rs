use bytes::Bytes;

use super::pairs;
use crate::HeaderMap;

#[test]
fn pairs_round_trip_in_the_spec_layout() {
    let mut map = HeaderMap::new();
    map.add(":path", Bytes::from_static(b"/a"));
    map.add("x-b", Bytes::from_static(b""));
    let bytes = pairs::serialize(&map);
    // count, sizes (2,2) (3,0), then "…\0" strings.
    assert_eq!(&bytes[..4], &2u32.to_le_bytes());
    assert_eq!(&bytes[4..12], &[5, 0, 0, 0, 2, 0, 0, 0]);
    assert_eq!(&bytes[20..], b":path\0/a\0x-b\0\0");
    let back: HeaderMap = pairs::deserialize(&bytes).unwrap().into_iter().collect();
    assert_eq!(back, map);
}

#[test]
fn truncated_or_lying_pairs_are_refused() {
    let mut bytes = pairs::serialize(&[("k", "v")].into_iter().collect());
    bytes.truncate(bytes.len() - 2);
    assert!(pairs::deserialize(&bytes).is_none());
    // A count that promises more pairs than there are bytes.
    assert!(pairs::deserialize(&u32::MAX.to_le_bytes()).is_none());
    assert_eq!(pairs::deserialize(&[]), Some(vec![]));
}
