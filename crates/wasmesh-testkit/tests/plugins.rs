//! The test kit builds real plugins and hands out their paths.

#[test]
fn plugin_returns_a_built_wasm_module() {
    let path = wasmesh_testkit::plugin("headers");
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..4], b"\0asm", "{} is not a wasm module", path.display());
    // '-' and '_' name the same plugin.
    assert_eq!(
        wasmesh_testkit::plugin("hostile-panic"),
        wasmesh_testkit::plugin("hostile_panic")
    );
}

#[test]
#[should_panic(expected = "no plugin named")]
fn unknown_plugin_panics_clearly() {
    wasmesh_testkit::plugin("no_such_plugin");
}

#[test]
fn free_port_can_be_bound() {
    // Other test processes take ports at the same time, so one of a few tries must bind.
    let bound = (0..5).any(|_| {
        let port = wasmesh_testkit::free_port();
        assert_ne!(port, 0);
        std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
    });
    assert!(bound, "none of 5 free ports could be bound");
}
