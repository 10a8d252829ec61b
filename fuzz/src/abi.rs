//! `abi`: the Proxy-Wasm ABI boundary. A small fixed guest (generated below as text, then
//! compiled with `wat`) reads the fuzz input as its plugin configuration and runs it as a
//! program of hostcalls, with the input's arguments, in `proxy_on_configure` (root
//! context) and again in `proxy_on_request_headers` and `proxy_on_response_headers` (an
//! HTTP context), through `wasmesh_wasm`'s public API as the proxy drives it.
//!
//! A record of the program is one byte naming a hostcall (mod the number of hostcalls in
//! [`HOSTCALLS`]), then its arguments: 4 little-endian bytes per `i32` (a pointer is an
//! offset from the start of the input, wrapping, so small values point into the input and
//! any address can be reached), 8 per `i64`.
//!
//! Properties: the host never panics and never traps the guest — every hostcall returns a
//! status the spec defines (a WASI call an errno), which the guest checks itself (it traps
//! on any other value, and the harness then fails); the VM is never failed, since the guest
//! keeps under its memory cap (its allocator answers 0 past 8 MiB) and within its time.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::runtime::Runtime;
use wasmesh_wasm::{
    CompiledPlugin, HeaderMap, HostConfig, Limits, NoHost, PluginSpec, PluginVm, StreamInfo, Verdict,
    WasmHost,
};

/// Every hostcall the host links, except `proc_exit` (which ends the guest by design), with
/// its arguments: `v` a value, `p` a pointer (offset from the input), `l` an `i64`.
const HOSTCALLS: &[(&str, &str, &str)] = &[
    ("env", "proxy_log", "vpv"),
    ("env", "proxy_get_log_level", "p"),
    ("env", "proxy_get_current_time_nanoseconds", "p"),
    ("env", "proxy_set_tick_period_milliseconds", "v"),
    ("env", "proxy_set_effective_context", "v"),
    ("env", "proxy_done", ""),
    ("env", "proxy_continue_stream", "v"),
    ("env", "proxy_close_stream", "v"),
    ("env", "proxy_send_local_response", "vpvpvpvv"),
    ("env", "proxy_call_foreign_function", "pvpvpp"),
    ("env", "proxy_continue_request", ""),
    ("env", "proxy_continue_response", ""),
    ("env", "proxy_clear_route_cache", ""),
    ("env", "proxy_get_header_map_pairs", "vpp"),
    ("env", "proxy_set_header_map_pairs", "vpv"),
    ("env", "proxy_get_header_map_value", "vpvpp"),
    ("env", "proxy_add_header_map_value", "vpvpv"),
    ("env", "proxy_replace_header_map_value", "vpvpv"),
    ("env", "proxy_remove_header_map_value", "vpv"),
    ("env", "proxy_get_header_map_size", "vp"),
    ("env", "proxy_get_buffer_bytes", "vvvpp"),
    ("env", "proxy_set_buffer_bytes", "vvvpv"),
    ("env", "proxy_get_buffer_status", "vpp"),
    ("env", "proxy_get_configuration", "pp"),
    ("env", "proxy_http_call", "pvpvpvpvvp"),
    ("env", "proxy_grpc_call", "pvpvpvpvpvvp"),
    ("env", "proxy_grpc_stream", "pvpvpvpvp"),
    ("env", "proxy_grpc_send", "vpvv"),
    ("env", "proxy_grpc_cancel", "v"),
    ("env", "proxy_grpc_close", "v"),
    ("env", "proxy_get_status", "ppp"),
    ("env", "proxy_define_metric", "vpvp"),
    ("env", "proxy_increment_metric", "vl"),
    ("env", "proxy_record_metric", "vl"),
    ("env", "proxy_get_metric", "vp"),
    ("env", "proxy_get_shared_data", "pvppp"),
    ("env", "proxy_set_shared_data", "pvpvv"),
    ("env", "proxy_register_shared_queue", "pvp"),
    ("env", "proxy_resolve_shared_queue", "pvpvp"),
    ("env", "proxy_enqueue_shared_queue", "vpv"),
    ("env", "proxy_dequeue_shared_queue", "vpp"),
    ("env", "proxy_get_property", "pvpp"),
    ("env", "proxy_set_property", "pvpv"),
    (WASI, "fd_write", "vpvp"),
    (WASI, "fd_read", "vpvp"),
    (WASI, "fd_close", "v"),
    (WASI, "fd_seek", "vlvp"),
    (WASI, "fd_fdstat_get", "vp"),
    (WASI, "fd_prestat_get", "vp"),
    (WASI, "fd_prestat_dir_name", "vpv"),
    (WASI, "path_open", "vvpvvllvp"),
    (WASI, "poll_oneoff", "ppvp"),
    (WASI, "sched_yield", ""),
    (WASI, "clock_time_get", "vlp"),
    (WASI, "clock_res_get", "vp"),
    (WASI, "random_get", "pv"),
    (WASI, "environ_sizes_get", "pp"),
    (WASI, "environ_get", "pp"),
    (WASI, "args_sizes_get", "pp"),
    (WASI, "args_get", "pp"),
];

const WASI: &str = "wasi_snapshot_preview1";

/// The statuses of the spec's `proxy_status_t` that a hostcall may return, as a bit set:
/// Ok, NotFound, BadArgument, SerializationFailure, ParseFailure, InvalidMemoryAccess,
/// Empty, CasMismatch, InternalFailure, Unimplemented.
const STATUSES: u32 = 1 | 1 << 1 | 1 << 2 | 1 << 3 | 1 << 4 | 1 << 6 | 1 << 7 | 1 << 8 | 1 << 10 | 1 << 12;
/// WASI preview1's errno values are below this.
const ERRNO_END: u32 = 77;
/// The guest's allocator answers 0 past this much memory, under the host's cap below.
const GUEST_MEMORY: u32 = 8 << 20;
/// A fresh host (and so fresh shared data, queues and metrics) after this many inputs.
const RUNS_PER_HOST: u32 = 1000;

/// The guest's text.
pub fn guest_wat() -> String {
    let mut wat = String::from("(module\n  (type $shim (func (result i32)))\n");
    for (module, name, args) in HOSTCALLS {
        let params: String = args
            .chars()
            .map(|a| if a == 'l' { " i64" } else { " i32" })
            .collect();
        writeln!(
            wat,
            "  (import \"{module}\" \"{name}\" (func ${name} (param{params}) (result i32)))"
        )
        .unwrap();
    }
    let proxy_calls = HOSTCALLS.iter().take_while(|(m, _, _)| *m == "env").count();
    let pages = GUEST_MEMORY / 65536;
    write!(
        wat,
        r#"
  (memory (export "memory") 2 {pages})
  ;; The program: where it lies, and where the next record starts.
  (global $input (mut i32) (i32.const 0))
  (global $input_len (mut i32) (i32.const 0))
  (global $pos (mut i32) (i32.const 0))
  ;; A bump allocator: where a callback's allocations start, and the next one.
  (global $heap (mut i32) (i32.const 65536))
  (global $bump (mut i32) (i32.const 65536))

  (func $arg (result i32) (local $v i32)
    (local.set $v (i32.load (global.get $pos)))
    (global.set $pos (i32.add (global.get $pos) (i32.const 4)))
    (local.get $v))
  (func $ptr (result i32) (i32.add (global.get $input) (call $arg)))
  (func $arg64 (result i64) (local $v i64)
    (local.set $v (i64.load (global.get $pos)))
    (global.set $pos (i32.add (global.get $pos) (i32.const 8)))
    (local.get $v))

  ;; Whether hostcall $op answered a status it may answer.
  (func $valid (param $op i32) (param $status i32) (result i32)
    (if (i32.lt_u (local.get $op) (i32.const {proxy_calls}))
      (then (return (i32.and
        (i32.lt_u (local.get $status) (i32.const 32))
        (i32.and (i32.shr_u (i32.const {STATUSES}) (local.get $status)) (i32.const 1))))))
    (i32.lt_u (local.get $status) (i32.const {ERRNO_END})))

  ;; Each allocation is followed by 64 bytes of slack, so the arguments of a record at the
  ;; end of the input are read from the guest's own memory.
  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (local $at i32) (local $end i64) (local $have i64)
    (local.set $at (global.get $bump))
    (local.set $end (i64.add (i64.add (i64.extend_i32_u (local.get $at)) (i64.extend_i32_u (local.get $size))) (i64.const 72)))
    (if (i64.gt_u (local.get $end) (i64.const {GUEST_MEMORY})) (then (return (i32.const 0))))
    (local.set $have (i64.mul (i64.extend_i32_u (memory.size)) (i64.const 65536)))
    (if (i64.gt_u (local.get $end) (local.get $have))
      (then (if (i32.eq (i32.const -1) (memory.grow (i32.wrap_i64
          (i64.add (i64.div_u (i64.sub (local.get $end) (local.get $have)) (i64.const 65536)) (i64.const 1)))))
        (then (return (i32.const 0))))))
    (global.set $bump (i32.and (i32.wrap_i64 (local.get $end)) (i32.const -8)))
    (local.get $at))

  (func $run (local $end i32) (local $op i32) (local $status i32)
    (global.set $bump (global.get $heap))
    (global.set $pos (global.get $input))
    (local.set $end (i32.add (global.get $input) (global.get $input_len)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (global.get $pos) (local.get $end)))
      (local.set $op (i32.rem_u (i32.load8_u (global.get $pos)) (i32.const {count})))
      (global.set $pos (i32.add (global.get $pos) (i32.const 1)))
      (local.set $status (call_indirect (type $shim) (local.get $op)))
      (if (i32.eqz (call $valid (local.get $op) (local.get $status))) (then unreachable))
      (br $next))))

  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  ;; The program is the plugin configuration: fetched once, run in each callback.
  (func (export "proxy_on_configure") (param $root i32) (param $size i32) (result i32)
    (drop (call $proxy_get_buffer_bytes (i32.const 7) (i32.const 0) (local.get $size) (i32.const 256) (i32.const 260)))
    (global.set $input (i32.load (i32.const 256)))
    (global.set $input_len (i32.load (i32.const 260)))
    (global.set $heap (global.get $bump))
    (call $run)
    (i32.const 1))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) (call $run) (i32.const 0))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32) (call $run) (i32.const 0))
  (func (export "proxy_on_done") (param i32) (result i32) (i32.const 1))
  (func (export "proxy_on_log") (param i32))
  (func (export "proxy_on_delete") (param i32))
"#,
        count = HOSTCALLS.len(),
    )
    .unwrap();
    write!(
        wat,
        "  (table {} funcref)\n  (elem (i32.const 0)",
        HOSTCALLS.len()
    )
    .unwrap();
    for i in 0..HOSTCALLS.len() {
        write!(wat, " $s{i}").unwrap();
    }
    wat.push_str(")\n");
    for (i, (_, name, args)) in HOSTCALLS.iter().enumerate() {
        write!(wat, "  (func $s{i} (result i32) (call ${name}").unwrap();
        for a in args.chars() {
            wat.push_str(match a {
                'p' => " (call $ptr)",
                'l' => " (call $arg64)",
                _ => " (call $arg)",
            });
        }
        wat.push_str("))\n");
    }
    wat.push_str(")\n");
    wat
}

/// The compiled guest, a runtime like a worker's, and a host renewed now and then.
struct Harness {
    guest: Bytes,
    runtime: Runtime,
    host: RefCell<Host>,
}

/// A host, the guest loaded once into it (its compiled module stays cached only while a
/// plugin uses it: without this one each input would compile the guest again), and how
/// many inputs it ran.
struct Host {
    host: WasmHost,
    _keep: Arc<CompiledPlugin>,
    runs: u32,
}

impl Host {
    fn new(guest: &Bytes) -> Host {
        let host = WasmHost::new(HostConfig {
            limits: Limits {
                memory_bytes: 4 * GUEST_MEMORY as usize,
                // Generous: a slow (sanitized) build must not turn into a timeout failure.
                callback_budget: Duration::from_secs(10),
                max_log_line: 256,
                ..Limits::default()
            },
            cache_dir: None,
            pool_slots: Some(4),
        })
        .expect("a Wasm host");
        let keep = host
            .load(PluginSpec::new("fuzz", "keep", guest.clone()))
            .expect("the guest loads");
        Host {
            host,
            _keep: keep,
            runs: 0,
        }
    }
}

thread_local! {
    static HARNESS: Harness = {
        let guest = Bytes::from(wat::parse_str(guest_wat()).expect("the guest's text is valid"));
        Harness {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime"),
            host: RefCell::new(Host::new(&guest)),
            guest,
        }
    };
}

pub fn check(data: &[u8]) {
    HARNESS.with(|h| {
        let host = {
            let mut host = h.host.borrow_mut();
            host.runs += 1;
            if host.runs > RUNS_PER_HOST {
                *host = Host::new(&h.guest);
            }
            host.host.clone()
        };
        let mut spec = PluginSpec::new("fuzz", "abi", h.guest.clone());
        spec.plugin_config = Bytes::copy_from_slice(data);
        let plugin = host.load(spec).expect("the guest loads");
        tokio::task::LocalSet::new().block_on(&h.runtime, async {
            let vm = PluginVm::start(plugin, Rc::new(NoHost));
            if let Some(failure) = vm.failure() {
                panic!("the VM failed while the guest configured: {failure}");
            }
            let mut ctx = vm
                .http_context(StreamInfo::default())
                .unwrap_or_else(|f| panic!("no HTTP context: {f}"));
            let request: HeaderMap = [(":method", "GET"), (":path", "/fuzz"), (":authority", "fuzz")]
                .into_iter()
                .collect();
            ctx.owned().expect("own maps").request = request;
            let verdict = ctx.on_request_headers(true).await;
            assert!(
                !matches!(verdict, Verdict::Failed(_)),
                "request headers: {verdict:?}"
            );
            if verdict == Verdict::Continue {
                let response: HeaderMap = [(":status", "200")].into_iter().collect();
                ctx.owned().expect("own maps").response = response;
                let verdict = ctx.on_response_headers(true).await;
                assert!(
                    !matches!(verdict, Verdict::Failed(_)),
                    "response headers: {verdict:?}"
                );
            }
            drop(ctx);
            if let Some(failure) = vm.failure() {
                panic!("the VM failed: {failure}");
            }
        });
    });
}
