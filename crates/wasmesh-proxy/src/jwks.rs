//! Fetching a `jwksUri` document: through the Proxy's cluster for the URI's host when it
//! has one (as Envoy's remote JWKS goes through a cluster), else straight to the host.
//!
//! A cluster serves a `jwksUri` when its name is the URI's host, or Istio's name for the
//! service (`outbound|PORT||HOST`), or when one of its endpoints is the URI's `HOST:PORT`.
//! Clusters speak plain HTTP, so only `http` URIs go through one, and only an `http1`
//! cluster serves them; `https` URIs are always fetched directly, with TLS.

use std::time::Duration;

use http::{Method, Request};
use reqwest::Url;
use tokio::net::TcpStream;
use wasmesh_api::proxy::ClusterProtocol;
use wasmesh_api::Cluster;

use crate::h1;

/// The largest JWKS document read (Envoy's remote JWKS has no lower bound; a key set is a
/// few KiB).
const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// Fetches the JWKS document at `uri` within `timeout`. The error names the URI (and the
/// cluster, when one was used).
pub async fn fetch(uri: &str, timeout: Duration, clusters: &[Cluster]) -> Result<String, String> {
    let url = Url::parse(uri).map_err(|e| format!("jwksUri {uri:?} is not a URL: {e}"))?;
    let fetched = match cluster_for(&url, clusters) {
        Some(cluster) => tokio::time::timeout(timeout, through_cluster(&url, cluster))
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {timeout:?}")))
            .map_err(|e| format!("{e} (through cluster {})", cluster.name)),
        None => direct(uri, timeout).await,
    };
    fetched.map_err(|e| {
        tracing::warn!(uri, error = %e, "cannot fetch JWKS");
        format!("cannot fetch JWKS from {uri}: {e}")
    })
}

/// The cluster that serves an `http` URI's host, if the Proxy has one.
fn cluster_for<'a>(url: &Url, clusters: &'a [Cluster]) -> Option<&'a Cluster> {
    if url.scheme() != "http" {
        return None;
    }
    let host = url.host_str()?;
    let port = url.port_or_known_default()?;
    let istio_name = format!("outbound|{port}||{host}");
    let authority = format!("{host}:{port}");
    clusters.iter().find(|c| {
        c.protocol == ClusterProtocol::Http1
            && (c.name == host || c.name == istio_name || c.endpoints.contains(&authority))
    })
}

async fn through_cluster(url: &Url, cluster: &Cluster) -> Result<String, String> {
    let mut path = url.path().to_string();
    if let Some(q) = url.query() {
        path = format!("{path}?{q}");
    }
    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    };
    let (parts, ()) = Request::get(path)
        .header(http::header::HOST, host)
        .header(http::header::ACCEPT, "application/json")
        .body(())
        .map_err(|e| e.to_string())?
        .into_parts();
    let head = h1::encode_head(&parts);
    let mut conn = h1::Conn::new(connect(cluster).await?);
    let resp = conn.send(&head, &Method::GET).await.map_err(|e| e.to_string())?;
    if !resp.parts.status.is_success() {
        return Err(format!("status {}", resp.parts.status));
    }
    let body = h1::read_to_end(&resp, conn, MAX_JWKS_BYTES)
        .await
        .map_err(|e| e.to_string())?;
    String::from_utf8(body.to_vec()).map_err(|_| "the document is not UTF-8".to_string())
}

/// The first of the cluster's endpoints that accepts a connection.
async fn connect(cluster: &Cluster) -> Result<TcpStream, String> {
    let mut last = format!("cluster {} has no endpoints", cluster.name);
    for endpoint in &cluster.endpoints {
        let timeout = cluster.connect_timeout();
        match tokio::time::timeout(timeout, TcpStream::connect(endpoint.as_str())).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e)) => last = format!("cannot connect to {endpoint}: {e}"),
            Err(_) => last = format!("cannot connect to {endpoint} within {timeout:?}"),
        }
    }
    Err(last)
}

async fn direct(uri: &str, timeout: Duration) -> Result<String, String> {
    let resp = reqwest::Client::new()
        .get(uri)
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("status {}", resp.status()));
    }
    resp.text().await.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
