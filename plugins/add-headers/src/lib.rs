//! Header rewriting, the most common use of a WasmPlugin: sets and removes request headers
//! on the way in and response headers on the way out.
//!
//! ```yaml
//! pluginConfig:
//!   request:  {set: {x-tenant: blue}, remove: [x-debug]}
//!   response: {set: {x-powered-by: wasmesh}, remove: [server]}
//! ```
//!
//! Values may use `{plugin_name}`, replaced by the `plugin_name` property (`<ns>.<name>`).

pub mod rules;

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

use rules::Rules;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| Box::new(Root { rules: Rc::new(Rules::default()) }));
}}

struct Root {
    rules: Rc<Rules>,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        let plugin_name = self
            .get_property(vec!["plugin_name"])
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        match Rules::parse(&bytes, &plugin_name) {
            Ok(rules) => {
                self.rules = Rc::new(rules);
                true
            }
            Err(err) => {
                proxy_wasm::hostcalls::log(
                    LogLevel::Error,
                    &format!("add-headers: bad configuration: {err}"),
                )
                .ok();
                false
            }
        }
    }

    fn create_http_context(&self, _id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(AddHeaders {
            rules: self.rules.clone(),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct AddHeaders {
    rules: Rc<Rules>,
}

impl Context for AddHeaders {}

impl HttpContext for AddHeaders {
    fn on_http_request_headers(&mut self, _n: usize, _eos: bool) -> Action {
        for name in &self.rules.request.remove {
            self.set_http_request_header(name, None);
        }
        for (name, value) in &self.rules.request.set {
            self.set_http_request_header(name, Some(value));
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _n: usize, _eos: bool) -> Action {
        for name in &self.rules.response.remove {
            self.set_http_response_header(name, None);
        }
        for (name, value) in &self.rules.response.set {
            self.set_http_response_header(name, Some(value));
        }
        Action::Continue
    }
}
