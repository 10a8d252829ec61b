//! Proxy route actions (docs/proxy.md, "Changing requests and responses"): one of
//! `cluster`, `weightedClusters`, `directResponse` and `redirect`; header edits with valid
//! names and values; rewrites and redirects whose path fits the route's match; mirrors
//! to defined clusters, on routes that forward.

use super::security::is_header_name;
use crate::{
    error::FieldError,
    proxy::{DirectResponse, HeaderEdits, PathRewrite, Redirect, Route},
};
use std::collections::HashSet;

/// Checks the action of `route` (at `at`); `clusters` are the names defined and
/// `cluster_names` says which, for an error.
pub(super) fn check(
    at: &str,
    route: &Route,
    clusters: &HashSet<&str>,
    cluster_names: &dyn Fn() -> String,
    out: &mut Vec<FieldError>,
) {
    let set: Vec<&str> = [
        ("cluster", route.cluster.is_some()),
        ("weightedClusters", !route.weighted_clusters.is_empty()),
        ("directResponse", route.direct_response.is_some()),
        ("redirect", route.redirect.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    match set.as_slice() {
        [] => out.push(FieldError::rule(
            format!("{at}.cluster"),
            format!(
                "a route needs a cluster (or weightedClusters, a directResponse or a redirect); {}",
                cluster_names()
            ),
        )),
        [_] => {}
        several => out.push(FieldError::rule(
            at,
            format!(
                "set one of cluster, weightedClusters, directResponse or redirect, not {}",
                several.join(" and ")
            ),
        )),
    }
    let check_cluster = |field: String, cluster: &str, out: &mut Vec<FieldError>| {
        if !clusters.contains(cluster) {
            out.push(FieldError::invalid(
                field,
                cluster,
                format!("no such cluster; {}", cluster_names()),
            ));
        }
    };
    if let Some(cluster) = &route.cluster {
        check_cluster(format!("{at}.cluster"), cluster, out);
    }
    if let Some(direct) = &route.direct_response {
        check_status(&format!("{at}.directResponse"), direct, out);
    }
    for (k, w) in route.weighted_clusters.iter().enumerate() {
        let wat = format!("{at}.weightedClusters[{k}]");
        match (&w.cluster, &w.direct_response) {
            (Some(c), None) => check_cluster(format!("{wat}.cluster"), c, out),
            (None, Some(direct)) => check_status(&format!("{wat}.directResponse"), direct, out),
            _ => out.push(FieldError::rule(
                &wat,
                "set exactly one of cluster or directResponse",
            )),
        }
        check_edits(&format!("{wat}.requestHeaders"), &w.request_headers, out);
        check_edits(&format!("{wat}.responseHeaders"), &w.response_headers, out);
    }
    if !route.weighted_clusters.is_empty() && route.weighted_clusters.iter().all(|w| w.weight == 0) {
        out.push(FieldError::rule(
            format!("{at}.weightedClusters"),
            "at least one weight must be above 0",
        ));
    }
    for (k, m) in route.mirrors.iter().enumerate() {
        let mat = format!("{at}.mirrors[{k}]");
        check_cluster(format!("{mat}.cluster"), &m.cluster, out);
        if m.percent() > 100 {
            out.push(FieldError::invalid_value(
                format!("{mat}.percent"),
                m.percent(),
                "a percent from 0 to 100",
            ));
        }
    }
    if !route.mirrors.is_empty() && (route.redirect.is_some() || route.direct_response.is_some()) {
        out.push(FieldError::rule(
            format!("{at}.mirrors"),
            "mirrors copy requests sent to a cluster, not a redirect or a directResponse",
        ));
    }
    if let Some(per_try) = route.per_try_timeout {
        check_per_try_timeout(at, route, per_try, out);
    }
    let prefix_match = route.r#match.prefix.is_some() || route.r#match.path_separated_prefix.is_some();
    if let Some(redirect) = &route.redirect {
        check_redirect(&format!("{at}.redirect"), redirect, prefix_match, out);
    }
    check_edits(&format!("{at}.requestHeaders"), &route.request_headers, out);
    check_edits(&format!("{at}.responseHeaders"), &route.response_headers, out);
    if let Some(rewrite) = &route.rewrite {
        if route.redirect.is_some() || route.direct_response.is_some() {
            out.push(FieldError::rule(
                format!("{at}.rewrite"),
                "a rewrite is for requests sent to a cluster, not for a redirect or a directResponse",
            ));
        }
        if let Some(host) = &rewrite.host {
            check_host(&format!("{at}.rewrite.host"), host, out);
        }
        if let Some(path) = &rewrite.path {
            check_path(&format!("{at}.rewrite.path"), path, prefix_match, out);
        }
    }
}

/// `perTryTimeout`: longer than zero, no longer than the route's `timeout`, and only on a
/// route that forwards (docs/proxy.md, "Routes").
fn check_per_try_timeout(at: &str, route: &Route, per_try: std::time::Duration, out: &mut Vec<FieldError>) {
    let field = format!("{at}.perTryTimeout");
    let text = crate::duration::format(per_try);
    if per_try.is_zero() {
        out.push(FieldError::invalid(
            field,
            &text,
            "must be longer than zero (unset: the route's timeout)",
        ));
    } else if let Some(timeout) = route.timeout.filter(|t| per_try > *t) {
        out.push(FieldError::invalid(
            field,
            &text,
            format!(
                "must be no longer than the route's timeout ({})",
                crate::duration::format(timeout)
            ),
        ));
    } else if route.redirect.is_some() || route.direct_response.is_some() {
        out.push(FieldError::rule(
            field,
            "a per-try timeout is for requests sent to a cluster, not a redirect or a directResponse",
        ));
    }
}

fn check_status(at: &str, direct: &DirectResponse, out: &mut Vec<FieldError>) {
    if !(200..=599).contains(&direct.status) {
        out.push(FieldError::invalid_value(
            format!("{at}.status"),
            direct.status,
            "a status from 200 to 599",
        ));
    }
}

fn check_redirect(at: &str, redirect: &Redirect, prefix_match: bool, out: &mut Vec<FieldError>) {
    if let Some(scheme) = &redirect.scheme {
        if scheme != "http" && scheme != "https" {
            out.push(FieldError::invalid(
                format!("{at}.scheme"),
                scheme,
                "http or https",
            ));
        }
    }
    if let Some(host) = &redirect.host {
        check_host(&format!("{at}.host"), host, out);
    }
    if redirect.port == Some(0) {
        out.push(FieldError::invalid_value(
            format!("{at}.port"),
            0,
            "a port from 1 to 65535",
        ));
    }
    if let Some(status) = redirect.status {
        if !Redirect::STATUSES.contains(&status) {
            out.push(FieldError::invalid_value(
                format!("{at}.status"),
                status,
                "one of 301, 302, 303, 307, 308",
            ));
        }
    }
    if let Some(path) = &redirect.path {
        check_path(&format!("{at}.path"), path, prefix_match, out);
    }
}

fn check_path(at: &str, path: &PathRewrite, prefix_match: bool, out: &mut Vec<FieldError>) {
    match (&path.full_path, &path.prefix) {
        (Some(full), None) => {
            if !full.starts_with('/') || !is_path(full) {
                out.push(FieldError::invalid(
                    format!("{at}.fullPath"),
                    full,
                    "a path: starts with /, no query, space or control character",
                ));
            }
        }
        (None, Some(prefix)) => {
            if !(prefix.is_empty() || prefix.starts_with('/')) || !is_path(prefix) {
                out.push(FieldError::invalid(
                    format!("{at}.prefix"),
                    prefix,
                    "empty or a path: starts with /, no query, space or control character",
                ));
            }
            if !prefix_match {
                out.push(FieldError::rule(
                    format!("{at}.prefix"),
                    "replaces the part a prefix matched: the route's match needs prefix or pathSeparatedPrefix",
                ));
            }
        }
        _ => out.push(FieldError::rule(at, "set exactly one of fullPath or prefix")),
    }
}

fn is_path(p: &str) -> bool {
    p.bytes().all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#')
}

/// A precise host name (letters, digits and `-` in labels of at most 63, 253 in all), as
/// `rewrite.host` and `redirect.host` take — no port, no wildcard.
pub(crate) fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn check_host(at: &str, host: &str, out: &mut Vec<FieldError>) {
    if !is_host_name(host) {
        out.push(FieldError::invalid(
            at,
            host,
            "a host name (example.com), without a port",
        ));
    }
}

fn check_edits(at: &str, edits: &HeaderEdits, out: &mut Vec<FieldError>) {
    let mut names = HashSet::new();
    for (list, values) in [("set", &edits.set), ("add", &edits.add)] {
        for (k, h) in values.iter().enumerate() {
            let hat = format!("{at}.{list}[{k}]");
            if !is_header_name(&h.name) {
                out.push(FieldError::invalid(
                    format!("{hat}.name"),
                    &h.name,
                    "must be an HTTP header name",
                ));
            }
            if h.value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
                out.push(FieldError::invalid(
                    format!("{hat}.value"),
                    &h.value,
                    "a header value has no control character",
                ));
            }
            if list == "set" && !names.insert(h.name.to_ascii_lowercase()) {
                out.push(FieldError::invalid(
                    format!("{hat}.name"),
                    &h.name,
                    "set names a header once (names are compared without case)",
                ));
            }
        }
    }
    for (k, name) in edits.remove.iter().enumerate() {
        if !is_header_name(name) {
            out.push(FieldError::invalid(
                format!("{at}.remove[{k}]"),
                name,
                "must be an HTTP header name",
            ));
        }
    }
}
