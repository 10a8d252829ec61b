//! Properties (Envoy's attribute names): what the plugin, the stream and the proxy know.
//! A path arrives as NUL-separated segments and is looked up by its dotted form.
//! Integers are 8 little-endian bytes, as in Envoy.

use bytes::Bytes;
use wasmtime::{Caller, Linker};

use super::memory::{give, read, status, HostResult};
use super::Status;
use crate::state::{StreamState, VmState};
use crate::HeadersKind;

type C<'a> = Caller<'a, VmState>;

pub fn add_to_linker(linker: &mut Linker<VmState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_property",
        |mut c: C<'_>, path_ptr: u32, path_size: u32, ptr_ptr: u32, size_ptr: u32| {
            status(get_property(&mut c, path_ptr, path_size, ptr_ptr, size_ptr))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_property",
        |mut c: C<'_>, path_ptr: u32, path_size: u32, value_ptr: u32, value_size: u32| {
            status(set_property(&mut c, path_ptr, path_size, value_ptr, value_size))
        },
    )?;
    Ok(())
}

/// `a\0b\0c` (trailing NUL allowed) → `a.b.c`.
fn dotted(raw: &[u8]) -> Result<String, Status> {
    let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
    let text = std::str::from_utf8(raw).map_err(|_| Status::BadArgument)?;
    Ok(text.replace('\0', "."))
}

fn get_property(c: &mut C<'_>, path_ptr: u32, path_size: u32, ptr_ptr: u32, size_ptr: u32) -> HostResult {
    let path = dotted(&read(c, path_ptr, path_size)?)?;
    let value = lookup(c.data_mut(), &path).ok_or(Status::NotFound)?;
    give(c, &value, ptr_ptr, size_ptr)
}

fn set_property(c: &mut C<'_>, path_ptr: u32, path_size: u32, value_ptr: u32, value_size: u32) -> HostResult {
    let path = dotted(&read(c, path_ptr, path_size)?)?;
    let value = Bytes::from(read(c, value_ptr, value_size)?);
    let state = c.data_mut();
    match state.stream() {
        Some(stream) => stream.properties.insert(path, value),
        None => state.root_properties.insert(path, value),
    };
    Ok(())
}

/// The value of a property for the effective context.
pub fn lookup(state: &mut VmState, path: &str) -> Option<Bytes> {
    let plugin = state.plugin.clone();
    match path {
        "plugin_name" => return Some(Bytes::from(plugin.plugin_name.clone())),
        "plugin_root_id" => return Some(Bytes::from(plugin.spec.root_id.clone())),
        "plugin_vm_id" => return Some(Bytes::from(plugin.spec.vm_id.clone())),
        _ => {}
    }
    if let Some(value) = state.root_properties.get(path) {
        return Some(value.clone());
    }
    if let Some(stream) = state.stream() {
        if let Some(value) = stream.properties.get(path) {
            return Some(value.clone());
        }
        if let Some(value) = from_stream(stream, path) {
            return Some(value);
        }
    }
    state.host.property(path)
}

fn int(value: i64) -> Bytes {
    Bytes::copy_from_slice(&value.to_le_bytes())
}

fn from_stream(s: &StreamState, path: &str) -> Option<Bytes> {
    let header = |kind: HeadersKind, name: &str| -> Option<Bytes> {
        let headers = s.headers.as_ref()?.try_borrow().ok()?;
        headers.get(kind, name.as_bytes()).map(Bytes::copy_from_slice)
    };
    let req = |name: &str| header(HeadersKind::Request, name);
    if let Some(name) = path.strip_prefix("request.headers.") {
        return req(name);
    }
    if let Some(name) = path.strip_prefix("response.headers.") {
        return header(HeadersKind::Response, name);
    }
    if let Some(name) = path.strip_prefix("response.trailers.") {
        return s.response_trailers.get(name).cloned();
    }
    let info = &s.info;
    let value = match path {
        "request.path" => req(":path")?,
        "request.url_path" => {
            let full = req(":path")?;
            let end = full.iter().position(|b| *b == b'?').unwrap_or(full.len());
            full.slice(..end)
        }
        "request.query" => {
            let full = req(":path")?;
            let start = full.iter().position(|b| *b == b'?')? + 1;
            full.slice(start..)
        }
        "request.host" => req(":authority").or_else(|| req("host"))?,
        "request.scheme" => req(":scheme")?,
        "request.method" => req(":method")?,
        "request.referer" => req("referer")?,
        "request.useragent" => req("user-agent")?,
        "request.id" => match &info.request_id {
            Some(id) => Bytes::from(id.clone()),
            None => req("x-request-id")?,
        },
        "request.protocol" => Bytes::copy_from_slice(info.protocol.as_deref()?.as_bytes()),
        "response.code" => {
            let status = header(HeadersKind::Response, ":status")?;
            int(std::str::from_utf8(&status).ok()?.parse().ok()?)
        }
        "source.address" => Bytes::from(info.source?.to_string()),
        "source.port" => int(info.source?.port().into()),
        "destination.address" => Bytes::from(info.destination?.to_string()),
        "destination.port" => int(info.destination?.port().into()),
        _ => return info.extra.iter().find(|(k, _)| k == path).map(|(_, v)| v.clone()),
    };
    Some(value)
}
