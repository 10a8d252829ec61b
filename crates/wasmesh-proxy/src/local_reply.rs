//! Local replies (a plugin's `proxy_send_local_response`, a FAIL_CLOSE plugin's 503, a
//! pause that outlived the route's timeout) as Envoy encodes them (docs/filter-chain.md,
//! "Local replies"): plain text unless the plugin said otherwise, and for a gRPC request a
//! trailers-only gRPC response — `:status 200`, `content-type: application/grpc`,
//! `grpc-status` and `grpc-message` in the headers, no body.

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};

use crate::body::ProxyBody;

/// Marks a response as a local reply, with the gRPC status a plugin gave (if any).
#[derive(Clone, Copy, Debug)]
pub struct LocalReplyMark {
    pub grpc_status: Option<u32>,
}

/// How a response the proxy (or a plugin) made came to be: Envoy's response code details
/// and flags, carried on the response until the request's progress records them
/// (`response.code_details`, `response.flags`). A response without it came from the
/// upstream (`via_upstream`).
#[derive(Clone, Debug)]
pub struct Origin {
    pub details: std::borrow::Cow<'static, str>,
    pub flags: u64,
}

/// Marks `resp` as a local reply.
pub fn mark(resp: &mut Response<ProxyBody>, grpc_status: Option<u32>) {
    resp.extensions_mut().insert(LocalReplyMark { grpc_status });
}

/// A local reply to a gRPC request (by its `content-type`) becomes a trailers-only gRPC
/// response; the status is the plugin's `grpc_status`, or else Envoy's mapping of the HTTP
/// status. Other responses pass unchanged.
pub fn encode(resp: Response<ProxyBody>, grpc: bool) -> Response<ProxyBody> {
    let Some(mark) = resp.extensions().get::<LocalReplyMark>().copied() else {
        return resp;
    };
    if !grpc {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let message = match body {
        ProxyBody::Full { data, .. } => data.unwrap_or_default(),
        _ => Bytes::new(),
    };
    let status = mark.grpc_status.unwrap_or_else(|| grpc_status_of(parts.status));
    parts.status = StatusCode::OK;
    let h = &mut parts.headers;
    h.remove(CONTENT_LENGTH);
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    h.insert("grpc-status", status.into());
    if !message.is_empty() {
        if let Ok(v) = HeaderValue::from_maybe_shared(percent_encode(&message)) {
            h.insert("grpc-message", v);
        }
    }
    Response::from_parts(parts, ProxyBody::Empty)
}

/// Whether a request is gRPC, by its `content-type` (`application/grpc`, `+proto`, …).
pub fn is_grpc(headers: &http::HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

/// Envoy's `Grpc::Utility::httpToGrpcStatus`, which follows gRPC's
/// "HTTP to gRPC status code mapping".
pub fn grpc_status_of(status: StatusCode) -> u32 {
    match status.as_u16() {
        400 => 13,                   // INTERNAL
        401 => 16,                   // UNAUTHENTICATED
        403 => 7,                    // PERMISSION_DENIED
        404 => 12,                   // UNIMPLEMENTED
        429 | 502 | 503 | 504 => 14, // UNAVAILABLE
        _ => 2,                      // UNKNOWN
    }
}

/// gRPC's percent-encoding of `grpc-message`: bytes outside printable ASCII, and `%`.
fn percent_encode(message: &[u8]) -> Bytes {
    let message = message.strip_suffix(b"\n").unwrap_or(message);
    let mut out = Vec::with_capacity(message.len());
    for &b in message {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests;
