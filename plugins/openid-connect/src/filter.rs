//! The Proxy-Wasm glue: reads the request, asks `flow` what to do, and carries it out with
//! header changes, local replies and `http_call`s to `openid_server`.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType};

use crate::config::Config;
use crate::discovery::Discovery;
use crate::flow::{self, ProviderStep, Reply, Request, Step};
use crate::session::LoginState;

/// The provider's metadata, fetched by the first request that needs it and kept by the VM.
type DiscoveryCell = Rc<RefCell<Option<Rc<Discovery>>>>;

#[derive(Default)]
pub struct OidcRoot {
    config: Option<Rc<Config>>,
    discovery: DiscoveryCell,
}

impl Context for OidcRoot {}

impl RootContext for OidcRoot {
    fn on_configure(&mut self, _size: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        match Config::parse(&bytes) {
            Ok(config) => {
                proxy_wasm::hostcalls::log(
                    proxy_wasm::types::LogLevel::Info,
                    &format!(
                        "openid-connect: configured for client {:?} at cluster {:?} (discovery {})",
                        config.client_id, config.openid_server, config.discovery_path
                    ),
                )
                .ok();
                self.config = Some(Rc::new(config));
                *self.discovery.borrow_mut() = None;
                true
            }
            Err(err) => {
                proxy_wasm::hostcalls::log(
                    proxy_wasm::types::LogLevel::Error,
                    &format!("openid-connect: bad configuration, plugin not started: {err}"),
                )
                .ok();
                false
            }
        }
    }

    fn create_http_context(&self, _id: u32) -> Option<Box<dyn HttpContext>> {
        let config = self.config.clone()?;
        Some(Box::new(Oidc {
            config,
            discovery: self.discovery.clone(),
            pending: Pending::Nothing,
            req: None,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// What an `http_call` in flight is for.
enum Pending {
    Nothing,
    /// Discovery, then carry on with the step.
    Discovery(ProviderStep),
    /// The code exchange of this login, against the metadata it was started with.
    Token(LoginState, Rc<Discovery>),
}

/// The request facts, owned, kept while a call is in flight.
struct Facts {
    method: String,
    path: String,
    authority: String,
    scheme: String,
    cookie: Option<String>,
    now: u64,
}

impl Facts {
    fn request(&self) -> Request<'_> {
        Request {
            method: &self.method,
            path: &self.path,
            authority: &self.authority,
            scheme: &self.scheme,
            cookie: self.cookie.as_deref(),
            now: self.now,
        }
    }
}

struct Oidc {
    config: Rc<Config>,
    discovery: DiscoveryCell,
    pending: Pending,
    req: Option<Facts>,
}

impl Oidc {
    fn now(&self) -> u64 {
        self.get_current_time()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    fn reply(&self, reply: Reply) -> Action {
        let headers: Vec<(&str, &str)> = reply
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let body = (!reply.body.is_empty()).then_some(reply.body.as_bytes());
        self.send_http_response(reply.status, headers, body);
        Action::Pause
    }

    fn log(&self, level: proxy_wasm::types::LogLevel, msg: &str) {
        proxy_wasm::hostcalls::log(level, &format!("openid-connect: {msg}")).ok();
    }

    /// Carries out a step that needs the provider's metadata.
    fn proceed(&mut self, step: ProviderStep, discovery: Rc<Discovery>) -> Action {
        let facts = self
            .req
            .as_ref()
            .expect("request facts are kept from the headers callback");
        match step {
            ProviderStep::Login { return_to } => {
                let mut random = [0u8; 64];
                if getrandom::getrandom(&mut random).is_err() {
                    self.log(
                        proxy_wasm::types::LogLevel::Error,
                        "no random bytes from the host",
                    );
                    return self.reply(flow::provider_unavailable(&self.config, "no random source"));
                }
                let login = LoginState::new(&random, &return_to, facts.now);
                let reply = flow::login_redirect(&self.config, &discovery, &facts.request(), &login);
                self.reply(reply)
            }
            ProviderStep::Exchange {
                code,
                login,
                redirect_uri,
            } => {
                let request = flow::token_request(&self.config, &discovery, &code, &redirect_uri);
                let headers: Vec<(&str, &str)> = request
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                match self.dispatch_http_call(
                    &self.config.openid_server,
                    headers,
                    Some(request.body.as_bytes()),
                    vec![],
                    Duration::from_millis(self.config.call_timeout_ms),
                ) {
                    Ok(_) => {
                        self.pending = Pending::Token(login, discovery.clone());
                        Action::Pause
                    }
                    Err(status) => {
                        let why = format!("cannot call cluster {:?}: {status:?}", self.config.openid_server);
                        self.log(proxy_wasm::types::LogLevel::Warn, &why);
                        self.reply(flow::provider_unavailable(&self.config, &why))
                    }
                }
            }
        }
    }

    fn discover(&mut self, then: ProviderStep) -> Action {
        let config = self.config.clone();
        match self.dispatch_http_call(
            &config.openid_server,
            vec![
                (":method", "GET"),
                (":path", &config.discovery_path),
                (":authority", &config.openid_authority),
                ("accept", "application/json"),
            ],
            None,
            vec![],
            Duration::from_millis(config.call_timeout_ms),
        ) {
            Ok(_) => {
                self.pending = Pending::Discovery(then);
                Action::Pause
            }
            Err(status) => {
                let why = format!("cannot call cluster {:?}: {status:?}", config.openid_server);
                self.log(proxy_wasm::types::LogLevel::Warn, &why);
                self.reply(flow::provider_unavailable(&config, &why))
            }
        }
    }
}

impl Context for Oidc {
    fn on_http_call_response(&mut self, _token: u32, _headers: usize, body_size: usize, _trailers: usize) {
        let status = self.get_http_call_response_header(":status");
        let body = self.get_http_call_response_body(0, body_size).unwrap_or_default();
        match std::mem::replace(&mut self.pending, Pending::Nothing) {
            Pending::Nothing => {}
            Pending::Discovery(then) => {
                let parsed = match status.as_deref() {
                    None => Err("no answer (timeout or connection failure)".to_string()),
                    Some("200") => Discovery::parse(&body),
                    Some(other) => Err(format!("discovery answered HTTP status {other}")),
                };
                match parsed {
                    Ok(discovery) => {
                        let discovery = Rc::new(discovery);
                        *self.discovery.borrow_mut() = Some(discovery.clone());
                        self.proceed(then, discovery);
                    }
                    Err(why) => {
                        self.log(
                            proxy_wasm::types::LogLevel::Warn,
                            &format!("discovery failed: {why}"),
                        );
                        self.reply(flow::provider_unavailable(&self.config, &why));
                    }
                }
            }
            Pending::Token(login, discovery) => {
                let facts = self
                    .req
                    .as_ref()
                    .expect("request facts are kept from the headers callback");
                let now = self.now();
                let reply = flow::finish_login(
                    &self.config,
                    &discovery,
                    &login,
                    status.as_deref(),
                    &body,
                    now,
                    facts.request().secure(),
                );
                if reply.status != 302 {
                    self.log(
                        proxy_wasm::types::LogLevel::Warn,
                        &format!("login failed with status {}", reply.status),
                    );
                }
                self.reply(reply);
            }
        }
    }
}

impl HttpContext for Oidc {
    fn on_http_request_headers(&mut self, _n: usize, _eos: bool) -> Action {
        let header = |name: &str| self.get_http_request_header(name);
        let facts = Facts {
            method: header(":method").unwrap_or_else(|| "GET".into()),
            path: header(":path").unwrap_or_else(|| "/".into()),
            authority: header(":authority")
                .or_else(|| header("host"))
                .unwrap_or_default(),
            scheme: header(":scheme").unwrap_or_else(|| "http".into()),
            cookie: header("cookie"),
            now: self.now(),
        };
        let step = flow::classify(&self.config, &facts.request());
        self.req = Some(facts);
        match step {
            Step::Forward {
                authorization,
                cookie,
            } => {
                self.set_http_request_header("authorization", Some(&authorization));
                self.set_http_request_header("cookie", cookie.as_deref());
                Action::Continue
            }
            Step::Reply(reply) => self.reply(reply),
            Step::Logout { id_token_hint } => {
                let discovery = self.discovery.borrow().clone();
                let secure = self.req.as_ref().is_some_and(|f| f.request().secure());
                self.reply(flow::logout(
                    &self.config,
                    discovery.as_deref(),
                    id_token_hint.as_deref(),
                    secure,
                ))
            }
            Step::Provider(step) => {
                let known = self.discovery.borrow().clone();
                match known {
                    Some(discovery) => self.proceed(step, discovery),
                    None => self.discover(step),
                }
            }
        }
    }
}
