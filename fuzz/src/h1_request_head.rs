//! `h1_request_head`: the lean server's request-head parser on arbitrary bytes at the front
//! of its read buffer.
//!
//! Properties: a head the lean path declines (incomplete, or hyper's to serve) leaves every
//! byte in the buffer, since hyper's server reads them next; a head it takes is a `GET`
//! over HTTP/1.1 for an origin-form path, only that head leaves the buffer, and written
//! back out it parses to the same request.

use bytes::BytesMut;
use http::{Method, Version};
use wasmesh_proxy::fuzzing::{parse_request_head, RequestHead};

pub fn check(data: &[u8]) {
    let mut buf = BytesMut::from(data);
    let parts = match parse_request_head(&mut buf) {
        RequestHead::Partial => {
            assert_eq!(&buf[..], data, "an incomplete head is left in the buffer");
            return;
        }
        RequestHead::Fallback => {
            assert_eq!(&buf[..], data, "hyper's server gets every byte read");
            return;
        }
        RequestHead::Lean(parts) => *parts,
    };
    assert!(buf.len() < data.len(), "a parsed head was taken off the buffer");
    assert!(data.ends_with(&buf), "only the head was taken off the buffer");
    assert_eq!(parts.method, Method::GET);
    assert_eq!(parts.version, Version::HTTP_11);
    assert!(parts.uri.path().starts_with('/'), "origin form: {}", parts.uri);
    assert!(parts.uri.scheme().is_none() && parts.uri.authority().is_none());

    let mut written = format!("GET {} HTTP/1.1\r\n", parts.uri).into_bytes();
    for (name, value) in &parts.headers {
        written.extend_from_slice(name.as_str().as_bytes());
        written.extend_from_slice(b": ");
        written.extend_from_slice(value.as_bytes());
        written.extend_from_slice(b"\r\n");
    }
    written.extend_from_slice(b"\r\n");
    let mut again = BytesMut::from(&written[..]);
    match parse_request_head(&mut again) {
        RequestHead::Lean(reparsed) => {
            assert!(again.is_empty(), "the whole written head was read");
            assert_eq!(reparsed.uri, parts.uri);
            assert_eq!(reparsed.headers, parts.headers);
        }
        other => panic!(
            "the head written back did not parse ({other:?}): {:?}",
            String::from_utf8_lossy(&written)
        ),
    }
}
