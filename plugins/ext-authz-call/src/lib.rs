//! External authorization through `http_call`: each request is paused while the service of
//! cluster `cluster` is asked (original method, `path_prefix` + original path, the headers
//! in `forward_headers`); a 2xx answer lets it go on with the answer's `upstream_headers`
//! copied onto it, any other answer is what the client gets. See [`check`].

pub mod check;

use std::rc::Rc;
use std::time::Duration;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

use check::{Outcome, Settings};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| Box::new(Root { settings: None }));
}}

struct Root {
    settings: Option<Rc<Settings>>,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        match Settings::parse(&bytes) {
            Ok(settings) => {
                self.settings = Some(Rc::new(settings));
                true
            }
            Err(err) => {
                hostcalls::log(
                    LogLevel::Error,
                    &format!("ext-authz-call: bad configuration: {err}"),
                )
                .ok();
                false
            }
        }
    }

    fn create_http_context(&self, _id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(ExtAuthz {
            settings: self.settings.clone()?,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct ExtAuthz {
    settings: Rc<Settings>,
}

impl Context for ExtAuthz {
    fn on_http_call_response(&mut self, _token: u32, _headers: usize, body_size: usize, _trailers: usize) {
        let headers = self.get_http_call_response_headers();
        let status = headers
            .iter()
            .find(|(k, _)| k == ":status")
            .map(|(_, v)| v.clone());
        let body = self.get_http_call_response_body(0, body_size).unwrap_or_default();
        match check::decide(&self.settings, status.as_deref(), &headers, body) {
            Outcome::Allow(set) => {
                for (name, value) in set {
                    self.set_http_request_header(&name, Some(&value));
                }
                self.resume_http_request();
            }
            Outcome::Deny {
                status,
                body,
                content_type,
            } => {
                let headers: Vec<(&str, &str)> = content_type
                    .iter()
                    .map(|c| ("content-type", c.as_str()))
                    .collect();
                self.send_http_response(status, headers, Some(&body));
            }
        }
    }
}

impl HttpContext for ExtAuthz {
    fn on_http_request_headers(&mut self, _n: usize, _eos: bool) -> Action {
        let s = self.settings.clone();
        let method = self
            .get_http_request_header(":method")
            .unwrap_or_else(|| "GET".into());
        let path = s.check_path(
            &self
                .get_http_request_header(":path")
                .unwrap_or_else(|| "/".into()),
        );
        let authority = s.authority.clone().unwrap_or_else(|| s.cluster.clone());
        let copied: Vec<(String, String)> = s
            .forward_headers
            .iter()
            .filter_map(|h| self.get_http_request_header(h).map(|v| (h.clone(), v)))
            .collect();
        let mut headers = vec![
            (":method", method.as_str()),
            (":path", path.as_str()),
            (":authority", authority.as_str()),
        ];
        headers.extend(copied.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        match self.dispatch_http_call(
            &s.cluster,
            headers,
            None,
            vec![],
            Duration::from_millis(s.timeout_ms),
        ) {
            Ok(_) => Action::Pause,
            Err(status) => {
                hostcalls::log(
                    LogLevel::Warn,
                    &format!("ext-authz-call: cannot call cluster {:?}: {status:?}", s.cluster),
                )
                .ok();
                if s.failure_mode_allow {
                    return Action::Continue;
                }
                self.send_http_response(
                    503,
                    vec![("content-type", "text/plain")],
                    Some(b"authorization service unavailable\n"),
                );
                Action::Pause
            }
        }
    }
}
