//! `proxy_http_call`: a request to a cluster, answered later through
//! `proxy_on_http_call_response`.

use std::time::Duration;

use bytes::Bytes;
use wasmtime::{Caller, Linker};

use super::memory::{read, read_string, status, write_u32, HostResult};
use super::{pairs, Status};
use crate::state::{PendingCall, VmState, ROOT_CONTEXT_ID};
use crate::{CallError, HeaderMap, HttpCallRequest};

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
    let headers: HeaderMap = pairs::deserialize(&read(c, headers.0, headers.1)?)
        .ok_or(Status::BadArgument)?
        .into_iter()
        .collect();
    let body = Bytes::from(read(c, body.0, body.1)?);
    let trailers: HeaderMap = pairs::deserialize(&read(c, trailers.0, trailers.1)?)
        .ok_or(Status::BadArgument)?
        .into_iter()
        .collect();
    // As Envoy: the three pseudo-headers a request needs must be there.
    for required in [":method", ":path", ":authority"] {
        if headers.get(required).is_none_or(|v| v.is_empty()) {
            return Err(Status::BadArgument.into());
        }
    }
    // Check the out-pointer before anything is sent.
    write_u32(c, token_ptr, 0)?;
    let request = HttpCallRequest {
        cluster,
        headers,
        body,
        trailers,
        timeout: Duration::from_millis(timeout_ms.into()),
    };
    let timeout = request.timeout;
    let state = c.data_mut();
    if state.calls.len() >= crate::state::MAX_CALLS_IN_FLIGHT {
        return Err(Status::InternalFailure.into());
    }
    let future = match state.host.http_call(request) {
        Ok(future) => future,
        Err(CallError::UnknownCluster(_)) => return Err(Status::BadArgument.into()),
        Err(_) => return Err(Status::InternalFailure.into()),
    };
    state.next_token = state.next_token.wrapping_add(1).max(1);
    let token = state.next_token;
    let context = if state.effective == 0 {
        ROOT_CONTEXT_ID
    } else {
        state.effective
    };
    let core = state.core.clone();
    let task = crate::events::spawn_local(state, "http and gRPC calls", async move {
        let result = match tokio::time::timeout(timeout.max(Duration::from_millis(1)), future).await {
            Ok(result) => result,
            Err(_) => Err(CallError::Timeout),
        };
        if let Some(core) = core.upgrade() {
            core.deliver_http_call(token, result);
        }
    })
    .ok_or(Status::InternalFailure)?;
    state.calls.insert(
        token,
        PendingCall {
            context,
            task: task.abort_handle(),
            outgoing: None,
        },
    );
    write_u32(c, token_ptr, token)?;
    Ok(())
}
