//! A route's rewrite (`routes[].rewrite`; docs/proxy.md): the host and path the upstream
//! gets. The filters saw the request as it came; the router rewrites the copy it sends, as
//! Envoy's `host_rewrite_literal` and `prefix_rewrite` do.

use http::header::{self, HeaderValue};
use http::request;
use http::uri::{PathAndQuery, Uri};

/// A new path for the request.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PathRewrite {
    /// The whole path becomes this.
    FullPath(String),
    /// The part the route's prefix matched becomes this
    /// (`wasmesh_api::proxy::replace_prefix`).
    Prefix(String),
}

impl PathRewrite {
    /// The new path of `path`, whose first `matched` bytes the route's prefix took.
    pub fn apply(&self, path: &str, matched: usize) -> String {
        match self {
            PathRewrite::FullPath(p) => p.clone(),
            PathRewrite::Prefix(with) => wasmesh_api::proxy::replace_prefix(path, matched, with),
        }
    }
}

/// `routes[].rewrite`, compiled.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Rewrite {
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "value_str")]
    pub host: Option<HeaderValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathRewrite>,
}

impl Rewrite {
    /// Rewrites `parts`, the request going upstream; `matched`: the bytes of its path that
    /// the route's prefix took. The query string stays.
    pub fn apply(&self, parts: &mut request::Parts, matched: usize) {
        if let Some(path) = &self.path {
            let new = path.apply(parts.uri.path(), matched);
            let target = match parts.uri.query() {
                Some(q) => format!("{new}?{q}"),
                None => new,
            };
            // validated as a path when the Proxy was applied
            if let Ok(pq) = PathAndQuery::try_from(target) {
                let mut uri = std::mem::take(&mut parts.uri).into_parts();
                uri.path_and_query = Some(pq);
                parts.uri = Uri::from_parts(uri).unwrap_or_default();
            }
        }
        if let Some(host) = &self.host {
            // the authority goes as `Host`: towards an HTTP/2 upstream, `:authority` is made
            // from it (crate::forward::to_upstream)
            if parts.uri.authority().is_some() {
                let pq = parts
                    .uri
                    .path_and_query()
                    .cloned()
                    .unwrap_or_else(|| PathAndQuery::from_static("/"));
                parts.uri = Uri::from(pq);
            }
            parts.headers.insert(header::HOST, host.clone());
        }
    }
}

fn value_str<S: serde::Serializer>(v: &Option<HeaderValue>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(&String::from_utf8_lossy(v.as_bytes())),
        None => s.serialize_none(),
    }
}
