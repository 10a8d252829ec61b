use bytes::Bytes;

use super::HeaderMap;

#[test]
fn header_map_keeps_order_and_repeats_and_ignores_case_on_lookup() {
    let mut map: HeaderMap = [
        (":path", "/"),
        ("Set-Cookie", "a=1"),
        ("x", "1"),
        ("set-cookie", "b=2"),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        map.pairs()[1].0,
        "set-cookie",
        "names are lower-cased as Envoy presents them"
    );
    assert_eq!(map.get("SET-COOKIE").unwrap(), "a=1");
    assert_eq!(map.get_all(b"set-cookie").collect::<Vec<_>>(), ["a=1", "b=2"]);

    map.set("set-cookie", Bytes::from_static(b"c=3"));
    assert_eq!(
        map.get_all(b"set-cookie").collect::<Vec<_>>(),
        ["c=3"],
        "set replaces every value"
    );
    assert_eq!(map.pairs()[1].0, "set-cookie", "in the place of the first one");
    map.set("new", Bytes::from_static(b"v"));
    assert_eq!(map.pairs().last().unwrap().0, "new", "set adds when absent");
    map.remove("X");
    assert_eq!(map.get("x"), None);
    assert_eq!(map.len(), 3);
}

#[test]
fn a_name_added_by_a_plugin_is_lower_cased_and_appended_last() {
    let mut map: HeaderMap = [("a", "1")].into_iter().collect();
    map.add_owned(b"X-Added".to_vec(), Bytes::from_static(b"yes"));
    assert_eq!(map.pairs()[1], (Bytes::from("x-added"), Bytes::from("yes")));
}

#[test]
fn a_copy_shares_the_pairs_until_one_side_changes_them() {
    let mut original: HeaderMap = [(":path", "/"), ("host", "a")].into_iter().collect();
    let mut copy = original.clone();
    assert_eq!(copy, original);
    assert!(std::ptr::eq(copy.pairs().as_ptr(), original.pairs().as_ptr()));

    copy.add("x-added", "1");
    copy.set("host", "b");
    assert_eq!(original.pairs().len(), 2);
    assert_eq!(original.get("host"), Some(&Bytes::from_static(b"a")));
    assert_eq!(copy.get("host"), Some(&Bytes::from_static(b"b")));
    assert_ne!(copy, original);

    // removing a name that is absent changes nothing and copies nothing
    let shared = original.clone();
    original.remove("absent");
    assert!(std::ptr::eq(shared.pairs().as_ptr(), original.pairs().as_ptr()));
    original.remove("host");
    assert_eq!(original.len(), 1);
    assert_eq!(shared.len(), 2);
    assert_eq!(shared.clone().into_pairs().len(), 2);
}

#[test]
fn empty_maps_are_equal_however_they_came_to_be() {
    let mut emptied: HeaderMap = [("a", "1")].into_iter().collect();
    emptied.remove("a");
    assert_eq!(emptied, HeaderMap::new());
    assert!(HeaderMap::new().into_pairs().is_empty());
}
