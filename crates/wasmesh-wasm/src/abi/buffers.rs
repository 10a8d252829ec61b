//! Buffers: bodies, TCP data, call answers, and the plugin's and VM's configuration.

use bytes::Bytes;
use wasmtime::{Caller, Linker};

use super::memory::{give, read, status, write_u32, HostResult};
use super::Status;
use crate::state::VmState;

type C<'a> = Caller<'a, VmState>;

const REQUEST_BODY: u32 = 0;
const RESPONSE_BODY: u32 = 1;
const DOWNSTREAM_DATA: u32 = 2;
const UPSTREAM_DATA: u32 = 3;
const HTTP_CALL_RESPONSE_BODY: u32 = 4;
const GRPC_RECEIVE_BUFFER: u32 = 5;
const VM_CONFIGURATION: u32 = 6;
const PLUGIN_CONFIGURATION: u32 = 7;

pub fn add_to_linker(linker: &mut Linker<VmState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_buffer_bytes",
        |mut c: C<'_>, buffer: u32, start: u32, max: u32, ptr_ptr: u32, size_ptr: u32| {
            status(get_bytes(&mut c, buffer, start, max, ptr_ptr, size_ptr))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_buffer_bytes",
        |mut c: C<'_>, buffer: u32, start: u32, size: u32, ptr: u32, len: u32| {
            status(set_bytes(&mut c, buffer, start, size, ptr, len))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_buffer_status",
        |mut c: C<'_>, buffer: u32, len_ptr: u32, flags_ptr: u32| {
            let found = get(c.data_mut(), buffer).map(|b| b.len() as u32);
            let eos = c.data_mut().stream().map(|s| s.end_of_stream as u32).unwrap_or(1);
            status(found.map_err(Into::into).and_then(|len| {
                write_u32(&mut c, len_ptr, len)?;
                write_u32(&mut c, flags_ptr, eos)?;
                Ok(())
            }))
        },
    )?;
    // ABI 0.1.0: the plugin configuration.
    linker.func_wrap(
        "env",
        "proxy_get_configuration",
        |mut c: C<'_>, ptr_ptr: u32, size_ptr: u32| {
            status(get_bytes(
                &mut c,
                PLUGIN_CONFIGURATION,
                0,
                u32::MAX,
                ptr_ptr,
                size_ptr,
            ))
        },
    )?;
    Ok(())
}

fn get(state: &mut VmState, buffer: u32) -> Result<Bytes, Status> {
    match buffer {
        VM_CONFIGURATION => Ok(state.plugin.spec.vm_config.clone()),
        PLUGIN_CONFIGURATION => Ok(state.plugin.spec.plugin_config.clone()),
        HTTP_CALL_RESPONSE_BODY | GRPC_RECEIVE_BUFFER => state
            .call
            .as_ref()
            .map(|c| c.body.clone())
            .ok_or(Status::NotFound),
        REQUEST_BODY..=UPSTREAM_DATA => {
            let s = state.stream().ok_or(Status::NotFound)?;
            Ok(match buffer {
                REQUEST_BODY => s.request_body.clone(),
                RESPONSE_BODY => s.response_body.clone(),
                DOWNSTREAM_DATA => s.downstream_data.clone(),
                _ => s.upstream_data.clone(),
            })
        }
        _ => Err(Status::NotFound),
    }
}

fn get_bytes(c: &mut C<'_>, buffer: u32, start: u32, max: u32, ptr_ptr: u32, size_ptr: u32) -> HostResult {
    let bytes = get(c.data_mut(), buffer)?;
    let start = (start as usize).min(bytes.len());
    let end = start.saturating_add(max as usize).min(bytes.len());
    give(c, &bytes[start..end], ptr_ptr, size_ptr)
}

fn set_bytes(c: &mut C<'_>, buffer: u32, start: u32, size: u32, ptr: u32, len: u32) -> HostResult {
    let data = read(c, ptr, len)?;
    let s = c.data_mut().stream().ok_or(Status::NotFound)?;
    let slot = match buffer {
        REQUEST_BODY => &mut s.request_body,
        RESPONSE_BODY => &mut s.response_body,
        DOWNSTREAM_DATA => &mut s.downstream_data,
        UPSTREAM_DATA => &mut s.upstream_data,
        _ => return Err(Status::BadArgument.into()),
    };
    // Replace [start, start + size) with the data (clamped to the buffer).
    let start = (start as usize).min(slot.len());
    let end = start.saturating_add(size as usize).min(slot.len());
    if start == 0 && end == slot.len() {
        // The whole buffer replaced (the SDKs' `set_http_*_body(0, len, ..)`): the copy read
        // out of the guest becomes the buffer, the body's one host copy in this direction
        // (docs/filter-chain.md, "Bodies").
        *slot = Bytes::from(data);
        return Ok(());
    }
    let mut out = Vec::with_capacity(slot.len() - (end - start) + data.len());
    out.extend_from_slice(&slot[..start]);
    out.extend_from_slice(&data);
    out.extend_from_slice(&slot[end..]);
    *slot = Bytes::from(out);
    Ok(())
}
