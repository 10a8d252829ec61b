//! `h1_response_head`: the lean client's response-head parser on arbitrary bytes from an
//! upstream. The first byte picks the request's method (its framing rules differ for
//! `HEAD`); the rest is what the upstream sent.
//!
//! Properties: no panic; a head it returns is a final response (1xx are skipped, 101 is
//! refused), and written back out it parses to the same status, version and fields.

use bytes::BytesMut;
use http::{Method, Version};
use wasmesh_proxy::fuzzing::parse_response_head;

pub fn check(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let method = if first & 1 == 0 { Method::GET } else { Method::HEAD };
    let mut buf = BytesMut::from(rest);
    let Ok(Some(parts)) = parse_response_head(&mut buf, &method) else {
        return;
    };
    assert!(
        !parts.status.is_informational(),
        "an interim response was returned: {}",
        parts.status
    );
    assert!(buf.len() < rest.len(), "the head was taken off the buffer");

    let version = if parts.version == Version::HTTP_10 {
        "1.0"
    } else {
        "1.1"
    };
    let mut written = format!("HTTP/{version} {} R\r\n", parts.status.as_str()).into_bytes();
    for (name, value) in &parts.headers {
        written.extend_from_slice(name.as_str().as_bytes());
        written.extend_from_slice(b": ");
        written.extend_from_slice(value.as_bytes());
        written.extend_from_slice(b"\r\n");
    }
    written.extend_from_slice(b"\r\n");
    let mut again = BytesMut::from(&written[..]);
    match parse_response_head(&mut again, &method) {
        Ok(Some(reparsed)) => {
            assert!(again.is_empty(), "the whole written head was read");
            assert_eq!(reparsed.status, parts.status);
            assert_eq!(reparsed.version, parts.version);
            assert_eq!(reparsed.headers, parts.headers);
        }
        other => panic!(
            "the head written back did not parse ({other:?}): {:?}",
            String::from_utf8_lossy(&written)
        ),
    }
}
