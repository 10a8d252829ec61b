//! Hostile: calls hostcalls directly with pointers and lengths outside its memory. The host
//! must answer each with `InvalidMemoryAccess` (status 6 in the spec) instead of reading or
//! writing out of bounds; the plugin then reports the statuses it got as the request header
//! `x-bad-pointer-statuses: <log>,<get_header>,<set_buffer>,<get_property>`.

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};

extern "C" {
    fn proxy_log(level: u32, message_data: *const u8, message_size: usize) -> u32;
    fn proxy_get_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
    fn proxy_set_buffer_bytes(
        buffer_type: u32,
        start: usize,
        size: usize,
        buffer_data: *const u8,
        buffer_size: usize,
    ) -> u32;
    fn proxy_get_property(
        path_data: *const u8,
        path_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
}

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_http_context(|_, _| Box::new(BadPointers));
}}

struct BadPointers;

impl Context for BadPointers {}

const FAR: usize = 0xffff_fff0;

impl HttpContext for BadPointers {
    fn on_http_request_headers(&mut self, _n: usize, _eos: bool) -> Action {
        let key = b":path";
        let statuses = unsafe {
            [
                proxy_log(2, FAR as *const u8, 64),
                proxy_get_header_map_value(
                    0,
                    key.as_ptr(),
                    key.len(),
                    FAR as *mut *mut u8,
                    FAR as *mut usize,
                ),
                proxy_set_buffer_bytes(0, 0, 0, FAR as *const u8, usize::MAX / 2),
                proxy_get_property(key.as_ptr(), usize::MAX, FAR as *mut *mut u8, FAR as *mut usize),
            ]
        };
        let report: Vec<String> = statuses.iter().map(u32::to_string).collect();
        self.set_http_request_header("x-bad-pointer-statuses", Some(&report.join(",")));
        Action::Continue
    }
}
