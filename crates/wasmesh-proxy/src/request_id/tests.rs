use super::*;
use std::collections::HashSet;

fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
        && b[14] == b'4'
        && matches!(b[19], b'8' | b'9' | b'a' | b'b')
}

#[test]
fn ids_are_version_4_uuids_and_do_not_repeat() {
    let ids = RequestIds::new();
    let mut seen = HashSet::new();
    for _ in 0..100_000 {
        let id = ids.next_uuid();
        let text = id.to_str().unwrap().to_owned();
        assert!(is_uuid_v4(&text), "{text}");
        assert!(seen.insert(text), "an id repeated");
    }
}

#[test]
fn two_generators_start_apart() {
    let (a, b) = (RequestIds::new(), RequestIds::new());
    assert_ne!(a.next_uuid(), b.next_uuid());
}

#[test]
fn an_id_the_client_sent_is_kept_and_a_missing_one_is_added() {
    let ids = RequestIds::new();
    let mut headers = HeaderMap::new();
    headers.insert(&X_REQUEST_ID, HeaderValue::from_static("from-the-client"));
    ids.ensure(&mut headers);
    assert_eq!(headers[&X_REQUEST_ID], "from-the-client");
    assert_eq!(headers.get_all(&X_REQUEST_ID).iter().count(), 1);

    let mut headers = HeaderMap::new();
    ids.ensure(&mut headers);
    assert!(is_uuid_v4(headers[&X_REQUEST_ID].to_str().unwrap()));
}
