//! Opens a gRPC stream (`wasmesh.test.Echo/Chat` on the cluster `grpc`) for each request,
//! sends the request path, and when the first message comes back sends `bye` and closes
//! its side. The request goes on when the stream closes, with headers
//! `x-stream-metadata: <x-meta of the initial metadata>`, `x-stream-messages: <messages
//! received, joined by ,>` and `x-stream-status: <grpc status>`. Shows `proxy_grpc_stream`,
//! `proxy_grpc_send`, `proxy_grpc_close` and the four gRPC callbacks.

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_http_context(|_, _| Box::new(GrpcStream { messages: Vec::new(), metadata: String::new() }));
}}

struct GrpcStream {
    messages: Vec<String>,
    metadata: String,
}

impl HttpContext for GrpcStream {
    fn on_http_request_headers(&mut self, _n: usize, _eos: bool) -> Action {
        let path = self.get_http_request_header(":path").unwrap_or_default();
        match self.open_grpc_stream("grpc", "wasmesh.test.Echo", "Chat", vec![]) {
            Ok(token) => {
                self.send_grpc_stream_message(token, Some(path.as_bytes()), false);
                Action::Pause
            }
            Err(status) => {
                self.set_http_request_header("x-stream-error", Some(&format!("{status:?}")));
                Action::Continue
            }
        }
    }
}

impl Context for GrpcStream {
    fn on_grpc_stream_initial_metadata(&mut self, _token: u32, _n: u32) {
        if let Some(value) = self.get_grpc_stream_initial_metadata_value("x-meta") {
            self.metadata = String::from_utf8_lossy(&value).into_owned();
        }
    }

    fn on_grpc_stream_message(&mut self, token: u32, size: usize) {
        let message = self.get_grpc_stream_message(0, size).unwrap_or_default();
        self.messages.push(String::from_utf8_lossy(&message).into_owned());
        if self.messages.len() == 1 {
            self.send_grpc_stream_message(token, Some(b"bye"), false);
            self.close_grpc_stream(token);
        }
    }

    fn on_grpc_stream_close(&mut self, _token: u32, status_code: u32) {
        self.set_http_request_header("x-stream-metadata", Some(&self.metadata));
        self.set_http_request_header("x-stream-messages", Some(&self.messages.join(",")));
        self.set_http_request_header("x-stream-status", Some(&status_code.to_string()));
        self.resume_http_request();
    }
}
