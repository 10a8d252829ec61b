//! The state of one request as it passes the chain.

use http::request;
use std::cell::{Ref, RefMut};

use super::head::SharedHead;
use std::net::SocketAddr;

/// The downstream connection a request came on.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// Unique in the process (Envoy's `connection.id`).
    pub id: u64,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    /// The TLS server name the client asked for, on TLS listeners.
    pub sni: Option<String>,
    /// The connection's TLS (version, certificates), on TLS listeners; `None` on plain
    /// text.
    pub tls: Option<std::sync::Arc<wasmesh_wasm::ConnectionTls>>,
}

/// What the authn filter learned from a valid JWT (Istio's `request.auth.*` attributes).
#[derive(Debug, Clone)]
pub struct RequestAuth {
    /// `<iss>/<sub>`.
    pub principal: String,
    /// Shared: a token seen again reuses the claims it was verified with.
    pub claims: std::sync::Arc<serde_json::Map<String, serde_json::Value>>,
    /// `principal` and `claims` as plugins read them (`request.auth.principal`, and
    /// `request.auth.claims` as JSON): encoded once, for the first plugin, and shared by
    /// the others.
    for_plugins: std::cell::OnceCell<(bytes::Bytes, bytes::Bytes)>,
}

impl RequestAuth {
    pub fn new(
        principal: String,
        claims: std::sync::Arc<serde_json::Map<String, serde_json::Value>>,
    ) -> Self {
        RequestAuth {
            principal,
            claims,
            for_plugins: std::cell::OnceCell::new(),
        }
    }

    /// The principal and the claims (JSON) as plugins read them.
    pub fn for_plugins(&self) -> &(bytes::Bytes, bytes::Bytes) {
        self.for_plugins.get_or_init(|| {
            // A map of JSON values always serialises; empty only if that ever changed.
            let claims = serde_json::to_vec(&*self.claims).unwrap_or_default();
            (
                bytes::Bytes::copy_from_slice(self.principal.as_bytes()),
                claims.into(),
            )
        })
    }
}

/// One request on its way through the chain.
pub struct Exchange<'a> {
    /// The request's head (and later the response's), shared by every filter: built-in
    /// filters change it in place, plugins through their header calls.
    pub head: SharedHead,
    pub conn: &'a ConnInfo,
    pub auth: Option<RequestAuth>,
    /// What the request's plugins read of it beside its headers (Envoy's `request.id`,
    /// `request.time`, `source.*`, the route's `xds.*`, …): made once, when the chain has
    /// plugins (`crate::plugin::stream::stream_info`), and shared by them.
    pub plugin_info: Option<std::sync::Arc<wasmesh_wasm::StreamInfo>>,
}

/// The next downstream connection's [`ConnInfo::id`].
pub fn next_connection_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl Exchange<'_> {
    /// The request's head. Not to be held across a plugin callback.
    pub fn request(&self) -> Ref<'_, request::Parts> {
        self.head.request()
    }

    /// The request's head, to change. Not to be held across a plugin callback.
    pub fn request_mut(&self) -> RefMut<'_, request::Parts> {
        self.head.request_mut()
    }
}
