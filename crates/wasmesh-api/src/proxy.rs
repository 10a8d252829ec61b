//! wasmesh's own `Proxy` (`wasmesh.io/v1alpha1`): what a standalone proxy serves. Its
//! `metadata.labels` are the workload labels that selectors match.

use crate::meta::ObjectMeta;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::{net::SocketAddr, time::Duration};

mod actions;
pub use actions::{
    matched_prefix_len, replace_prefix, HeaderEdits, HeaderValue, Mirror, PathRewrite, Redirect, Rewrite,
    WeightedCluster,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Proxy {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: ProxySpec,
    /// Written through the API server's status subresource (docs/kubernetes.md); kept as
    /// given, not used, so that an object read back from a cluster is valid input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProxySpec {
    pub listeners: Vec<Listener>,
    /// Upstreams: targets of routes, of tcp listeners and of plugins' http/gRPC calls.
    #[serde(default)]
    pub clusters: Vec<Cluster>,
}

impl Proxy {
    /// The cluster named `name`.
    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.spec.clusters.iter().find(|c| c.name == name)
    }
}

/// A socket the proxy accepts connections on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Listener {
    /// Unique within the proxy.
    pub name: String,
    /// `IP:PORT`, like `127.0.0.1:8080` or `[::1]:8080`.
    pub address: SocketAddr,
    #[serde(default)]
    pub protocol: ListenerProtocol,
    /// Matched against a WasmPlugin's `match[].mode`.
    #[serde(default)]
    pub traffic_direction: TrafficDirection,
    /// Serve TLS (https, h2 through ALPN) with these certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ListenerTls>,
    /// http listeners: how requests are checked and bounded (Envoy's HTTP connection
    /// manager settings). Unset: Istio's defaults.
    #[serde(default, skip_serializing_if = "ListenerHttp::is_default")]
    pub http: ListenerHttp,
    /// http listeners: the first route that matches wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    /// tcp listeners: the cluster the bytes go to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

/// `listeners[].protocol`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ListenerProtocol {
    /// HTTP/1.1 and h2c (HTTP/2 with prior knowledge); runs `type: HTTP` plugins.
    #[default]
    Http,
    /// Raw TCP; runs `type: NETWORK` plugins.
    Tcp,
}

/// `listeners[].trafficDirection`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum TrafficDirection {
    /// Inbound: `match[].mode: SERVER` plugins apply.
    #[default]
    #[serde(rename = "SERVER")]
    Server,
    /// Outbound: `match[].mode: CLIENT` plugins apply.
    #[serde(rename = "CLIENT")]
    Client,
}

/// `listeners[].tls`: the certificates served (docs/proxy.md, "TLS"). The default one from
/// PEM files (`certFile`, `keyFile`) or from a `kubernetes.io/tls` Secret of the Proxy's
/// namespace (`secretName`), and more in `certificates`, each chosen by the name the client
/// asks for (SNI).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListenerTls {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cert_file: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key_file: String,
    /// A `kubernetes.io/tls` Secret (`tls.crt`, `tls.key`) in the Proxy's namespace,
    /// instead of the files; followed, so a rotated Secret is served to new connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// The namespace of `secretName` when it is not the Proxy's (docs/proxy.md, "TLS").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_namespace: Option<String>,
    /// More certificates; the client's SNI picks one (docs/proxy.md, "TLS").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<TlsCertificate>,
    /// How long a client has to finish the TLS handshake. Unset: 10s
    /// ([`ListenerTls::DEFAULT_HANDSHAKE_TIMEOUT`]).
    #[serde(
        default,
        with = "crate::duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<String>", extend("pattern" = crate::duration::PATTERN))]
    pub handshake_timeout: Option<Duration>,
}

/// `listeners[].tls.certificates[]`: one certificate, from files or from a Secret, for the
/// names in `hostnames` (`*.example.com` stands for one label more); without `hostnames`,
/// for the names of its own DNS subject alternative names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TlsCertificate {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cert_file: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key_file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// The namespace of `secretName` when it is not the Proxy's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_namespace: Option<String>,
}

impl TlsCertificate {
    /// The Secret it comes from, as (namespace, name), for a Proxy in `namespace`.
    pub fn secret<'a>(&'a self, namespace: &'a str) -> Option<(&'a str, &'a str)> {
        let name = self.secret_name.as_deref()?;
        Some((self.secret_namespace.as_deref().unwrap_or(namespace), name))
    }
}

impl ListenerTls {
    /// Envoy's default `transport_socket_connect_timeout` is unset; 10 s bounds a client
    /// that opens a connection and never finishes the handshake.
    pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

    /// Every certificate: the default one (when given) first, then `certificates`.
    pub fn all_certificates(&self) -> Vec<TlsCertificate> {
        let default = TlsCertificate {
            hostnames: Vec::new(),
            cert_file: self.cert_file.clone(),
            key_file: self.key_file.clone(),
            secret_name: self.secret_name.clone(),
            secret_namespace: self.secret_namespace.clone(),
        };
        let given =
            !default.cert_file.is_empty() || !default.key_file.is_empty() || default.secret_name.is_some();
        given
            .then_some(default)
            .into_iter()
            .chain(self.certificates.iter().cloned())
            .collect()
    }

    /// The Secrets the certificates come from, as (namespace, name), for a Proxy in
    /// `namespace`.
    pub fn secrets<'a>(&'a self, namespace: &'a str) -> Vec<(&'a str, &'a str)> {
        let default = self
            .secret_name
            .as_deref()
            .map(|name| (self.secret_namespace.as_deref().unwrap_or(namespace), name));
        default
            .into_iter()
            .chain(self.certificates.iter().filter_map(|c| c.secret(namespace)))
            .collect()
    }
}

/// `listeners[].http`: the checks and bounds of an http listener.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListenerHttp {
    /// What is done to the request path before routing and authorization (Istio's
    /// `meshConfig.pathNormalization`). Unset: `BASE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_normalization: Option<PathNormalization>,
    /// The `Upgrade` protocols forwarded (Envoy's `upgrade_configs`). Unset: `[websocket]`,
    /// as Istio; other upgrades are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrades: Option<Vec<String>>,
    /// How long a client has to send a request's headers, on HTTP/1.1 and per HTTP/2
    /// stream. Unset: 30 s.
    #[serde(
        default,
        with = "crate::duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<String>", extend("pattern" = crate::duration::PATTERN))]
    pub request_headers_timeout: Option<Duration>,
    /// How long a connection may stay open with no request in flight. Unset: 1 h (Envoy's
    /// `common_http_protocol_options.idle_timeout`).
    #[serde(
        default,
        with = "crate::duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<String>", extend("pattern" = crate::duration::PATTERN))]
    pub idle_timeout: Option<Duration>,
}

impl ListenerHttp {
    pub const DEFAULT_REQUEST_HEADERS_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);

    fn is_default(&self) -> bool {
        *self == ListenerHttp::default()
    }

    pub fn path_normalization(&self) -> PathNormalization {
        self.path_normalization.unwrap_or_default()
    }

    pub fn request_headers_timeout(&self) -> Duration {
        self.request_headers_timeout
            .unwrap_or(Self::DEFAULT_REQUEST_HEADERS_TIMEOUT)
    }

    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout.unwrap_or(Self::DEFAULT_IDLE_TIMEOUT)
    }
}

/// `listeners[].http.pathNormalization`: Istio's levels (docs/security.md shows what each
/// does to a path).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PathNormalization {
    /// The path as it arrived.
    None,
    /// RFC 3986 normalization (Envoy's `normalize_path`): percent-encoded unreserved
    /// characters decoded, `\\` turned into `/`, dot segments removed.
    #[default]
    Base,
    /// `BASE`, then runs of slashes merged into one.
    MergeSlashes,
    /// `MERGE_SLASHES`, after `%2F` and `%5C` are decoded to `/` and `\`.
    DecodeAndMergeSlashes,
}

/// `listeners[].routes[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Route {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "match")]
    pub r#match: RouteMatch,
    /// A cluster of `spec.clusters`; exactly one of `cluster`, `weightedClusters`,
    /// `directResponse` and `redirect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Several clusters, each taking its weight's share of the requests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weighted_clusters: Vec<WeightedCluster>,
    /// Answer the request here with this status instead of sending it to a cluster
    /// (Envoy's `direct_response`); the Gateway API's 500 for a backend that does not
    /// resolve is one (docs/gateway-api.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_response: Option<DirectResponse>,
    /// Answer the request here with a redirect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<Redirect>,
    /// Header edits on the request, as it goes to the upstream (after the filters).
    #[serde(default, skip_serializing_if = "HeaderEdits::is_empty")]
    pub request_headers: HeaderEdits,
    /// Header edits on the upstream's response, before the filters see it.
    #[serde(default, skip_serializing_if = "HeaderEdits::is_empty")]
    pub response_headers: HeaderEdits,
    /// The host and path the upstream gets instead of the request's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrite: Option<Rewrite>,
    /// Clusters that get a copy of the requests the route forwards.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mirrors: Vec<Mirror>,
    /// Whole-request timeout, like `15s`. Unset: no timeout.
    #[serde(
        default,
        with = "crate::duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<String>", extend("pattern" = crate::duration::PATTERN))]
    pub timeout: Option<Duration>,
    /// How long one try at the upstream may take, from sending the request to the
    /// response's headers, before the proxy answers 504 (Envoy's `per_try_timeout`);
    /// longer than zero and no longer than `timeout`. Unset: the route's timeout alone.
    #[serde(
        default,
        with = "crate::duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<String>", extend("pattern" = crate::duration::PATTERN))]
    pub per_try_timeout: Option<Duration>,
}

/// `routes[].directResponse`: the status the proxy answers with itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DirectResponse {
    /// 200 to 599.
    #[schemars(range(min = 200, max = 599))]
    pub status: u16,
}

/// `routes[].match`: exactly one of `prefix`, `pathSeparatedPrefix`, `exact`, `regex`
/// (on the path, without the query), and optional host, method and header conditions that must all hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RouteMatch {
    /// The request's host (its authority without the port), compared without case: any
    /// entry may match. An entry is a host name, or `*.` and a suffix, which matches one
    /// or more labels before the suffix (`*.example.com`: `a.example.com`,
    /// `a.b.example.com`, not `example.com`). Empty: any host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// The request's method (`GET`, …), exactly. Unset: any method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Whole path segments (Envoy's `path_separated_prefix`): `/api` takes `/api` and
    /// `/api/…`, not `/apis`. No trailing `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_separated_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
    /// Must match the whole path (as Envoy's `safe_regex`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HeaderMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query_params: Vec<QueryParamMatch>,
}

/// How a route matches the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathMatch<'a> {
    Prefix(&'a str),
    /// Whole segments: the path is it, or it and `/…`.
    SeparatedPrefix(&'a str),
    Exact(&'a str),
    /// Whole-path regex.
    Regex(&'a str),
}

impl RouteMatch {
    /// The path condition; validation guarantees exactly one is set.
    pub fn path(&self) -> PathMatch<'_> {
        match (
            &self.prefix,
            &self.exact,
            &self.regex,
            &self.path_separated_prefix,
        ) {
            (_, Some(exact), _, _) => PathMatch::Exact(exact),
            (_, _, Some(regex), _) => PathMatch::Regex(regex),
            (_, _, _, Some(prefix)) => PathMatch::SeparatedPrefix(prefix),
            (Some(prefix), _, _, _) => PathMatch::Prefix(prefix),
            (None, None, None, None) => PathMatch::Prefix("/"),
        }
    }
}

/// `routes[].match.headers[]`: the header must be present and, when given, equal `exact`
/// or fully match `regex`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HeaderMatch {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
}

/// `routes[].match.queryParams[]`: the query parameter `name` (compared exactly) is
/// present and, when given, its first value (percent-decoded) equals `exact` or fully
/// matches `regex`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct QueryParamMatch {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
}

/// `clusters[]`: an upstream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Cluster {
    pub name: String,
    /// `HOST:PORT`, used round robin.
    pub endpoints: Vec<String>,
    #[serde(default)]
    pub protocol: ClusterProtocol,
    /// Unset: 5s ([`Cluster::DEFAULT_CONNECT_TIMEOUT`]).
    #[serde(
        default,
        with = "crate::duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<String>", extend("pattern" = crate::duration::PATTERN))]
    pub connect_timeout: Option<Duration>,
}

impl Cluster {
    /// The connect timeout when none is set (Envoy's default is 5s).
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout.unwrap_or(Self::DEFAULT_CONNECT_TIMEOUT)
    }
}

/// `clusters[].protocol`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClusterProtocol {
    #[default]
    Http1,
    /// h2c (prior knowledge); needed for gRPC.
    Http2,
}

/// Does `host` (a request's host, without its port) match the `routes[].match.hosts`
/// entry `pattern`? Both compared without case; `*.suffix` takes one or more labels
/// before `.suffix` (the Gateway API's hostname wildcard, Envoy's domain wildcard).
pub fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            host.len() > suffix.len() + 1
                && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
                && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
        }
        None => pattern.eq_ignore_ascii_case(host),
    }
}

/// A request's authority without its port: `example.com:8080` → `example.com`,
/// `[::1]:8080` → `[::1]`.
pub fn host_of_authority(authority: &str) -> &str {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => &authority[..=end],
            None => authority,
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

#[cfg(test)]
mod host_tests {
    use super::*;

    #[test]
    fn hosts_match_exactly_or_by_wildcard_without_case() {
        assert!(host_matches("Example.com", "example.COM"));
        assert!(!host_matches("example.com", "www.example.com"));
        assert!(host_matches("*.example.com", "a.example.com"));
        assert!(host_matches("*.example.com", "a.b.example.com"));
        assert!(!host_matches("*.example.com", "example.com"));
        assert!(!host_matches("*.example.com", "aexample.com"));
        assert!(!host_matches("*.example.com", ".example.com"));
    }

    #[test]
    fn the_port_leaves_the_authority() {
        assert_eq!(host_of_authority("example.com:8080"), "example.com");
        assert_eq!(host_of_authority("example.com"), "example.com");
        assert_eq!(host_of_authority("[::1]:80"), "[::1]");
        assert_eq!(host_of_authority("127.0.0.1:9"), "127.0.0.1");
    }
}
