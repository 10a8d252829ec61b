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
