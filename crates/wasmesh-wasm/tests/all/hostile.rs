//! Hostile plugins: the host survives each and applies failStrategy.

use std::rc::Rc;
use std::time::{Duration, Instant};

use wasmesh_wasm::{FailAction, FailStrategy, FailureReason, LogLevel, NoHost, StreamInfo, Verdict};

use crate::common::*;

fn failed(verdict: Verdict) -> wasmesh_wasm::Failure {
    match verdict {
        Verdict::Failed(failure) => failure,
        other => panic!("expected the plugin to fail, got {other:?}"),
    }
}

#[test]
fn a_panicking_plugin_gets_503_under_fail_close_and_is_counted_once() {
    let host = host();
    let plugin = load(&host, spec("hostile_panic"));
    run(async {
        let fake = Rc::new(FakeHost::default());
        let vm = start(&plugin, fake.clone());
        let mut ctx = vm.http_context(StreamInfo::default()).unwrap();
        let failure = failed(ctx.on_request_headers_with(&mut get("/"), true).await);
        assert_eq!(failure.plugin, "test.hostile_panic");
        assert!(matches!(
            failure.reason,
            FailureReason::Trap {
                callback: "proxy_on_request_headers",
                ..
            }
        ));
        let FailAction::Reject(reply) = failure.action() else {
            panic!("FAIL_CLOSE rejects")
        };
        assert_eq!(reply.status, 503);
        assert_eq!(reply.body, "wasm plugin test.hostile_panic failed\n");
        // The SDK logs the panic message before trapping.
        assert!(fake.logged(LogLevel::Critical, "this plugin always panics"));
        // The failure is one sentence, without wasmtime's error chain and call stack.
        assert_eq!(
            failure.reason.to_string(),
            "trap in proxy_on_request_headers: the plugin aborted (wasm `unreachable` \
             executed; Rust and Go SDKs abort so on a panic, which the plugin's log shows)"
        );
        // The VM's health record says the same, for the admin API.
        let health = plugin.vm_health();
        assert_eq!(health.len(), 1);
        assert_eq!(health[0].state, wasmesh_wasm::VmState::Failed);
        assert_eq!(health[0].failures, 1);
        assert_eq!(
            health[0].last_error.as_ref().unwrap().message,
            failure.reason.to_string()
        );
        drop(ctx);

        // The VM stays failed: later requests are refused with the same strategy, and the
        // failure was counted once.
        let refused = vm.http_context(StreamInfo::default()).err().expect("refused");
        assert!(matches!(refused.reason, FailureReason::VmFailed(_)));
        assert!(matches!(refused.action(), FailAction::Reject(_)));
        assert_eq!(host.metrics().failures("test.hostile_panic"), 1);
        assert_eq!(
            plugin.vm_health()[0].failures,
            1,
            "a refused context is no new failure"
        );
        let page = host.metrics().render_prometheus();
        assert!(
            page.contains("wasm_plugin_failures_total{plugin=\"test.hostile_panic\",reason=\"trap\"} 1"),
            "{page}"
        );
        drop(vm);
        assert!(plugin.vm_health().is_empty(), "a VM gone is off the board");
    });
}

#[test]
fn a_panicking_plugin_is_skipped_under_fail_open() {
    let host = host();
    let mut spec = spec("hostile_panic");
    spec.fail_strategy = FailStrategy::FailOpen;
    let plugin = load(&host, spec);
    run(async {
        let vm = start(&plugin, Rc::new(NoHost));
        let mut ctx = vm.http_context(StreamInfo::default()).unwrap();
        let mut request = get("/kept");
        let failure = failed(ctx.on_request_headers_with(&mut request, true).await);
        assert_eq!(failure.action(), FailAction::Skip);
        assert_eq!(
            text(request.get(":path")),
            "/kept",
            "the proxy goes on with the headers"
        );
        assert_eq!(
            vm.http_context(StreamInfo::default()).err().unwrap().action(),
            FailAction::Skip
        );
    });
}

#[test]
fn an_endless_loop_is_interrupted_by_the_time_budget_and_fail_reload_recreates_the_vm() {
    let host = host();
    let mut spec = spec("hostile_loop");
    spec.fail_strategy = FailStrategy::FailReload;
    let plugin = load(&host, spec);
    run(async {
        let vm = start(&plugin, Rc::new(NoHost));
        let mut ctx = vm.http_context(StreamInfo::default()).unwrap();
        let began = Instant::now();
        let failure = failed(ctx.on_request_headers_with(&mut get("/"), true).await);
        let took = began.elapsed();
        assert_eq!(
            failure.reason,
            FailureReason::Timeout {
                callback: "proxy_on_request_headers"
            }
        );
        assert!(
            took >= Duration::from_millis(450) && took < Duration::from_secs(10),
            "budget 500 ms, took {took:?}"
        );
        // FAIL_RELOAD: this request is rejected like FAIL_CLOSE...
        assert!(matches!(failure.action(), FailAction::Reject(_)));
        drop(ctx);
        // ...the next one within the backoff too...
        assert!(vm.http_context(StreamInfo::default()).is_err());
        // ...and after the backoff (50 ms in tests) a fresh VM serves (and loops again).
        tokio::time::sleep(Duration::from_millis(80)).await;
        let mut ctx = vm
            .http_context(StreamInfo::default())
            .expect("the VM was re-created");
        assert!(vm.failure().is_none());
        let again = failed(ctx.on_request_headers_with(&mut get("/"), true).await);
        assert!(matches!(again.reason, FailureReason::Timeout { .. }));
        let page = host.metrics().render_prometheus();
        assert!(
            page.contains("wasm_vm_starts_total{plugin=\"test.hostile_loop\"} 2"),
            "{page}"
        );
        assert_eq!(host.metrics().failures("test.hostile_loop"), 2);
    });
}

#[test]
fn out_of_bounds_pointers_get_invalid_memory_access() {
    let host = host();
    let plugin = load(&host, spec("hostile_pointers"));
    run(async {
        let vm = start(&plugin, Rc::new(NoHost));
        let mut request = get("/");
        let verdict = request_headers(&vm, &mut request).await;
        assert_eq!(verdict, Verdict::Continue);
        // proxy_log, proxy_get_header_map_value, proxy_set_buffer_bytes, proxy_get_property:
        // each answered InvalidMemoryAccess (6), and the VM lives on.
        assert_eq!(text(request.get("x-bad-pointer-statuses")), "6,6,6,6");
        assert!(vm.failure().is_none());
    });
}

#[test]
fn a_memory_bomb_hits_the_cap_and_fails_only_that_plugin() {
    let host = host();
    let plugin = load(&host, spec("hostile_memory"));
    let healthy = load(&host, spec("headers"));
    run(async {
        let vm = start(&plugin, Rc::new(NoHost));
        let failure = failed(request_headers(&vm, &mut get("/")).await);
        assert_eq!(
            failure.reason,
            FailureReason::MemoryLimit {
                callback: "proxy_on_request_headers"
            }
        );
        // Another plugin of the same host is unharmed.
        let other = start(&healthy, Rc::new(NoHost));
        let mut request = get("/");
        let verdict = request_headers(&other, &mut request).await;
        assert_eq!(verdict, Verdict::Continue);
        assert_eq!(text(request.get("x-wasm-request")), "headers");
    });
}

#[test]
fn a_huge_log_line_is_cut_to_the_limit() {
    let host = host();
    let plugin = load(&host, spec("hostile_log"));
    run(async {
        let fake = Rc::new(FakeHost::default());
        let vm = start(&plugin, fake.clone());
        let mut request = get("/");
        let verdict = request_headers(&vm, &mut request).await;
        assert_eq!(verdict, Verdict::Continue);
        assert_eq!(text(request.get("x-huge-log")), "done");
        let logs = fake.logs.borrow();
        let (level, line) = logs
            .iter()
            .find(|(_, m)| m.starts_with("xxx"))
            .expect("the line was logged");
        assert_eq!(*level, LogLevel::Warn);
        assert!(
            line.len() < 256 + 64,
            "cut to the 256-byte limit, got {} bytes",
            line.len()
        );
        assert!(
            line.ends_with(&format!("… [{} more bytes cut]", (8 << 20) - 256)),
            "{}",
            &line[200..]
        );
    });
}

#[test]
fn a_plugin_that_never_resumes_leaves_the_wait_to_the_proxy() {
    let host = host();
    let plugin = load(&host, spec("hostile_never_resume"));
    run(async {
        let vm = start(&plugin, Rc::new(NoHost));
        let mut ctx = vm.http_context(StreamInfo::default()).unwrap();
        let mut request = get("/");
        let waited = tokio::time::timeout(
            Duration::from_millis(100),
            ctx.on_request_headers_with(&mut request, true),
        )
        .await;
        assert!(
            waited.is_err(),
            "the plugin never resumes; the proxy's timeout ends the wait"
        );
        // Ending the abandoned context is clean and the VM keeps serving.
        ctx.finish();
        assert!(vm.failure().is_none());
        let mut ctx = vm.http_context(StreamInfo::default()).unwrap();
        let waited = tokio::time::timeout(
            Duration::from_millis(20),
            ctx.on_request_headers_with(&mut get("/"), true),
        )
        .await;
        assert!(waited.is_err());
    });
}

#[test]
fn a_vm_used_outside_a_local_set_loses_timers_but_does_not_panic() {
    let host = host();
    let plugin = load(&host, spec("timers"));
    // No runtime and no LocalSet: on_vm_start's proxy_set_tick_period_milliseconds cannot
    // start the timer; that is logged and the VM still starts.
    let vm = wasmesh_wasm::PluginVm::start(plugin, Rc::new(NoHost));
    assert!(vm.failure().is_none());
}

#[test]
fn a_trap_while_a_request_is_paused_wakes_it_with_the_failure() {
    let host = host();
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/all/fixtures/trap_while_paused.wat");
    let module = wat::parse_file(&path).unwrap();
    let plugin = load(
        &host,
        wasmesh_wasm::PluginSpec::new("test", "trap-while-paused", module),
    );
    run(async {
        let fake = Rc::new(FakeHost::default());
        *fake.http_answer.borrow_mut() = Some(Ok(Default::default()));
        let vm = start(&plugin, fake.clone());
        let mut ctx = vm.http_context(StreamInfo::default()).unwrap();
        let verdict = tokio::time::timeout(
            Duration::from_secs(10),
            ctx.on_request_headers_with(&mut get("/"), true),
        )
        .await
        .expect("woken by the failure");
        let failure = failed(verdict);
        assert!(
            matches!(
                failure.reason,
                FailureReason::Trap {
                    callback: "proxy_on_http_call_response",
                    ..
                }
            ),
            "{failure}"
        );
        assert_eq!(fake.http_calls.borrow().len(), 1);
    });
}
