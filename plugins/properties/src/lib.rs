//! Reads the host's properties and reports each as a request header
//! `x-prop-<path with dots as dashes>: <value>` (absent properties are left out). Integers
//! (ports, sizes) arrive as 8 little-endian bytes, as in Envoy, and are printed in decimal.
//! It also sets the property `wasmesh.example` and reads it back as `x-prop-set`.
//! Shows `proxy_get_property` / `proxy_set_property` and Envoy's attribute names.

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_http_context(|_, _| Box::new(Properties));
}}

const STRINGS: &[&str] = &[
    "request.path",
    "request.url_path",
    "request.host",
    "request.method",
    "request.scheme",
    "request.protocol",
    "request.id",
    "request.query",
    "source.address",
    "destination.address",
    "plugin_name",
    "plugin_root_id",
    "plugin_vm_id",
    "node.id",
    "xds.cluster_name",
    "xds.listener_direction",
    "request.auth.principal",
    // JSON, one line
    "request.auth.claims",
];

const INTEGERS: &[&str] = &["source.port", "destination.port"];

struct Properties;

impl Context for Properties {}

impl HttpContext for Properties {
    fn on_http_request_headers(&mut self, _n: usize, _eos: bool) -> Action {
        for path in STRINGS {
            if let Some(value) = self.get_property(path.split('.').collect()) {
                let name = format!("x-prop-{}", path.replace(['.', '_'], "-"));
                self.set_http_request_header(&name, Some(&String::from_utf8_lossy(&value)));
            }
        }
        for path in INTEGERS {
            if let Some(value) = self.get_property(path.split('.').collect()) {
                if let Ok(bytes) = <[u8; 8]>::try_from(value.as_slice()) {
                    let name = format!("x-prop-{}", path.replace(['.', '_'], "-"));
                    self.set_http_request_header(&name, Some(&i64::from_le_bytes(bytes).to_string()));
                }
            }
        }
        self.set_property(vec!["wasmesh", "example"], Some(b"set-by-plugin"));
        if let Some(value) = self.get_property(vec!["wasmesh", "example"]) {
            self.set_http_request_header("x-prop-set", Some(&String::from_utf8_lossy(&value)));
        }
        Action::Continue
    }
}
