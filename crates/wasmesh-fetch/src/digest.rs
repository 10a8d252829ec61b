//! sha256 helpers: the WasmPlugin `sha256` field may be bare hex or `sha256:<hex>`.

use crate::error::FetchError;
use sha2::{Digest, Sha256};

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Normalises a sha256 value to 64 lower-case hex digits.
pub(crate) fn normalize_sha256(value: &str, url: &str) -> Result<String, FetchError> {
    let trimmed = value.trim();
    let hex_part = trimmed.strip_prefix("sha256:").unwrap_or(trimmed);
    if hex_part.len() == 64 && hex_part.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hex_part.to_ascii_lowercase())
    } else {
        Err(FetchError::InvalidSha256 {
            url: url.to_owned(),
            value: value.to_owned(),
        })
    }
}

/// The hex part of a `sha256:<hex>` digest (other algorithms are returned whole).
pub(crate) fn digest_hex(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}
