//! Properties (Envoy's attribute names): what the plugin, the stream and the proxy know,
//! each available where Envoy has it (docs/wasm-host.md has the table). A path arrives as
//! NUL-separated segments and is looked up by its dotted form; values are encoded by
//! `attributes`. An attribute the proxy does not know is `NotFound`, as Envoy answers for
//! an absent one.

use bytes::Bytes;
use wasmtime::{Caller, Linker};

use super::attributes::Value;
use super::memory::{give, read, status, HostResult};
use super::Status;
use crate::state::{StreamState, VmState};
use crate::{HeaderMap, HeadersKind, StreamHeaders};

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

/// Envoy's `setProperty`: on the stream's state, readable back by the same path; from
/// the root context there is no stream, so `NotFound`. A property declared read-only
/// (`declare_property`) takes one value.
fn set_property(c: &mut C<'_>, path_ptr: u32, path_size: u32, value_ptr: u32, value_size: u32) -> HostResult {
    let path = dotted(&read(c, path_ptr, path_size)?)?;
    let value = Bytes::from(read(c, value_ptr, value_size)?);
    let state = c.data_mut();
    let readonly = state.declared.get(&path).copied().unwrap_or(false);
    let stream = state.stream().ok_or(Status::NotFound)?;
    if readonly && stream.properties.contains_key(&path) {
        return Err(Status::BadArgument.into());
    }
    stream.properties.insert(path, value);
    Ok(())
}

/// The Wasm extension's short names for `xds.*` attributes.
fn xds_alias(path: &str) -> Option<&'static str> {
    Some(match path {
        "cluster_name" => "xds.cluster_name",
        "cluster_metadata" => "xds.cluster_metadata",
        "listener_direction" => "xds.listener_direction",
        "listener_metadata" => "xds.listener_metadata",
        "route_name" => "xds.route_name",
        "route_metadata" => "xds.route_metadata",
        "upstream_host_metadata" => "xds.upstream_host_metadata",
        _ => return None,
    })
}

/// The value of a property for the effective context: Envoy's attributes first (what a
/// plugin sets cannot shadow them, as on Envoy), then what the plugin (or the proxy, e.g.
/// `request.auth.*`) set on the stream.
pub fn lookup(state: &mut VmState, path: &str) -> Option<Bytes> {
    let path = xds_alias(path).unwrap_or(path);
    let plugin = state.plugin.clone();
    match path {
        "plugin_name" => return Some(Bytes::from(plugin.plugin_name.clone())),
        "plugin_root_id" => return Some(Bytes::from(plugin.spec.root_id.clone())),
        "plugin_vm_id" => return Some(Bytes::from(plugin.spec.vm_id.clone())),
        _ => {}
    }
    let node_rest = match path {
        "node" | "xds.node" => Some(""),
        _ => path
            .strip_prefix("node.")
            .or_else(|| path.strip_prefix("xds.node.")),
    };
    if let Some(rest) = node_rest {
        return state.host.node()?.lookup(rest).map(|v| v.encode());
    }
    if let Some(stream) = state.stream() {
        if let Some(value) = from_stream(stream, path) {
            return Some(value.encode());
        }
        if let Some((_, value)) = stream.info.extra.iter().find(|(k, _)| k == path) {
            return Some(value.clone());
        }
        if let Some(value) = stream.properties.get(path) {
            return Some(value.clone());
        }
        if let Some(value) = stream_defaults(path) {
            return Some(value.encode());
        }
    }
    state.host.property(path)
}

/// Attributes with a value on every stream of this proxy when the proxy published none:
/// no client certificates are asked for, and our resources carry no xDS metadata (Envoy
/// serializes an empty `Metadata` as no bytes).
fn stream_defaults(path: &str) -> Option<Value> {
    Some(match path {
        "connection.mtls" => Value::Bool(false),
        "connection.requested_server_name" => Value::str(""),
        "xds.listener_metadata" => Value::str(""),
        _ => return None,
    })
}

/// The request's (or response's) headers as one map, pseudo-headers included and
/// repeated names joined with `,` (Envoy's header map as an attribute).
fn header_map(s: &StreamState, kind: HeadersKind) -> Option<HeaderMap> {
    let headers = s.headers.as_ref()?.try_borrow().ok()?;
    if kind == HeadersKind::Response && headers.get(kind, b":status").is_none() {
        return None;
    }
    let mut map = HeaderMap::new();
    headers.for_each(kind, &mut |k, v| match map.get(k).cloned() {
        Some(prev) => map.set(k, Bytes::from([&prev[..], b",", v].concat())),
        None => map.add(k, Bytes::copy_from_slice(v)),
    });
    Some(map)
}

fn from_stream(s: &StreamState, path: &str) -> Option<Value> {
    let header = |kind: HeadersKind, name: &str| -> Option<Bytes> {
        let headers = s.headers.as_ref()?.try_borrow().ok()?;
        headers.get(kind, name.as_bytes()).map(Bytes::copy_from_slice)
    };
    let req = |name: &str| header(HeadersKind::Request, name);
    let resp = |name: &str| header(HeadersKind::Response, name);
    if let Some(name) = path.strip_prefix("request.headers.") {
        return header_map(s, HeadersKind::Request)?
            .get(name)
            .cloned()
            .map(Value::Bytes);
    }
    if let Some(name) = path.strip_prefix("response.headers.") {
        return header_map(s, HeadersKind::Response)?
            .get(name)
            .cloned()
            .map(Value::Bytes);
    }
    if let Some(name) = path.strip_prefix("response.trailers.") {
        return s.response_trailers.get(name).cloned().map(Value::Bytes);
    }
    let info = &s.info;
    let value = match path {
        "request.path" => Value::Bytes(req(":path")?),
        "request.url_path" => {
            let full = req(":path")?;
            let end = full.iter().position(|b| *b == b'?').unwrap_or(full.len());
            Value::Bytes(full.slice(..end))
        }
        "request.query" => {
            let full = req(":path")?;
            let start = full.iter().position(|b| *b == b'?').map_or(full.len(), |i| i + 1);
            Value::Bytes(full.slice(start..))
        }
        "request.host" => Value::Bytes(req(":authority").or_else(|| req("host"))?),
        "request.scheme" => Value::Bytes(req(":scheme")?),
        "request.method" => Value::Bytes(req(":method")?),
        "request.headers" => Value::Map(header_map(s, HeadersKind::Request)?),
        "request.referer" => Value::Bytes(req("referer")?),
        "request.useragent" => Value::Bytes(req("user-agent")?),
        "request.time" => Value::Time(info.start?),
        "request.duration" => Value::Duration(s.duration?),
        "request.id" => match &info.request_id {
            Some(id) => Value::str(id.clone()),
            None => Value::Bytes(req("x-request-id")?),
        },
        "request.protocol" => Value::str(info.protocol.as_deref()?.to_owned()),
        "response.code" => {
            let status = resp(":status")?;
            Value::Int(std::str::from_utf8(&status).ok()?.parse().ok()?)
        }
        "response.grpc_status" => {
            let status = s
                .response_trailers
                .get("grpc-status")
                .cloned()
                .or_else(|| resp("grpc-status"))?;
            Value::Int(std::str::from_utf8(&status).ok()?.parse().ok()?)
        }
        "response.headers" => Value::Map(header_map(s, HeadersKind::Response)?),
        "response.trailers" => {
            header(HeadersKind::Response, ":status")?;
            Value::Map(s.response_trailers.clone())
        }
        "connection.id" => Value::Uint(info.connection_id?),
        "source.address" => Value::str(info.source?.to_string()),
        "source.port" => Value::Int(info.source?.port().into()),
        "destination.address" => Value::str(info.destination?.to_string()),
        "destination.port" => Value::Int(info.destination?.port().into()),
        _ => return from_progress(s, path).or_else(|| from_tls(info.tls.as_deref()?, path)),
    };
    Some(value)
}

/// Envoy's `byteSize` of a header map: its names' and values' lengths (pseudo-headers
/// included), 0 when the map does not exist yet.
fn header_bytes(headers: &dyn StreamHeaders, kind: HeadersKind) -> u64 {
    let mut n = 0u64;
    headers.for_each(kind, &mut |k, v| n += (k.len() + v.len()) as u64);
    n
}

/// What the proxy learned as the request went ([`crate::StreamProgress`]): sizes, the
/// response's details and flags, the upstream try. As Envoy's, the sizes and flags have a
/// value in every HTTP callback (0 until there is something to count).
fn from_progress(s: &StreamState, path: &str) -> Option<Value> {
    let headers = s.headers.as_ref()?.try_borrow().ok()?;
    let headers: &dyn StreamHeaders = &*headers;
    let p = headers.progress()?;
    let upstream = p.upstream.as_ref();
    let value = match path {
        // Envoy: the request's content-length when it has one, else the bytes received.
        "request.size" => match headers.get(HeadersKind::Request, b"content-length") {
            Some(length) => Value::Int(std::str::from_utf8(length).ok()?.trim().parse().ok()?),
            None => Value::Int(p.request_body_bytes as i64),
        },
        "request.total_size" => {
            Value::Int((p.request_body_bytes + header_bytes(headers, HeadersKind::Request)) as i64)
        }
        "request.headers_bytes" => Value::Int(header_bytes(headers, HeadersKind::Request) as i64),
        "response.size" => Value::Int(p.response_body_bytes as i64),
        "response.total_size" => {
            let trailers: usize = s
                .response_trailers
                .pairs()
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum();
            let head = header_bytes(headers, HeadersKind::Response);
            Value::Int((p.response_body_bytes + head + trailers as u64) as i64)
        }
        "response.headers_bytes" => Value::Int(header_bytes(headers, HeadersKind::Response) as i64),
        "response.code_details" => {
            Value::Bytes(Bytes::copy_from_slice(p.code_details.as_deref()?.as_bytes()))
        }
        "response.flags" => Value::Int(p.response_flags as i64),
        "response.backend_latency" => Value::Duration(upstream?.backend_latency()?),
        "upstream.address" => Value::str(upstream?.address.to_string()),
        "upstream.port" => Value::Int(upstream?.address.port().into()),
        "upstream.local_address" => Value::str(upstream?.local_address?.to_string()),
        "upstream.request_attempt_count" => Value::Uint(upstream.map_or(0, |u| u.attempts.into())),
        "upstream.transport_failure_reason" => Value::Bytes(Bytes::copy_from_slice(
            upstream?.transport_failure_reason.as_bytes(),
        )),
        _ => return None,
    };
    Some(value)
}

/// Envoy's TLS attributes of the downstream connection: present only on a TLS
/// connection; a name list's attribute is its first entry; the client's certificate's
/// subject is empty when it presented none (Envoy's), its other facts absent.
fn from_tls(tls: &crate::ConnectionTls, path: &str) -> Option<Value> {
    let first = |names: &[String]| names.first().map(|n| Value::str(n.clone()));
    match path {
        "connection.tls_version" => Some(Value::str(tls.version)),
        "connection.subject_local_certificate" => Some(Value::str(tls.local.subject.clone())),
        "connection.uri_san_local_certificate" => first(&tls.local.uri_sans),
        "connection.dns_san_local_certificate" => first(&tls.local.dns_sans),
        "connection.subject_peer_certificate" => Some(Value::str(
            tls.peer.as_ref().map_or(String::new(), |p| p.subject.clone()),
        )),
        "connection.uri_san_peer_certificate" => first(&tls.peer.as_ref()?.uri_sans),
        "connection.dns_san_peer_certificate" => first(&tls.peer.as_ref()?.dns_sans),
        "connection.sha256_peer_certificate_digest" => {
            Some(Value::str(tls.peer.as_ref()?.sha256_digest.clone()))
        }
        "connection.mtls" => Some(Value::Bool(tls.peer.is_some())),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
