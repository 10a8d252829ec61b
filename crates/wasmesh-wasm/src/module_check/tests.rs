use super::*;

/// A guest with every export a host needs, less those named in `without`, and `extra`
/// added.
fn guest(without: &[&str], extra: &str) -> Module {
    let parts = [
        ("abi", r#"(func (export "proxy_abi_version_0_2_1"))"#),
        ("memory", r#"(memory (export "memory") 1)"#),
        (
            "malloc",
            r#"(func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 0))"#,
        ),
        (
            "context",
            r#"(func (export "proxy_on_context_create") (param i32 i32))"#,
        ),
    ];
    let body: String = parts
        .iter()
        .filter(|(name, _)| !without.contains(name))
        .map(|(_, text)| *text)
        .collect();
    let bytes = wat::parse_str(format!("(module {body} {extra})")).unwrap();
    // The workspace's wasmtime has no GC collector compiled in.
    let mut config = wasmtime::Config::new();
    config.wasm_gc(false).wasm_exceptions(false).gc_support(false);
    Module::new(&wasmtime::Engine::new(&config).unwrap(), bytes).unwrap()
}

fn refused(module: &Module) -> String {
    check(module, "ns.p", "d1").unwrap_err().to_string()
}

#[test]
fn a_module_with_every_export_is_accepted_with_its_abi_version() {
    assert_eq!(check(&guest(&[], ""), "ns.p", "d1").unwrap(), AbiVersion::V0_2_1);
    // malloc (the C++ and AssemblyScript SDKs' name) serves as well.
    let with_malloc = guest(
        &["malloc"],
        r#"(func (export "malloc") (param i32) (result i32) (i32.const 0))"#,
    );
    assert!(check(&with_malloc, "ns.p", "d1").is_ok());
}

#[test]
fn a_module_without_an_allocator_is_refused_saying_why() {
    assert_eq!(
        refused(&guest(&["malloc"], "")),
        "plugin ns.p: module sha256:d1 cannot run as a Proxy-Wasm plugin: it exports neither \
         proxy_on_memory_allocate nor malloc, which the host calls to hand the plugin its \
         configuration, headers and bodies"
    );
}

#[test]
fn an_allocator_of_another_signature_is_refused() {
    let module = guest(
        &["malloc"],
        r#"(func (export "malloc") (param i64) (result i64) (i64.const 0))"#,
    );
    assert!(
        refused(&module).ends_with("its malloc takes (i64) -> i64 instead of (i32) -> i32"),
        "{}",
        refused(&module)
    );
}

#[test]
fn a_module_without_proxy_on_context_create_is_refused() {
    let error = check(&guest(&["context"], ""), "ns.p", "d1").unwrap_err();
    assert!(
        matches!(
            error,
            WasmError::MissingExport {
                export: "proxy_on_context_create",
                ..
            }
        ),
        "{error}"
    );
    assert!(error
        .to_string()
        .contains("does not export proxy_on_context_create"));
}

#[test]
fn a_module_without_memory_is_refused() {
    assert!(refused(&guest(&["memory"], "")).contains("does not export its linear memory"));
}

#[test]
fn an_unknown_abi_version_is_named_in_the_refusal() {
    let module = guest(&["abi"], r#"(func (export "proxy_abi_version_0_3_0"))"#);
    assert_eq!(
        refused(&module),
        "plugin ns.p: module sha256:d1 is not a Proxy-Wasm module this host supports: it exports \
         proxy_abi_version_0_3_0; supported: proxy_abi_version_0_2_1, _0_2_0, _0_1_0"
    );
    assert!(refused(&guest(&["abi"], "")).contains("it exports no proxy_abi_version_* function"));
}
