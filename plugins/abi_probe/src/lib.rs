//! Calls hostcalls directly (below the SDK, which would panic on most error statuses) and
//! reports what it got as request headers, so a test can hold the host to the spec's
//! statuses: `x-probe-ok: <results of calls that must succeed>` and `x-probe-errors:
//! <statuses of calls that must fail>`.

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};

extern "C" {
    fn proxy_get_log_level(level: *mut u32) -> u32;
    fn proxy_get_current_time_nanoseconds(time: *mut u64) -> u32;
    fn proxy_get_header_map_size(map: u32, size: *mut usize) -> u32;
    fn proxy_get_header_map_pairs(map: u32, data: *mut *mut u8, size: *mut usize) -> u32;
    fn proxy_get_buffer_status(buffer: u32, length: *mut usize, flags: *mut u32) -> u32;
    fn proxy_set_effective_context(context: u32) -> u32;
    fn proxy_get_header_map_value(
        map: u32,
        key: *const u8,
        key_size: usize,
        data: *mut *mut u8,
        size: *mut usize,
    ) -> u32;
    fn proxy_define_metric(kind: u32, name: *const u8, name_size: usize, id: *mut u32) -> u32;
    fn proxy_get_metric(id: u32, value: *mut u64) -> u32;
    fn proxy_dequeue_shared_queue(id: u32, data: *mut *mut u8, size: *mut usize) -> u32;
    fn proxy_get_property(path: *const u8, path_size: usize, data: *mut *mut u8, size: *mut usize) -> u32;
    fn proxy_continue_stream(stream: u32) -> u32;
    fn proxy_set_buffer_bytes(
        buffer: u32,
        start: usize,
        size: usize,
        data: *const u8,
        data_size: usize,
    ) -> u32;
    fn proxy_get_status(code: *mut u32, data: *mut *mut u8, size: *mut usize) -> u32;
    fn proxy_grpc_cancel(token: u32) -> u32;
    fn proxy_http_call(
        upstream: *const u8,
        upstream_size: usize,
        headers: *const u8,
        headers_size: usize,
        body: *const u8,
        body_size: usize,
        trailers: *const u8,
        trailers_size: usize,
        timeout: u32,
        token: *mut u32,
    ) -> u32;
}

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_http_context(|_, _| Box::new(Probe));
}}

struct Probe;

impl Context for Probe {}

fn ok_results() -> Vec<String> {
    let mut out = Vec::new();
    unsafe {
        let mut level = 99u32;
        out.push(format!("log_level={}:{}", proxy_get_log_level(&mut level), level));
        let mut now = 0u64;
        let status = proxy_get_current_time_nanoseconds(&mut now);
        out.push(format!("time={}:{}", status, now > 1_600_000_000_000_000_000));
        let mut size = 0usize;
        let status = proxy_get_header_map_size(0, &mut size);
        let (mut data, mut pairs_size) = (core::ptr::null_mut(), 0usize);
        proxy_get_header_map_pairs(0, &mut data, &mut pairs_size);
        out.push(format!("map_size={}:{}", status, size == pairs_size));
        let (mut length, mut flags) = (0usize, 0u32);
        out.push(format!(
            "config_status={}:{}",
            proxy_get_buffer_status(7, &mut length, &mut flags),
            length
        ));
    }
    out
}

fn error_statuses() -> Vec<String> {
    let (mut data, mut size, mut id, mut value) = (core::ptr::null_mut(), 0usize, 0u32, 0u64);
    let key = b":path";
    let name = b"m";
    let path = b"no\0such\0thing";
    unsafe {
        [
            ("effective", proxy_set_effective_context(9999)),
            (
                "map_type",
                proxy_get_header_map_value(99, key.as_ptr(), key.len(), &mut data, &mut size),
            ),
            (
                "metric_type",
                proxy_define_metric(7, name.as_ptr(), name.len(), &mut id),
            ),
            ("metric_id", proxy_get_metric(12345, &mut value)),
            ("queue", proxy_dequeue_shared_queue(12345, &mut data, &mut size)),
            (
                "property",
                proxy_get_property(path.as_ptr(), path.len(), &mut data, &mut size),
            ),
            ("stream_type", proxy_continue_stream(9)),
            (
                "read_only_buffer",
                proxy_set_buffer_bytes(7, 0, 0, name.as_ptr(), name.len()),
            ),
            (
                "status_outside_call",
                proxy_get_status(&mut id, &mut data, &mut size),
            ),
            ("cancel_unknown", proxy_grpc_cancel(777)),
            ("http_call_without_path", {
                // One pair, ":method: GET" only: Envoy wants :method, :path and :authority.
                let mut pairs = Vec::new();
                pairs.extend_from_slice(&1u32.to_le_bytes());
                pairs.extend_from_slice(&7u32.to_le_bytes());
                pairs.extend_from_slice(&3u32.to_le_bytes());
                pairs.extend_from_slice(b":method\0GET\0");
                let cluster = b"auth";
                proxy_http_call(
                    cluster.as_ptr(),
                    cluster.len(),
                    pairs.as_ptr(),
                    pairs.len(),
                    core::ptr::null(),
                    0,
                    core::ptr::null(),
                    0,
                    1000,
                    &mut id,
                )
            }),
        ]
        .iter()
        .map(|(what, status)| format!("{what}={status}"))
        .collect()
    }
}

impl HttpContext for Probe {
    fn on_http_request_headers(&mut self, _n: usize, _eos: bool) -> Action {
        let ok = ok_results().join(",");
        let errors = error_statuses().join(",");
        self.set_http_request_header("x-probe-ok", Some(&ok));
        self.set_http_request_header("x-probe-errors", Some(&errors));
        Action::Continue
    }
}
