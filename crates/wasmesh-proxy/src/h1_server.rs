//! A lean HTTP/1.1 server path for the common request on a plain connection: a `GET`
//! without a body, upgrade or expectation. The connection's own task reads the head, runs
//! the request and writes the response — no dispatcher state machine, body channel or
//! service future per request. The first request that needs more (a body, an upgrade,
//! `HEAD`, `Expect`, HTTP/1.0, a malformed or oversized head, an h2c preface) hands the
//! connection, with the bytes read but not yet used, to hyper's server for the rest of its
//! life, so every other case behaves exactly as hyper serves it.

use bytes::{Buf, Bytes, BytesMut};
use http::header;
use http::{request, Method, Request, Response, StatusCode, Uri, Version};
use http_body::Body as _;
use std::cell::RefCell;
use std::io::Write as _;
use std::mem::MaybeUninit;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::h1::fields::{self, Span};
use crate::handler;
use crate::metered::Metered;
use crate::worker::{ConnCtx, MAX_HEADERS, MAX_HEADER_BYTES};

/// A head deadline is moved only when it would move by more than this (or by more than an
/// eighth of the listener's head timeout, when that is short): a keep-alive connection
/// then touches the timer wheel about once a second, not once a request.
const DEADLINE_SLACK: Duration = Duration::from_secs(1);
/// Room made in the read buffer before each read.
const READ_SIZE: usize = 8 * 1024;
/// Response bytes gathered before a write.
const WRITE_SIZE: usize = 64 * 1024;

/// What the head at the front of the buffer is.
// Made once per request and moved once: boxing the request would cost an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Parsed {
    Request(request::Parts),
    Partial,
    /// Needs hyper's server.
    Fallback,
}

/// Serves requests on `io` until the connection ends (`None`), or until one needs hyper's
/// server (`Some`, with the bytes read but not yet used).
pub async fn serve<I>(io: &mut I, conn: &Rc<ConnCtx>) -> Option<BytesMut>
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = BytesMut::with_capacity(READ_SIZE);
    let mut out = Vec::with_capacity(READ_SIZE);
    let mut shutdown = conn.worker.shutdown.clone();
    let mut stop = pin!(shutdown.wait_for(|s| *s));
    let mut stopping = false;
    // How long a client may take to send a request head, and how long an idle keep-alive
    // connection is kept: the listener's, as hyper's header-read timeout in the fallback.
    let head_timeout = conn.slot.current().config.timeouts.head_wait();
    let slack = DEADLINE_SLACK.min(head_timeout / 8);
    let mut timeout = pin!(tokio::time::sleep(head_timeout));
    loop {
        // The whole head must come within the timeout, counted from when waiting for it
        // began (a client trickling bytes does not extend it).
        let mut waiting = false;
        let parts = loop {
            match parse_request(&mut buf) {
                Parsed::Request(parts) => break parts,
                Parsed::Fallback => return Some(buf),
                Parsed::Partial => {}
            }
            if buf.len() >= MAX_HEADER_BYTES {
                // hyper answers it (431).
                return Some(buf);
            }
            if stopping && buf.is_empty() {
                return None;
            }
            if buf.capacity() - buf.len() < READ_SIZE / 4 {
                buf.reserve(READ_SIZE);
            }
            if !waiting {
                waiting = true;
                let deadline = tokio::time::Instant::now() + head_timeout;
                if timeout.deadline() + slack < deadline {
                    timeout.as_mut().reset(deadline);
                }
            }
            let read = tokio::select! {
                biased;
                r = io.read_buf(&mut buf) => r,
                _ = timeout.as_mut() => return None,
                _ = stop.as_mut(), if !stopping => {
                    stopping = true;
                    continue;
                }
            };
            match read {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        };
        let Ok(resp) = handler::handle_bodyless(parts, conn.clone()).await else {
            // A plugin closed the stream: the connection goes with it.
            return None;
        };
        stopping = stopping || *conn.worker.shutdown.borrow();
        // A TLS stream keeps records until flushed; a TCP stream's flush costs nothing.
        let written = match write_response(io, resp, &mut out, stopping).await {
            Ok(keep_alive) => io.flush().await.map(|()| keep_alive),
            Err(e) => Err(e),
        };
        match written {
            Ok(true) if !stopping => {}
            _ => return None,
        }
    }
}

/// Parses the request head at the front of `buf`, if it is one the lean path serves.
pub(crate) fn parse_request(buf: &mut BytesMut) -> Parsed {
    if buf.is_empty() {
        return Parsed::Partial;
    }
    let mut spans = [Span::default(); MAX_HEADERS];
    let (len, path, count) = {
        let mut slots = [const { MaybeUninit::uninit() }; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut []);
        let len = match httparse::ParserConfig::default()
            .parse_request_with_uninit_headers(&mut req, buf, &mut slots)
        {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Parsed::Partial,
            Err(_) => return Parsed::Fallback,
        };
        if req.version != Some(1) || req.method != Some("GET") {
            return Parsed::Fallback;
        }
        let Some(path) = req.path.filter(|p| p.starts_with('/')) else {
            return Parsed::Fallback;
        };
        for (span, h) in spans.iter_mut().zip(req.headers.iter()) {
            let name = h.name;
            let plain = if name.eq_ignore_ascii_case("connection") {
                fields::items(h.value).all(|t| t.eq_ignore_ascii_case(b"keep-alive"))
            } else {
                !(name.eq_ignore_ascii_case("content-length")
                    || name.eq_ignore_ascii_case("transfer-encoding")
                    || name.eq_ignore_ascii_case("upgrade")
                    || name.eq_ignore_ascii_case("expect")
                    || name.eq_ignore_ascii_case("te"))
            };
            if !plain {
                return Parsed::Fallback;
            }
            *span = Span::of(buf, h);
        }
        let (at, path_len) = fields::place(buf, path.as_bytes());
        (len, at as usize..(at + path_len) as usize, req.headers.len())
    };
    let head = buf.split_to(len).freeze();
    let Ok(uri) = Uri::from_maybe_shared(head.slice(path)) else {
        return restore(buf, head);
    };
    let Ok(headers) = fields::header_map(&head, &spans[..count]) else {
        return restore(buf, head);
    };
    let (mut parts, ()) = Request::new(()).into_parts();
    parts.method = Method::GET;
    parts.uri = uri;
    parts.version = Version::HTTP_11;
    parts.headers = headers;
    Parsed::Request(parts)
}

/// Puts a head taken off the buffer back in front of it, for hyper to read.
fn restore(buf: &mut BytesMut, head: Bytes) -> Parsed {
    let mut whole = BytesMut::with_capacity(head.len() + buf.len());
    whole.extend_from_slice(&head);
    whole.extend_from_slice(buf);
    *buf = whole;
    Parsed::Fallback
}

/// Writes a response; `Ok(false)` when the connection must close after it.
async fn write_response<I>(
    io: &mut I,
    resp: Response<Metered>,
    out: &mut Vec<u8>,
    closing: bool,
) -> std::io::Result<bool>
where
    I: AsyncWrite + Unpin,
{
    let (parts, mut body) = resp.into_parts();
    out.clear();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(parts.status.as_str().as_bytes());
    out.push(b' ');
    match parts.extensions.get::<hyper::ext::ReasonPhrase>() {
        Some(reason) => out.extend_from_slice(reason.as_bytes()),
        None => out.extend_from_slice(parts.status.canonical_reason().unwrap_or("").as_bytes()),
    }
    out.extend_from_slice(b"\r\n");
    let mut keep_alive = !closing;
    for (name, value) in &parts.headers {
        if name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING {
            continue;
        }
        if name == header::CONNECTION {
            let close = fields::items(value.as_bytes()).any(|t| t.eq_ignore_ascii_case(b"close"));
            keep_alive &= !close;
        }
        fields::push(out, name.as_str().as_bytes(), value.as_bytes());
    }
    if !parts.headers.contains_key(header::DATE) {
        DATE.with(|d| fields::push(out, b"date", d.borrow_mut().now().as_bytes()));
    }
    if closing {
        out.extend_from_slice(b"connection: close\r\n");
    }
    let bodiless = parts.status.is_informational()
        || parts.status == StatusCode::NO_CONTENT
        || parts.status == StatusCode::NOT_MODIFIED;
    let chunked = !bodiless && body.size_hint().exact().is_none();
    if chunked {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    } else if !bodiless {
        let n = body.size_hint().exact().unwrap_or(0);
        let _ = write!(out, "content-length: {n}\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if bodiless {
        drop(body);
        io.write_all(out).await?;
        return Ok(keep_alive);
    }
    loop {
        let polled = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut body).poll_frame(cx))).await;
        let frame = match polled {
            Poll::Ready(frame) => frame,
            Poll::Pending => {
                // Nothing more yet: what is gathered goes out before waiting.
                if !out.is_empty() {
                    io.write_all(out).await?;
                    out.clear();
                }
                io.flush().await?;
                std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
            }
        };
        match frame {
            None => break,
            Some(Err(e)) => {
                tracing::debug!(error = %e, "response body failed; closing the connection");
                if !out.is_empty() {
                    io.write_all(out).await?;
                }
                return Ok(false);
            }
            Some(Ok(frame)) => {
                // Trailers: HTTP/1.1 clients get them only when they asked (`te:
                // trailers`), and those requests are hyper's.
                let Ok(data) = frame.into_data() else { continue };
                if data.is_empty() {
                    continue;
                }
                if chunked {
                    let _ = write!(out, "{:x}\r\n", data.len());
                }
                if out.len() + data.len() > WRITE_SIZE {
                    io.write_all(out).await?;
                    out.clear();
                    io.write_all(&data).await?;
                } else {
                    out.extend_from_slice(&data);
                }
                if chunked {
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
    }
    if chunked {
        out.extend_from_slice(b"0\r\n\r\n");
    }
    if !out.is_empty() {
        io.write_all(out).await?;
    }
    Ok(keep_alive)
}

/// The `date` header's value, formatted once a second.
struct CachedDate {
    second: u64,
    text: String,
}

impl CachedDate {
    fn now(&mut self) -> &str {
        let now = SystemTime::now();
        let second = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if second != self.second || self.text.is_empty() {
            self.second = second;
            self.text = httpdate::fmt_http_date(now);
        }
        &self.text
    }
}

thread_local! {
    static DATE: RefCell<CachedDate> = const {
        RefCell::new(CachedDate {
            second: 0,
            text: String::new(),
        })
    };
}

/// A connection with bytes already read in front of it: what the lean path read and did
/// not use, replayed to hyper's server.
pub struct Prefixed<I> {
    prefix: BytesMut,
    inner: I,
}

impl<I> Prefixed<I> {
    pub fn new(prefix: BytesMut, inner: I) -> Self {
        Prefixed { prefix, inner }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Prefixed<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(out.remaining());
            out.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, out)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Prefixed<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
