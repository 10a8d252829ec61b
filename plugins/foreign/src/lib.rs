//! Calls Envoy's foreign functions through `proxy_call_foreign_function`: compresses the
//! request path with `compress`, restores it with `uncompress`, and reports
//! `x-foreign-roundtrip: <restored path>`, `x-foreign-compressed: <compressed length>` and
//! `x-foreign-unknown: <status of a function the host does not have>`.

use proxy_wasm::hostcalls::call_foreign_function;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_http_context(|_, _| Box::new(Foreign));
}}

struct Foreign;

impl Context for Foreign {}

impl HttpContext for Foreign {
    fn on_http_request_headers(&mut self, _n: usize, _eos: bool) -> Action {
        let path = self.get_http_request_header(":path").unwrap_or_default();
        let compressed = call_foreign_function("compress", Some(path.as_bytes()))
            .ok()
            .flatten()
            .unwrap_or_default();
        let restored = call_foreign_function("uncompress", Some(&compressed))
            .ok()
            .flatten()
            .unwrap_or_default();
        self.set_http_request_header("x-foreign-roundtrip", Some(&String::from_utf8_lossy(&restored)));
        self.set_http_request_header("x-foreign-compressed", Some(&compressed.len().to_string()));
        let unknown = match call_foreign_function("no_such_function", None) {
            Ok(_) => "Ok".to_owned(),
            Err(status) => format!("{status:?}"),
        };
        self.set_http_request_header("x-foreign-unknown", Some(&unknown));
        Action::Continue
    }
}
