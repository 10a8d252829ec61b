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
pub mod matcher;

use http::{response, Response};
use std::sync::Arc;

pub use exchange::{ConnInfo, Exchange, RequestAuth};

use crate::body::ProxyBody;

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
}

impl serde::Serialize for FilterSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("kind", "builtin")?;
        let name = match self {
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
}

// === impl ChainSpec ===

impl ChainSpec {
    /// Runs the request callbacks in order.
    pub async fn on_request(&self, ex: &mut Exchange<'_>) -> RequestFlow {
        for (index, filter) in self.filters.iter().enumerate() {
            let reply = match filter {
                FilterSpec::Authn(a) => a.on_request(ex),
                FilterSpec::Authz(a) => a.on_request(ex),
                FilterSpec::Stats | FilterSpec::Router => None,
            };
            if let Some(response) = reply {
                return RequestFlow::Reply { index, response };
            }
        }
        RequestFlow::Forward
    }

    /// Runs the response callbacks of the filters before `end`, in reverse order.
    pub fn on_response(&self, _end: usize, _ex: &mut Exchange<'_>, _resp: &mut response::Parts) {
        // The built-in filters have no response callbacks; plugins will.
    }

    /// True when no filter has anything to do: the request goes straight to the router.
    pub fn is_pass_through(&self) -> bool {
        self.filters
            .iter()
            .all(|f| matches!(f, FilterSpec::Stats | FilterSpec::Router))
    }
}
