//! The host alone, without sockets: one plugin (`plugins/headers`) that adds one request
//! header and one response header.
//!
//!     cargo bench -p wasmesh-wasm --bench host
//!
//! - `request`: one request through the plugin: context creation, request headers (8
//!   headers in), response headers, and the end of the context (`on_done`, `on_log`,
//!   `on_delete`) — the host time one request costs one plugin.
//! - `call/*`: the same request call by call: a context's creation and end alone
//!   (`call/context`), one `on_request_headers`, one `on_response_headers` (each after
//!   `call/reset_maps`, which puts the maps back as they arrived).
//! - `vm_start`: a warm VM creation (module compiled, pooling allocator): instantiate,
//!   `_initialize`, root context, `on_vm_start`, `on_configure`; `vm_start_on_demand`: the
//!   same without the pooling allocator.
//! - Printed before the benchmarks: the resident memory per VM (RSS growth over 200 VMs),
//!   and the time to compile the module cold and to load it from the on-disk cache.

use std::hint::black_box;
use std::rc::Rc;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use futures::FutureExt;
use wasmesh_wasm::{
    CompiledPlugin, HeaderMap, HostConfig, NoHost, OwnedHeaders, PluginSpec, PluginVm, StreamInfo, Verdict,
    WasmHost,
};

fn plugin_with(pool_slots: Option<u32>) -> Arc<CompiledPlugin> {
    let host = WasmHost::new(HostConfig {
        pool_slots,
        ..Default::default()
    })
    .expect("host");
    host.load(PluginSpec::new(
        "bench",
        "headers",
        wasmesh_testkit::plugin_bytes("headers"),
    ))
    .expect("plugin")
}

fn request_headers() -> HeaderMap {
    [
        (":method", "GET"),
        (":path", "/api/v1/items?page=2"),
        (":authority", "shop.example.com"),
        (":scheme", "http"),
        ("user-agent", "bench/1.0"),
        ("accept", "*/*"),
        ("x-request-id", "0f6c1a52-6c5e-4e0e-9a43-8d1f5e2b7a10"),
        ("x-forwarded-for", "10.0.0.1"),
    ]
    .into_iter()
    .collect()
}

fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn report_memory_per_vm(plugin: &Arc<CompiledPlugin>) {
    const VMS: usize = 200;
    let before = resident_bytes();
    let vms: Vec<PluginVm> = (0..VMS)
        .map(|_| PluginVm::start(plugin.clone(), Rc::new(NoHost)))
        .collect();
    // Each VM handles one request so its memory is touched as in service.
    for vm in &vms {
        let headers = OwnedHeaders {
            request: request_headers(),
            response: HeaderMap::new(),
            ..Default::default()
        }
        .shared();
        let mut ctx = vm.http_context_on(StreamInfo::default(), headers).unwrap();
        let _ = ctx.on_request_headers(true).now_or_never();
    }
    let after = resident_bytes();
    eprintln!(
        "memory: {} VMs of `headers` added {:.1} MiB resident: {:.0} KiB per VM",
        VMS,
        (after.saturating_sub(before)) as f64 / (1 << 20) as f64,
        (after.saturating_sub(before)) as f64 / VMS as f64 / 1024.0
    );
    drop(vms);
}

fn report_compile_times() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let load = || {
        let host = WasmHost::new(HostConfig {
            cache_dir: Some(dir.path().to_path_buf()),
            pool_slots: None,
            ..Default::default()
        })
        .expect("host");
        let began = std::time::Instant::now();
        let plugin = host
            .load(PluginSpec::new(
                "bench",
                "headers",
                wasmesh_testkit::plugin_bytes("headers"),
            ))
            .expect("plugin");
        (began.elapsed(), plugin.loaded_from_disk_cache())
    };
    let (cold, _) = load();
    let (warm, from_disk) = load();
    assert!(from_disk);
    let size = wasmesh_testkit::plugin_bytes("headers").len();
    eprintln!(
        "compile: `headers` ({} KiB) compiled in {:.1} ms; loaded from the disk cache in {:.2} ms",
        size / 1024,
        cold.as_secs_f64() * 1e3,
        warm.as_secs_f64() * 1e3
    );
}

fn benches(c: &mut Criterion) {
    report_compile_times();
    let plugin = plugin_with(Some(512));
    report_memory_per_vm(&plugin);
    let vm = PluginVm::start(plugin.clone(), Rc::new(NoHost));
    assert!(vm.failure().is_none());

    let template = request_headers();
    let response_template: HeaderMap = [
        (":status", "200"),
        ("content-type", "text/plain"),
        ("content-length", "2"),
    ]
    .into_iter()
    .collect();
    c.bench_function("request", |b| {
        b.iter(|| {
            // The stream's maps, as the proxy holds them: every call acts on them in place.
            let headers = OwnedHeaders {
                request: template.clone(),
                response: HeaderMap::new(),
                ..Default::default()
            }
            .shared();
            let mut ctx = vm
                .http_context_on(StreamInfo::default(), headers.clone())
                .unwrap();
            let verdict = ctx.on_request_headers(true).now_or_never().expect("no pause");
            assert_eq!(verdict, Verdict::Continue);
            headers.borrow_mut().response = response_template.clone();
            let verdict = ctx.on_response_headers(false).now_or_never().expect("no pause");
            assert_eq!(verdict, Verdict::Continue);
            ctx.finish();
            black_box(headers)
        })
    });

    // The same request call by call (issue: what each crossing into the VM costs).
    // `call/context`: create and end a context with no callback between (context create,
    // `on_done`, `on_log`, `on_delete`); `call/request_headers` and
    // `call/response_headers`: one headers callback on a live context, whose maps are reset
    // from the templates first (a map reset alone is `call/reset_maps`).
    let headers = OwnedHeaders::default().shared();
    let mut live = vm
        .http_context_on(StreamInfo::default(), headers.clone())
        .unwrap();
    let reset = || {
        let mut h = headers.borrow_mut();
        h.request = template.clone();
        h.response = response_template.clone();
    };
    c.bench_function("call/context", |b| {
        b.iter(|| {
            let ctx = vm
                .http_context_on(StreamInfo::default(), headers.clone())
                .unwrap();
            ctx.finish();
        })
    });
    c.bench_function("call/reset_maps", |b| b.iter(reset));
    c.bench_function("call/request_headers", |b| {
        b.iter(|| {
            reset();
            black_box(live.on_request_headers(true).now_or_never().expect("no pause"))
        })
    });
    c.bench_function("call/response_headers", |b| {
        b.iter(|| {
            reset();
            black_box(live.on_response_headers(false).now_or_never().expect("no pause"))
        })
    });
    drop(live);

    c.bench_function("vm_start", |b| {
        b.iter(|| {
            let vm = PluginVm::start(plugin.clone(), Rc::new(NoHost));
            black_box(vm.failure().is_none())
        })
    });

    // The same without the pooling allocator (`HostConfig::pool_slots: None`).
    let on_demand = plugin_with(None);
    c.bench_function("vm_start_on_demand", |b| {
        b.iter(|| {
            let vm = PluginVm::start(on_demand.clone(), Rc::new(NoHost));
            black_box(vm.failure().is_none())
        })
    });
}

criterion_group! {
    name = host;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(5));
    targets = benches
}
criterion_main!(host);
