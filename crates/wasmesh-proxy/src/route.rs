//! HTTP routes: the first route whose path and header matches all hold wins (Envoy's
//! virtual host route order). What a route does besides forwarding — header edits, a
//! rewrite, a redirect, a weighted split, mirrors — is in its submodules.

pub mod decide;
pub mod edits;
pub mod mirror;
pub mod query;
pub mod redirect;
pub mod rewrite;
pub mod weighted;

pub use decide::{Decision, Forward};
pub use edits::HeaderEdits;

use http::request::Parts;
use regex::Regex;
use std::time::Duration;

/// How a route matches the request path (the path without its query string).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PathMatch {
    Prefix(String),
    /// Whole segments: the path is it, or it and `/…` (stored without a trailing `/`).
    SeparatedPrefix(String),
    Exact(String),
    /// The whole path must match, as Envoy's `safe_regex`.
    Regex(#[serde(with = "regex_str")] Regex),
}

/// How a route matches one request header.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HeaderMatch {
    #[serde(serialize_with = "header_name_str")]
    pub name: http::HeaderName,
    #[serde(flatten)]
    pub value: HeaderValueMatch,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HeaderValueMatch {
    Exact(String),
    Regex(#[serde(with = "regex_str")] Regex),
    /// The header is present, with any value.
    Present,
}

/// One route, compiled.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Route {
    pub name: String,
    /// The request's host (without its port) must match one of these, as
    /// `wasmesh_api::proxy::host_matches` says; empty: any host.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "method_str")]
    pub method: Option<http::Method>,
    pub path: PathMatch,
    pub headers: Vec<HeaderMatch>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub query_params: Vec<query::QueryMatch>,
    /// The cluster's name, as configured; empty for a direct response.
    pub cluster: String,
    /// The cluster's index in the snapshot's clusters (unused for a direct response).
    #[serde(skip)]
    pub cluster_index: usize,
    /// Answer with this status instead of forwarding (`routes[].directResponse`).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "status_num")]
    pub direct_response: Option<http::StatusCode>,
    /// Answer with a redirect instead of forwarding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect: Option<redirect::Redirect>,
    /// Forward to one of several clusters by weight (then `cluster` is empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weighted_clusters: Option<weighted::Weighted>,
    #[serde(skip_serializing_if = "HeaderEdits::is_empty")]
    pub request_headers: HeaderEdits,
    #[serde(skip_serializing_if = "HeaderEdits::is_empty")]
    pub response_headers: HeaderEdits,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rewrite: Option<rewrite::Rewrite>,
    /// Clusters that get a copy of what the route forwards.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mirrors: Vec<mirror::Mirror>,
    #[serde(with = "crate::serde_duration::option")]
    pub timeout: Option<Duration>,
    /// One try at the upstream (`routes[].perTryTimeout`, Envoy's `per_try_timeout`).
    #[serde(
        with = "crate::serde_duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub per_try_timeout: Option<Duration>,
}

/// The routes of one listener, in order.
#[derive(Debug, Default, Clone, serde::Serialize)]
#[serde(transparent)]
pub struct RouteTable {
    routes: Vec<Route>,
}

// === impl PathMatch ===

impl PathMatch {
    /// Compiles a regex path match anchored at both ends.
    pub fn regex(pattern: &str) -> Result<Self, regex::Error> {
        Ok(PathMatch::Regex(Regex::new(&format!("^(?:{pattern})$"))?))
    }

    fn matches(&self, path: &str) -> bool {
        match self {
            PathMatch::Prefix(p) => path.starts_with(p.as_str()),
            PathMatch::SeparatedPrefix(p) => {
                path.starts_with(p.as_str()) && matches!(path.as_bytes().get(p.len()), None | Some(b'/'))
            }
            PathMatch::Exact(p) => path == p,
            PathMatch::Regex(r) => r.is_match(path),
        }
    }

    /// How many bytes of a path this match took, for a rewrite or redirect that replaces
    /// the prefix: the prefix without its trailing `/` (0 for other matches).
    pub fn matched_len(&self) -> usize {
        match self {
            PathMatch::Prefix(p) | PathMatch::SeparatedPrefix(p) => wasmesh_api::proxy::matched_prefix_len(p),
            PathMatch::Exact(_) | PathMatch::Regex(_) => 0,
        }
    }
}

// === impl HeaderValueMatch ===

impl HeaderValueMatch {
    /// Compiles a regex header value match anchored at both ends.
    pub fn regex(pattern: &str) -> Result<Self, regex::Error> {
        Ok(HeaderValueMatch::Regex(Regex::new(&format!("^(?:{pattern})$"))?))
    }
}

impl HeaderMatch {
    fn matches(&self, headers: &http::HeaderMap) -> bool {
        // Envoy matches against all values of a repeated header joined with ",".
        let mut values = headers.get_all(&self.name).iter().peekable();
        if values.peek().is_none() {
            return false;
        }
        let joined: String;
        let value = {
            let all: Vec<&str> = values.filter_map(|v| v.to_str().ok()).collect();
            if all.len() == 1 {
                all[0]
            } else {
                joined = all.join(",");
                joined.as_str()
            }
        };
        match &self.value {
            HeaderValueMatch::Exact(v) => value == v,
            HeaderValueMatch::Regex(r) => r.is_match(value),
            HeaderValueMatch::Present => true,
        }
    }
}

// === impl RouteTable ===

impl RouteTable {
    pub fn new(routes: Vec<Route>) -> Self {
        RouteTable { routes }
    }

    /// The first route that matches the request, if any.
    pub fn find(&self, req: &Parts) -> Option<&Route> {
        self.position(req).map(|i| &self.routes[i])
    }

    /// Where the first route that matches the request stands in the table, if any.
    pub fn position(&self, req: &Parts) -> Option<usize> {
        let path = req.uri.path();
        self.routes.iter().position(|r| {
            r.path.matches(path)
                && r.method.as_ref().is_none_or(|m| *m == req.method)
                && (r.hosts.is_empty() || host_matches(&r.hosts, req))
                && r.headers.iter().all(|h| h.matches(&req.headers))
                && r.query_params.iter().all(|q| q.matches(req.uri.query()))
        })
    }

    /// The route at `index` in the table.
    pub fn get(&self, index: usize) -> Option<&Route> {
        self.routes.get(index)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Route> {
        self.routes.iter()
    }
}

/// The request's host: the URI's authority (HTTP/2, absolute form), else `Host` (after
/// admission a request has one or the other), without the port.
fn host_matches(hosts: &[String], req: &Parts) -> bool {
    let authority = match req.uri.authority() {
        Some(a) => a.as_str(),
        None => match req.headers.get(http::header::HOST).and_then(|h| h.to_str().ok()) {
            Some(h) => h,
            None => return false,
        },
    };
    let host = wasmesh_api::proxy::host_of_authority(authority);
    hosts
        .iter()
        .any(|pattern| wasmesh_api::proxy::host_matches(pattern, host))
}

fn method_str<S: serde::Serializer>(m: &Option<http::Method>, s: S) -> Result<S::Ok, S::Error> {
    match m {
        Some(m) => s.serialize_str(m.as_str()),
        None => s.serialize_none(),
    }
}

fn status_num<S: serde::Serializer>(c: &Option<http::StatusCode>, s: S) -> Result<S::Ok, S::Error> {
    match c {
        Some(c) => s.serialize_u16(c.as_u16()),
        None => s.serialize_none(),
    }
}

fn header_name_str<S: serde::Serializer>(n: &http::HeaderName, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(n.as_str())
}

mod regex_str {
    pub fn serialize<S: serde::Serializer>(r: &regex::Regex, s: S) -> Result<S::Ok, S::Error> {
        let p = r.as_str();
        let inner = p
            .strip_prefix("^(?:")
            .and_then(|p| p.strip_suffix(")$"))
            .unwrap_or(p);
        s.serialize_str(inner)
    }
}

#[cfg(test)]
mod tests;
