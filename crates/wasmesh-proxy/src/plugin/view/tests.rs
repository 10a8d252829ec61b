use super::*;

fn request() -> request::Parts {
    http::Request::builder()
        .uri("/a")
        .header("host", "shop.local")
        .header("x-one", "1")
        .body(())
        .unwrap()
        .into_parts()
        .0
}

#[test]
fn consecutive_plugins_share_one_view_and_changes_are_written_back_once() {
    let mut parts = request();
    let mut view = HeaderView::default();
    view.request(&parts, false).add("x-first", "1");
    // The second plugin sees what the first one added, before anything is written back.
    let second = view.request(&parts, false);
    assert_eq!(second.get("x-first").unwrap(), "1");
    second.set(":path", "/b");
    assert!(parts.headers.get("x-first").is_none());
    view.flush_request(&mut parts);
    assert_eq!(parts.headers["x-first"], "1");
    assert_eq!(parts.uri, "/b");
    assert_eq!(parts.headers["host"], "shop.local");
}

#[test]
fn an_unchanged_view_leaves_the_request_as_it_was() {
    let mut parts = request();
    let mut view = HeaderView::default();
    view.request(&parts, true);
    parts
        .headers
        .insert("x-late", "set by a built-in filter".parse().unwrap());
    view.flush_request(&mut parts);
    assert_eq!(parts.headers["x-late"], "set by a built-in filter");
    assert_eq!(parts.headers.len(), 3);
}

#[test]
fn a_flushed_view_is_converted_again_from_the_request() {
    let mut parts = request();
    let mut view = HeaderView::default();
    view.request(&parts, false);
    view.flush_request(&mut parts);
    parts.headers.insert("x-late", "2".parse().unwrap());
    assert_eq!(view.request(&parts, false).get("x-late").unwrap(), "2");
}

#[test]
fn response_changes_are_written_back_and_a_discarded_view_is_not() {
    let (mut parts, _) = http::Response::builder()
        .status(200)
        .header("a", "b")
        .body(())
        .unwrap()
        .into_parts();
    let mut view = HeaderView::default();
    view.response(&parts).set(":status", "201");
    view.flush_response(&mut parts);
    assert_eq!(parts.status, 201);
    view.response(&parts).remove("a");
    view.discard();
    view.flush_response(&mut parts);
    assert_eq!(parts.headers["a"], "b");
}
