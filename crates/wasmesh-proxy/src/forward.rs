//! Turning a downstream request into an upstream one and the upstream response into a
//! downstream one: hop-by-hop headers, the request target form and the HTTP version.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{request, response, Uri, Version};

use crate::cluster::{ClusterProtocol, Endpoint};

/// How many names [`HOP_BY_HOP`] holds.
const HOP_BY_HOP_COUNT: usize = 7;

/// Headers that describe one connection only (RFC 9110 §7.6.1) and never pass a proxy.
static HOP_BY_HOP: [HeaderName; HOP_BY_HOP_COUNT] = [
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
    connection_names_upgrade(headers).then(|| upgrade.clone())
}

/// Whether a `Connection` header lists `upgrade`.
pub fn connection_names_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
}

/// Whether any hop-by-hop header is present (those `Connection` names come with it).
pub fn has_hop_by_hop(headers: &HeaderMap) -> bool {
    headers.keys().any(|k| HOP_BY_HOP.iter().any(|h| h == k))
}

/// Removes hop-by-hop headers, including those that `Connection` names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // One pass over the names (standard names compare cheaply) finds which are present;
    // only those are removed, so a message pays one hash lookup per hop-by-hop header it
    // carries (typically `connection: keep-alive` from an upstream), not one per name.
    let mut present = [false; HOP_BY_HOP_COUNT];
    let mut any = false;
    for k in headers.keys() {
        if let Some(i) = HOP_BY_HOP.iter().position(|h| h == k) {
            present[i] = true;
            any = true;
        }
    }
    if !any {
        return;
    }
    if let header::Entry::Occupied(connection) = headers.entry(header::CONNECTION) {
        // Further names `Connection` lists; the fixed ones are removed below. Nothing is
        // allocated unless it lists a name beyond them.
        let (_, values) = connection.remove_entry_mult();
        let mut named = Vec::new();
        for value in values {
            let Ok(text) = value.to_str() else { continue };
            for token in text.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") || token.eq_ignore_ascii_case("keep-alive") {
                    continue;
                }
                if let Ok(name) = HeaderName::from_bytes(token.as_bytes()) {
                    // A `te` that `Connection` names goes, even `te: trailers` (RFC 9110
                    // §7.6.1: every field it names is removed).
                    if !HOP_BY_HOP.contains(&name) || name == header::TE {
                        named.push(name);
                    }
                }
            }
        }
        for name in named {
            headers.remove(name);
        }
    }
    // HOP_BY_HOP[0] is `Connection`, handled above.
    for (i, name) in HOP_BY_HOP.iter().enumerate().skip(1) {
        if !present[i] {
            continue;
        }
        // `te: trailers` is the one TE value that may pass (gRPC relies on it).
        if name == header::TE && headers.get_all(header::TE).iter().all(|v| v == "trailers") {
            continue;
        }
        headers.remove(name);
    }
}

/// `x-forwarded-proto`: the scheme the client used to reach us, set before any filter as
/// Envoy's connection manager does, unless the request carries one already (a proxy in
/// front of us said what the client used).
pub fn set_forwarded_proto(headers: &mut HeaderMap, tls: bool) {
    if !headers.contains_key(&X_FORWARDED_PROTO) {
        let scheme = if tls { "https" } else { "http" };
        headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static(scheme));
    }
}

static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

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

/// Says how an HTTP/1.1 request body of unknown length is framed. hyper's client chunks such
/// a body on its own for most methods, but sends a `GET`, `HEAD` or `CONNECT` without it
/// unless told: a body must never be silently dropped.
pub fn frame_body(parts: &mut request::Parts, body: &impl http_body::Body) {
    if parts.version != Version::HTTP_11 || body.is_end_stream() || body.size_hint().exact().is_some() {
        return;
    }
    if !parts.headers.contains_key(header::CONTENT_LENGTH) {
        parts
            .headers
            .insert(header::TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
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
