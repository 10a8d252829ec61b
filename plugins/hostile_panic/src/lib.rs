//! Hostile: panics in the request-headers callback (the SDK logs the panic at critical
//! level, then the module traps on `unreachable`). The host must apply `failStrategy`.

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_http_context(|_, _| Box::new(Panic));
}}

struct Panic;

impl Context for Panic {}

impl HttpContext for Panic {
    fn on_http_request_headers(&mut self, _n: usize, _eos: bool) -> Action {
        panic!("hostile_panic: this plugin always panics on request headers");
    }
}
