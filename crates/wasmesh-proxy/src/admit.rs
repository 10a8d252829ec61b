//! What a request must be before the first filter sees it, on HTTP/1.1 and HTTP/2 alike:
//! an upper-case method, one authority, a normalized path and, for an upgrade, a protocol
//! the listener allows. What routing and `AuthorizationPolicy` see is then exactly what the
//! upstream receives (docs/security.md).
//!
//! After [`admit`], an HTTP/1.x request's authority is its one `Host` header and its URI is
//! origin-form (`/path?query`); an HTTP/2 request's authority is the URI's (`:authority`)
//! and it carries no `host` header.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Uri};
use http::{request, Method, Version};

use crate::error::ProxyError;
use crate::normalize::{self, PathNormalization};

/// A listener's request checks (`listeners[].http` of the Proxy).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestPolicy {
    pub path_normalization: PathNormalization,
    /// The `Upgrade` protocols forwarded, lower-case.
    pub upgrades: Vec<String>,
}

impl Default for RequestPolicy {
    /// Istio's defaults: `BASE` normalization, WebSocket the only upgrade.
    fn default() -> Self {
        RequestPolicy {
            path_normalization: PathNormalization::Base,
            upgrades: vec!["websocket".into()],
        }
    }
}

static HTTP2_SETTINGS: HeaderName = HeaderName::from_static("http2-settings");

/// Checks and rewrites `parts` in place; an `Err` is the reply the client gets (400 for a
/// malformed request, 403 for an upgrade or CONNECT the listener does not allow).
pub fn admit(parts: &mut request::Parts, policy: &RequestPolicy) -> Result<(), ProxyError> {
    if parts.method.as_str().bytes().any(|b| b.is_ascii_lowercase()) {
        // Istio refuses methods that are not upper case, so `get` cannot slip past a
        // `methods: [GET]` rule while the upstream treats it as GET.
        return Err(bad(format!(
            "method {:?} is not upper case",
            parts.method.as_str()
        )));
    }
    if parts.method == Method::CONNECT {
        return Err(ProxyError::UpgradeRefused {
            upgrade: "CONNECT".into(),
        });
    }
    match parts.version {
        Version::HTTP_2 | Version::HTTP_3 => h2_authority(parts)?,
        _ => h1_authority(parts)?,
    }
    normalize_target(parts, policy.path_normalization)?;
    check_upgrade(parts, policy)
}

fn bad(why: String) -> ProxyError {
    ProxyError::BadRequest(why)
}

/// RFC 9112 §3.2: exactly one `Host` on HTTP/1.1; an absolute-form target's authority
/// wins over it (§3.2.2), and becomes the `Host` the upstream receives.
fn h1_authority(parts: &mut request::Parts) -> Result<(), ProxyError> {
    // One lookup finds the Host and whether there is a second.
    let mut hosts = parts.headers.get_all(header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(bad("more than one Host header".into()));
    }
    if let Some(authority) = parts.uri.authority() {
        check_authority(authority.as_str().as_bytes())?;
        let host = HeaderValue::from_str(authority.as_str())
            .map_err(|_| bad(format!("invalid authority {:?}", authority.as_str())))?;
        parts.headers.insert(header::HOST, host);
        let origin = parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        parts.uri = Uri::from(origin);
        return Ok(());
    }
    match host {
        Some(host) => check_authority(host.as_bytes()),
        None if parts.version == Version::HTTP_11 => Err(bad("HTTP/1.1 request without Host".into())),
        // HTTP/1.0 has no Host requirement.
        None => Ok(()),
    }
}

/// RFC 9113 §8.3.1: `:authority` and a `host` header, when both are present, must agree;
/// one of them is required. The URI keeps the authority; `host` goes.
fn h2_authority(parts: &mut request::Parts) -> Result<(), ProxyError> {
    let hosts = parts.headers.get_all(header::HOST).iter().count();
    if hosts > 1 {
        return Err(bad("more than one host header".into()));
    }
    let host = parts.headers.remove(header::HOST);
    match (parts.uri.authority(), host) {
        (Some(authority), host) => {
            check_authority(authority.as_str().as_bytes())?;
            if let Some(host) = host {
                if !host
                    .as_bytes()
                    .eq_ignore_ascii_case(authority.as_str().as_bytes())
                {
                    return Err(bad(format!(
                        ":authority {:?} and host {:?} differ",
                        authority.as_str(),
                        String::from_utf8_lossy(host.as_bytes())
                    )));
                }
            }
            Ok(())
        }
        (None, Some(host)) => {
            check_authority(host.as_bytes())?;
            let authority = Authority::try_from(host.as_bytes()).map_err(|_| {
                bad(format!(
                    "invalid host {:?}",
                    String::from_utf8_lossy(host.as_bytes())
                ))
            })?;
            let mut uri = std::mem::take(&mut parts.uri).into_parts();
            uri.authority = Some(authority);
            if uri.scheme.is_none() {
                uri.scheme = Some(http::uri::Scheme::HTTP);
            }
            if uri.path_and_query.is_none() {
                uri.path_and_query = Some(PathAndQuery::from_static("/"));
            }
            parts.uri = Uri::from_parts(uri).map_err(|e| bad(format!("invalid request target: {e}")))?;
            Ok(())
        }
        (None, None) => Err(bad("HTTP/2 request without :authority or host".into())),
    }
}

/// `host [ ":" port ]` (RFC 3986 §3.2.2–3): a bracketed IPv6 literal or a reg-name, no
/// user info, no path; the port at most five digits.
fn check_authority(value: &[u8]) -> Result<(), ProxyError> {
    let invalid = || bad(format!("invalid authority {:?}", String::from_utf8_lossy(value)));
    let (host, port) = if value.first() == Some(&b'[') {
        let end = value.iter().position(|&c| c == b']').ok_or_else(invalid)?;
        let literal = &value[1..end];
        if literal.is_empty()
            || !literal
                .iter()
                .all(|c| c.is_ascii_hexdigit() || matches!(c, b':' | b'.'))
        {
            return Err(invalid());
        }
        (&value[..=end], &value[end + 1..])
    } else {
        match value.iter().position(|&c| c == b':') {
            Some(i) => (&value[..i], &value[i..]),
            None => (value, &value[value.len()..]),
        }
    };
    let reg_name = |c: &u8| {
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b'%'
            )
    };
    if host.is_empty() || (host[0] != b'[' && !host.iter().all(reg_name)) {
        return Err(invalid());
    }
    if let Some(digits) = port.strip_prefix(b":") {
        if digits.len() > 5 || !digits.iter().all(u8::is_ascii_digit) {
            return Err(invalid());
        }
    } else if !port.is_empty() {
        return Err(invalid());
    }
    Ok(())
}

/// Normalizes the path of the target (the query is kept as sent). `*` (`OPTIONS *`) is
/// left alone.
fn normalize_target(parts: &mut request::Parts, level: PathNormalization) -> Result<(), ProxyError> {
    let path = parts.uri.path();
    if path == "*" && parts.method == Method::OPTIONS {
        return Ok(());
    }
    let normalized = match normalize::normalize_path(path, level) {
        Ok(std::borrow::Cow::Borrowed(_)) => return Ok(()),
        Ok(std::borrow::Cow::Owned(p)) => p,
        Err(e) => return Err(bad(format!("path {path:?}: {e}"))),
    };
    let with_query = match parts.uri.query() {
        Some(q) => format!("{normalized}?{q}"),
        None => normalized,
    };
    let mut uri = std::mem::take(&mut parts.uri).into_parts();
    uri.path_and_query =
        Some(PathAndQuery::try_from(with_query).map_err(|e| bad(format!("invalid normalized path: {e}")))?);
    parts.uri = Uri::from_parts(uri).map_err(|e| bad(format!("invalid request target: {e}")))?;
    Ok(())
}

/// An HTTP/1.1 `Upgrade` is forwarded only for a protocol the listener allows (Envoy's
/// `upgrade_configs`; Istio allows `websocket`). `h2c` is never forwarded: its headers are
/// removed and the request goes on as a plain one, as Envoy's HTTP/1.1 codec does — an
/// upstream switching to HTTP/2 would otherwise carry requests the chain never saw.
fn check_upgrade(parts: &mut request::Parts, policy: &RequestPolicy) -> Result<(), ProxyError> {
    if parts.version != Version::HTTP_11 || !parts.headers.contains_key(header::UPGRADE) {
        return Ok(());
    }
    let values: Vec<&HeaderValue> = parts.headers.get_all(header::UPGRADE).iter().collect();
    let protocol = match values.as_slice() {
        [one] => String::from_utf8_lossy(one.as_bytes())
            .trim()
            .to_ascii_lowercase(),
        _ => return Err(refused(&parts.headers)),
    };
    if protocol == "h2c" {
        parts.headers.remove(header::UPGRADE);
        parts.headers.remove(&HTTP2_SETTINGS);
        return Ok(());
    }
    if !crate::forward::connection_names_upgrade(&parts.headers) {
        // Without `Connection: upgrade` it is no upgrade: `Upgrade` is hop-by-hop and
        // removed before the request goes upstream.
        return Ok(());
    }
    if policy.upgrades.contains(&protocol) {
        Ok(())
    } else {
        Err(refused(&parts.headers))
    }
}

fn refused(headers: &HeaderMap) -> ProxyError {
    let upgrade = headers
        .get_all(header::UPGRADE)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect::<Vec<_>>()
        .join(", ");
    ProxyError::UpgradeRefused { upgrade }
}

#[cfg(test)]
mod tests;
