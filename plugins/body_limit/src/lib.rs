//! Streams the request body through without buffering and answers 413 in the middle of it
//! once more than `pluginConfig.limit` bytes (default 16) have passed — a plugin refusing a
//! body the upstream has already started to receive.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| Box::new(Root { limit: 16 }));
}}

struct Root {
    limit: usize,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        if let Some(config) = self.get_plugin_configuration() {
            let text = String::from_utf8_lossy(&config);
            // `{"limit": N}`: read the number without a JSON parser.
            if let Some(n) = text
                .split("\"limit\"")
                .nth(1)
                .and_then(|rest| rest.trim_start_matches([' ', ':']).split([',', '}']).next())
                .and_then(|n| n.trim().parse().ok())
            {
                self.limit = n;
            }
        }
        true
    }

    fn create_http_context(&self, _id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Limit {
            limit: self.limit,
            seen: 0,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Limit {
    limit: usize,
    seen: usize,
}

impl Context for Limit {}

impl HttpContext for Limit {
    fn on_http_request_body(&mut self, size: usize, _end_of_stream: bool) -> Action {
        // `size` is what this callback sees now; nothing is buffered, so it is the chunk.
        self.seen += size;
        if self.seen > self.limit {
            self.send_http_response(413, vec![], Some(b"body too large\n"));
            return Action::Pause;
        }
        Action::Continue
    }
}
