//! Errors that end a request, and the one place where they become responses (the
//! "rescue" step): every failure a client can see is spelled out here, with its status
//! code and Envoy's response flag.

use http::{header, HeaderValue, Response, StatusCode};
use std::borrow::Cow;
use std::time::Duration;

use crate::body::ProxyBody;

/// Why a request could not be proxied.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// No route of the listener matched the request.
    #[error("no route matched {method} {path} on listener {listener}")]
    NoRoute {
        listener: String,
        method: http::Method,
        path: String,
    },
    /// The route answers itself (`routes[].directResponse`), as the Gateway API's rules
    /// whose backend does not resolve do (docs/gateway-api.md).
    #[error("route {route} answers {status}")]
    DirectResponse { route: String, status: StatusCode },
    /// The route names a cluster that has no endpoints.
    #[error("no healthy upstream in cluster {cluster}")]
    NoHealthyUpstream { cluster: String },
    /// The TCP connection to the upstream failed.
    #[error("upstream connect error: {source} (cluster {cluster}, endpoint {endpoint})")]
    UpstreamConnect {
        cluster: String,
        endpoint: String,
        #[source]
        source: std::io::Error,
    },
    /// The TCP connection to the upstream took longer than the cluster's connectTimeout.
    #[error("upstream connect timeout after {timeout:?} (cluster {cluster}, endpoint {endpoint})")]
    UpstreamConnectTimeout {
        cluster: String,
        endpoint: String,
        timeout: Duration,
    },
    /// The upstream closed or reset the stream before it sent response headers.
    #[error("upstream reset before response headers: {source} (cluster {cluster}, endpoint {endpoint})")]
    UpstreamReset {
        cluster: String,
        endpoint: String,
        #[source]
        source: crate::body::BodyError,
    },
    /// The upstream's response broke HTTP/1.1's grammar or framing.
    #[error("upstream protocol error: {source} (cluster {cluster}, endpoint {endpoint})")]
    UpstreamProtocol {
        cluster: String,
        endpoint: String,
        #[source]
        source: crate::body::BodyError,
    },
    /// The upstream did not answer within the route's timeout.
    #[error("upstream request timeout after {timeout:?} (route {route})")]
    RouteTimeout { route: String, timeout: Duration },
    /// The upstream did not answer within the route's per-try timeout (Envoy's
    /// `per_try_timeout`), shorter than its timeout.
    #[error("upstream request timeout: no answer within the per-try timeout of {timeout:?} (route {route})")]
    TryTimeout { route: String, timeout: Duration },
    /// A filter asked to buffer a request body larger than the per-request limit.
    #[error("request body larger than the buffer limit of {limit} bytes")]
    RequestTooLarge { limit: usize },
    /// A filter asked to buffer a response body larger than the per-request limit.
    #[error("response body larger than the buffer limit of {limit} bytes")]
    ResponseTooLarge { limit: usize },
    /// A plugin failed and its failStrategy is FAIL_CLOSE.
    #[error("plugin {plugin} failed: {reason}")]
    PluginFailed { plugin: String, reason: String },
    /// A request that the proxy refuses to forward as it stands.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// An upgrade (or CONNECT) the listener does not allow (`listeners[].http.upgrades`),
    /// refused as Envoy refuses one it has no `upgrade_configs` for.
    #[error("upgrade {upgrade:?} is not allowed on this listener")]
    UpgradeRefused { upgrade: String },
    /// A plugin paused the request and did not resume it within the route's timeout.
    #[error("a plugin paused the request and did not resume it within {timeout:?}")]
    PluginTimeout { timeout: Duration },
    /// A plugin reset the stream (`proxy_close_stream`).
    #[error("stream closed by plugin {plugin}")]
    StreamClosed { plugin: String },
}

// === impl ProxyError ===

impl ProxyError {
    /// The status code a client sees for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::NoRoute { .. } => StatusCode::NOT_FOUND,
            ProxyError::DirectResponse { status, .. } => *status,
            ProxyError::NoHealthyUpstream { .. }
            | ProxyError::UpstreamConnect { .. }
            | ProxyError::UpstreamConnectTimeout { .. }
            | ProxyError::UpstreamReset { .. }
            | ProxyError::PluginFailed { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::UpstreamProtocol { .. } => StatusCode::BAD_GATEWAY,
            ProxyError::RouteTimeout { .. }
            | ProxyError::TryTimeout { .. }
            | ProxyError::PluginTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::RequestTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::ResponseTooLarge { .. } | ProxyError::StreamClosed { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ProxyError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ProxyError::UpgradeRefused { .. } => StatusCode::FORBIDDEN,
        }
    }

    /// Envoy's response flag for this error, as it appears in the `response_flags` label.
    pub fn response_flag(&self) -> &'static str {
        match self {
            ProxyError::NoRoute { .. } => "NR",
            ProxyError::NoHealthyUpstream { .. } => "UH",
            ProxyError::UpstreamConnect { .. } | ProxyError::UpstreamConnectTimeout { .. } => "UF",
            ProxyError::UpstreamReset { .. } => "UC",
            ProxyError::UpstreamProtocol { .. } => "UPE",
            ProxyError::RouteTimeout { .. }
            | ProxyError::TryTimeout { .. }
            | ProxyError::PluginTimeout { .. } => "UT",
            ProxyError::RequestTooLarge { .. } | ProxyError::ResponseTooLarge { .. } => "-",
            ProxyError::PluginFailed { .. } => "UAEX",
            ProxyError::BadRequest(_) => "DPE",
            ProxyError::StreamClosed { .. }
            | ProxyError::UpgradeRefused { .. }
            | ProxyError::DirectResponse { .. } => "-",
        }
    }

    /// Envoy's response code details for this error (`response.code_details`), its
    /// strings: the router's `upstream_reset_before_response_started{reason|transport
    /// failure}` with spaces as `_`, `no_healthy_upstream`, `response_timeout`, …
    pub fn code_details(&self) -> Cow<'static, str> {
        let reset = "upstream_reset_before_response_started";
        Cow::Borrowed(match self {
            ProxyError::NoRoute { .. } => "route_not_found",
            ProxyError::DirectResponse { .. } => "direct_response",
            ProxyError::NoHealthyUpstream { .. } => "no_healthy_upstream",
            ProxyError::UpstreamConnect { .. } => {
                let why = self
                    .transport_failure_reason()
                    .unwrap_or_default()
                    .replace(' ', "_");
                return Cow::Owned(format!("{reset}{{remote_connection_failure|{why}}}"));
            }
            ProxyError::UpstreamConnectTimeout { .. } => {
                "upstream_reset_before_response_started{connection_timeout}"
            }
            ProxyError::UpstreamReset { .. } => {
                "upstream_reset_before_response_started{connection_termination}"
            }
            ProxyError::UpstreamProtocol { .. } => "upstream_reset_before_response_started{protocol_error}",
            ProxyError::RouteTimeout { .. } | ProxyError::PluginTimeout { .. } => "response_timeout",
            ProxyError::TryTimeout { .. } => "upstream_per_try_timeout",
            ProxyError::RequestTooLarge { .. } => "request_payload_too_large",
            ProxyError::ResponseTooLarge { .. } => "response_payload_too_large",
            ProxyError::PluginFailed { .. } => "wasm_fail_stream",
            ProxyError::BadRequest(_) => "http1.codec_error",
            ProxyError::UpgradeRefused { .. } => "upgrade_failed",
            ProxyError::StreamClosed { .. } => "wasm_close_stream",
        })
    }

    /// Envoy's response flags for this error as the bits of `response.flags` (the same
    /// flags as [`ProxyError::response_flag`], but a failed plugin sets none, as Envoy's
    /// `wasm_fail_stream` reply sets none).
    pub fn response_flag_bits(&self) -> u64 {
        match self {
            ProxyError::NoRoute { .. } => flags::NO_ROUTE_FOUND,
            ProxyError::NoHealthyUpstream { .. } => flags::NO_HEALTHY_UPSTREAM,
            ProxyError::UpstreamConnect { .. } | ProxyError::UpstreamConnectTimeout { .. } => {
                flags::UPSTREAM_CONNECTION_FAILURE
            }
            ProxyError::UpstreamReset { .. } => flags::UPSTREAM_CONNECTION_TERMINATION,
            ProxyError::UpstreamProtocol { .. } => flags::UPSTREAM_PROTOCOL_ERROR,
            ProxyError::RouteTimeout { .. }
            | ProxyError::TryTimeout { .. }
            | ProxyError::PluginTimeout { .. } => flags::UPSTREAM_REQUEST_TIMEOUT,
            ProxyError::BadRequest(_) => flags::DOWNSTREAM_PROTOCOL_ERROR,
            ProxyError::RequestTooLarge { .. }
            | ProxyError::ResponseTooLarge { .. }
            | ProxyError::PluginFailed { .. }
            | ProxyError::StreamClosed { .. }
            | ProxyError::UpgradeRefused { .. }
            | ProxyError::DirectResponse { .. } => 0,
        }
    }

    /// Envoy's `upstream.transport_failure_reason`: why the connection to the upstream
    /// failed, as Envoy words a refused connection (`delayed connect error: Connection
    /// refused`); `None` when no connection failed.
    pub fn transport_failure_reason(&self) -> Option<String> {
        let ProxyError::UpstreamConnect { source, .. } = self else {
            return None;
        };
        // The system's words, without Rust's "(os error N)".
        let text = source.to_string();
        let text = text.split(" (os error").next().unwrap_or(&text);
        Some(format!("delayed connect error: {text}"))
    }

    /// The response a client sees: the status, and the error's message as a plain-text body.
    pub fn into_response(self) -> Response<ProxyBody> {
        let status = self.status();
        let origin = crate::local_reply::Origin {
            details: self.code_details(),
            flags: self.response_flag_bits(),
        };
        match self {
            // The client's own mistakes: at debug, so a client cannot flood the log.
            ProxyError::NoRoute { .. } | ProxyError::BadRequest(_) | ProxyError::UpgradeRefused { .. } => {
                tracing::debug!(error = %self, "request failed")
            }
            // configured: why the route answers so was logged when the config was made
            ProxyError::DirectResponse { .. } => tracing::debug!(error = %self, "direct response"),
            // Its reason was logged once when loading failed, and `/plugins` shows it.
            ProxyError::PluginFailed { .. } => tracing::debug!(error = %self, "request failed"),
            _ => tracing::warn!(error = %self, "request failed"),
        }
        let mut response = local_reply(status, format!("{}\n", self.client_text()));
        response.extensions_mut().insert(origin);
        response
    }

    /// What the client's body says: the error without the upstream's address or the
    /// transport error behind it (both are in the log, with the cluster's name), and a
    /// plugin's failure by the plugin's name alone — paths, digests and error chains are for
    /// the log and the admin API (docs/filter-chain.md).
    fn client_text(&self) -> String {
        match self {
            ProxyError::PluginFailed { plugin, .. } => format!("wasm plugin {plugin} failed"),
            ProxyError::UpstreamConnect { cluster, .. } => {
                format!("upstream connect error: connection failure (cluster {cluster})")
            }
            ProxyError::UpstreamConnectTimeout { cluster, .. } => {
                format!("upstream connect error: connect timeout (cluster {cluster})")
            }
            ProxyError::UpstreamReset { cluster, .. } => {
                format!("upstream reset before response headers (cluster {cluster})")
            }
            ProxyError::UpstreamProtocol { cluster, .. } => {
                format!("upstream protocol error (cluster {cluster})")
            }
            other => other.to_string(),
        }
    }
}

/// A response made by the proxy itself.
pub fn local_reply(status: StatusCode, body: impl Into<bytes::Bytes>) -> Response<ProxyBody> {
    let mut resp = Response::new(ProxyBody::full(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// Envoy's response flags as the bits of `response.flags` (its legacy bit set).
pub mod flags {
    /// `UH`.
    pub const NO_HEALTHY_UPSTREAM: u64 = 0x2;
    /// `UT`.
    pub const UPSTREAM_REQUEST_TIMEOUT: u64 = 0x4;
    /// `UF`.
    pub const UPSTREAM_CONNECTION_FAILURE: u64 = 0x20;
    /// `UC`.
    pub const UPSTREAM_CONNECTION_TERMINATION: u64 = 0x40;
    /// `NR`.
    pub const NO_ROUTE_FOUND: u64 = 0x100;
    /// `DPE`.
    pub const DOWNSTREAM_PROTOCOL_ERROR: u64 = 0x40000;
    /// `UPE`.
    pub const UPSTREAM_PROTOCOL_ERROR: u64 = 0x80_0000;
}

#[cfg(test)]
mod tests;
