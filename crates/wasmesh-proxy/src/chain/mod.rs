//! The HTTP filter chain with Envoy's semantics: request callbacks in chain order,
//! response callbacks in reverse; a filter may continue or answer locally, and a local
//! answer still passes back through the filters before it.
//!
//! ```text
//! request  ─▶ [AUTHN plugins] ▶ authn ▶ [AUTHZ plugins] ▶ authz ▶ [STATS] ▶ [UNSPECIFIED] ▶ stats ▶ router ─▶ upstream
//! response ◀─ [AUTHN plugins] ◀ authn ◀ [AUTHZ plugins] ◀ authz ◀ [STATS] ◀ [UNSPECIFIED] ◀ stats ◀ router ◀─ upstream
//! ```
//!
//! The `stats` filter records every request, whichever filter answered it, as Istio's
//! stats filter does from its log callback; the `router` is the upstream call itself.

pub mod authn;
pub mod authz;
mod exchange;
pub mod head;
pub mod matcher;

use http::{response, Response};
use std::rc::Rc;
use std::sync::Arc;
use wasmesh_wasm::PluginVm;

pub use exchange::{next_connection_id, ConnInfo, Exchange, RequestAuth};

use crate::body::ProxyBody;
use crate::error::ProxyError;
use crate::plugin::stream::{self, Contexts, Outcome};
use crate::plugin::WasmFilter;

/// One filter of a chain, as the snapshot describes it (shared by every worker).
#[derive(Debug, Clone)]
pub enum FilterSpec {
    /// RequestAuthentication: JWT validation.
    Authn(Arc<authn::Authn>),
    /// AuthorizationPolicy: DENY then ALLOW.
    Authz(Arc<authz::Authz>),
    /// Istio's standard metrics.
    Stats,
    /// The upstream call.
    Router,
    /// A Proxy-Wasm plugin.
    Wasm(Arc<WasmFilter>),
    /// A FAIL_CLOSE plugin whose module could not be had: every request gets 503 naming it.
    Unavailable { plugin: String, reason: String },
}

impl serde::Serialize for FilterSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        if !matches!(self, FilterSpec::Wasm(_) | FilterSpec::Unavailable { .. }) {
            m.serialize_entry("kind", "builtin")?;
        }
        let name: &str = match self {
            FilterSpec::Authn(a) => {
                m.serialize_entry("jwtRules", &a.rule_count())?;
                "authn"
            }
            FilterSpec::Authz(a) => {
                m.serialize_entry("policies", &a.policy_names())?;
                "authz"
            }
            FilterSpec::Stats => "stats",
            FilterSpec::Router => "router",
            FilterSpec::Wasm(w) => {
                m.serialize_entry("kind", "wasm")?;
                m.serialize_entry("url", &w.url)?;
                m.serialize_entry("sha256", &w.plugin.spec().sha256)?;
                &w.name
            }
            FilterSpec::Unavailable { plugin, reason } => {
                m.serialize_entry("kind", "wasm")?;
                m.serialize_entry("state", "unavailable")?;
                m.serialize_entry("error", reason)?;
                plugin
            }
        };
        m.serialize_entry("name", name)?;
        m.end()
    }
}

/// The filters of one listener in execution order.
#[derive(Debug, Default, serde::Serialize)]
#[serde(transparent)]
pub struct ChainSpec {
    pub filters: Vec<FilterSpec>,
}

/// The outcome of the request path.
// Boxing the response would cost an allocation on every local reply; the enum lives on
// the stack of one request only.
#[allow(clippy::large_enum_variant)]
pub enum RequestFlow {
    /// Every filter continued: the router sends the request upstream.
    Forward,
    /// The filter at `index` answered; the response passes the filters before it.
    Reply {
        index: usize,
        response: Response<ProxyBody>,
    },
    /// A plugin reset the stream.
    Close(String),
}

// === impl ChainSpec ===

impl ChainSpec {
    /// Runs the request callbacks in order. `vms` holds this worker's VM for each plugin
    /// filter (by index); `contexts` receives the plugin contexts the request opens.
    pub async fn on_request(
        &self,
        ex: &mut Exchange<'_>,
        vms: &[Option<Rc<PluginVm>>],
        contexts: &mut Contexts,
        end_of_stream: bool,
    ) -> RequestFlow {
        for (index, filter) in self.filters.iter().enumerate() {
            let reply = match filter {
                FilterSpec::Wasm(_) => {
                    let Some(vm) = vms.get(index).and_then(Option::as_ref) else {
                        continue;
                    };
                    let slot = &mut contexts[index];
                    match stream::request_headers(vm, ex, end_of_stream, slot).await {
                        Outcome::Continue => None,
                        Outcome::Reply(r) => Some(r),
                        Outcome::Close(plugin) => return RequestFlow::Close(plugin),
                    }
                }
                _ => builtin_reply(filter, ex),
            };
            if let Some(response) = reply {
                return RequestFlow::Reply { index, response };
            }
        }
        RequestFlow::Forward
    }

    /// [`ChainSpec::on_request`] for a chain without plugins: nothing in it can pause.
    pub fn on_request_builtin(&self, ex: &mut Exchange<'_>) -> RequestFlow {
        for (index, filter) in self.filters.iter().enumerate() {
            if let Some(response) = builtin_reply(filter, ex) {
                return RequestFlow::Reply { index, response };
            }
        }
        RequestFlow::Forward
    }

    /// Runs the response callbacks of the filters before `end`, in reverse order.
    pub async fn on_response(
        &self,
        end: usize,
        contexts: &mut Contexts,
        head: &head::SharedHead,
        parts: &mut response::Parts,
        body: &mut ProxyBody,
    ) -> Result<(), String> {
        // The built-in filters have no response callbacks; only plugins do.
        stream::response_headers(contexts, end, head, parts, body).await
    }

    /// True when the chain holds plugins (and requests need a context list).
    pub fn has_plugins(&self) -> bool {
        self.filters.iter().any(|f| matches!(f, FilterSpec::Wasm(_)))
    }
}

/// The request callback of a filter that is not a plugin: an answer, or `None` to go on.
fn builtin_reply(filter: &FilterSpec, ex: &mut Exchange<'_>) -> Option<Response<ProxyBody>> {
    match filter {
        FilterSpec::Authn(a) => a.on_request(ex),
        FilterSpec::Authz(a) => a.on_request(ex),
        FilterSpec::Unavailable { plugin, reason } => {
            let mut reply = ProxyError::PluginFailed {
                plugin: plugin.clone(),
                reason: reason.clone(),
            }
            .into_response();
            crate::local_reply::mark(&mut reply, None);
            Some(reply)
        }
        FilterSpec::Stats | FilterSpec::Router | FilterSpec::Wasm(_) => None,
    }
}
