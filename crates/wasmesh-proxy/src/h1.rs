//! A lean HTTP/1.1 client for requests that carry no body — most of a proxy's traffic.
//!
//! hyper's client connection is a task of its own that each request talks to through a
//! queue and a oneshot channel: every request wakes two tasks and crosses two queues.
//! Here the request's own task writes the head, reads the response head and, when the
//! whole body came with it (the common case for small responses), gives the connection
//! back to the pool at once. Longer, chunked or close-delimited bodies are read as the
//! downstream asks for them. Requests with a body, or an upgrade, keep to hyper's client,
//! which streams in both directions at once.

use bytes::{Buf, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{request, response, Method, Response, StatusCode, Version};
use http_body::{Body, Frame, SizeHint};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::body::{BodyError, ProxyBody};
use crate::upstream::Home;
use crate::worker::MAX_HEADERS;

pub(crate) mod fields;

use fields::Span;

/// The largest response head (or trailer section) read; Envoy's default
/// `max_response_headers_kb` is 60.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The longest chunk-size line, extensions included.
const MAX_CHUNK_LINE: usize = 4096;
/// Room made in the read buffer before each read.
const READ_SIZE: usize = 16 * 1024;

/// Why an exchange on a connection failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request could not be written: the peer had closed the connection. Nothing was
    /// delivered; the request may go on another connection whatever its method.
    #[error("connection closed before the request was sent")]
    NotSent,
    /// The request was written, and the peer closed the connection without a byte of a
    /// response: on a reused keep-alive connection, it may have closed it while it idled.
    #[error("connection closed before any response")]
    Closed,
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The response broke HTTP/1.1's grammar or framing.
    #[error("malformed response: {0}")]
    Malformed(String),
}

/// How a response body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked,
    /// Until the peer closes the connection.
    Close,
}

/// One upstream connection and the bytes read from it but not yet used.
pub struct Conn {
    io: TcpStream,
    buf: BytesMut,
    /// This side's address (`upstream.local_address`).
    pub local: Option<SocketAddr>,
}

/// A response head, and what the connection needs to know to read its body.
pub struct Head {
    pub parts: response::Parts,
    framing: Framing,
    keep_alive: bool,
}

// === impl Conn ===

impl Conn {
    pub fn new(io: TcpStream) -> Conn {
        Conn {
            local: io.local_addr().ok(),
            io,
            buf: BytesMut::new(),
        }
    }

    /// Whether an idle connection can carry another request: the peer has not closed it
    /// and sent nothing unasked. No system call unless the socket became readable (tokio
    /// answers from the readiness it has seen), and no use of the task's budget.
    pub fn is_reusable(&self) -> bool {
        let mut probe = [0u8; 1];
        matches!(self.io.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    /// Writes a request head and reads the response head; 1xx interim responses are
    /// skipped.
    pub async fn send(&mut self, head: &[u8], method: &Method) -> Result<Head, Error> {
        self.io.write_all(head).await.map_err(|_| Error::NotSent)?;
        loop {
            if let Some(head) = parse_head(&mut self.buf, method)? {
                return Ok(head);
            }
            if self.buf.len() >= MAX_HEAD_BYTES {
                return Err(Error::Malformed(format!(
                    "response head larger than {MAX_HEAD_BYTES} bytes"
                )));
            }
            let read = std::future::poll_fn(|cx| self.poll_fill(cx)).await;
            match read {
                Ok(0) | Err(_) if self.buf.is_empty() => return Err(Error::Closed),
                Ok(0) => {
                    return Err(Error::Malformed(
                        "connection closed inside the response head".into(),
                    ))
                }
                Ok(_) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Reads what the socket has into the buffer; `Ok(0)` at the end of the stream.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.buf.capacity() - self.buf.len() < READ_SIZE / 4 {
            self.buf.reserve(READ_SIZE);
        }
        tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, &mut self.buf)
    }
}

/// The bytes of a request head for a request without a body. The length is always told
/// honestly: a `content-length` the request carried is replaced by 0, and methods whose
/// requests usually carry content say 0 too (RFC 9110 §8.6).
pub fn encode_head(parts: &request::Parts) -> Vec<u8> {
    encode(parts, None)
}

/// The bytes the upstream gets for `parts` as it stands downstream, without changing it:
/// what [`crate::forward::to_upstream`] and then [`encode_head`] make of a copy, for a
/// request without hop-by-hop headers (`None` otherwise; the caller edits a copy then).
/// A `Host` is added when missing, from the request's authority or else `endpoint_authority`.
/// This spares the copy of the head a plugin's `proxy_on_log` would otherwise need
/// (docs/performance.md).
pub fn encode_upstream_head(parts: &request::Parts, endpoint_authority: &str) -> Option<Vec<u8>> {
    if crate::forward::has_hop_by_hop(&parts.headers) {
        return None;
    }
    if parts.headers.contains_key(header::HOST) {
        return Some(encode(parts, None));
    }
    let host = parts
        .uri
        .authority()
        .map(|a| a.as_str())
        .unwrap_or(endpoint_authority);
    // as `to_upstream`: a host that is no header value is left out
    let host = HeaderValue::from_str(host).ok();
    Some(encode(parts, host.as_ref()))
}

/// The request line and headers, `host` (when given) after the request's own headers, as
/// `HeaderMap::insert` of a new name would place it.
fn encode(parts: &request::Parts, host: Option<&HeaderValue>) -> Vec<u8> {
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut size = parts.method.as_str().len() + path.len() + 32;
    for (name, value) in &parts.headers {
        size += name.as_str().len() + value.len() + 4;
    }
    if let Some(host) = host {
        size += host.len() + 8;
    }
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let mut had_length = false;
    for (name, value) in &parts.headers {
        if name == header::CONTENT_LENGTH {
            had_length = true;
            continue;
        }
        fields::push(&mut out, name.as_str().as_bytes(), value.as_bytes());
    }
    if let Some(host) = host {
        fields::push(&mut out, b"host", host.as_bytes());
    }
    let expects_content = matches!(parts.method, Method::POST | Method::PUT | Method::PATCH);
    if had_length || expects_content {
        out.extend_from_slice(b"content-length: 0\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Whether a request may be sent again after a connection closed under it (RFC 9110
/// §9.2.2).
pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// Parses one complete response head off the front of `buf`, skipping interim 1xx
/// responses; `None` until the head is complete.
pub(crate) fn parse_head(buf: &mut BytesMut, method: &Method) -> Result<Option<Head>, Error> {
    loop {
        // Names and values as offsets into the head, to share its bytes rather than copy
        // them once it is frozen.
        let mut spans = [Span::default(); MAX_HEADERS];
        let (len, code, version, count, close, custom_reason) = {
            let mut slots = [const { std::mem::MaybeUninit::uninit() }; MAX_HEADERS];
            let mut res = httparse::Response::new(&mut []);
            let parsed = httparse::ParserConfig::default()
                .parse_response_with_uninit_headers(&mut res, buf, &mut slots);
            let len = match parsed {
                Ok(httparse::Status::Complete(len)) => len,
                Ok(httparse::Status::Partial) => return Ok(None),
                Err(httparse::Error::TooManyHeaders) => {
                    return Err(Error::Malformed(format!("more than {MAX_HEADERS} header fields")))
                }
                Err(e) => return Err(Error::Malformed(e.to_string())),
            };
            let (mut count, mut close) = (0, false);
            for h in res.headers.iter() {
                // `Connection` saying only keep-alive or close, and `Keep-Alive`, concern this
                // connection alone and name no other header: they are read here and not
                // kept (they would be removed before the response goes on anyway).
                if h.name.eq_ignore_ascii_case("connection") {
                    let mut only_framing = true;
                    for token in fields::items(h.value) {
                        if token.eq_ignore_ascii_case(b"close") {
                            close = true;
                        } else if !token.eq_ignore_ascii_case(b"keep-alive") && !token.is_empty() {
                            only_framing = false;
                        }
                    }
                    if only_framing {
                        continue;
                    }
                } else if h.name.eq_ignore_ascii_case("keep-alive") {
                    continue;
                }
                spans[count] = Span::of(buf, h);
                count += 1;
            }
            // A reason phrase other than the standard one is passed on as the upstream
            // said it, as hyper's client does.
            let reason = res.reason.unwrap_or_default();
            let custom_reason = StatusCode::from_u16(res.code.unwrap_or(0))
                .ok()
                .filter(|s| !reason.is_empty() && s.canonical_reason() != Some(reason))
                .and_then(|_| hyper::ext::ReasonPhrase::try_from(reason.as_bytes()).ok());
            (
                len,
                res.code.unwrap_or(0),
                res.version.unwrap_or(1),
                count,
                close,
                custom_reason,
            )
        };
        let status =
            StatusCode::from_u16(code).map_err(|_| Error::Malformed(format!("status code {code}")))?;
        if status == StatusCode::SWITCHING_PROTOCOLS {
            return Err(Error::Malformed(
                "101 Switching Protocols to a request without an upgrade".into(),
            ));
        }
        if status.is_informational() {
            buf.advance(len);
            continue;
        }
        let head = buf.split_to(len).freeze();
        let mut headers = fields::header_map(&head, &spans[..count]).map_err(Error::Malformed)?;
        let version = if version == 0 {
            Version::HTTP_10
        } else {
            Version::HTTP_11
        };
        if version == Version::HTTP_10 && headers.contains_key(header::TRANSFER_ENCODING) {
            return Err(Error::Malformed(
                "transfer-encoding in an HTTP/1.0 response".into(),
            ));
        }
        let framing = framing(method, status, &headers)?;
        // Both a transfer-encoding and a content-length: the framing is the former's, but
        // the connection is not trusted with another request (RFC 9112 §6.1).
        let ambiguous =
            headers.contains_key(header::TRANSFER_ENCODING) && headers.contains_key(header::CONTENT_LENGTH);
        if ambiguous {
            headers.remove(header::CONTENT_LENGTH);
        }
        let keep_alive = version == Version::HTTP_11 && framing != Framing::Close && !ambiguous && !close;
        let mut parts = Response::new(()).into_parts().0;
        parts.status = status;
        parts.version = version;
        parts.headers = headers;
        if let Some(reason) = custom_reason {
            parts.extensions.insert(reason);
        }
        return Ok(Some(Head {
            parts,
            framing,
            keep_alive,
        }));
    }
}

/// How the body of a response is delimited (RFC 9112 §6.3).
fn framing(method: &Method, status: StatusCode, headers: &HeaderMap) -> Result<Framing, Error> {
    if *method == Method::HEAD || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        return Ok(Framing::Length(0));
    }
    if let Some(last) = headers.get_all(header::TRANSFER_ENCODING).iter().next_back() {
        let chunked = fields::items(last.as_bytes())
            .next_back()
            .is_some_and(|t| t.eq_ignore_ascii_case(b"chunked"));
        return Ok(if chunked { Framing::Chunked } else { Framing::Close });
    }
    let mut length = None;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        for item in fields::items(value.as_bytes()) {
            let n = std::str::from_utf8(item)
                .ok()
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| Error::Malformed(format!("content-length {value:?}")))?;
            if length.is_some_and(|l| l != n) {
                return Err(Error::Malformed("content-length values differ".into()));
            }
            length = Some(n);
        }
    }
    Ok(length.map_or(Framing::Close, Framing::Length))
}

/// The body of a response: whole at once when it came with the head (the connection goes
/// back to its pool before the downstream sees a byte), else read as it is asked for.
pub fn body(head: &Head, mut conn: Conn, home: Home) -> ProxyBody {
    if let Framing::Length(n) = head.framing {
        if conn.buf.len() as u64 >= n {
            let data = conn.buf.split_to(n as usize).freeze();
            if head.keep_alive && conn.buf.is_empty() {
                home.give_back(conn);
            }
            return ProxyBody::full(data);
        }
    }
    ProxyBody::H1(H1Body::new(head, conn, home))
}

/// Reads a whole response body, for the proxy's own requests (JWKS documents); the
/// connection is closed after it. Longer than `limit` bytes is an error.
pub async fn read_to_end(head: &Head, conn: Conn, limit: usize) -> Result<Bytes, BodyError> {
    let mut body = H1Body::new(head, conn, NoPool);
    let mut out = BytesMut::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        if let Ok(data) = frame?.into_data() {
            if out.len() + data.len() > limit {
                return Err(format!("response body longer than {limit} bytes").into());
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out.freeze())
}

/// Where a connection goes when the body it carried has ended and it can carry another
/// request.
pub trait GiveBack: Unpin {
    fn give_back(self, conn: Conn);
}

impl GiveBack for Home {
    fn give_back(self, conn: Conn) {
        Home::give_back(self, conn)
    }
}

/// No pool: the connection is closed.
pub struct NoPool;

impl GiveBack for NoPool {
    fn give_back(self, _: Conn) {}
}

/// Where a body's reading stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// This many bytes of a content-length body are still to come.
    Length(u64),
    /// A chunk-size line is next.
    ChunkSize,
    /// This many bytes of the current chunk are still to come.
    ChunkData(u64),
    /// The CRLF after a chunk's data is next.
    ChunkEnd,
    /// The trailer section after the last chunk is next.
    Trailers,
    Close,
    Done,
}

/// A response body read from an upstream HTTP/1.1 connection as the downstream asks for
/// it. The connection goes back to its pool at the body's end; a body dropped before its
/// end closes the connection, which is then in an unknown state.
pub struct H1Body<H: GiveBack = Home> {
    conn: Option<Conn>,
    state: State,
    keep_alive: bool,
    home: Option<H>,
}

// === impl H1Body ===

impl<H: GiveBack> H1Body<H> {
    fn new(head: &Head, conn: Conn, home: H) -> Self {
        let state = match head.framing {
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::ChunkSize,
            Framing::Close => State::Close,
        };
        H1Body {
            conn: Some(conn),
            state,
            keep_alive: head.keep_alive,
            home: Some(home),
        }
    }

    /// The body ended: the connection goes home if it can carry another request.
    fn finish(&mut self) {
        self.state = State::Done;
        let (Some(conn), Some(home)) = (self.conn.take(), self.home.take()) else {
            return;
        };
        if self.keep_alive && conn.buf.is_empty() {
            home.give_back(conn);
        }
    }

    /// Fills the buffer when it is empty; an error if the peer closed before the end.
    fn poll_need(conn: &mut Conn, cx: &mut Context<'_>, what: &str) -> Poll<Result<(), BodyError>> {
        match ready!(conn.poll_fill(cx)) {
            Ok(0) => Poll::Ready(Err(format!("upstream closed the connection inside {what}").into())),
            Ok(_) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(Err(e.into())),
        }
    }
}

impl<H: GiveBack> Body for H1Body<H> {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        loop {
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match this.state {
                State::Done => return Poll::Ready(None),
                State::Length(0) => {
                    this.finish();
                    return Poll::Ready(None);
                }
                State::Length(left) | State::ChunkData(left) => {
                    if conn.buf.is_empty() {
                        ready!(Self::poll_need(conn, cx, "the response body"))?;
                    }
                    let take = left.min(conn.buf.len() as u64);
                    let data = conn.buf.split_to(take as usize).freeze();
                    let left = left - take;
                    this.state = match this.state {
                        State::Length(_) => State::Length(left),
                        _ if left == 0 => State::ChunkEnd,
                        _ => State::ChunkData(left),
                    };
                    if this.state == State::Length(0) {
                        this.finish();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                State::Close if !conn.buf.is_empty() => {
                    // What came with the head, or was read meanwhile, goes out at once.
                    let data = conn.buf.split().freeze();
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                State::Close => match ready!(conn.poll_fill(cx)) {
                    Ok(0) => {
                        this.keep_alive = false;
                        this.finish();
                        return Poll::Ready(None);
                    }
                    Ok(_) => {
                        let data = conn.buf.split().freeze();
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                    Err(e) => return Poll::Ready(Some(Err(e.into()))),
                },
                State::ChunkSize => match chunk_size(&conn.buf)? {
                    Some((line, 0)) => {
                        conn.buf.advance(line);
                        this.state = State::Trailers;
                    }
                    Some((line, size)) => {
                        conn.buf.advance(line);
                        this.state = State::ChunkData(size);
                    }
                    None => ready!(Self::poll_need(conn, cx, "a chunk size"))?,
                },
                State::ChunkEnd => {
                    if conn.buf.len() < 2 {
                        ready!(Self::poll_need(conn, cx, "a chunk"))?;
                        continue;
                    }
                    if &conn.buf[..2] != b"\r\n" {
                        return Poll::Ready(Some(
                            Err("malformed chunked body: no CRLF after a chunk".into()),
                        ));
                    }
                    conn.buf.advance(2);
                    this.state = State::ChunkSize;
                }
                State::Trailers => match trailers(&conn.buf)? {
                    Some((len, fields)) => {
                        conn.buf.advance(len);
                        this.finish();
                        if fields.is_empty() {
                            return Poll::Ready(None);
                        }
                        return Poll::Ready(Some(Ok(Frame::trailers(fields))));
                    }
                    None if conn.buf.len() >= MAX_HEAD_BYTES => {
                        return Poll::Ready(Some(Err(format!(
                            "response trailers larger than {MAX_HEAD_BYTES} bytes"
                        )
                        .into())))
                    }
                    None => ready!(Self::poll_need(conn, cx, "the response trailers"))?,
                },
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, State::Done | State::Length(0))
    }

    fn size_hint(&self) -> SizeHint {
        match self.state {
            State::Length(n) => SizeHint::with_exact(n),
            State::Done => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }
}

/// A complete chunk-size line at the front of `buf`: its length with the CRLF, and the
/// size it gives (extensions ignored, RFC 9112 §7.1.1).
fn chunk_size(buf: &[u8]) -> Result<Option<(usize, u64)>, BodyError> {
    let window = &buf[..buf.len().min(MAX_CHUNK_LINE)];
    let Some(end) = window.windows(2).position(|w| w == b"\r\n") else {
        if buf.len() >= MAX_CHUNK_LINE {
            return Err(
                format!("malformed chunked body: a chunk-size line over {MAX_CHUNK_LINE} bytes").into(),
            );
        }
        return Ok(None);
    };
    let line = &buf[..end];
    let digits = line
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii_end();
    let size = std::str::from_utf8(digits)
        .ok()
        .filter(|s| !s.is_empty() && s.len() <= 16 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .filter(|_| !line.contains(&b'\n'))
        .and_then(|s| u64::from_str_radix(s, 16).ok())
        .ok_or_else(|| {
            format!(
                "malformed chunked body: chunk size {:?}",
                String::from_utf8_lossy(line)
            )
        })?;
    Ok(Some((end + 2, size)))
}

/// A complete trailer section at the front of `buf` (after the last chunk): its length
/// and its fields.
fn trailers(buf: &[u8]) -> Result<Option<(usize, HeaderMap)>, BodyError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    match httparse::parse_headers(buf, &mut slots) {
        Ok(httparse::Status::Complete((len, fields))) => {
            let mut map = HeaderMap::with_capacity(fields.len());
            for f in fields {
                let name = HeaderName::from_bytes(f.name.as_bytes())
                    .map_err(|_| "malformed trailer name".to_string())?;
                let value =
                    HeaderValue::from_bytes(f.value).map_err(|_| format!("malformed trailer {name}"))?;
                map.append(name, value);
            }
            Ok(Some((len, map)))
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => Err(format!("malformed response trailers: {e}").into()),
    }
}

#[cfg(test)]
mod tests;
