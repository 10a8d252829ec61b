//! Hostile: pauses every request in the request-headers callback and never resumes it.
//! The proxy must bound the wait (the route timeout) and clean the context up.

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_http_context(|_, _| Box::new(NeverResume));
}}

struct NeverResume;

impl Context for NeverResume {}

impl HttpContext for NeverResume {
    fn on_http_request_headers(&mut self, _n: usize, _eos: bool) -> Action {
        Action::Pause
    }
}
