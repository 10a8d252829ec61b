//! Clusters: named groups of upstream endpoints, the targets of routes, TCP listeners and
//! plugins' `http_call`s.

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// The protocol spoken to a cluster's endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterProtocol {
    Http1,
    Http2,
}

/// One upstream endpoint.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Endpoint {
    /// Where to connect.
    pub addr: SocketAddr,
    /// As written in the config (`host:port`); used as the authority of HTTP/2 requests
    /// that carry none.
    pub authority: String,
}

/// A cluster ready for use.
#[derive(Debug, serde::Serialize)]
pub struct Cluster {
    pub name: String,
    pub endpoints: Vec<Endpoint>,
    pub protocol: ClusterProtocol,
    #[serde(with = "crate::serde_duration")]
    pub connect_timeout: Duration,
}

/// Why a cluster could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// An endpoint is not a `host:port` that resolves.
    #[error("cluster {cluster}: endpoint {endpoint:?} does not resolve: {reason}")]
    BadEndpoint {
        cluster: String,
        endpoint: String,
        reason: String,
    },
}

// === impl Cluster ===

impl Cluster {
    /// Builds a cluster, resolving each `host:port` endpoint once.
    pub fn new(
        name: &str,
        endpoints: &[String],
        protocol: ClusterProtocol,
        connect_timeout: Duration,
    ) -> Result<Self, ClusterError> {
        let endpoints = endpoints
            .iter()
            .map(|e| {
                let bad = |reason: String| ClusterError::BadEndpoint {
                    cluster: name.to_string(),
                    endpoint: e.clone(),
                    reason,
                };
                let addr = e
                    .to_socket_addrs()
                    .map_err(|err| bad(err.to_string()))?
                    .next()
                    .ok_or_else(|| bad("no address".into()))?;
                Ok(Endpoint {
                    addr,
                    authority: e.clone(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Cluster {
            name: name.to_string(),
            endpoints,
            protocol,
            connect_timeout,
        })
    }
}

/// All clusters of a proxy, addressed by index on the request path and by name when built.
#[derive(Debug, Default)]
pub struct Clusters {
    list: Vec<Arc<Cluster>>,
    by_name: HashMap<String, usize>,
}

// === impl Clusters ===

impl Clusters {
    pub fn new(list: Vec<Cluster>) -> Self {
        let list: Vec<_> = list.into_iter().map(Arc::new).collect();
        let by_name = list
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), i))
            .collect();
        Clusters { list, by_name }
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    pub fn get(&self, index: usize) -> &Arc<Cluster> {
        &self.list[index]
    }

    pub fn by_name(&self, name: &str) -> Option<&Arc<Cluster>> {
        self.index_of(name).map(|i| &self.list[i])
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Cluster>> {
        self.list.iter()
    }
}
