//! Proxy rules: unique names and addresses, routes that can match, clusters that exist.

use super::security::is_header_name;
use crate::{
    error::FieldError,
    proxy::{ListenerHttp, ListenerProtocol, Proxy},
};
use std::collections::HashSet;

pub(super) fn check(proxy: &Proxy, out: &mut Vec<FieldError>) {
    let spec = &proxy.spec;
    let clusters: HashSet<&str> = spec.clusters.iter().map(|c| c.name.as_str()).collect();
    let cluster_names = || {
        let mut names: Vec<&str> = clusters.iter().copied().collect();
        names.sort_unstable();
        if names.is_empty() {
            "none are defined in spec.clusters".to_string()
        } else {
            format!("defined: {}", names.join(", "))
        }
    };
    if spec.listeners.is_empty() {
        out.push(FieldError::rule(
            "spec.listeners",
            "at least one listener is required",
        ));
    }
    let mut names = HashSet::new();
    let mut addresses = HashSet::new();
    for (i, l) in spec.listeners.iter().enumerate() {
        let at = format!("spec.listeners[{i}]");
        super::check_unique_name(&at, &l.name, &mut names, "listener names must be unique", out);
        if !addresses.insert(l.address) {
            out.push(FieldError::invalid(
                format!("{at}.address"),
                &l.address.to_string(),
                "another listener already uses this address",
            ));
        }
        if let Some(tls) = &l.tls {
            tls_certificates(&at, tls, out);
        }
        let timeouts = [
            (
                "tls.handshakeTimeout",
                l.tls.as_ref().and_then(|t| t.handshake_timeout),
            ),
            ("http.requestHeadersTimeout", l.http.request_headers_timeout),
            ("http.idleTimeout", l.http.idle_timeout),
        ];
        for (field, value) in timeouts {
            if value.is_some_and(|d| d.is_zero()) {
                out.push(FieldError::invalid_value(
                    format!("{at}.{field}"),
                    "0s",
                    "must be longer than zero (unset: the default)",
                ));
            }
        }
        match l.protocol {
            ListenerProtocol::Tcp => {
                if !l.routes.is_empty() {
                    out.push(FieldError::rule(
                        format!("{at}.routes"),
                        "tcp listeners have no routes; set cluster instead",
                    ));
                }
                // The proxy would ignore them: refused rather than silently not done.
                if l.tls.is_some() {
                    out.push(FieldError::rule(
                        format!("{at}.tls"),
                        "tcp listeners do not terminate TLS; tls is for http listeners",
                    ));
                }
                if l.http != ListenerHttp::default() {
                    out.push(FieldError::rule(
                        format!("{at}.http"),
                        "http settings are for http listeners",
                    ));
                }
                match &l.cluster {
                    None => out.push(FieldError::rule(
                        format!("{at}.cluster"),
                        "a tcp listener needs the cluster its connections go to",
                    )),
                    Some(c) if !clusters.contains(c.as_str()) => out.push(FieldError::invalid(
                        format!("{at}.cluster"),
                        c,
                        format!("no such cluster; {}", cluster_names()),
                    )),
                    Some(_) => {}
                }
            }
            ListenerProtocol::Http => {
                if l.cluster.is_some() {
                    out.push(FieldError::rule(
                        format!("{at}.cluster"),
                        "http listeners send requests through routes; cluster is for tcp listeners",
                    ));
                }
            }
        }
        for (j, route) in l.routes.iter().enumerate() {
            let at = format!("{at}.routes[{j}]");
            let m = &route.r#match;
            let set = [
                m.prefix.is_some(),
                m.path_separated_prefix.is_some(),
                m.exact.is_some(),
                m.regex.is_some(),
            ]
            .iter()
            .filter(|s| **s)
            .count();
            if set != 1 {
                out.push(FieldError::rule(
                    format!("{at}.match"),
                    "set exactly one of prefix, pathSeparatedPrefix, exact or regex",
                ));
            }
            if let Some(p) = &m.path_separated_prefix {
                if p.len() > 1 && p.ends_with('/') {
                    out.push(FieldError::invalid(
                        format!("{at}.match.pathSeparatedPrefix"),
                        p,
                        "whole segments: no trailing /",
                    ));
                }
            }
            for (field, value) in [
                ("prefix", &m.prefix),
                ("pathSeparatedPrefix", &m.path_separated_prefix),
                ("exact", &m.exact),
            ] {
                if let Some(v) = value {
                    if !v.starts_with('/') {
                        out.push(FieldError::invalid(
                            format!("{at}.match.{field}"),
                            v,
                            "a path starts with /",
                        ));
                    }
                }
            }
            if let Some(re) = &m.regex {
                check_regex(&format!("{at}.match.regex"), re, out);
            }
            for (k, h) in m.headers.iter().enumerate() {
                let hat = format!("{at}.match.headers[{k}]");
                if !is_header_name(&h.name) {
                    out.push(FieldError::invalid(
                        format!("{hat}.name"),
                        &h.name,
                        "must be an HTTP header name",
                    ));
                }
                if h.exact.is_some() && h.regex.is_some() {
                    out.push(FieldError::rule(&hat, "set at most one of exact or regex"));
                }
                if let Some(re) = &h.regex {
                    check_regex(&format!("{hat}.regex"), re, out);
                }
            }
            for (k, q) in m.query_params.iter().enumerate() {
                let qat = format!("{at}.match.queryParams[{k}]");
                if q.name.is_empty() {
                    out.push(FieldError::invalid(
                        format!("{qat}.name"),
                        "",
                        "a query parameter name is required",
                    ));
                }
                if q.exact.is_some() && q.regex.is_some() {
                    out.push(FieldError::rule(&qat, "set at most one of exact or regex"));
                }
                if let Some(re) = &q.regex {
                    check_regex(&format!("{qat}.regex"), re, out);
                }
            }
            for (k, host) in m.hosts.iter().enumerate() {
                if !is_host_pattern(host) {
                    out.push(FieldError::invalid(
                        format!("{at}.match.hosts[{k}]"),
                        host,
                        "a host name (example.com) or a wildcard (*.example.com)",
                    ));
                }
            }
            if let Some(method) = &m.method {
                if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
                    out.push(FieldError::invalid(
                        format!("{at}.match.method"),
                        method,
                        "an HTTP method in upper case (GET, POST, …)",
                    ));
                }
            }
            super::route_actions::check(&at, route, &clusters, &cluster_names, out);
        }
    }
    let mut seen = HashSet::new();
    for (i, c) in spec.clusters.iter().enumerate() {
        let at = format!("spec.clusters[{i}]");
        super::check_unique_name(&at, &c.name, &mut seen, "cluster names must be unique", out);
        if c.endpoints.is_empty() {
            out.push(FieldError::rule(
                format!("{at}.endpoints"),
                "at least one endpoint (HOST:PORT) is required",
            ));
        }
        for (j, e) in c.endpoints.iter().enumerate() {
            if !is_host_port(e) {
                out.push(FieldError::invalid(
                    format!("{at}.endpoints[{j}]"),
                    e,
                    "must be HOST:PORT (127.0.0.1:9000, [::1]:9000, localhost:9000)",
                ));
            }
        }
    }
}

/// `example.com`, `*.example.com`: DNS labels of letters, digits and `-`, an optional
/// leading `*.`.
fn is_host_pattern(host: &str) -> bool {
    let name = host.strip_prefix("*.").unwrap_or(host);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn check_regex(path: &str, re: &str, out: &mut Vec<FieldError>) {
    if let Err(e) = regex::Regex::new(re) {
        let why = e.to_string().lines().last().unwrap_or("").trim().to_string();
        out.push(FieldError::invalid(
            path,
            re,
            format!("not a valid regular expression: {why}"),
        ));
    }
}

fn is_host_port(s: &str) -> bool {
    let Some((host, port)) = s.rsplit_once(':') else {
        return false;
    };
    let port_ok = port.parse::<u16>().is_ok_and(|p| p > 0);
    let host_ok = if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        inner.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !host.is_empty()
            && host
                .split('.')
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    };
    port_ok && host_ok
}

/// `tls`: at least one certificate; each from files (both) or from a Secret, not both;
/// `hostnames` as SNI names.
fn tls_certificates(at: &str, tls: &crate::proxy::ListenerTls, out: &mut Vec<FieldError>) {
    let all = tls.all_certificates();
    if all.is_empty() {
        out.push(FieldError::invalid(
            format!("{at}.tls.certFile"),
            "",
            "a certificate is required: certFile and keyFile (PEM files), secretName, or certificates",
        ));
    }
    let explicit = usize::from(all.len() > tls.certificates.len());
    for (i, c) in all.iter().enumerate() {
        let here = if i < explicit {
            format!("{at}.tls")
        } else {
            format!("{at}.tls.certificates[{}]", i - explicit)
        };
        let files = !c.cert_file.is_empty() || !c.key_file.is_empty();
        match (&c.secret_name, files) {
            (Some(_), true) => out.push(FieldError::rule(
                format!("{here}.secretName"),
                "either certFile and keyFile or secretName, not both",
            )),
            (Some(name), false) if name.is_empty() => out.push(FieldError::invalid(
                format!("{here}.secretName"),
                "",
                "a Secret's name is required",
            )),
            (Some(_), false) => {}
            (None, _) => {
                if c.cert_file.is_empty() {
                    out.push(FieldError::invalid(
                        format!("{here}.certFile"),
                        "",
                        "a PEM certificate file is required (or secretName)",
                    ));
                }
                if c.key_file.is_empty() {
                    out.push(FieldError::invalid(
                        format!("{here}.keyFile"),
                        "",
                        "a PEM key file is required (or secretName)",
                    ));
                }
            }
        }
        match (&c.secret_namespace, &c.secret_name) {
            (Some(ns), Some(_)) => super::names::check_dns_label(&format!("{here}.secretNamespace"), ns, out),
            (Some(_), None) => out.push(FieldError::rule(
                format!("{here}.secretNamespace"),
                "secretNamespace is the namespace of secretName, which is not set",
            )),
            (None, _) => {}
        }
        for (h, host) in c.hostnames.iter().enumerate() {
            let name = host.strip_prefix("*.").unwrap_or(host);
            if name.is_empty() || name.contains('*') || name.contains(':') || name.contains('/') {
                out.push(FieldError::invalid(
                    format!("{here}.hostnames[{h}]"),
                    host,
                    "an SNI name: a DNS name, or `*.` and a DNS name",
                ));
            }
        }
    }
}
