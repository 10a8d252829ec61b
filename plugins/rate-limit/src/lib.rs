//! A rate limiter: a token bucket (see [`bucket`]) kept in Proxy-Wasm shared data, updated
//! with compare-and-swap so that concurrent requests on every worker's VM draw from one
//! bucket without losing updates. A request over the limit gets `429` with `retry-after`;
//! one under it goes on, and its response carries `x-ratelimit-remaining`.
//!
//! The ABI's compare-and-swap cannot say "only if absent" (a CAS of 0 writes
//! unconditionally), so two workers creating the same bucket at once could each grant its
//! first token and one write could be lost. The plugin's own bucket is therefore created,
//! full, when the plugin is configured, before any request; buckets per `keyHeader` value
//! are created on first use and keep that small race (as on Envoy).

pub mod bucket;

use std::rc::Rc;
use std::time::UNIX_EPOCH;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, Status};

use bucket::{Bucket, Decision, Limit};

/// CAS attempts before giving up on a hot bucket; then the request is let through (and
/// logged), since failing a request because of contention would make the limiter the outage.
const MAX_CAS_ATTEMPTS: usize = 16;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| Box::new(Root { limit: None, plugin_name: Rc::from("rate-limit") }));
}}

struct Root {
    limit: Option<Rc<Limit>>,
    plugin_name: Rc<str>,
}

impl Context for Root {}

impl Root {
    /// Creates the plugin's bucket, full, unless it exists (a reconfiguration or a VM
    /// restart keeps what is left of it).
    fn create_bucket(&self, limit: &Limit) {
        let key = bucket::key(&self.plugin_name, None);
        if self.get_shared_data(&key).0.is_some() {
            return;
        }
        let now_ms = self
            .get_current_time()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let full = Bucket {
            milli_tokens: limit.burst * 1000,
            updated_ms: now_ms,
        };
        if let Err(status) = hostcalls::set_shared_data(&key, Some(full.encode().as_bytes()), None) {
            hostcalls::log(
                LogLevel::Warn,
                &format!("rate-limit: cannot create the bucket: {status:?}"),
            )
            .ok();
        }
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        if let Some(name) = self.get_property(vec!["plugin_name"]) {
            self.plugin_name = Rc::from(String::from_utf8_lossy(&name).as_ref());
        }
        match Limit::parse(&bytes) {
            Ok(limit) => {
                self.create_bucket(&limit);
                self.limit = Some(Rc::new(limit));
                true
            }
            Err(err) => {
                hostcalls::log(LogLevel::Error, &format!("rate-limit: bad configuration: {err}")).ok();
                false
            }
        }
    }

    fn create_http_context(&self, _id: u32) -> Option<Box<dyn HttpContext>> {
        let limit = self.limit.clone()?;
        Some(Box::new(RateLimit {
            limit,
            plugin_name: self.plugin_name.clone(),
            remaining: None,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct RateLimit {
    limit: Rc<Limit>,
    plugin_name: Rc<str>,
    remaining: Option<u64>,
}

impl RateLimit {
    fn decide(&self, key: &str) -> Option<Decision> {
        for _ in 0..MAX_CAS_ATTEMPTS {
            let now_ms = self
                .get_current_time()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            let (value, cas) = self.get_shared_data(key);
            let prev = value.as_deref().and_then(Bucket::decode);
            let (next, decision) = bucket::take(prev, now_ms, &self.limit);
            match hostcalls::set_shared_data(key, Some(next.encode().as_bytes()), cas) {
                Ok(()) => return Some(decision),
                Err(Status::CasMismatch) => continue,
                Err(status) => {
                    hostcalls::log(
                        LogLevel::Warn,
                        &format!("rate-limit: shared data refused: {status:?}"),
                    )
                    .ok();
                    return None;
                }
            }
        }
        hostcalls::log(
            LogLevel::Warn,
            &format!("rate-limit: {key} too contended, request let through"),
        )
        .ok();
        None
    }
}

impl Context for RateLimit {}

impl HttpContext for RateLimit {
    fn on_http_request_headers(&mut self, _n: usize, _eos: bool) -> Action {
        let value = self
            .limit
            .key_header
            .as_deref()
            .and_then(|h| self.get_http_request_header(h));
        let key = bucket::key(&self.plugin_name, value.as_deref());
        match self.decide(&key) {
            Some(Decision::Allow { remaining }) => {
                self.remaining = Some(remaining);
                Action::Continue
            }
            Some(Decision::Deny { retry_after_s }) => {
                let retry_after = retry_after_s.to_string();
                let limit = self.limit.requests_per_second.to_string();
                self.send_http_response(
                    429,
                    vec![
                        ("retry-after", &retry_after),
                        ("x-ratelimit-limit", &limit),
                        ("x-ratelimit-remaining", "0"),
                        ("content-type", "text/plain"),
                    ],
                    Some(b"rate limit exceeded\n"),
                );
                Action::Pause
            }
            None => Action::Continue,
        }
    }

    fn on_http_response_headers(&mut self, _n: usize, _eos: bool) -> Action {
        if let Some(remaining) = self.remaining {
            self.set_http_response_header("x-ratelimit-remaining", Some(&remaining.to_string()));
        }
        Action::Continue
    }
}
