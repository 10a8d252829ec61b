//! Reads Envoy's attributes with `proxy_get_property` and echoes each back as a response
//! header `x-attr-<path, dots as dashes>`, decoded by its type: strings as they are,
//! integers (8 bytes little-endian) and timestamps/durations (nanoseconds) in decimal,
//! booleans as `true`/`false`, maps (serialized pairs) as `k=v;k=v`. An absent attribute
//! is echoed as `<absent>`. Request attributes are read in `on_http_request_headers`,
//! response ones (and `upstream.*`) in `on_http_response_headers`, and those of them
//! Envoy has during the request too (sizes, flags, attempts) also early, as
//! `x-attr-early-<path>`;
//! `x-attr-early-response-code` and `x-attr-early-upstream-address` say whether
//! `response.code` and `upstream.address` were there during the request (they must not be).
//!
//! It also declares `attrs.once` read-only (`declare_property`), sets it twice and reports
//! the statuses in `x-attr-set-once` (`Ok,Ok,BadArgument`: declared, set, refused, as on
//! Envoy), and reads back
//! `attrs.mine` which it set (`x-attr-set-readback`).
//!
//! With `x-verify-key` (a P-256 public key, DER in hex), `x-verify-sig` (a DER signature
//! in hex) and `x-verify-text`, it calls `verify_signature` (sha256) and echoes
//! `x-attr-verify: true` or `false: <error>`. With `x-attr-reply: <details>` it answers
//! 418 itself, with those response code details (`proxy_send_local_response`'s
//! `details`). In `proxy_on_log` it logs `attrs on_log:` and each of [`ON_LOG`] as
//! `path=<value>`, space-separated.

use proxy_wasm::hostcalls::call_foreign_function;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_http_context(|_, _| Box::new(Attributes::default()));
}}

#[derive(Clone, Copy)]
enum Kind {
    Str,
    Int,
    Uint,
    Bool,
    Map,
    /// Length only (protobuf messages).
    Len,
}

use Kind::*;

const REQUEST: &[(&str, Kind)] = &[
    ("request.path", Str),
    ("request.url_path", Str),
    ("request.host", Str),
    ("request.scheme", Str),
    ("request.method", Str),
    ("request.headers", Map),
    ("request.headers.x-probe", Str),
    ("request.referer", Str),
    ("request.useragent", Str),
    ("request.time", Int),
    ("request.id", Str),
    ("request.protocol", Str),
    ("request.query", Str),
    ("request.duration", Int),
    ("request.size", Int),
    ("request.total_size", Int),
    ("request.headers_bytes", Int),
    ("connection.id", Uint),
    ("connection.mtls", Bool),
    ("connection.requested_server_name", Str),
    ("connection.tls_version", Str),
    ("connection.subject_local_certificate", Str),
    ("connection.uri_san_local_certificate", Str),
    ("connection.dns_san_local_certificate", Str),
    ("connection.subject_peer_certificate", Str),
    ("connection.uri_san_peer_certificate", Str),
    ("connection.dns_san_peer_certificate", Str),
    ("connection.sha256_peer_certificate_digest", Str),
    ("connection.termination_details", Str),
    ("connection.transport_failure_reason", Str),
    ("source.address", Str),
    ("source.port", Int),
    ("destination.address", Str),
    ("destination.port", Int),
    ("xds.cluster_name", Str),
    ("xds.route_name", Str),
    ("xds.listener_direction", Int),
    ("xds.route_metadata", Len),
    ("xds.node", Len),
    ("plugin_name", Str),
    ("plugin_root_id", Str),
    ("plugin_vm_id", Str),
    ("node", Len),
    ("node.id", Str),
    ("node.metadata.NAME", Str),
    ("node.metadata.NAMESPACE", Str),
    ("node.metadata.WORKLOAD_NAME", Str),
    ("node.metadata.LABELS", Map),
    ("node.metadata.CLUSTER_ID", Str),
    ("node.metadata.MESH_ID", Str),
    ("node.cluster", Str),
    ("cluster_name", Str),
    ("route_name", Str),
    ("listener_direction", Int),
    ("cluster_metadata", Len),
    ("upstream_host_metadata", Len),
];

const RESPONSE: &[(&str, Kind)] = &[
    ("response.code", Int),
    ("response.headers.x-upstream", Str),
    ("response.grpc_status", Int),
    ("response.code_details", Str),
    ("response.flags", Int),
    ("response.size", Int),
    ("response.backend_latency", Int),
    ("upstream.address", Str),
    ("upstream.port", Int),
    ("upstream.local_address", Str),
    ("upstream.request_attempt_count", Uint),
    ("upstream.transport_failure_reason", Str),
];

/// Response and upstream attributes that Envoy has during the request too (as 0), echoed
/// as `x-attr-early-<path>`.
const EARLY: &[(&str, Kind)] = &[
    ("response.size", Int),
    ("response.flags", Int),
    ("upstream.request_attempt_count", Uint),
];

/// What `proxy_on_log` logs.
const ON_LOG: &[(&str, Kind)] = &[
    ("request.duration", Int),
    ("response.code", Int),
    ("request.size", Int),
    ("request.total_size", Int),
    ("request.headers_bytes", Int),
    ("response.size", Int),
    ("response.total_size", Int),
    ("response.headers_bytes", Int),
    ("response.backend_latency", Int),
    ("response.code_details", Str),
    ("response.flags", Int),
    ("upstream.address", Str),
    ("upstream.local_address", Str),
];

#[derive(Default)]
struct Attributes {
    echoed: Vec<(String, String)>,
}

fn decode(kind: Kind, v: &[u8]) -> String {
    let eight = <[u8; 8]>::try_from(v);
    match (kind, eight) {
        (Str, _) => String::from_utf8_lossy(v).into_owned(),
        (Int, Ok(b)) => i64::from_le_bytes(b).to_string(),
        (Uint, Ok(b)) => u64::from_le_bytes(b).to_string(),
        (Bool, _) if v.len() == 1 => (v[0] != 0).to_string(),
        (Map, _) => pairs(v)
            .map(|p| p.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(";"))
            .unwrap_or_else(|| "<not pairs>".into()),
        (Len, _) => format!("{} bytes", v.len()),
        _ => format!("<{} bytes of the wrong size>", v.len()),
    }
}

/// The spec's serialized pairs.
fn pairs(v: &[u8]) -> Option<Vec<(String, String)>> {
    let u32_at = |i: usize| Some(u32::from_le_bytes(v.get(i..i + 4)?.try_into().ok()?) as usize);
    let n = u32_at(0)?;
    let mut sizes = Vec::new();
    for i in 0..n {
        sizes.push((u32_at(4 + 8 * i)?, u32_at(8 + 8 * i)?));
    }
    let mut at = 4 + 8 * n;
    let mut out = Vec::new();
    for (k, l) in sizes {
        let key = String::from_utf8_lossy(v.get(at..at + k)?).into_owned();
        at += k + 1;
        let value = String::from_utf8_lossy(v.get(at..at + l)?).into_owned();
        at += l + 1;
        out.push((key, value));
    }
    Some(out)
}

impl Attributes {
    fn shown(&self, path: &str, kind: Kind) -> String {
        match self.get_property(path.split('.').collect()) {
            Some(v) => decode(kind, &v),
            None => "<absent>".into(),
        }
    }

    fn read(&mut self, list: &[(&str, Kind)], prefix: &str) {
        for (path, kind) in list {
            let shown = self.shown(path, *kind);
            self.echoed.push((format!("{prefix}{}", path.replace(['.', '_'], "-")), shown));
        }
    }
}

/// `DeclarePropertyArguments { name: 1, readonly: 2 }` in protobuf.
fn declare_readonly(name: &str) -> Vec<u8> {
    let mut out = vec![0x0a, name.len() as u8];
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(&[0x10, 1]);
    out
}

fn status<T>(r: Result<T, proxy_wasm::types::Status>) -> String {
    match r {
        Ok(_) => "Ok".into(),
        Err(s) => format!("{s:?}"),
    }
}

extern "C" {
    #[allow(clippy::too_many_arguments)]
    fn proxy_send_local_response(
        status: u32,
        details: *const u8,
        details_size: usize,
        body: *const u8,
        body_size: usize,
        headers: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> u32;
    fn proxy_set_property(path: *const u8, path_size: usize, value: *const u8, value_size: usize) -> u32;
    fn proxy_call_foreign_function(
        name: *const u8,
        name_size: usize,
        args: *const u8,
        args_size: usize,
        ret: *mut *mut u8,
        ret_size: *mut usize,
    ) -> u32;
}

/// The status of `proxy_call_foreign_function` itself: the SDK's wrapper panics on
/// `Unimplemented`.
fn raw_foreign_status(name: &str, args: &[u8]) -> String {
    let (mut ret, mut ret_size) = (std::ptr::null_mut(), 0usize);
    let status = unsafe {
        proxy_call_foreign_function(name.as_ptr(), name.len(), args.as_ptr(), args.len(), &mut ret, &mut ret_size)
    };
    match status {
        0 => "Ok".into(),
        1 => "NotFound".into(),
        12 => "Unimplemented".into(),
        n => format!("status {n}"),
    }
}

/// `proxy_set_property` itself: the SDK's wrapper panics on any status but Ok.
fn raw_set_property(path: &str, value: &[u8]) -> String {
    match unsafe { proxy_set_property(path.as_ptr(), path.len(), value.as_ptr(), value.len()) } {
        0 => "Ok".into(),
        1 => "NotFound".into(),
        2 => "BadArgument".into(),
        n => format!("status {n}"),
    }
}

fn varint(out: &mut Vec<u8>, mut v: usize) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field(out: &mut Vec<u8>, number: u8, value: &[u8]) {
    out.push(number << 3 | 2);
    varint(out, value.len());
    out.extend_from_slice(value);
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// `VerifySignatureArguments { hash_function: 1, public_key: 2, signature: 3, text: 4 }`,
/// and the `VerifySignatureResult { result: 1, error: 2 }` that comes back, in words.
fn verify(key: &[u8], signature: &[u8], text: &[u8]) -> String {
    let mut args = Vec::new();
    field(&mut args, 1, b"sha256");
    field(&mut args, 2, key);
    field(&mut args, 3, signature);
    field(&mut args, 4, text);
    match call_foreign_function("verify_signature", Some(&args)) {
        Ok(Some(result)) if result == [0x08, 0x01] => "true".into(),
        Ok(Some(result)) if result.first() == Some(&0x12) && result.len() > 2 => {
            format!("false: {}", String::from_utf8_lossy(&result[2..]))
        }
        Ok(other) => format!("unexpected answer {other:?}"),
        Err(status) => format!("status {status:?}"),
    }
}

impl Context for Attributes {}

impl HttpContext for Attributes {
    fn on_http_request_headers(&mut self, _n: usize, _eos: bool) -> Action {
        self.read(REQUEST, "x-attr-");
        self.read(EARLY, "x-attr-early-");
        for (path, name) in [("response.code", "response-code"), ("upstream.address", "upstream-address")] {
            let early = self.get_property(path.split('.').collect()).is_some();
            self.echoed.push((format!("x-attr-early-{name}"), if early { "present" } else { "absent" }.into()));
        }
        let declared = status(call_foreign_function("declare_property", Some(&declare_readonly("attrs.once"))));
        let first = raw_set_property("attrs.once", b"1");
        let second = raw_set_property("attrs.once", b"2");
        self.echoed.push(("x-attr-set-once".into(), format!("{declared},{first},{second}")));
        self.set_property(vec!["attrs", "mine"], Some(b"mine-value"));
        let back = self.get_property(vec!["attrs", "mine"]).unwrap_or_default();
        self.echoed.push(("x-attr-set-readback".into(), String::from_utf8_lossy(&back).into_owned()));
        if let (Some(key), Some(sig), Some(text)) = (
            self.get_http_request_header("x-verify-key"),
            self.get_http_request_header("x-verify-sig"),
            self.get_http_request_header("x-verify-text"),
        ) {
            let answer = verify(&unhex(&key), &unhex(&sig), text.as_bytes());
            self.echoed.push(("x-attr-verify".into(), answer));
        }
        let unimplemented = raw_foreign_status("expr_create", b"1 + 1");
        self.echoed.push(("x-attr-expr-create".into(), unimplemented));
        if let Some(details) = self.get_http_request_header("x-attr-reply") {
            // The SDK's send_http_response gives no details: the hostcall does.
            let body = b"refused by attrs\n";
            let no_headers = 0u32.to_le_bytes();
            unsafe {
                proxy_send_local_response(
                    418,
                    details.as_ptr(),
                    details.len(),
                    body.as_ptr(),
                    body.len(),
                    no_headers.as_ptr(),
                    no_headers.len(),
                    -1,
                );
            }
            return Action::Pause;
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _n: usize, _eos: bool) -> Action {
        self.read(RESPONSE, "x-attr-");
        for (name, value) in std::mem::take(&mut self.echoed) {
            self.set_http_response_header(&name, Some(&value));
        }
        Action::Continue
    }

    fn on_log(&mut self) {
        let line: Vec<String> = ON_LOG
            .iter()
            .map(|(path, kind)| format!("{path}={}", self.shown(path, *kind)))
            .collect();
        proxy_wasm::hostcalls::log(LogLevel::Info, &format!("attrs on_log: {}", line.join(" "))).ok();
    }
}
