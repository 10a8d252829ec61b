//! The foreign functions (`proxy_call_foreign_function`) this host offers, as Envoy
//! offers them (docs/wasm-host.md, "Foreign functions"): `compress`, `uncompress`,
//! `clear_route_cache`, `declare_property`, `set_envoy_filter_state` and
//! `verify_signature`, whose arguments are Envoy's protobuf messages. Envoy's other
//! foreign functions answer `Unimplemented` with one log line naming them; a name Envoy
//! does not know either is `NotFound`, as on Envoy.

use std::io::{Read, Write};

use bytes::Bytes;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;

use super::attributes::proto::{self, Field};
use super::Status;
use crate::state::VmState;

/// The filter-state key Envoy's TCP proxy reads its cluster from.
pub const TCP_PROXY_CLUSTER: &str = "envoy.tcp_proxy.cluster";

/// Foreign functions Envoy has that this host does not (CEL expressions, signing with
/// the proxy's keys, DNS, …).
const ENVOY_ONLY: &[&str] = &[
    "expr_create",
    "expr_evaluate",
    "expr_delete",
    "sign",
    "resolve_dns",
    "get_metadata",
];

/// Runs the foreign function `name` on `args` for the effective context.
pub fn call(state: &mut VmState, name: &str, args: &[u8]) -> Result<Vec<u8>, Status> {
    match name {
        "compress" => compress(args),
        "uncompress" => uncompress(args, state.plugin.host.inner.limits.memory_bytes),
        // Routes are chosen after the filter chain, so there is no cached route to clear.
        "clear_route_cache" => Ok(Vec::new()),
        "declare_property" => declare_property(state, args).map(|()| Vec::new()),
        "set_envoy_filter_state" => set_envoy_filter_state(state, args).map(|()| Vec::new()),
        "verify_signature" => verify_signature(args),
        _ if ENVOY_ONLY.contains(&name) => Err(unimplemented(state, "foreign function", name)),
        _ => Err(Status::NotFound),
    }
}

/// Logs (once per VM and name) that the plugin asked for something Envoy has and this
/// host does not, and answers `Unimplemented`.
fn unimplemented(state: &mut VmState, what: &str, name: &str) -> Status {
    if state.unimplemented_logged.insert(format!("{what} {name}")) {
        tracing::warn!(
            plugin = %state.plugin.plugin_name,
            "the plugin called the {what} {name}, which Envoy has and wasmesh does not implement: it gets Unimplemented"
        );
    }
    Status::Unimplemented
}

fn string(v: &[u8]) -> Result<String, Status> {
    String::from_utf8(v.to_vec()).map_err(|_| Status::BadArgument)
}

/// Envoy's `declare_property` (`DeclarePropertyArguments`: `name` = 1, `readonly` = 2,
/// `type` = 3, `schema` = 4, `span` = 5). The type and life span are accepted; a value
/// reads back as the bytes set, and lives as long as the stream (request or connection).
fn declare_property(state: &mut VmState, args: &[u8]) -> Result<(), Status> {
    let mut name = None;
    let mut readonly = false;
    for (field, value) in proto::fields(args).ok_or(Status::BadArgument)? {
        match (field, value) {
            (1, Field::Bytes(b)) => name = Some(string(b)?),
            (2, Field::Varint(v)) => readonly = v != 0,
            _ => {}
        }
    }
    let name = name.filter(|n| !n.is_empty()).ok_or(Status::BadArgument)?;
    state.declared.insert(name.replace('\0', "."), readonly);
    Ok(())
}

/// Envoy's `set_envoy_filter_state` (`SetEnvoyFilterStateArguments`: `path` = 1,
/// `value` = 2, `span` = 3) on the effective stream. `envoy.tcp_proxy.cluster` picks the
/// cluster of a TCP connection (docs/wasm-host.md); other keys Envoy knows are
/// `Unimplemented`.
fn set_envoy_filter_state(state: &mut VmState, args: &[u8]) -> Result<(), Status> {
    let mut path = None;
    let mut value = Bytes::new();
    for (field, v) in proto::fields(args).ok_or(Status::BadArgument)? {
        match (field, v) {
            (1, Field::Bytes(b)) => path = Some(string(b)?),
            (2, Field::Bytes(b)) => value = Bytes::copy_from_slice(b),
            _ => {}
        }
    }
    let path = path.ok_or(Status::BadArgument)?;
    if path != TCP_PROXY_CLUSTER {
        return Err(unimplemented(state, "filter state key", &path));
    }
    let stream = state.stream().ok_or(Status::NotFound)?;
    stream.filter_state.insert(path, value);
    Ok(())
}

/// Envoy's `verify_signature` (`VerifySignatureArguments`: `hash_function` = 1,
/// `public_key` = 2 (DER), `signature` = 3, `text` = 4, `public_key_pem` = 5). The answer
/// is a `VerifySignatureResult` (`result` = 1, `error` = 2), status `Ok` whether or not
/// the signature holds. Keys: ECDSA P-256 (DER signatures) and Ed25519 — RSA keys are
/// reported in `error` as not supported.
fn verify_signature(args: &[u8]) -> Result<Vec<u8>, Status> {
    let mut hash = String::new();
    let (mut der, mut pem, mut signature, mut text) = (None, None, &[][..], &[][..]);
    for (field, v) in proto::fields(args).ok_or(Status::BadArgument)? {
        match (field, v) {
            (1, Field::Bytes(b)) => hash = string(b)?,
            (2, Field::Bytes(b)) => der = Some(b),
            (3, Field::Bytes(b)) => signature = b,
            (4, Field::Bytes(b)) => text = b,
            (5, Field::Bytes(b)) => pem = Some(string(b)?),
            _ => {}
        }
    }
    let outcome = super::signature::verify(&hash, der, pem.as_deref(), signature, text);
    let mut out = Vec::new();
    match outcome {
        Ok(()) => {
            proto::varint(&mut out, 1 << 3);
            proto::varint(&mut out, 1);
        }
        Err(error) => proto::string(&mut out, 2, &error),
    }
    Ok(out)
}

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
