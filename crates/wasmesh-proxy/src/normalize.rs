//! Request path normalization, Istio's `pathNormalization` levels: the path that routing,
//! `AuthorizationPolicy` and the upstream see is one path, whatever spelling the client
//! chose for it (docs/security.md has the table of what each level does).
//!
//! `BASE` is RFC 3986's normalization as Envoy's `normalize_path` applies it: percent-encoded
//! unreserved characters are decoded (§6.2.2.2), the hex digits of other escapes are
//! upper-cased (§6.2.2.1), `\` becomes `/`, and dot segments are removed (§5.2.4), counting
//! `%2E` as a dot. `MERGE_SLASHES` then merges runs of `/`; `DECODE_AND_MERGE_SLASHES`
//! decodes `%2F` and `%5C` before all of that. A path that cannot be normalized safely — an
//! escape that is not two hex digits, an encoded NUL, a fragment, a path that does not start
//! with `/` — is refused, and the request gets 400.

use std::borrow::Cow;

pub use wasmesh_api::proxy::PathNormalization;

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// `%` not followed by two hex digits.
    #[error("malformed percent-encoding at byte {at}")]
    BadEscape { at: usize },
    /// `%00`: no application expects a NUL in a path (Istio refuses it at every level).
    #[error("percent-encoded NUL at byte {at}")]
    EncodedNul { at: usize },
    /// A `#`: fragments are never sent in a request target (RFC 9112 §3.2).
    #[error("a fragment (#) in the request target")]
    Fragment,
    /// Not origin-form: the path must start with `/`.
    #[error("the path does not start with '/'")]
    NotAbsolute,
}

/// Normalizes `path` (without the query) at `level`. Borrows when nothing changes, which
/// is the common case: a path without `%`, `\`, `.` segments or (for the slash-merging
/// levels) `//` is only scanned.
pub fn normalize_path(path: &str, level: PathNormalization) -> Result<Cow<'_, str>, PathError> {
    // Refused at every level, `NONE` included (as Istio refuses `%00` always).
    check_escapes(path)?;
    if path.contains('#') {
        return Err(PathError::Fragment);
    }
    if level == PathNormalization::None {
        return Ok(Cow::Borrowed(path));
    }
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    let merge = matches!(
        level,
        PathNormalization::MergeSlashes | PathNormalization::DecodeAndMergeSlashes
    );
    let decode_slashes = level == PathNormalization::DecodeAndMergeSlashes;
    if !needs_work(path.as_bytes(), merge) {
        return Ok(Cow::Borrowed(path));
    }
    let decoded = decode(path.as_bytes(), decode_slashes);
    let segments = remove_dot_segments(&decoded);
    let out = if merge { merge_slashes(&segments) } else { segments };
    // Every byte written is ASCII or copied from the (UTF-8) input unchanged.
    let out = String::from_utf8(out).expect("normalization keeps UTF-8");
    Ok(if out == path { Cow::Borrowed(path) } else { Cow::Owned(out) })
}

/// Every `%` starts two hex digits, and none encodes NUL.
fn check_escapes(path: &str) -> Result<(), PathError> {
    let b = path.as_bytes();
    let mut i = 0;
    while let Some(off) = memchr_percent(&b[i..]) {
        let at = i + off;
        let (Some(hi), Some(lo)) = (b.get(at + 1).and_then(hex), b.get(at + 2).and_then(hex)) else {
            return Err(PathError::BadEscape { at });
        };
        if hi == 0 && lo == 0 {
            return Err(PathError::EncodedNul { at });
        }
        i = at + 3;
    }
    Ok(())
}

fn memchr_percent(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'%')
}

/// Whether normalizing could change the path: an escape, a backslash, a segment that
/// starts with a dot, or (merging) an empty segment.
fn needs_work(b: &[u8], merge: bool) -> bool {
    let mut prev = 0u8;
    for &c in b {
        match c {
            b'%' | b'\\' => return true,
            b'.' if prev == b'/' => return true,
            b'/' if merge && prev == b'/' => return true,
            _ => {}
        }
        prev = c;
    }
    false
}

fn hex(c: &u8) -> Option<u8> {
    (*c as char).to_digit(16).map(|d| d as u8)
}

fn is_unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~')
}

/// Decodes escapes of unreserved characters (and of `/` and `\` when asked), upper-cases
/// the rest, and turns `\` into `/`. Escapes were checked by [`check_escapes`]; decoding
/// happens once, so `%252E` stays `%252E` (no double decoding).
fn decode(b: &[u8], decode_slashes: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let (hi, lo) = (b[i + 1], b[i + 2]);
                let byte = hex(&hi).unwrap_or(0) << 4 | hex(&lo).unwrap_or(0);
                if is_unreserved(byte) || (decode_slashes && matches!(byte, b'/' | b'\\')) {
                    out.push(if byte == b'\\' { b'/' } else { byte });
                } else {
                    out.extend_from_slice(&[b'%', hi.to_ascii_uppercase(), lo.to_ascii_uppercase()]);
                }
                i += 3;
            }
            b'\\' => {
                out.push(b'/');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// RFC 3986 §5.2.4 on a path that starts with `/`: `.` segments go, `..` removes the
/// segment before it and never climbs above the root. A path that ends in `.` or `..`
/// keeps its trailing slash (`/a/b/..` is `/a/`).
fn remove_dot_segments(path: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(path.len());
    // The segments after the leading '/', split on '/': each is written as "/seg".
    let mut segments = path[1..].split(|&c| c == b'/').peekable();
    while let Some(seg) = segments.next() {
        let last = segments.peek().is_none();
        match seg {
            b"." => {
                if last {
                    out.push(b'/');
                }
            }
            b".." => {
                if let Some(cut) = out.iter().rposition(|&c| c == b'/') {
                    out.truncate(cut);
                }
                if last {
                    out.push(b'/');
                }
            }
            _ => {
                out.push(b'/');
                out.extend_from_slice(seg);
            }
        }
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

fn merge_slashes(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    for &c in path {
        if c == b'/' && out.last() == Some(&b'/') {
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
