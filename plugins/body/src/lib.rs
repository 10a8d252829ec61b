//! Buffers whole bodies and rewrites them: the request body is upper-cased, the response
//! body is wrapped as `wasm(<body>)`. Shows body callbacks, `end_of_stream`, pausing to
//! buffer (StopIterationAndBuffer) and `proxy_set_buffer_bytes` replacing a whole body.
//! Also replaces `content-length` with the new length on the way back.

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_http_context(|_, _| Box::new(Body));
}}

struct Body;

impl Context for Body {}

impl HttpContext for Body {
    fn on_http_request_headers(&mut self, _n: usize, _eos: bool) -> Action {
        // The body changes length: let the proxy recompute framing.
        self.set_http_request_header("content-length", None);
        Action::Continue
    }

    fn on_http_request_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        if !end_of_stream {
            return Action::Pause;
        }
        let body = self.get_http_request_body(0, size).unwrap_or_default();
        self.set_http_request_body(0, size, &body.to_ascii_uppercase());
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _n: usize, _eos: bool) -> Action {
        self.set_http_response_header("content-length", None);
        Action::Continue
    }

    fn on_http_response_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        if !end_of_stream {
            return Action::Pause;
        }
        let body = self.get_http_response_body(0, size).unwrap_or_default();
        let mut wrapped = b"wasm(".to_vec();
        wrapped.extend_from_slice(&body);
        wrapped.push(b')');
        self.set_http_response_body(0, size, &wrapped);
        Action::Continue
    }
}
