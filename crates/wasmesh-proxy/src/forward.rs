//! Turning a downstream request into an upstream one and the upstream response into a
//! downstream one: hop-by-hop headers, the request target form and the HTTP version.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{request, response, Uri, Version};

use crate::cluster::{ClusterProtocol, Endpoint};

/// Headers that describe one connection only (RFC 9110 §7.6.1) and never pass a proxy.
const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TRANSFER_ENCODING,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
];

/// The `Upgrade` value of an HTTP/1.1 upgrade request (for example `websocket`), if the
/// request is one.
pub fn upgrade_of_request<B>(req: &http::Request<B>) -> Option<HeaderValue> {
    upgrade_value(req.version(), req.headers())
}

fn upgrade_value(version: Version, headers: &HeaderMap) -> Option<HeaderValue> {
    if version != Version::HTTP_11 {
        return None;
    }
    let upgrade = headers.get(header::UPGRADE)?;
    let connection_says_upgrade = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    connection_says_upgrade.then(|| upgrade.clone())
}

/// Removes hop-by-hop headers, including those that `Connection` names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none: one pass over the names (standard names compare cheaply)
    // spares a hash lookup per hop-by-hop name.
    if !headers.keys().any(|k| HOP_BY_HOP.contains(k)) {
        return;
    }
    if headers.contains_key(header::CONNECTION) {
        let named: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    for name in &HOP_BY_HOP {
        // `te: trailers` is the one TE value that may pass (gRPC relies on it).
        if name == header::TE && headers.get(header::TE).is_some_and(|v| v == "trailers") {
            continue;
        }
        headers.remove(name);
    }
}

/// Rewrites request parts for the upstream protocol.
pub fn to_upstream(
    parts: &mut request::Parts,
    protocol: ClusterProtocol,
    endpoint: &Endpoint,
    upgrade: Option<&HeaderValue>,
) {
    strip_hop_by_hop(&mut parts.headers);
    let path = parts
        .uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    match protocol {
        ClusterProtocol::Http1 => {
            parts.version = Version::HTTP_11;
            if !parts.headers.contains_key(header::HOST) {
                let host = parts
                    .uri
                    .authority()
                    .map(|a| a.as_str())
                    .unwrap_or(endpoint.authority.as_str());
                if let Ok(v) = HeaderValue::from_str(host) {
                    parts.headers.insert(header::HOST, v);
                }
            }
            parts.uri = Uri::from(path);
            if let Some(upgrade) = upgrade {
                parts
                    .headers
                    .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
                parts.headers.insert(header::UPGRADE, upgrade.clone());
            }
        }
        ClusterProtocol::Http2 => {
            parts.version = Version::HTTP_2;
            let authority = parts
                .uri
                .authority()
                .cloned()
                .or_else(|| {
                    parts
                        .headers
                        .get(header::HOST)
                        .and_then(|h| Authority::try_from(h.as_bytes()).ok())
                })
                .or_else(|| Authority::try_from(endpoint.authority.as_str()).ok())
                .unwrap_or_else(|| Authority::from_static("localhost"));
            parts.headers.remove(header::HOST);
            let mut uri = Uri::builder()
                .scheme(Scheme::HTTP)
                .authority(authority)
                .path_and_query(path);
            if let Some(scheme) = parts.uri.scheme() {
                uri = uri.scheme(scheme.clone());
            }
            if let Ok(uri) = uri.build() {
                parts.uri = uri;
            }
        }
    }
}

/// Rewrites upstream response parts for the downstream connection.
pub fn to_downstream(parts: &mut response::Parts) {
    if parts.status == http::StatusCode::SWITCHING_PROTOCOLS {
        return;
    }
    strip_hop_by_hop(&mut parts.headers);
}

#[cfg(test)]
mod tests;
