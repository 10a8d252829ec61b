//! Entry points for the fuzz targets of `fuzz/` (docs/fuzzing.md): the lean HTTP/1.1
//! paths' parsers are private to this crate, so their targets reach them through these thin
//! wrappers. Not an API: nothing but the fuzz targets and their regression tests uses it,
//! and each function calls the code the data path runs, unchanged.

use bytes::{Bytes, BytesMut};
use http::{request, response, Method};
use tokio::net::TcpStream;

use crate::{h1, h1_server};

/// What the lean server made of the bytes at the front of its read buffer.
#[derive(Debug)]
pub enum RequestHead {
    /// A request the lean path serves; its head was taken off the buffer.
    Lean(Box<request::Parts>),
    /// The head is not complete yet; the buffer is as it was.
    Partial,
    /// hyper's server takes the connection, with the buffer as it was.
    Fallback,
}

/// The lean server's request-head parser (`h1_server.rs`).
pub fn parse_request_head(buf: &mut BytesMut) -> RequestHead {
    match h1_server::parse_request(buf) {
        h1_server::Parsed::Request(parts) => RequestHead::Lean(Box::new(parts)),
        h1_server::Parsed::Partial => RequestHead::Partial,
        h1_server::Parsed::Fallback => RequestHead::Fallback,
    }
}

/// The lean client's response-head parser (`h1.rs`) for a request with `method`: the
/// first final response's head, taken off the buffer; `None` until it is complete.
pub fn parse_response_head(buf: &mut BytesMut, method: &Method) -> Result<Option<response::Parts>, String> {
    match h1::parse_head(buf, method) {
        Ok(head) => Ok(head.map(|head| head.parts)),
        Err(e) => Err(e.to_string()),
    }
}

/// One exchange of the lean client on `io`: writes `request_head`, reads the response head
/// and its whole body as the proxy's own requests do (content-length, chunked or
/// close-delimited; trailers are read and dropped), up to `limit` bytes.
pub async fn exchange(
    io: TcpStream,
    request_head: &[u8],
    method: &Method,
    limit: usize,
) -> Result<(response::Parts, Bytes), String> {
    let mut conn = h1::Conn::new(io);
    let head = conn.send(request_head, method).await.map_err(|e| e.to_string())?;
    let body = h1::read_to_end(&head, conn, limit)
        .await
        .map_err(|e| e.to_string())?;
    Ok((head.parts, body))
}
