//! What the proxy learns about a request as it goes — Envoy's stream info past the
//! request's start: the body bytes received and sent, how the response came to be
//! (response code details and flags), and the upstream try. The proxy keeps it on the
//! request's head, which every filter shares ([`crate::StreamHeaders::progress`]); plugins
//! read it as `request.size`, `response.*` and `upstream.*` (docs/wasm-host.md,
//! "Attributes"). Numbers, addresses and instants only: keeping it allocates nothing per
//! request.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// One request's progress, as the proxy records it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamProgress {
    /// Request body bytes received from the client so far (Envoy's `bytesReceived`).
    pub request_body_bytes: u64,
    /// Response body bytes sent to the client so far, as they left the last filter
    /// (Envoy's `bytesSent`).
    pub response_body_bytes: u64,
    /// `response.code_details`, once the response is decided: `via_upstream`,
    /// `direct_response`, the details a plugin's local reply gave, …
    pub code_details: Option<Cow<'static, str>>,
    /// `response.flags`: Envoy's bit set of response flags (0: none).
    pub response_flags: u64,
    /// The upstream try, once the router picked an endpoint.
    pub upstream: Option<UpstreamTry>,
}

/// What the router's try at an upstream endpoint learned (Envoy's upstream info).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamTry {
    /// `upstream.address`: the endpoint picked.
    pub address: SocketAddr,
    /// `upstream.local_address`: this side of the connection the request went on, once
    /// there is one.
    pub local_address: Option<SocketAddr>,
    /// `upstream.request_attempt_count`.
    pub attempts: u32,
    /// `upstream.transport_failure_reason`: why the connection failed, empty when it did
    /// not (e.g. `delayed connect error: Connection refused`).
    pub transport_failure_reason: Cow<'static, str>,
    /// When the request was handed to the connection pool (Envoy: its first byte sent
    /// upstream).
    pub sent: Option<Instant>,
    /// Whether the upstream's response headers came.
    pub answered: bool,
    /// When the response's last byte came from the upstream.
    pub ended: Option<Instant>,
}

impl UpstreamTry {
    /// The response's last byte came from the upstream now (nothing when the response is
    /// not the upstream's, or this was said already).
    pub fn end(&mut self) {
        if self.answered && self.ended.is_none() {
            self.ended = Some(Instant::now());
        }
    }

    /// A first try at `address`, starting now.
    pub fn start(address: SocketAddr) -> UpstreamTry {
        UpstreamTry {
            address,
            local_address: None,
            attempts: 1,
            transport_failure_reason: Cow::Borrowed(""),
            sent: Some(Instant::now()),
            answered: false,
            ended: None,
        }
    }

    /// `response.backend_latency`: from the request's first byte sent upstream to the
    /// response's last byte received, once both happened.
    pub fn backend_latency(&self) -> Option<Duration> {
        Some(self.ended?.saturating_duration_since(self.sent?))
    }
}
