//! `proxy_http_call`: a request to a cluster, answered later through
//! `proxy_on_http_call_response`.

use std::time::Duration;

use bytes::Bytes;
use wasmtime::{Caller, Linker};

use super::memory::{read, read_map, read_string, status, write_u32, HostResult};
use super::{calls, Status};
use crate::state::VmState;
use crate::HttpCallRequest;

type C<'a> = Caller<'a, VmState>;

pub fn add_to_linker(linker: &mut Linker<VmState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_http_call",
        |mut c: C<'_>,
         upstream_ptr: u32,
         upstream_size: u32,
         headers_ptr: u32,
         headers_size: u32,
         body_ptr: u32,
         body_size: u32,
         trailers_ptr: u32,
         trailers_size: u32,
         timeout_ms: u32,
         token_ptr: u32| {
            status(http_call(
                &mut c,
                (upstream_ptr, upstream_size),
                (headers_ptr, headers_size),
                (body_ptr, body_size),
                (trailers_ptr, trailers_size),
                timeout_ms,
                token_ptr,
            ))
        },
    )?;
    Ok(())
}

fn http_call(
    c: &mut C<'_>,
    upstream: (u32, u32),
    headers: (u32, u32),
    body: (u32, u32),
    trailers: (u32, u32),
    timeout_ms: u32,
    token_ptr: u32,
) -> HostResult {
    let cluster = read_string(c, upstream.0, upstream.1)?;
    let headers = read_map(c, headers.0, headers.1)?;
    let body = Bytes::from(read(c, body.0, body.1)?);
    let trailers = read_map(c, trailers.0, trailers.1)?;
    // As Envoy: the three pseudo-headers a request needs must be there.
    for required in [":method", ":path", ":authority"] {
        if headers.get(required).is_none_or(|v| v.is_empty()) {
            return Err(Status::BadArgument.into());
        }
    }
    // Check the out-pointer before anything is sent.
    write_u32(c, token_ptr, 0)?;
    let timeout = Duration::from_millis(timeout_ms.into());
    let request = HttpCallRequest {
        cluster,
        headers,
        body,
        trailers,
        timeout,
    };
    let token = calls::start(
        c.data_mut(),
        |host| host.http_call(request),
        move |answer, token, core| async move {
            let result = calls::within(timeout, answer).await;
            if let Some(core) = core.upgrade() {
                core.deliver_http_call(token, result);
            }
        },
        None,
    )?;
    write_u32(c, token_ptr, token)?;
    Ok(())
}
