//! Trailers as plugins see them and back, and a plugin's local reply as a response. The
//! headers themselves are not converted: plugins act on the request's own head
//! (`chain::head`).

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::StatusCode;
use wasmesh_wasm::{HeaderMap as WasmHeaders, LocalReply};

use crate::body::ProxyBody;

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

/// The response for a plugin's `proxy_send_local_response` (or a failed FAIL_CLOSE plugin):
/// with a body, `content-type: text/plain` unless the plugin gave one, as Envoy's local
/// replies; marked as a local reply, so that a gRPC request gets it as gRPC
/// (`crate::local_reply`).
pub fn local_reply(reply: LocalReply) -> http::Response<ProxyBody> {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let has_body = !reply.body.is_empty();
    let mut resp = http::Response::new(ProxyBody::full(reply.body));
    *resp.status_mut() = status;
    for (k, v) in reply.headers.into_pairs() {
        append(resp.headers_mut(), &k, v);
    }
    if has_body && !resp.headers().contains_key(CONTENT_TYPE) {
        resp.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    }
    let grpc_status = u32::try_from(reply.grpc_status).ok();
    crate::local_reply::mark(&mut resp, grpc_status);
    // The details the plugin gave (empty when it gave none, as on Envoy).
    resp.extensions_mut().insert(crate::local_reply::Origin {
        details: reply.details.into(),
        flags: 0,
    });
    resp
}

#[cfg(test)]
mod tests;
