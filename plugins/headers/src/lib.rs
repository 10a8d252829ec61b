//! Adds one request header and one response header: the smallest useful plugin, used by
//! the host's tests, the proxy's tests and the benchmark.
//!
//! Request: adds `x-wasm-request: <value>`; response: adds `x-wasm-response: <value>`.
//! `<value>` is `pluginConfig.value` when set, else the plugin's root id (its `pluginName`),
//! else `headers`, so a chain of several instances shows its execution order in repeated
//! headers.
//!
//! With `pluginConfig.read: <name>` the plugin only reads that one request header (and
//! changes nothing): the benchmark's counterpart of Envoy's "one Wasm filter that reads a
//! header" measurements.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| {
        Box::new(HeadersRoot {
            value: String::new(),
            read: None,
        })
    });
}}

struct HeadersRoot {
    value: String,
    /// `pluginConfig.read`: the one request header to read, in read-only mode.
    read: Option<String>,
}

impl Context for HeadersRoot {}

impl RootContext for HeadersRoot {
    fn on_configure(&mut self, _size: usize) -> bool {
        let config = self.get_plugin_configuration().unwrap_or_default();
        let parsed = serde_json::from_slice::<serde_json::Value>(&config).ok();
        let field = |name: &str| {
            parsed
                .as_ref()
                .and_then(|v| v.get(name).and_then(|v| v.as_str()).map(str::to_owned))
        };
        let configured = field("value");
        self.read = field("read");
        self.value = match configured {
            Some(value) => value,
            None => self
                .get_property(vec!["plugin_root_id"])
                .and_then(|id| String::from_utf8(id).ok())
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| "headers".to_owned()),
        };
        true
    }

    fn create_http_context(&self, _id: u32) -> Option<Box<dyn HttpContext>> {
        if let Some(name) = &self.read {
            return Some(Box::new(ReadOne { name: name.clone() }));
        }
        Some(Box::new(Headers {
            value: self.value.clone(),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Headers {
    value: String,
}

impl Context for Headers {}

impl HttpContext for Headers {
    fn on_http_request_headers(&mut self, _n: usize, _eos: bool) -> Action {
        self.add_http_request_header("x-wasm-request", &self.value);
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _n: usize, _eos: bool) -> Action {
        self.add_http_response_header("x-wasm-response", &self.value);
        Action::Continue
    }
}

/// Read-only mode: reads one request header, changes nothing.
struct ReadOne {
    name: String,
}

impl Context for ReadOne {}

impl HttpContext for ReadOne {
    fn on_http_request_headers(&mut self, _n: usize, _eos: bool) -> Action {
        std::hint::black_box(self.get_http_request_header(&self.name));
        Action::Continue
    }
}
