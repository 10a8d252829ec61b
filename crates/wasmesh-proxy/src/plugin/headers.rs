//! Header maps as plugins see them (Envoy's view: HTTP/2-style pseudo-headers first, then
//! the lower-case headers) and back.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, HOST};
use http::{request, response, StatusCode, Uri};
use wasmesh_wasm::{HeaderMap as WasmHeaders, LocalReply};

use crate::body::ProxyBody;

/// The request's headers with `:method`, `:path`, `:authority` and `:scheme` first. The
/// `Host` header becomes `:authority`, as Envoy presents HTTP/1.1 requests.
pub fn request_to_wasm(parts: &request::Parts, tls: bool) -> WasmHeaders {
    let mut map = WasmHeaders::new();
    map.add(
        ":method",
        Bytes::copy_from_slice(parts.method.as_str().as_bytes()),
    );
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    map.add(":path", Bytes::copy_from_slice(path.as_bytes()));
    let authority = parts
        .uri
        .authority()
        .map(|a| a.as_str().as_bytes())
        .or_else(|| parts.headers.get(HOST).map(|h| h.as_bytes()))
        .unwrap_or_default();
    map.add(":authority", Bytes::copy_from_slice(authority));
    map.add(":scheme", if tls { "https" } else { "http" });
    for (k, v) in &parts.headers {
        if k != HOST {
            map.add(k.as_str(), Bytes::copy_from_slice(v.as_bytes()));
        }
    }
    map
}

/// Writes a plugin's view of the request back: pseudo-headers into method, path and
/// `Host`; every other pair into the header map, in order.
pub fn wasm_to_request(map: WasmHeaders, parts: &mut request::Parts) {
    let mut headers = http::HeaderMap::with_capacity(map.len());
    for (k, v) in map.into_pairs() {
        match &k[..] {
            b":method" => {
                if let Ok(m) = http::Method::from_bytes(&v) {
                    parts.method = m;
                }
            }
            b":path" => {
                if let Ok(uri) = Uri::from_maybe_shared(v) {
                    parts.uri = uri;
                }
            }
            b":authority" => {
                if let Ok(h) = HeaderValue::from_maybe_shared(v) {
                    headers.insert(HOST, h);
                }
            }
            b":scheme" => {}
            _ => append(&mut headers, &k, v),
        }
    }
    parts.headers = headers;
}

/// Writes a plugin's view of the request back, given the view it was handed: when the
/// plugin only appended headers (the common case), they are appended and nothing else is
/// rebuilt.
pub fn apply_to_request(map: WasmHeaders, before: &WasmHeaders, parts: &mut request::Parts) {
    match appended(&map, before) {
        Some(added) => append_all(&mut parts.headers, added),
        None => wasm_to_request(map, parts),
    }
}

/// Writes a plugin's view of the response back; see [`apply_to_request`].
pub fn apply_to_response(map: WasmHeaders, before: &WasmHeaders, parts: &mut response::Parts) {
    match appended(&map, before) {
        Some(added) => append_all(&mut parts.headers, added),
        None => wasm_to_response(map, parts),
    }
}

fn append_all(headers: &mut http::HeaderMap, pairs: &[(Bytes, Bytes)]) {
    for (k, v) in pairs {
        append(headers, k, v.clone());
    }
}

/// The pairs `after` adds at the end of `before`, if that is all that changed (and none
/// of them is a pseudo-header).
fn appended<'a>(after: &'a WasmHeaders, before: &WasmHeaders) -> Option<&'a [(Bytes, Bytes)]> {
    let (a, b) = (after.pairs(), before.pairs());
    if a.len() < b.len() || a[..b.len()] != *b {
        return None;
    }
    let added = &a[b.len()..];
    (!added.iter().any(|(k, _)| k.starts_with(b":"))).then_some(added)
}

/// The response's headers with `:status` first.
pub fn response_to_wasm(parts: &response::Parts) -> WasmHeaders {
    let mut map = WasmHeaders::new();
    map.add(":status", Bytes::from(parts.status.as_str().to_owned()));
    for (k, v) in &parts.headers {
        map.add(k.as_str(), Bytes::copy_from_slice(v.as_bytes()));
    }
    map
}

/// Writes a plugin's view of the response back.
pub fn wasm_to_response(map: WasmHeaders, parts: &mut response::Parts) {
    let mut headers = http::HeaderMap::with_capacity(map.len());
    for (k, v) in map.into_pairs() {
        if &k[..] == b":status" {
            if let Some(s) = std::str::from_utf8(&v).ok().and_then(|s| s.parse::<u16>().ok()) {
                if let Ok(s) = StatusCode::from_u16(s) {
                    parts.status = s;
                }
            }
        } else if !k.starts_with(b":") {
            append(&mut headers, &k, v);
        }
    }
    parts.headers = headers;
}

/// Trailers (no pseudo-headers) to the plugins' form.
pub fn trailers_to_wasm(trailers: &http::HeaderMap) -> WasmHeaders {
    trailers
        .iter()
        .map(|(k, v)| (k.as_str().as_bytes(), v.as_bytes()))
        .collect()
}

/// Trailers back from the plugins' form.
pub fn wasm_to_trailers(map: WasmHeaders) -> http::HeaderMap {
    let mut headers = http::HeaderMap::with_capacity(map.len());
    for (k, v) in map.into_pairs() {
        append(&mut headers, &k, v);
    }
    headers
}

fn append(headers: &mut http::HeaderMap, k: &[u8], v: Bytes) {
    // A plugin may write anything; pairs that are not valid HTTP are dropped, not sent.
    match (HeaderName::from_bytes(k), HeaderValue::from_maybe_shared(v)) {
        (Ok(name), Ok(value)) => {
            headers.append(name, value);
        }
        _ => tracing::debug!(name = %String::from_utf8_lossy(k), "plugin set an invalid header; dropped"),
    }
}

/// The response for a plugin's `proxy_send_local_response` (or a failed FAIL_CLOSE plugin).
pub fn local_reply(reply: LocalReply) -> http::Response<ProxyBody> {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = http::Response::new(ProxyBody::full(reply.body));
    *resp.status_mut() = status;
    for (k, v) in reply.headers.into_pairs() {
        append(resp.headers_mut(), &k, v);
    }
    resp
}

#[cfg(test)]
mod tests;
