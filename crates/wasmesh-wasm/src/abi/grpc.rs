//! gRPC: unary calls (`proxy_grpc_call`), streams (`proxy_grpc_stream`, `proxy_grpc_send`),
//! `proxy_grpc_cancel` / `proxy_grpc_close` for both, and `proxy_get_status`.

use std::time::Duration;

use bytes::Bytes;
use wasmtime::{Caller, Linker};

use super::memory::{give, read, read_map, read_string, status, write_u32, HostResult};
use super::{calls, Status};
use crate::state::VmState;
use crate::{GrpcCallRequest, GrpcIncoming, GrpcOutgoing, GrpcStreamRequest};

type C<'a> = Caller<'a, VmState>;

pub fn add_to_linker(linker: &mut Linker<VmState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_grpc_call",
        |mut c: C<'_>,
         upstream_ptr: u32,
         upstream_size: u32,
         service_ptr: u32,
         service_size: u32,
         method_ptr: u32,
         method_size: u32,
         metadata_ptr: u32,
         metadata_size: u32,
         message_ptr: u32,
         message_size: u32,
         timeout_ms: u32,
         token_ptr: u32| {
            status(grpc_call(
                &mut c,
                [
                    (upstream_ptr, upstream_size),
                    (service_ptr, service_size),
                    (method_ptr, method_size),
                    (metadata_ptr, metadata_size),
                    (message_ptr, message_size),
                ],
                timeout_ms,
                token_ptr,
            ))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_grpc_stream",
        |mut c: C<'_>,
         upstream_ptr: u32,
         upstream_size: u32,
         service_ptr: u32,
         service_size: u32,
         method_ptr: u32,
         method_size: u32,
         metadata_ptr: u32,
         metadata_size: u32,
         token_ptr: u32| {
            status(grpc_stream(
                &mut c,
                [
                    (upstream_ptr, upstream_size),
                    (service_ptr, service_size),
                    (method_ptr, method_size),
                    (metadata_ptr, metadata_size),
                ],
                token_ptr,
            ))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_grpc_send",
        |mut c: C<'_>, token: u32, message_ptr: u32, message_size: u32, end_of_stream: u32| {
            status(grpc_send(
                &mut c,
                token,
                message_ptr,
                message_size,
                end_of_stream != 0,
            ))
        },
    )?;
    linker.func_wrap("env", "proxy_grpc_cancel", |mut c: C<'_>, token: u32| {
        Ok(cancel(c.data_mut(), token) as u32)
    })?;
    linker.func_wrap("env", "proxy_grpc_close", |mut c: C<'_>, token: u32| {
        Ok(close(c.data_mut(), token) as u32)
    })?;
    linker.func_wrap(
        "env",
        "proxy_get_status",
        |mut c: C<'_>, code_ptr: u32, msg_ptr: u32, msg_size: u32| {
            status(get_status(&mut c, code_ptr, msg_ptr, msg_size))
        },
    )?;
    Ok(())
}

fn grpc_call(c: &mut C<'_>, parts: [(u32, u32); 5], timeout_ms: u32, token_ptr: u32) -> HostResult {
    let cluster = read_string(c, parts[0].0, parts[0].1)?;
    let service = read_string(c, parts[1].0, parts[1].1)?;
    let method = read_string(c, parts[2].0, parts[2].1)?;
    let initial_metadata = read_map(c, parts[3].0, parts[3].1)?;
    let message = Bytes::from(read(c, parts[4].0, parts[4].1)?);
    write_u32(c, token_ptr, 0)?;
    let timeout = Duration::from_millis(timeout_ms.into());
    let request = GrpcCallRequest {
        cluster,
        service,
        method,
        initial_metadata,
        message,
        timeout,
    };
    let token = calls::start(
        c.data_mut(),
        |host| host.grpc_call(request),
        move |answer, token, core| async move {
            let result = calls::within(timeout, answer).await;
            if let Some(core) = core.upgrade() {
                core.deliver_grpc_call(token, result);
            }
        },
        None,
    )?;
    write_u32(c, token_ptr, token)?;
    Ok(())
}

/// Cancels a call, or resets a stream.
fn cancel(state: &mut VmState, token: u32) -> Status {
    match state.calls.remove(&token) {
        Some(call) => {
            if let Some(outgoing) = call.outgoing {
                let _ = outgoing.send(GrpcOutgoing::Cancel);
            }
            call.task.abort();
            Status::Ok
        }
        None => Status::NotFound,
    }
}

/// Half-closes a stream (the answer still arrives); cancels a unary call.
fn close(state: &mut VmState, token: u32) -> Status {
    match state.calls.get(&token).and_then(|call| call.outgoing.clone()) {
        Some(outgoing) => {
            let _ = outgoing.send(GrpcOutgoing::EndOfStream);
            Status::Ok
        }
        None => cancel(state, token),
    }
}

fn grpc_stream(c: &mut C<'_>, parts: [(u32, u32); 4], token_ptr: u32) -> HostResult {
    let cluster = read_string(c, parts[0].0, parts[0].1)?;
    let service = read_string(c, parts[1].0, parts[1].1)?;
    let method = read_string(c, parts[2].0, parts[2].1)?;
    let initial_metadata = read_map(c, parts[3].0, parts[3].1)?;
    write_u32(c, token_ptr, 0)?;
    let request = GrpcStreamRequest {
        cluster,
        service,
        method,
        initial_metadata,
    };
    let (outgoing, receiver) = tokio::sync::mpsc::unbounded_channel();
    let token = calls::start(
        c.data_mut(),
        |host| host.grpc_stream(request, receiver),
        |mut incoming, token, core| async move {
            use futures::StreamExt;
            while let Some(event) = incoming.next().await {
                let Some(core) = core.upgrade() else { return };
                let closed = matches!(event, GrpcIncoming::Close { .. });
                core.deliver_grpc_stream(token, event);
                if closed {
                    return;
                }
            }
            // The proxy ended the stream without a status: report it as UNAVAILABLE.
            if let Some(core) = core.upgrade() {
                core.deliver_grpc_stream(
                    token,
                    GrpcIncoming::Close {
                        status: 14,
                        message: None,
                    },
                );
            }
        },
        Some(outgoing),
    )?;
    write_u32(c, token_ptr, token)?;
    Ok(())
}

fn grpc_send(c: &mut C<'_>, token: u32, ptr: u32, size: u32, end_of_stream: bool) -> HostResult {
    let message = Bytes::from(read(c, ptr, size)?);
    let outgoing = c
        .data()
        .calls
        .get(&token)
        .and_then(|call| call.outgoing.clone())
        .ok_or(Status::NotFound)?;
    if !message.is_empty() || !end_of_stream {
        outgoing
            .send(GrpcOutgoing::Message(message))
            .map_err(|_| Status::NotFound)?;
    }
    if end_of_stream {
        let _ = outgoing.send(GrpcOutgoing::EndOfStream);
    }
    Ok(())
}

fn get_status(c: &mut C<'_>, code_ptr: u32, msg_ptr: u32, msg_size: u32) -> HostResult {
    let (code, message) = match &c.data().call {
        Some(call) => (call.grpc_status, call.grpc_message.clone().unwrap_or_default()),
        None => return Err(Status::NotFound.into()),
    };
    write_u32(c, code_ptr, code)?;
    give(c, message.as_bytes(), msg_ptr, msg_size)
}
