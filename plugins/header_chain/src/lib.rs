//! Header operations read from `pluginConfig`, to show that every filter of a request works
//! on one header map (each sees what the ones before it wrote, and `on_log` sees the final
//! headers), and how local replies pass the response callbacks.
//!
//! ```json
//! {"name": "a",
//!  "add": [["x-a", "1"]],          // request headers to add
//!  "remove": ["x-forwarded-proto"], // request headers to remove
//!  "replace": [[":authority", "h"]],// request headers to replace
//!  "copy": [["x-a", "x-saw-a"]],   // write the value of the first into the second
//!                                  // ("absent" when there is none)
//!  "log": ["x-b"],                 // in on_log: log `<name> on_log <header>=<value>`
//!  "reply": {"prefix": "/reply", "status": 403, "body": "no", "grpc_status": 7,
//!            "headers": [["x-k", "v"]]},   // local reply for paths with this prefix
//!  "response_mark": true,          // response: add `x-<name>-saw: <:status>`
//!  "body_append": "!"}             // append this to every request body chunk, leaving
//!                                  // content-length as it is (a plugin doing it wrong)
//! ```

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, GrpcStatusCode, LogLevel};
use serde::Deserialize;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| Box::new(Root { config: Rc::default() }));
}}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Config {
    name: String,
    add: Vec<(String, String)>,
    remove: Vec<String>,
    replace: Vec<(String, String)>,
    copy: Vec<(String, String)>,
    log: Vec<String>,
    reply: Option<Reply>,
    response_mark: bool,
    body_append: String,
}

#[derive(Deserialize)]
struct Reply {
    prefix: String,
    status: u32,
    #[serde(default)]
    body: String,
    /// Answer as gRPC (`send_grpc_response`) with this status; `body` is the message.
    grpc_status: Option<i32>,
    #[serde(default)]
    headers: Vec<(String, String)>,
}

struct Root {
    config: Rc<Config>,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        match serde_json::from_slice(&bytes) {
            Ok(config) => {
                self.config = Rc::new(config);
                true
            }
            Err(e) => {
                proxy_wasm::hostcalls::log(LogLevel::Error, &format!("bad configuration: {e}")).ok();
                false
            }
        }
    }

    fn create_http_context(&self, _id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Chain {
            config: self.config.clone(),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Chain {
    config: Rc<Config>,
}

impl Context for Chain {}

impl HttpContext for Chain {
    fn on_http_request_headers(&mut self, _n: usize, _eos: bool) -> Action {
        let c = self.config.clone();
        for (from, to) in &c.copy {
            let value = self.get_http_request_header(from);
            self.set_http_request_header(to, Some(value.as_deref().unwrap_or("absent")));
        }
        for (k, v) in &c.add {
            self.add_http_request_header(k, v);
        }
        for k in &c.remove {
            self.set_http_request_header(k, None);
        }
        for (k, v) in &c.replace {
            self.set_http_request_header(k, Some(v));
        }
        if let Some(reply) = &c.reply {
            let path = self.get_http_request_header(":path").unwrap_or_default();
            if path.starts_with(&reply.prefix) {
                let headers: Vec<(&str, &str)> =
                    reply.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let body = (!reply.body.is_empty()).then_some(reply.body.as_bytes());
                match reply.grpc_status {
                    Some(code) => {
                        let code = match code {
                            7 => GrpcStatusCode::PermissionDenied,
                            16 => GrpcStatusCode::Unauthenticated,
                            _ => GrpcStatusCode::Unknown,
                        };
                        let metadata = headers.iter().map(|(k, v)| (*k, v.as_bytes())).collect();
                        self.send_grpc_response(code, Some(&reply.body), metadata);
                    }
                    None => self.send_http_response(reply.status, headers, body),
                }
                return Action::Pause;
            }
        }
        Action::Continue
    }

    fn on_http_request_body(&mut self, size: usize, _eos: bool) -> Action {
        if !self.config.body_append.is_empty() && size > 0 {
            let mut chunk = self.get_http_request_body(0, size).unwrap_or_default();
            chunk.extend_from_slice(self.config.body_append.as_bytes());
            self.set_http_request_body(0, size, &chunk);
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _n: usize, _eos: bool) -> Action {
        if self.config.response_mark {
            let status = self.get_http_response_header(":status").unwrap_or_default();
            self.add_http_response_header(&format!("x-{}-saw", self.config.name), &status);
        }
        Action::Continue
    }

    fn on_log(&mut self) {
        for k in &self.config.log {
            let value = self.get_http_request_header(k);
            proxy_wasm::hostcalls::log(
                LogLevel::Info,
                &format!(
                    "{} on_log {k}={}",
                    self.config.name,
                    value.as_deref().unwrap_or("absent")
                ),
            )
            .ok();
        }
    }
}
