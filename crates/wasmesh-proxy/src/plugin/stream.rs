//! One request's plugin contexts: the header callbacks, and the body pumps that pass each
//! chunk through the plugins (request: in chain order, response: in reverse) with Envoy's
//! StopIterationAndBuffer semantics and a per-request buffer limit.

use bytes::{Bytes, BytesMut};
use http::{request, response, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use std::sync::Arc;
use tokio::sync::mpsc;
use wasmesh_wasm::{FailAction, Failure, HttpContext, PluginVm, StreamInfo, Verdict};

use super::headers;
use crate::body::{BodyError, ProxyBody};
use crate::chain::head::SharedHead;
use crate::chain::{ConnInfo, Exchange};
use crate::error::ProxyError;

/// Envoy's default per-stream buffer limit (1 MiB): a plugin that buffers more gets the
/// request refused with 413, or the response replaced with 500.
pub const BUFFER_LIMIT: usize = 1024 * 1024;

/// Frames of a body that passed the plugins.
pub type FrameSender = mpsc::Sender<Result<Frame<Bytes>, BodyError>>;

/// What a callback decided for the stream.
#[allow(clippy::large_enum_variant)] // lives on one request's stack; boxing costs more
pub enum Outcome {
    Continue,
    /// Answer with this response.
    Reply(Response<ProxyBody>),
    /// Reset the stream (`proxy_close_stream`).
    Close(String),
}

/// The plugin contexts of one request, by filter index (`None`: not a plugin, skipped, or
/// not reached).
pub type Contexts = Vec<Option<HttpContext>>;

fn on_failure(failure: Failure) -> Outcome {
    match failure.action() {
        FailAction::Reject(reply) => Outcome::Reply(headers::local_reply(reply)),
        FailAction::Skip => Outcome::Continue,
    }
}

/// Envoy's `request.protocol` values.
fn protocol_name(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2",
        http::Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

/// What a request's plugins read of it beside its headers, made once for all of them when
/// the chain starts: Envoy too takes `request.id` from the stream, not from the header as a
/// plugin may have changed it since.
pub fn stream_info(
    conn: &ConnInfo,
    request: &request::Parts,
    properties: Arc<[(String, Bytes)]>,
) -> Arc<StreamInfo> {
    Arc::new(StreamInfo {
        source: Some(conn.peer),
        destination: Some(conn.local),
        protocol: Some(protocol_name(request.version).into()),
        // visible ASCII and tabs only (`to_str`), else none
        request_id: request
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        start: Some(std::time::SystemTime::now()),
        connection_id: Some(conn.id),
        tls: conn.tls.clone(),
        extra: properties,
    })
}

/// Creates the plugin's context and runs `on_request_headers` on the request's head,
/// which every filter of the request shares. The context is in `slot` while it runs, so
/// that a reply made in its place (a pause that timed out) still passes its response
/// callbacks.
pub async fn request_headers(
    vm: &PluginVm,
    ex: &mut Exchange<'_>,
    end_of_stream: bool,
    slot: &mut Option<HttpContext>,
) -> Outcome {
    let info = ex
        .plugin_info
        .get_or_insert_with(|| stream_info(ex.conn, &ex.head.request(), Arc::default()))
        .clone();
    let ctx = match vm.http_context_on(info, ex.head.for_plugins()) {
        Ok(ctx) => ctx,
        Err(failure) => return on_failure(failure),
    };
    if let Some(auth) = &ex.auth {
        let (principal, claims) = auth.for_plugins();
        ctx.set_property("request.auth.principal", principal.clone());
        ctx.set_property("request.auth.claims", claims.clone());
    }
    let ctx = slot.insert(ctx);
    match ctx.on_request_headers(end_of_stream).await {
        Verdict::Continue | Verdict::Buffer => Outcome::Continue,
        Verdict::LocalReply(reply) => Outcome::Reply(headers::local_reply(reply)),
        Verdict::Close => {
            *slot = None;
            Outcome::Close(vm.plugin().plugin_name().to_string())
        }
        Verdict::Failed(f) => {
            *slot = None;
            on_failure(f)
        }
    }
}

/// Runs `on_response_headers` of the contexts before `end`, in reverse order, on the
/// response's head (`parts`), which they share through the request's `head`. A local reply
/// made on the way replaces the response, and the filters before the one that made it see
/// the reply instead.
pub async fn response_headers(
    contexts: &mut Contexts,
    end: usize,
    head: &SharedHead,
    parts: &mut response::Parts,
    body: &mut ProxyBody,
) -> Result<(), String> {
    let mut out = Ok(());
    head.borrow_mut().response = Some(std::mem::replace(parts, empty_response()));
    for i in (0..end.min(contexts.len())).rev() {
        let Some(ctx) = contexts[i].as_mut() else { continue };
        let reply = match ctx.on_response_headers(body.is_end_stream()).await {
            Verdict::Continue | Verdict::Buffer => None,
            Verdict::LocalReply(reply) => Some(headers::local_reply(reply)),
            Verdict::Close => {
                out = Err(format!("plugin closed the stream at filter {i}"));
                break;
            }
            Verdict::Failed(f) => match on_failure(f) {
                Outcome::Reply(r) => Some(r),
                _ => {
                    contexts[i] = None;
                    None
                }
            },
        };
        if let Some(reply) = reply {
            let grpc = crate::local_reply::is_grpc(&head.request().headers);
            let origin = reply.extensions().get::<crate::local_reply::Origin>().cloned();
            let (p, b) = crate::local_reply::encode(reply, grpc).into_parts();
            let mut h = head.borrow_mut();
            h.response = Some(p);
            if let Some(origin) = origin {
                h.progress.code_details = Some(origin.details);
                h.progress.response_flags |= origin.flags;
            }
            drop(h);
            *body = b;
        }
    }
    *parts = head.borrow_mut().response.take().unwrap_or_else(empty_response);
    out
}

fn empty_response() -> response::Parts {
    Response::new(()).into_parts().0
}

/// Passes the request body through the contexts before `end`, in order, and sends what
/// they let through on `tx`. Returns a response when a plugin answered (or overflowed its
/// buffer) instead.
pub async fn pump_request(
    mut body: ProxyBody,
    contexts: &mut Contexts,
    end: usize,
    tx: FrameSender,
    declared: Option<u64>,
    head: &SharedHead,
) -> Option<Response<ProxyBody>> {
    let mut sent = Length { declared, sent: 0 };
    let mut pending: Vec<BytesMut> = (0..end).map(|_| BytesMut::new()).collect();
    let order: Vec<usize> = (0..end).collect();
    loop {
        let frame = match body.frame().await {
            None => None,
            Some(Ok(f)) => Some(f),
            Some(Err(e)) => {
                let _ = tx.send(Err(e)).await;
                return None;
            }
        };
        let (data, eos, trailers) = match frame {
            None => (Bytes::new(), true, None),
            Some(f) => match f.into_data() {
                Ok(d) => (d, false, None),
                Err(f) => (Bytes::new(), false, f.into_trailers().ok()),
            },
        };
        // Envoy's bytes received: the client's, before any plugin changed them.
        head.borrow_mut().progress.request_body_bytes += data.len() as u64;
        if trailers.is_none() {
            let ran = if eos {
                run_last_chunk(contexts, &order, &mut pending, data, true, true)
                    .await
                    .map(Some)
            } else {
                run_body(contexts, 0..end, &mut pending, data, false, true).await
            };
            match ran {
                Ok(Some(out)) if !out.is_empty() => {
                    if !sent.add(out.len(), false, &tx).await || tx.send(Ok(Frame::data(out))).await.is_err()
                    {
                        return None;
                    }
                }
                Ok(_) => {}
                Err(resp) => return Some(refuse_body(tx, resp)),
            }
        }
        if let Some(t) = trailers {
            // The body is over: what a plugin held back goes on through the filters after
            // it, in order, before the trailers (none of them may be skipped).
            if let Some(first) = order.iter().position(|&i| !pending[i].is_empty()) {
                match run_last_chunk(contexts, &order[first..], &mut pending, Bytes::new(), false, true).await
                {
                    Ok(out) if !out.is_empty() => {
                        if !sent.add(out.len(), false, &tx).await {
                            return None;
                        }
                        let _ = tx.send(Ok(Frame::data(out))).await;
                    }
                    Ok(_) => {}
                    Err(resp) => return Some(refuse_body(tx, resp)),
                }
            }
            let mut map = headers::trailers_to_wasm(&t);
            for ctx in contexts.iter_mut().take(end).flatten() {
                match ctx.on_request_trailers(&mut map).await {
                    Verdict::LocalReply(r) => return Some(refuse_body(tx, headers::local_reply(r))),
                    Verdict::Failed(f) => {
                        if let Outcome::Reply(r) = on_failure(f) {
                            return Some(refuse_body(tx, r));
                        }
                    }
                    _ => {}
                }
            }
            if sent.add(0, true, &tx).await {
                let _ = tx.send(Ok(Frame::trailers(headers::wasm_to_trailers(map)))).await;
            }
            return None;
        }
        if eos {
            sent.add(0, true, &tx).await;
            return None;
        }
    }
}

/// The bytes of a streamed request body sent upstream, against the `Content-Length` that
/// went ahead of them. A plugin that changes a streamed body's length must remove
/// `content-length` in `on_request_headers` (docs/filter-chain.md, "Bodies"); one that does
/// not breaks the framing, and the upstream request is reset with a log line that says so,
/// rather than sent with a wrong length.
struct Length {
    declared: Option<u64>,
    sent: u64,
}

impl Length {
    /// Counts `n` more bytes (`end`: the body is over). False when the length no longer
    /// holds: the upstream body has been ended with an error.
    async fn add(&mut self, n: usize, end: bool, tx: &FrameSender) -> bool {
        self.sent += n as u64;
        let Some(declared) = self.declared else {
            return true;
        };
        if self.sent > declared || (end && self.sent != declared) {
            tracing::warn!(
                content_length = declared,
                sent = self.sent,
                "a plugin changed the length of a streamed request body whose content-length was already sent; \
                 a plugin that changes a body removes content-length in on_request_headers; resetting the upstream request"
            );
            let _ = tx
                .send(Err(
                    "a plugin changed the body's length after its content-length was sent".into(),
                ))
                .await;
            return false;
        }
        true
    }
}

/// A plugin answered in place of the request body: the body the upstream is reading ends
/// in an error, never cleanly, so a request cut short is reset rather than taken as whole
/// (the error reaches it after any frames already queued).
fn refuse_body(tx: FrameSender, reply: Response<ProxyBody>) -> Response<ProxyBody> {
    tokio::task::spawn_local(async move {
        let _ = tx
            .send(Err("the request body was refused by a plugin".into()))
            .await;
    });
    reply
}

/// Runs one chunk through the contexts in `order`. `Ok(Some(data))`: forward it;
/// `Ok(None)`: a plugin is buffering; `Err(response)`: answer with that instead.
async fn run_body(
    contexts: &mut Contexts,
    order: impl Iterator<Item = usize>,
    pending: &mut [BytesMut],
    chunk: Bytes,
    eos: bool,
    request: bool,
) -> Result<Option<Bytes>, Response<ProxyBody>> {
    let mut data = chunk;
    for i in order {
        let Some(ctx) = contexts[i].as_mut() else { continue };
        if !pending[i].is_empty() {
            pending[i].extend_from_slice(&data);
            data = pending[i].split().freeze();
        }
        let verdict = if request {
            ctx.on_request_body(&mut data, eos).await
        } else {
            ctx.on_response_body(&mut data, eos).await
        };
        match verdict {
            Verdict::Continue => {}
            Verdict::Buffer => {
                if data.len() > BUFFER_LIMIT {
                    let err = if request {
                        ProxyError::RequestTooLarge { limit: BUFFER_LIMIT }
                    } else {
                        ProxyError::ResponseTooLarge { limit: BUFFER_LIMIT }
                    };
                    return Err(err.into_response());
                }
                pending[i].extend_from_slice(&data);
                return Ok(None);
            }
            Verdict::LocalReply(r) => return Err(headers::local_reply(r)),
            Verdict::Close => {
                let mut r = crate::error::local_reply(StatusCode::BAD_GATEWAY, "stream closed by a plugin\n");
                r.extensions_mut().insert(Closed);
                return Err(r);
            }
            Verdict::Failed(f) => match on_failure(f) {
                Outcome::Reply(r) => return Err(r),
                _ => contexts[i] = None,
            },
        }
    }
    Ok(Some(data))
}

/// Runs the last chunk of a body (`eos`, or the one before trailers) through `filters`, in
/// that order. A filter that buffers it anyway holds the whole rest of the body: nothing more
/// will come, so what it holds goes on to the filters after it rather than being dropped or
/// sent past them.
async fn run_last_chunk(
    contexts: &mut Contexts,
    filters: &[usize],
    pending: &mut [BytesMut],
    chunk: Bytes,
    eos: bool,
    request: bool,
) -> Result<Bytes, Response<ProxyBody>> {
    let mut rest = filters;
    let mut data = chunk;
    loop {
        match run_body(contexts, rest.iter().copied(), pending, data, eos, request).await? {
            Some(out) => return Ok(out),
            None => {
                // Every filter before the one that buffered has passed its pending data on.
                let Some(k) = rest.iter().position(|&i| !pending[i].is_empty()) else {
                    return Ok(Bytes::new());
                };
                data = pending[rest[k]].split().freeze();
                rest = &rest[k + 1..];
            }
        }
    }
}

/// Marks a response that stands for a plugin's `proxy_close_stream`.
#[derive(Clone, Copy, Debug)]
pub struct Closed;

/// Response bodies up to this size (by `content-length`) are read whole and passed to the
/// plugins in one `end_of_stream` chunk, with no task and no channel per request.
pub const SMALL_BODY: u64 = 64 * 1024;

/// Reads a small request body whole (it has a length of at most [`SMALL_BODY`]) and passes
/// it through the contexts before `end`, in order, in one `end_of_stream` chunk: the body
/// goes upstream with an exact length, which stays the client's unless a plugin changed
/// it. `Err` is the response to send instead (a plugin answered, or the body could not be
/// read).
pub async fn filter_small_request(
    contexts: &mut Contexts,
    end: usize,
    body: ProxyBody,
    head: &SharedHead,
) -> Result<ProxyBody, Response<ProxyBody>> {
    let collected = match body.collect().await {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(error = %e, "reading the request body");
            let reply =
                crate::error::local_reply(StatusCode::BAD_REQUEST, "the request body could not be read\n");
            return Err(reply);
        }
    };
    let trailers = collected.trailers().cloned();
    let data = collected.to_bytes();
    head.borrow_mut().progress.request_body_bytes += data.len() as u64;
    let mut pending: Vec<BytesMut> = (0..end).map(|_| BytesMut::new()).collect();
    let order: Vec<usize> = (0..end).collect();
    let data = run_last_chunk(contexts, &order, &mut pending, data, trailers.is_none(), true).await?;
    let trailers = match trailers {
        Some(t) => {
            let mut map = headers::trailers_to_wasm(&t);
            for ctx in contexts.iter_mut().take(end).flatten() {
                match ctx.on_request_trailers(&mut map).await {
                    Verdict::LocalReply(r) => return Err(headers::local_reply(r)),
                    Verdict::Failed(f) => {
                        if let Outcome::Reply(r) = on_failure(f) {
                            return Err(r);
                        }
                    }
                    _ => {}
                }
            }
            Some(headers::wasm_to_trailers(map))
        }
        None => None,
    };
    Ok(ProxyBody::Full {
        data: (!data.is_empty()).then_some(data),
        trailers,
    })
}

/// Reads a small response body whole and passes it through the contexts before `end`, in
/// reverse order. `Err` when the body could not be read or a plugin refused it.
pub async fn filter_small_response(
    contexts: &mut Contexts,
    end: usize,
    body: ProxyBody,
    head: &SharedHead,
) -> Result<ProxyBody, String> {
    let collected = body
        .collect()
        .await
        .map_err(|e| format!("reading the upstream response: {e}"))?;
    upstream_ended(head);
    let trailers = collected.trailers().cloned();
    let data = collected.to_bytes();
    let mut pending: Vec<BytesMut> = (0..end).map(|_| BytesMut::new()).collect();
    let order: Vec<usize> = (0..end).rev().collect();
    let data = match run_last_chunk(contexts, &order, &mut pending, data, trailers.is_none(), false).await {
        Ok(data) => data,
        Err(_) => return Err("a plugin refused the response body".into()),
    };
    sent_downstream(head, data.len());
    let trailers = match trailers {
        Some(t) => Some(response_trailers(contexts, end, &t).await),
        None => None,
    };
    Ok(ProxyBody::Full {
        data: (!data.is_empty()).then_some(data),
        trailers,
    })
}

/// Passes response trailers through the contexts before `end`, in reverse order; what the
/// plugins answer to them is not acted on.
async fn response_trailers(
    contexts: &mut Contexts,
    end: usize,
    trailers: &http::HeaderMap,
) -> http::HeaderMap {
    let mut map = headers::trailers_to_wasm(trailers);
    for ctx in contexts.iter_mut().take(end).rev().flatten() {
        let _ = ctx.on_response_trailers(&mut map).await;
    }
    headers::wasm_to_trailers(map)
}

/// The upstream's response has ended (`response.backend_latency`).
fn upstream_ended(head: &SharedHead) {
    if let Some(try_) = head.borrow_mut().progress.upstream.as_mut() {
        try_.end();
    }
}

/// `n` more response body bytes went to the client (Envoy's bytes sent: after every
/// filter).
fn sent_downstream(head: &SharedHead, n: usize) {
    head.borrow_mut().progress.response_body_bytes += n as u64;
}

/// Passes the response body through the contexts before `end`, in reverse order, on a
/// task of its own; the contexts end (`on_log`) when the body does.
pub fn pump_response(mut contexts: Contexts, end: usize, mut body: ProxyBody, head: SharedHead) -> ProxyBody {
    let (tx, rx) = mpsc::channel(4);
    tokio::task::spawn_local(async move {
        let mut pending: Vec<BytesMut> = (0..end).map(|_| BytesMut::new()).collect();
        let order: Vec<usize> = (0..end).rev().collect();
        loop {
            let frame = match body.frame().await {
                None => None,
                Some(Ok(f)) => Some(f),
                Some(Err(e)) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            if frame.as_ref().is_none_or(|f| f.is_trailers()) || body.is_end_stream() {
                upstream_ended(&head);
            }
            let (data, eos, trailers) = match frame {
                None => (Bytes::new(), true, None),
                Some(f) => match f.into_data() {
                    Ok(d) => (d, false, None),
                    Err(f) => (Bytes::new(), false, f.into_trailers().ok()),
                },
            };
            if let Some(t) = trailers {
                if let Some(first) = order.iter().position(|&i| !pending[i].is_empty()) {
                    match run_last_chunk(
                        &mut contexts,
                        &order[first..],
                        &mut pending,
                        Bytes::new(),
                        false,
                        false,
                    )
                    .await
                    {
                        Ok(out) if !out.is_empty() => {
                            sent_downstream(&head, out.len());
                            let _ = tx.send(Ok(Frame::data(out))).await;
                        }
                        Ok(_) => {}
                        Err(_) => {
                            let _ = tx.send(Err("response body refused by a plugin".into())).await;
                            return;
                        }
                    }
                }
                let trailers = response_trailers(&mut contexts, end, &t).await;
                let _ = tx.send(Ok(Frame::trailers(trailers))).await;
                return;
            }
            let ran = if eos {
                run_last_chunk(&mut contexts, &order, &mut pending, data, true, false)
                    .await
                    .map(Some)
            } else {
                run_body(&mut contexts, (0..end).rev(), &mut pending, data, false, false).await
            };
            match ran {
                Ok(Some(out)) if !out.is_empty() => {
                    sent_downstream(&head, out.len());
                    if tx.send(Ok(Frame::data(out))).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => {
                    // The headers are gone already: the only honest signal left is a reset.
                    tracing::warn!("a plugin refused the response body after its headers were sent; resetting the stream");
                    let _ = tx.send(Err("response body refused by a plugin".into())).await;
                    return;
                }
            }
            if eos {
                return;
            }
        }
    });
    ProxyBody::Channel(rx)
}
