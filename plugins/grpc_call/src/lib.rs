//! Calls `wasmesh.test.Echo/Say` on the cluster `grpc` with the request path as the message
//! before letting the request through, then adds `x-grpc-status: <code>` and
//! `x-grpc-reply: <message>` and resumes it. Shows `proxy_grpc_call`, the gRPC close
//! callback (`on_grpc_call_response`) and the gRPC receive buffer.

use std::time::Duration;

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_http_context(|_, _| Box::new(GrpcCall));
}}

struct GrpcCall;

impl HttpContext for GrpcCall {
    fn on_http_request_headers(&mut self, _n: usize, _eos: bool) -> Action {
        let path = self.get_http_request_header(":path").unwrap_or_default();
        let call = self.dispatch_grpc_call(
            "grpc",
            "wasmesh.test.Echo",
            "Say",
            vec![("x-from", b"grpc_call".as_slice())],
            Some(path.as_bytes()),
            Duration::from_secs(5),
        );
        match call {
            Ok(_) => Action::Pause,
            Err(status) => {
                let status = format!("{status:?}");
                self.set_http_request_header("x-grpc-error", Some(&status));
                Action::Continue
            }
        }
    }
}

impl Context for GrpcCall {
    fn on_grpc_call_response(&mut self, _token: u32, status_code: u32, size: usize) {
        let reply = self.get_grpc_call_response_body(0, size).unwrap_or_default();
        self.set_http_request_header("x-grpc-status", Some(&status_code.to_string()));
        self.set_http_request_header("x-grpc-reply", Some(&String::from_utf8_lossy(&reply)));
        self.resume_http_request();
    }
}
