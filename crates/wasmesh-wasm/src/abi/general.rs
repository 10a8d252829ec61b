//! Logging, time, timers, context control, stream control, local replies and foreign
//! functions.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use wasmtime::{Caller, Linker};

use super::memory::{read, read_map, read_string, status, with_memory, write, write_u32, HostResult};
use super::Status;
use crate::state::{VmState, ROOT_CONTEXT_ID};
use crate::{LocalReply, LogLevel};

type C<'a> = Caller<'a, VmState>;

pub fn add_to_linker(linker: &mut Linker<VmState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_log",
        |mut c: C<'_>, level: u32, ptr: u32, size: u32| status(proxy_log(&mut c, level, ptr, size)),
    )?;
    linker.func_wrap("env", "proxy_get_log_level", |mut c: C<'_>, ptr: u32| {
        let level = c.data().host.log_level() as u32;
        status(write_u32(&mut c, ptr, level).map_err(Into::into))
    })?;
    linker.func_wrap(
        "env",
        "proxy_get_current_time_nanoseconds",
        |mut c: C<'_>, ptr: u32| {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            status(write(&mut c, ptr, &now.to_le_bytes()).map_err(Into::into))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_tick_period_milliseconds",
        |mut c: C<'_>, period: u32| {
            crate::events::restart_ticker(c.data_mut(), period);
            Ok(Status::Ok as u32)
        },
    )?;
    linker.func_wrap("env", "proxy_set_effective_context", |mut c: C<'_>, id: u32| {
        let state = c.data_mut();
        if id == ROOT_CONTEXT_ID || state.contexts.contains_key(&id) {
            state.effective = id;
            Ok(Status::Ok as u32)
        } else {
            Ok(Status::BadArgument as u32)
        }
    })?;
    // The root context's deferred `proxy_on_done` is not used by this host: contexts are
    // deleted when done, so there is nothing to wait for.
    linker.func_wrap("env", "proxy_done", |_: C<'_>| Ok(Status::Ok as u32))?;
    linker.func_wrap(
        "env",
        "proxy_continue_stream",
        |mut c: C<'_>, stream_type: u32| status(continue_stream(c.data_mut(), stream_type)),
    )?;
    linker.func_wrap("env", "proxy_close_stream", |mut c: C<'_>, stream_type: u32| {
        status(close_stream(c.data_mut(), stream_type))
    })?;
    linker.func_wrap(
        "env",
        "proxy_send_local_response",
        |mut c: C<'_>,
         code: u32,
         details_ptr: u32,
         details_size: u32,
         body_ptr: u32,
         body_size: u32,
         headers_ptr: u32,
         headers_size: u32,
         grpc_status: i32| {
            status(send_local_response(
                &mut c,
                code,
                (details_ptr, details_size),
                (body_ptr, body_size),
                (headers_ptr, headers_size),
                grpc_status,
            ))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_call_foreign_function",
        |mut c: C<'_>,
         name_ptr: u32,
         name_size: u32,
         args_ptr: u32,
         args_size: u32,
         ret_ptr: u32,
         ret_size: u32| {
            status(call_foreign_function(
                &mut c,
                (name_ptr, name_size),
                (args_ptr, args_size),
                ret_ptr,
                ret_size,
            ))
        },
    )?;
    // ABI 0.1.0.
    linker.func_wrap("env", "proxy_continue_request", |mut c: C<'_>| {
        status(continue_stream(c.data_mut(), 0))
    })?;
    linker.func_wrap("env", "proxy_continue_response", |mut c: C<'_>| {
        status(continue_stream(c.data_mut(), 1))
    })?;
    linker.func_wrap("env", "proxy_clear_route_cache", |_: C<'_>| Ok(Status::Ok as u32))?;
    Ok(())
}

fn proxy_log(c: &mut C<'_>, level: u32, ptr: u32, size: u32) -> HostResult {
    let level = LogLevel::from_abi(level).ok_or(Status::BadArgument)?;
    let max = c.data().plugin.host.inner.limits.max_log_line;
    // The whole range must be valid; only the first `max` bytes are copied.
    let message = with_memory(c, |memory, _| {
        let all = super::memory::slice(memory, ptr, size)?;
        let kept = &all[..all.len().min(max)];
        let mut text = String::from_utf8_lossy(kept).into_owned();
        if all.len() > max {
            text.push_str(&format!("… [{} more bytes cut]", all.len() - max));
        }
        Ok(text)
    })?;
    let state = c.data();
    if level >= state.host.log_level() {
        state.host.log(&state.plugin.plugin_name, level, &message);
    }
    Ok(())
}

pub fn continue_stream(state: &mut VmState, stream_type: u32) -> HostResult {
    if stream_type > 3 {
        return Err(Status::BadArgument.into());
    }
    let stream = state.stream().ok_or(Status::NotFound)?;
    stream.resumed = true;
    stream.wake_waiter();
    Ok(())
}

fn close_stream(state: &mut VmState, stream_type: u32) -> HostResult {
    if stream_type > 3 {
        return Err(Status::BadArgument.into());
    }
    let stream = state.stream().ok_or(Status::NotFound)?;
    stream.close = true;
    stream.wake_waiter();
    Ok(())
}

fn send_local_response(
    c: &mut C<'_>,
    code: u32,
    details: (u32, u32),
    body: (u32, u32),
    headers: (u32, u32),
    grpc_status: i32,
) -> HostResult {
    let status_code = u16::try_from(code)
        .ok()
        .filter(|s| (100..=999).contains(s))
        .ok_or(Status::BadArgument)?;
    let details = String::from_utf8_lossy(&read(c, details.0, details.1)?).into_owned();
    let body = Bytes::from(read(c, body.0, body.1)?);
    let headers = read_map(c, headers.0, headers.1)?;
    let stream = c.data_mut().stream().ok_or(Status::NotFound)?;
    stream.local_reply = Some(LocalReply {
        status: status_code,
        headers,
        body,
        details,
        grpc_status,
    });
    stream.wake_waiter();
    Ok(())
}

/// Envoy's foreign functions, in `foreign` (docs/wasm-host.md, "Foreign functions").
fn call_foreign_function(
    c: &mut C<'_>,
    name: (u32, u32),
    args: (u32, u32),
    ret_ptr: u32,
    ret_size: u32,
) -> HostResult {
    let name = read_string(c, name.0, name.1)?;
    let args = read(c, args.0, args.1)?;
    let out = super::foreign::call(c.data_mut(), &name, &args)?;
    super::memory::give(c, &out, ret_ptr, ret_size)
}
