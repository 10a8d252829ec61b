use super::*;

#[test]
fn request_round_trip_through_the_plugin_view() {
    let (mut parts, _) = http::Request::builder()
        .method("POST")
        .uri("/a?b=1")
        .header("host", "shop.local")
        .header("x-one", "1")
        .header("x-one", "2")
        .body(())
        .unwrap()
        .into_parts();
    let mut map = request_to_wasm(&parts, false);
    assert_eq!(map.pairs()[0], (Bytes::from(":method"), Bytes::from("POST")));
    assert_eq!(map.get(":path").unwrap(), "/a?b=1");
    assert_eq!(map.get(":authority").unwrap(), "shop.local");
    assert_eq!(map.get(":scheme").unwrap(), "http");
    assert!(map.get("host").is_none(), "Host is presented as :authority");
    map.set(":path", "/rewritten");
    map.set(":authority", "other.local");
    map.add("x-added", "yes");
    wasm_to_request(map, &mut parts);
    assert_eq!(parts.uri, "/rewritten");
    assert_eq!(parts.headers["host"], "other.local");
    assert_eq!(parts.headers["x-added"], "yes");
    let ones: Vec<_> = parts.headers.get_all("x-one").iter().collect();
    assert_eq!(ones, ["1", "2"], "repeated headers keep their order");
}

#[test]
fn response_status_can_be_changed_and_bad_pairs_are_dropped() {
    let (mut parts, _) = http::Response::builder()
        .status(200)
        .header("a", "b")
        .body(())
        .unwrap()
        .into_parts();
    let mut map = response_to_wasm(&parts);
    assert_eq!(map.get(":status").unwrap(), "200");
    map.set(":status", "418");
    map.add("bad header name", "x");
    wasm_to_response(map, &mut parts);
    assert_eq!(parts.status, 418);
    assert_eq!(parts.headers.len(), 1);
}

#[test]
fn appended_headers_are_added_without_a_rebuild_and_other_changes_rebuild() {
    let (mut parts, _) = http::Request::builder()
        .uri("/a")
        .header("host", "h")
        .header("x-one", "1")
        .body(())
        .unwrap()
        .into_parts();
    let before = request_to_wasm(&parts, false);
    let mut map = before.clone();
    map.add("x-added", "yes");
    apply_to_request(map, &before, &mut parts);
    assert_eq!(parts.headers["x-added"], "yes");
    assert_eq!(parts.headers["x-one"], "1");
    assert_eq!(parts.uri, "/a");

    let before = request_to_wasm(&parts, false);
    let mut map = before.clone();
    map.set(":path", "/b");
    map.remove("x-one");
    apply_to_request(map, &before, &mut parts);
    assert_eq!(parts.uri, "/b");
    assert!(parts.headers.get("x-one").is_none());
    assert_eq!(parts.headers["host"], "h");
}
