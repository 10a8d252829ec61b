//! What a route does to a request besides choosing where it goes (docs/proxy.md,
//! "Changing requests and responses"): header edits on the request and the response, a
//! path and host rewrite towards the upstream, a redirect answered by the proxy, and a
//! split over several clusters by weight, copies of the request sent to mirror clusters —
//! Envoy's route actions, which the Gateway API's HTTPRoute filters and weighted
//! backendRefs become (docs/gateway-api.md).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DirectResponse;

/// `routes[].requestHeaders`, `routes[].responseHeaders`: header edits, applied in the
/// order `remove`, `set`, `add`. Names are compared without case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HeaderEdits {
    /// Replaces every value of the header with this one (adds it when absent).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set: Vec<HeaderValue>,
    /// Adds a value after the ones the header has.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<HeaderValue>,
    /// Removes the header, every value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
}

impl HeaderEdits {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.add.is_empty() && self.remove.is_empty()
    }
}

/// One header and its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HeaderValue {
    pub name: String,
    pub value: String,
}

/// A new path: exactly one of `fullPath` and `prefix`. The query string stays.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PathRewrite {
    /// The whole path becomes this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_path: Option<String>,
    /// The part of the path that the route's `match.prefix` or `match.pathSeparatedPrefix`
    /// matched becomes this; the rest of the path stays (see [`replace_prefix`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// `routes[].rewrite`: what the upstream gets instead of the request's host and path.
/// The filters see the request as it came; the router rewrites it (as Envoy's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rewrite {
    /// The `Host` (HTTP/1.1) or `:authority` (HTTP/2) the upstream gets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathRewrite>,
}

/// `routes[].redirect`: the proxy answers with a redirect to the request's URL with these
/// parts changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Redirect {
    /// `http` or `https`. Unset: the request's (`https` on a TLS listener).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// Unset: the request's host, without its port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Unset: 80 or 443 when `scheme` is set, else the listener's port. The port is left
    /// out of `Location` when it is the scheme's own (80 for http, 443 for https).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Unset: the request's path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathRewrite>,
    /// 301, 302, 303, 307 or 308. Unset: 302.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 301, max = 308))]
    pub status: Option<u16>,
}

impl Redirect {
    pub const DEFAULT_STATUS: u16 = 302;
    /// The statuses a redirect may have.
    pub const STATUSES: [u16; 5] = [301, 302, 303, 307, 308];
}

/// `routes[].weightedClusters[]`: one share of a split. Exactly one of `cluster` and
/// `directResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WeightedCluster {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// This share is answered here (the Gateway API's 500 for a backend that does not
    /// resolve).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_response: Option<DirectResponse>,
    /// The share is `weight` over the sum of the weights; 0 takes nothing.
    pub weight: u32,
    /// Edits for requests sent to this cluster, after the route's own.
    #[serde(default, skip_serializing_if = "HeaderEdits::is_empty")]
    pub request_headers: HeaderEdits,
    /// Edits for responses from this cluster, after the route's own.
    #[serde(default, skip_serializing_if = "HeaderEdits::is_empty")]
    pub response_headers: HeaderEdits,
}

/// `routes[].mirrors[]`: a copy of each request the route forwards goes to this cluster
/// too (Envoy's `request_mirror_policies`); its answer is dropped, and it never slows,
/// fails or changes the client's request (docs/proxy.md, "Mirrors").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Mirror {
    /// A cluster of `spec.clusters`.
    pub cluster: String,
    /// The share of the route's forwarded requests that are copied, 0 to 100. Unset: 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub percent: Option<u32>,
}

impl Mirror {
    pub const DEFAULT_PERCENT: u32 = 100;

    /// The percent of requests copied.
    pub fn percent(&self) -> u32 {
        self.percent.unwrap_or(Self::DEFAULT_PERCENT)
    }
}

/// The path `path` with its first `matched` bytes (the part a prefix match took) replaced
/// by `with`, as the Gateway API's `ReplacePrefixMatch` says: the rest of the path stays;
/// when the rest starts with `/`, a trailing `/` of `with` is dropped so that no `//`
/// appears; an empty result is `/`. `/foo/bar` with `/foo` matched becomes `/xyz/bar`
/// for `/xyz` and `/xyz/`, and `/bar` for ``; `/foo` becomes `/xyz`; `/foo/` becomes
/// `/xyz/`.
pub fn replace_prefix(path: &str, matched: usize, with: &str) -> String {
    let rest = path.get(matched..).unwrap_or("");
    let head = if rest.starts_with('/') {
        with.trim_end_matches('/')
    } else {
        with
    };
    let out = format!("{head}{rest}");
    if out.is_empty() {
        "/".into()
    } else {
        out
    }
}

/// How many bytes of a path the `prefix` or `pathSeparatedPrefix` match `prefix` took,
/// for [`replace_prefix`]: the prefix without its trailing `/` (which goes with the rest).
pub fn matched_prefix_len(prefix: &str) -> usize {
    prefix.trim_end_matches('/').len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_is_replaced_as_the_gateway_api_table_says() {
        // (request path, prefix matched, replacement, result)
        let cases = [
            ("/foo/bar", "/foo", "/xyz", "/xyz/bar"),
            ("/foo/bar", "/foo", "/xyz/", "/xyz/bar"),
            ("/foo/bar", "/foo/", "/xyz", "/xyz/bar"),
            ("/foo/bar", "/foo/", "/xyz/", "/xyz/bar"),
            ("/foo", "/foo", "/xyz", "/xyz"),
            ("/foo/", "/foo", "/xyz", "/xyz/"),
            ("/foo/bar", "/foo", "", "/bar"),
            ("/foo/", "/foo", "", "/"),
            ("/foo", "/foo", "", "/"),
            ("/foo/", "/foo", "/", "/"),
            ("/foo", "/foo", "/", "/"),
        ];
        for (path, prefix, with, want) in cases {
            assert_eq!(
                replace_prefix(path, matched_prefix_len(prefix), with),
                want,
                "{path} with {prefix} -> {with:?}"
            );
        }
    }

    #[test]
    fn a_plain_prefix_keeps_the_rest_as_it_is() {
        // `prefix: /api/` of `/api/users`: the trailing `/` goes with the rest
        let api = matched_prefix_len("/api/");
        assert_eq!(replace_prefix("/api/users", api, "/v2/"), "/v2/users");
        assert_eq!(replace_prefix("/api/users", api, "/v2"), "/v2/users");
        assert_eq!(
            replace_prefix("/apiusers", matched_prefix_len("/api"), "/v2"),
            "/v2users"
        );
    }
}
