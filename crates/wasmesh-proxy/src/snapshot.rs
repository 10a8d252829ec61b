//! A snapshot: everything the workers need to serve, built off the request path and
//! swapped in whole. A request keeps the snapshot it started with until it ends.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::chain::ChainSpec;
use crate::cluster::Clusters;
use crate::route::RouteTable;

/// What a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ListenerProtocol {
    /// HTTP/1.1 and h2c (prior knowledge); HTTP/1.1 and h2 by ALPN with TLS.
    Http,
    /// Raw TCP, for `type: NETWORK` plugins.
    Tcp,
}

/// Inbound (SERVER) or outbound (CLIENT) traffic, for WasmPlugin `match.mode` and the
/// `reporter` label of metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TrafficDirection {
    Server,
    Client,
}

/// A listener's TLS settings: where its certificates come from, and the server config
/// built from them.
#[derive(Clone)]
pub struct ListenerTls {
    /// Each certificate's source: `files CERT and KEY`, `Secret NS/NAME`.
    pub sources: Vec<String>,
    pub config: Arc<rustls::ServerConfig>,
    /// The certificates, chosen per connection by its SNI; each with its subject and names
    /// for plugins (`connection.*_local_certificate`).
    pub certificates: Arc<crate::sni::SniCertificates>,
    /// How long a client has to finish the handshake.
    pub handshake_timeout: Duration,
}

impl std::fmt::Debug for ListenerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenerTls")
            .field("sources", &self.sources)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl serde::Serialize for ListenerTls {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        // Sources only: key material never leaves the process.
        let mut st = s.serialize_struct("tls", 2)?;
        st.serialize_field("certificates", &self.sources)?;
        st.serialize_field(
            "handshakeTimeout",
            &format!("{}s", self.handshake_timeout.as_secs_f64()),
        )?;
        st.end()
    }
}

/// One listener, compiled.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListenerConfig {
    pub name: String,
    pub address: SocketAddr,
    pub protocol: ListenerProtocol,
    pub traffic_direction: TrafficDirection,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<ListenerTls>,
    /// http listeners: how long a connection may wait.
    pub timeouts: HttpTimeouts,
    pub routes: RouteTable,
    /// http listeners: what every request must be before the first filter.
    pub http: crate::admit::RequestPolicy,
    /// TCP listeners: the cluster the bytes go to (index, name).
    #[serde(skip)]
    pub tcp_cluster: Option<usize>,
    /// The filters of this listener, in execution order.
    pub chain: Arc<ChainSpec>,
}

/// How long an http listener's connection may wait for its client (`listeners[].http`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpTimeouts {
    /// For a request's headers: on HTTP/1.1 from when the connection waits for a head, on
    /// HTTP/2 for a new connection's first request.
    #[serde(with = "crate::serde_duration")]
    pub request_headers: Duration,
    /// With no request in flight.
    #[serde(with = "crate::serde_duration")]
    pub idle: Duration,
}

impl HttpTimeouts {
    /// How long an HTTP/1.1 connection waits for a request head. Waiting for the next head
    /// is both idle and reading headers (hyper's header timer starts when the wait does), so
    /// the shorter of the two bounds it.
    pub fn head_wait(&self) -> Duration {
        self.request_headers.min(self.idle)
    }
}

impl Default for HttpTimeouts {
    fn default() -> Self {
        HttpTimeouts {
            request_headers: wasmesh_api::proxy::ListenerHttp::DEFAULT_REQUEST_HEADERS_TIMEOUT,
            idle: wasmesh_api::proxy::ListenerHttp::DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// The workload this proxy serves.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Workload {
    pub namespace: String,
    pub name: String,
}

/// Everything the workers serve.
#[derive(Debug)]
pub struct Snapshot {
    /// Increases by one with each applied change.
    pub version: u64,
    pub workload: Workload,
    /// The labels selectors matched (the pod's, or the `Proxy`'s): plugins read them as
    /// `node.metadata.LABELS`.
    pub labels: std::collections::BTreeMap<String, String>,
    pub listeners: Vec<Arc<ListenerConfig>>,
    pub clusters: Arc<Clusters>,
}

impl Snapshot {
    /// The snapshot before any config was read: serves nothing.
    pub fn empty(workload: Workload) -> Self {
        Snapshot {
            version: 0,
            workload,
            labels: Default::default(),
            listeners: Vec::new(),
            clusters: Arc::new(Clusters::default()),
        }
    }
}
