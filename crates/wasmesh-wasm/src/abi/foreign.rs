//! The bodies of the foreign functions (`proxy_call_foreign_function`) this host offers.

use std::io::{Read, Write};

use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;

use super::Status;

/// Envoy's `compress`: zlib format, default level.
pub fn compress(input: &[u8]) -> Result<Vec<u8>, Status> {
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
    encoder
        .write_all(input)
        .map_err(|_| Status::SerializationFailure)?;
    encoder.finish().map_err(|_| Status::SerializationFailure)
}

/// Envoy's `uncompress`, refusing output larger than `limit` (a plugin could otherwise
/// make the host inflate a small bomb into its own memory).
pub fn uncompress(input: &[u8], limit: usize) -> Result<Vec<u8>, Status> {
    let mut out = Vec::new();
    let mut decoder = ZlibDecoder::new(input).take(limit as u64 + 1);
    decoder
        .read_to_end(&mut out)
        .map_err(|_| Status::SerializationFailure)?;
    if out.len() > limit {
        return Err(Status::BadArgument);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compress_round_trips_and_uncompress_refuses_garbage_and_bombs() {
        let data = b"hello hello hello hello".repeat(100);
        let small = compress(&data).unwrap();
        assert!(small.len() < data.len());
        assert_eq!(uncompress(&small, 1 << 20).unwrap(), data);
        assert_eq!(
            uncompress(b"not zlib", 1 << 20),
            Err(Status::SerializationFailure)
        );
        assert_eq!(
            uncompress(&small, 100),
            Err(Status::BadArgument),
            "more than the limit"
        );
    }
}
