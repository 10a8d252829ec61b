//! ABI versions: a hand-written 0.1.0 guest (`fixtures/abi_0_1_0.wat`), a 0.2.0 guest built
//! with AssemblyScript (a second SDK), detection of the version, and modules that are not
//! Proxy-Wasm at all.

use std::rc::Rc;

use bytes::Bytes;
use wasmesh_wasm::{AbiVersion, NoHost, PluginSpec, StreamInfo, Verdict, WasmError};

use crate::common::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/all/fixtures")
        .join(name);
    wat::parse_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn abi_0_1_0_guest_runs_with_the_legacy_callbacks_and_hostcalls() {
    let host = host();
    let mut spec = PluginSpec::new("test", "legacy", fixture("abi_0_1_0.wat"));
    spec.plugin_config = Bytes::from_static(br#"{"abi":"0.1.0"}"#);
    let plugin = load(&host, spec);
    assert_eq!(plugin.abi_version(), AbiVersion::V0_1_0);
    run(async {
        let vm = start(&plugin, Rc::new(NoHost));
        let mut request = get("/legacy");
        let verdict = request_headers(&vm, &mut request).await;
        assert_eq!(verdict, Verdict::Continue, "resumed with proxy_continue_request");
        assert_eq!(text(request.get("x-abi")), "0.1.0");
    });
}

#[test]
fn abi_0_1_0_guest_reads_its_configuration_with_proxy_get_configuration() {
    let host = host();
    let mut spec = PluginSpec::new("test", "legacy", fixture("abi_0_1_0.wat"));
    spec.plugin_config = Bytes::from_static(br#"{"other":"json"}"#);
    let plugin = load(&host, spec);
    run(async {
        let vm = wasmesh_wasm::PluginVm::start(plugin, Rc::new(NoHost));
        assert!(
            vm.failure().is_some(),
            "the fixture refuses any other configuration"
        );
    });
}

#[test]
fn sdk_guests_are_detected_as_0_2_1() {
    let host = host();
    assert_eq!(load(&host, spec("headers")).abi_version(), AbiVersion::V0_2_1);
}

#[test]
fn a_module_without_proxy_abi_export_is_refused_with_its_name_and_digest() {
    let host = host();
    let module = wat::parse_str("(module (memory (export \"memory\") 1))").unwrap();
    let spec = PluginSpec::new("test", "not-proxy-wasm", module);
    let digest = spec.sha256.clone();
    let error = host.load(spec).expect_err("not a Proxy-Wasm module");
    assert!(matches!(error, WasmError::UnsupportedAbi { .. }));
    let message = error.to_string();
    assert!(
        message.contains("test.not-proxy-wasm") && message.contains(&digest),
        "{message}"
    );
}

#[test]
fn bytes_that_are_not_wasm_are_a_compile_error() {
    let host = host();
    let error = host
        .load(PluginSpec::new("test", "garbage", b"\0asm-not-really".to_vec()))
        .expect_err("garbage");
    assert!(matches!(error, WasmError::Compile { .. }), "{error}");
}

#[test]
fn imports_outside_the_abi_trap_only_when_called() {
    let host = host();
    let module = wat::parse_str(
        r#"(module
            (import "env" "proxy_made_up_call" (func $made_up (result i32)))
            (memory (export "memory") 1)
            (func (export "proxy_abi_version_0_2_1"))
            (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 1024))
            (func (export "proxy_on_context_create") (param i32 i32))
            (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
              (drop (call $made_up)) (i32.const 0)))"#,
    )
    .unwrap();
    let plugin = load(&host, PluginSpec::new("test", "made-up", module));
    run(async {
        let vm = start(&plugin, Rc::new(NoHost));
        let verdict = request_headers(&vm, &mut get("/")).await;
        assert!(matches!(verdict, Verdict::Failed(_)), "{verdict:?}");
    });
}

#[test]
fn an_assemblyscript_plugin_built_with_a_second_sdk_runs() {
    // No silent pass: a machine that cannot build the plugin fails here, saying why
    // (scripts/setup installs npm).
    let wasm = wasmesh_testkit::assemblyscript_plugin()
        .unwrap_or_else(|reason| panic!("the AssemblyScript plugin cannot be built here: {reason}"));
    let host = host();
    let mut spec = PluginSpec::new("test", "as-headers", std::fs::read(&wasm).unwrap());
    // @solo-io/proxy-runtime creates the root context registered under this root id.
    spec.root_id = "assemblyscript_headers".into();
    spec.plugin_config = Bytes::from_static(b"configured-by-test");
    let plugin = load(&host, spec);
    assert_eq!(plugin.abi_version(), AbiVersion::V0_2_0);
    run(async {
        let vm = start(&plugin, Rc::new(NoHost));
        let mut ctx = vm.http_context(StreamInfo::default()).unwrap();
        let mut request = get("/from/as");
        assert_eq!(
            ctx.on_request_headers_with(&mut request, true).await,
            Verdict::Continue
        );
        assert_eq!(text(request.get("x-wasm-request")), "assemblyscript");
        assert_eq!(text(request.get("x-as-path")), "/from/as");
        let mut response: wasmesh_wasm::HeaderMap = [(":status", "200")].into_iter().collect();
        assert_eq!(
            ctx.on_response_headers_with(&mut response, true).await,
            Verdict::Continue
        );
        assert_eq!(text(response.get("x-wasm-response")), "configured-by-test");
    });
}

#[test]
fn hostcalls_answer_the_statuses_of_the_spec() {
    let host = host();
    let mut spec = spec("abi_probe");
    spec.plugin_config = Bytes::from_static(b"{\"k\":1}");
    let plugin = load(&host, spec);
    run(async {
        let vm = start(&plugin, Rc::new(FakeHost::default()));
        let mut request = get("/");
        request_headers(&vm, &mut request).await;
        // log level Info (2), a current time, the map size equal to the pairs' size, the
        // plugin configuration's length.
        assert_eq!(
            text(request.get("x-probe-ok")),
            "log_level=0:2,time=0:true,map_size=0:true,config_status=0:7"
        );
        // BadArgument = 2, NotFound = 1.
        assert_eq!(
            text(request.get("x-probe-errors")),
            "effective=2,map_type=2,metric_type=2,metric_id=1,queue=1,property=1,stream_type=2,\
             read_only_buffer=2,status_outside_call=1,cancel_unknown=1,http_call_without_path=2"
        );
    });
}

#[test]
fn plugins_with_the_same_module_share_one_compiled_module_until_the_last_goes() {
    let host = host();
    let first = load(
        &host,
        PluginSpec::new("a", "one", wasmesh_testkit::plugin_bytes("headers")),
    );
    let second = load(
        &host,
        PluginSpec::new("b", "two", wasmesh_testkit::plugin_bytes("headers")),
    );
    let other = load(&host, spec("local_reply"));
    assert_eq!(host.compiled_modules(), 2);
    drop(first);
    assert_eq!(host.compiled_modules(), 2, "`b.two` still uses it");
    drop(second);
    assert_eq!(host.compiled_modules(), 1, "freed with its last plugin");
    drop(other);
    assert_eq!(host.compiled_modules(), 0);
    // A module that fails to load holds nothing.
    let not_proxy_wasm = wat::parse_str("(module)").unwrap();
    assert!(host.load(PluginSpec::new("test", "bad", not_proxy_wasm)).is_err());
    assert_eq!(host.compiled_modules(), 0);
}
