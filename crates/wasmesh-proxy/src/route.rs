//! HTTP routes: the first route whose path and header matches all hold wins (Envoy's
//! virtual host route order).

use http::request::Parts;
use regex::Regex;
use std::time::Duration;

/// How a route matches the request path (the path without its query string).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PathMatch {
    Prefix(String),
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
    pub path: PathMatch,
    pub headers: Vec<HeaderMatch>,
    /// The cluster's name, as configured.
    pub cluster: String,
    /// The cluster's index in the snapshot's clusters.
    #[serde(skip)]
    pub cluster_index: usize,
    #[serde(with = "crate::serde_duration::option")]
    pub timeout: Option<Duration>,
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
            PathMatch::Exact(p) => path == p,
            PathMatch::Regex(r) => r.is_match(path),
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
        let path = req.uri.path();
        self.routes
            .iter()
            .find(|r| r.path.matches(path) && r.headers.iter().all(|h| h.matches(&req.headers)))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Route> {
        self.routes.iter()
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
