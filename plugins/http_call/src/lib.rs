//! Asks the cluster `auth` (`GET /check`, carrying the request's `authorization` header)
//! before letting a request through. On a 200 answer the request goes on with header
//! `x-auth-answer: <answer body>`; otherwise the plugin replies 401 with header
//! `x-auth-status: <answer status>`. Shows `proxy_http_call`, pausing, the response
//! callback with its header map and body buffer, and `proxy_continue_stream`.

use std::time::Duration;

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_http_context(|_, _| Box::new(HttpCall));
}}

struct HttpCall;

impl HttpContext for HttpCall {
    fn on_http_request_headers(&mut self, _n: usize, _eos: bool) -> Action {
        let authorization = self.get_http_request_header("authorization").unwrap_or_default();
        let dispatched = self.dispatch_http_call(
            "auth",
            vec![
                (":method", "GET"),
                (":path", "/check"),
                (":authority", "auth"),
                ("authorization", authorization.as_str()),
            ],
            None,
            vec![],
            Duration::from_secs(5),
        );
        match dispatched {
            Ok(_) => Action::Pause,
            Err(status) => {
                let status = format!("{status:?}");
                self.send_http_response(
                    500,
                    vec![("x-http-call-error", status.as_str())],
                    Some(b"http_call failed"),
                );
                Action::Pause
            }
        }
    }
}

impl Context for HttpCall {
    fn on_http_call_response(&mut self, _token: u32, _headers: usize, body_size: usize, _trailers: usize) {
        let status = self.get_http_call_response_header(":status").unwrap_or_default();
        if status == "200" {
            let body = self.get_http_call_response_body(0, body_size).unwrap_or_default();
            self.set_http_request_header("x-auth-answer", Some(&String::from_utf8_lossy(&body)));
            self.resume_http_request();
        } else {
            self.send_http_response(
                401,
                vec![("x-auth-status", status.as_str())],
                Some(b"not allowed"),
            );
        }
    }
}
