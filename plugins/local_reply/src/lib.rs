//! Answers requests whose path starts with `/deny` itself: 403, header
//! `x-denied-by: local_reply`, body `denied by plugin`. Other requests pass untouched.
//! Shows `proxy_send_local_response` from the request-headers callback.

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_http_context(|_, _| Box::new(LocalReply));
}}

struct LocalReply;

impl Context for LocalReply {}

impl HttpContext for LocalReply {
    fn on_http_request_headers(&mut self, _n: usize, _eos: bool) -> Action {
        let path = self.get_http_request_header(":path").unwrap_or_default();
        if path.starts_with("/deny") {
            self.send_http_response(
                403,
                vec![("x-denied-by", "local_reply")],
                Some(b"denied by plugin"),
            );
            return Action::Pause;
        }
        Action::Continue
    }
}
