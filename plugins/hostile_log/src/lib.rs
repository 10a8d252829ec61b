//! Hostile: writes one 8 MiB log line per request. The host must cut it to its log line
//! limit instead of copying it whole into the proxy's logs; the request then goes on with
//! `x-huge-log: done`.

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_http_context(|_, _| Box::new(HugeLog));
}}

struct HugeLog;

impl Context for HugeLog {}

impl HttpContext for HugeLog {
    fn on_http_request_headers(&mut self, _n: usize, _eos: bool) -> Action {
        let line = "x".repeat(8 << 20);
        let _ = proxy_wasm::hostcalls::log(LogLevel::Warn, &line);
        self.set_http_request_header("x-huge-log", Some("done"));
        Action::Continue
    }
}
