//! `x-request-id`, as Envoy's HTTP connection manager sets it: a request that arrives
//! without one gets a random UUID (version 4) before any filter runs, so plugins (the
//! `request.id` property), the upstream and the access logs see one id. An id the client
//! sent is kept.

use std::cell::Cell;
use std::hash::{BuildHasher, Hasher};

use http::header::{HeaderMap, HeaderName, HeaderValue};

/// The header's name.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// One worker's id generator: ids must be unique, not secret, so a fast generator (wyrand)
/// seeded from the standard library's per-process random keys does; no system call per id.
pub struct RequestIds {
    state: Cell<u64>,
}

impl RequestIds {
    /// A generator with a random seed.
    pub fn new() -> Self {
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        RequestIds {
            state: Cell::new(seed),
        }
    }

    /// Adds an `x-request-id` to `headers` unless they carry one.
    pub fn ensure(&self, headers: &mut HeaderMap) {
        if !headers.contains_key(&X_REQUEST_ID) {
            headers.insert(X_REQUEST_ID.clone(), self.next_uuid());
        }
    }

    /// A new version 4 UUID in its usual text form (`8-4-4-4-12` lower-case hex digits).
    pub fn next_uuid(&self) -> HeaderValue {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
        bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 9562 variant
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0u8; 36];
        let mut at = 0;
        for (i, b) in bytes.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                text[at] = b'-';
                at += 1;
            }
            text[at] = HEX[usize::from(b >> 4)];
            text[at + 1] = HEX[usize::from(b & 0x0f)];
            at += 2;
        }
        HeaderValue::from_bytes(&text).expect("hex digits and dashes are a valid header value")
    }

    fn next_u64(&self) -> u64 {
        let s = self.state.get().wrapping_add(0xa076_1d64_78bd_642f);
        self.state.set(s);
        let t = u128::from(s).wrapping_mul(u128::from(s ^ 0xe703_7ed1_a0b4_28db));
        ((t >> 64) ^ t) as u64
    }
}

impl Default for RequestIds {
    fn default() -> Self {
        RequestIds::new()
    }
}

#[cfg(test)]
mod tests;
