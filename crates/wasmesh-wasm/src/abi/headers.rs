//! Header and trailer maps (and gRPC / http-call metadata) of the effective context. A
//! stream's request and response headers are the proxy's own, shared by every filter of
//! the request and reached through [`crate::StreamHeaders`]; trailers and call metadata are
//! maps the host holds.

use bytes::Bytes;
use wasmtime::{Caller, Linker};

use super::memory::{give, give_with, read, read_map, status, with_bytes, write_u32, HostResult};
use super::{pairs, Status};
use crate::state::VmState;
use crate::stream_headers::{self, HeadersKind, SharedHeaders};
use crate::HeaderMap;

type C<'a> = Caller<'a, VmState>;

/// The spec's map types.
const REQUEST_HEADERS: u32 = 0;
const REQUEST_TRAILERS: u32 = 1;
const RESPONSE_HEADERS: u32 = 2;
const RESPONSE_TRAILERS: u32 = 3;
const GRPC_INITIAL_METADATA: u32 = 4;
const GRPC_TRAILING_METADATA: u32 = 5;
const HTTP_CALL_RESPONSE_HEADERS: u32 = 6;
const HTTP_CALL_RESPONSE_TRAILERS: u32 = 7;

pub fn add_to_linker(linker: &mut Linker<VmState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_header_map_pairs",
        |mut c: C<'_>, map: u32, ptr_ptr: u32, size_ptr: u32| {
            status(get_pairs(&mut c, map, ptr_ptr, size_ptr))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_header_map_pairs",
        |mut c: C<'_>, map: u32, ptr: u32, size: u32| status(set_pairs(&mut c, map, ptr, size)),
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_header_map_value",
        |mut c: C<'_>, map: u32, key_ptr: u32, key_size: u32, ptr_ptr: u32, size_ptr: u32| {
            status(get_value(&mut c, map, key_ptr, key_size, ptr_ptr, size_ptr))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_add_header_map_value",
        |mut c: C<'_>, map: u32, key_ptr: u32, key_size: u32, value_ptr: u32, value_size: u32| {
            status(change(
                &mut c,
                map,
                (key_ptr, key_size),
                Some((value_ptr, value_size)),
                Change::Add,
            ))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_replace_header_map_value",
        |mut c: C<'_>, map: u32, key_ptr: u32, key_size: u32, value_ptr: u32, value_size: u32| {
            status(change(
                &mut c,
                map,
                (key_ptr, key_size),
                Some((value_ptr, value_size)),
                Change::Replace,
            ))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_remove_header_map_value",
        |mut c: C<'_>, map: u32, key_ptr: u32, key_size: u32| {
            status(change(&mut c, map, (key_ptr, key_size), None, Change::Remove))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_header_map_size",
        |mut c: C<'_>, map: u32, size_ptr: u32| {
            let size = match target(c.data_mut(), map) {
                Ok(Target::Stream(h, kind)) => match h.try_borrow() {
                    Ok(h) => Ok(stream_headers::count_and_size(&*h, kind).1 as u32),
                    Err(_) => Err(Status::InternalFailure),
                },
                Ok(Target::Map(m)) => Ok(pairs::serialize(&m).len() as u32),
                Err(e) => Err(e),
            };
            status(
                size.map_err(Into::into)
                    .and_then(|size| write_u32(&mut c, size_ptr, size).map_err(Into::into)),
            )
        },
    )?;
    Ok(())
}

/// Where a map type leads in the effective context.
enum Target {
    /// The stream's own headers, shared with the proxy and every other filter.
    Stream(SharedHeaders, HeadersKind),
    /// Trailers, call metadata, or a map the context does not have (read as empty).
    Map(HeaderMap),
}

/// What map `map` of the effective context is. Maps that do not exist in this context
/// (e.g. response headers of the root context) read as empty and drop writes, as the SDKs
/// expect an `Ok` there.
fn target(state: &mut VmState, map: u32) -> Result<Target, Status> {
    if map > HTTP_CALL_RESPONSE_TRAILERS {
        return Err(Status::BadArgument);
    }
    if let (REQUEST_HEADERS | RESPONSE_HEADERS, Some(h)) =
        (map, state.stream().and_then(|s| s.headers.clone()))
    {
        let kind = if map == REQUEST_HEADERS {
            HeadersKind::Request
        } else {
            HeadersKind::Response
        };
        return Ok(Target::Stream(h, kind));
    }
    Ok(Target::Map(with_map(state, map, |m| m.clone())?))
}

/// Runs `f` on map `map` of the effective context when it is one the host holds
/// (trailers, call metadata).
fn with_map<R>(state: &mut VmState, map: u32, f: impl FnOnce(&mut HeaderMap) -> R) -> Result<R, Status> {
    if map > HTTP_CALL_RESPONSE_TRAILERS {
        return Err(Status::BadArgument);
    }
    if (GRPC_INITIAL_METADATA..=HTTP_CALL_RESPONSE_TRAILERS).contains(&map) {
        return Ok(match state.call.as_mut() {
            Some(call) => f(match map {
                GRPC_INITIAL_METADATA | HTTP_CALL_RESPONSE_HEADERS => &mut call.headers,
                GRPC_TRAILING_METADATA | HTTP_CALL_RESPONSE_TRAILERS => &mut call.trailers,
                _ => unreachable!("checked above"),
            }),
            None => f(&mut HeaderMap::new()),
        });
    }
    Ok(match state.stream() {
        Some(s) => match map {
            REQUEST_TRAILERS => f(&mut s.request_trailers),
            RESPONSE_TRAILERS => f(&mut s.response_trailers),
            // Headers of a stream without shared headers (a TCP context): none.
            _ => f(&mut HeaderMap::new()),
        },
        None => f(&mut HeaderMap::new()),
    })
}

fn get_pairs(c: &mut C<'_>, map: u32, ptr_ptr: u32, size_ptr: u32) -> HostResult {
    match target(c.data_mut(), map)? {
        Target::Stream(h, kind) => {
            // Held while the pairs are written into the guest (see `get_value`); they go
            // straight into the guest's allocation, with no host copy first.
            let h = h.try_borrow().map_err(|_| Status::InternalFailure)?;
            let (count, size) = stream_headers::count_and_size(&*h, kind);
            give_with(c, size, ptr_ptr, size_ptr, |out| {
                stream_headers::serialize_into(&*h, kind, count, out)
            })
        }
        Target::Map(m) => give(c, &pairs::serialize(&m), ptr_ptr, size_ptr),
    }
}

fn set_pairs(c: &mut C<'_>, map: u32, ptr: u32, size: u32) -> HostResult {
    let parsed = read_map(c, ptr, size)?;
    match target(c.data_mut(), map)? {
        Target::Stream(h, kind) => h
            .try_borrow_mut()
            .map_err(|_| Status::InternalFailure)?
            .set_all(kind, parsed),
        Target::Map(_) => with_map(c.data_mut(), map, |m| *m = parsed)?,
    }
    Ok(())
}

fn get_value(
    c: &mut C<'_>,
    map: u32,
    key_ptr: u32,
    key_size: u32,
    ptr_ptr: u32,
    size_ptr: u32,
) -> HostResult {
    with_bytes(c, key_ptr, key_size, |c, key| {
        get_value_of(c, map, key, ptr_ptr, size_ptr)
    })?
}

fn get_value_of(c: &mut C<'_>, map: u32, key: &[u8], ptr_ptr: u32, size_ptr: u32) -> HostResult {
    let legacy = c.data().plugin.abi == crate::AbiVersion::V0_1_0;
    match target(c.data_mut(), map)? {
        Target::Stream(h, kind) => {
            // Held while the value is copied into the guest: a guest that re-enters a
            // header call from its allocator gets `InternalFailure`, not a second borrow.
            let h = h.try_borrow().map_err(|_| Status::InternalFailure)?;
            match h.get(kind, key) {
                Some(value) => give(c, value, ptr_ptr, size_ptr),
                None if legacy => give(c, &[], ptr_ptr, size_ptr),
                None => Err(Status::NotFound.into()),
            }
        }
        Target::Map(m) => match m.get(key) {
            Some(value) => give(c, value, ptr_ptr, size_ptr),
            // ABI 0.1.0 answered a missing key with an empty value; 0.2.0 made it NotFound.
            None if legacy => give(c, &[], ptr_ptr, size_ptr),
            None => Err(Status::NotFound.into()),
        },
    }
}

enum Change {
    Add,
    Replace,
    Remove,
}

fn change(c: &mut C<'_>, map: u32, key: (u32, u32), value: Option<(u32, u32)>, how: Change) -> HostResult {
    let mut key = read(c, key.0, key.1)?;
    let value = match value {
        Some((ptr, size)) => Bytes::from(read(c, ptr, size)?),
        None => Bytes::new(),
    };
    match target(c.data_mut(), map)? {
        Target::Stream(h, kind) => {
            let mut h = h.try_borrow_mut().map_err(|_| Status::InternalFailure)?;
            key.make_ascii_lowercase();
            match how {
                Change::Add => h.add(kind, Bytes::from(key), value),
                Change::Replace => h.replace(kind, Bytes::from(key), value),
                Change::Remove => h.remove(kind, &key),
            }
        }
        Target::Map(_) => with_map(c.data_mut(), map, |m| match how {
            Change::Add => m.add_owned(key, value),
            Change::Replace => m.set(&key, value),
            Change::Remove => m.remove(&key),
        })?,
    }
    Ok(())
}
