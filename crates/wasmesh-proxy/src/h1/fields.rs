//! Header fields of an HTTP/1.1 head, as both lean paths (the upstream client and the
//! downstream server) read and write them. httparse finds the fields; their places are
//! noted while the read buffer is borrowed, and once the head is frozen the header map
//! shares its bytes instead of copying them.

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};

/// Where one field's name and value lie in the buffer its head was parsed from.
#[derive(Clone, Copy, Default)]
pub struct Span {
    name: (u32, u32),
    value: (u32, u32),
}

impl Span {
    /// The span of a field httparse found in `buf`.
    pub fn of(buf: &[u8], field: &httparse::Header<'_>) -> Span {
        Span {
            name: place(buf, field.name.as_bytes()),
            value: place(buf, field.value),
        }
    }
}

/// Where `part`, a slice of `buf`, starts in it, and its length. Heads are far smaller
/// than 4 GiB.
pub fn place(buf: &[u8], part: &[u8]) -> (u32, u32) {
    (
        (part.as_ptr() as usize - buf.as_ptr() as usize) as u32,
        part.len() as u32,
    )
}

/// Room a parsed header map is made with beyond its fields: the proxy adds some to a
/// request (`x-request-id`, `x-forwarded-proto`) and to a response (`content-length`), and
/// plugins add theirs. A map at its capacity grows by moving every entry to a new
/// allocation; a profile with one plugin showed that growth at 0.3 µs a request
/// (docs/performance.md).
const HEADROOM: usize = 4;

/// The header map of the fields at `spans` in `head`, the frozen bytes they were found in.
/// `Err` says which field is not valid HTTP.
pub fn header_map(head: &Bytes, spans: &[Span]) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::with_capacity(spans.len() + HEADROOM);
    for span in spans {
        let (n, nl) = (span.name.0 as usize, span.name.1 as usize);
        let (v, vl) = (span.value.0 as usize, span.value.1 as usize);
        let name = HeaderName::from_bytes(&head[n..n + nl]).map_err(|_| "a header name".to_string())?;
        let value = HeaderValue::from_maybe_shared(head.slice(v..v + vl))
            .map_err(|_| format!("the value of {name}"))?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// The items of a comma-separated field value, trimmed (RFC 9110 §5.6.1).
pub fn items(value: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(<[u8]>::trim_ascii)
}

/// Appends one `name: value` line to a head being written.
pub fn push(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}
