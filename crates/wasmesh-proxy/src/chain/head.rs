//! The request's head and, once it exists, the response's: one of each per request, shared
//! by every filter of the chain (docs/filter-chain.md, "One header map per request").
//! Built-in filters and the router read and change it directly; plugins reach it through
//! [`StreamHeaders`], as Envoy presents headers to them: `:method`, `:path`, `:authority`,
//! `:scheme` (or `:status`) first, served from the head itself, then the lower-case
//! headers. The HTTP/1.1 `Host` header is the request's `:authority`.

use std::cell::{Ref, RefCell, RefMut};
use std::rc::Rc;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, HOST};
use http::uri::{Authority, PathAndQuery};
use http::{request, response, Method, StatusCode, Uri};
use wasmesh_wasm::{HeaderMap as WasmHeaders, HeadersKind, StreamHeaders, StreamProgress};

/// One request's head and its response's.
pub struct StreamHead {
    pub request: request::Parts,
    /// Whether the request came over TLS (`:scheme`).
    pub tls: bool,
    /// The response's head, while the response passes the chain (and after, for
    /// `proxy_on_log`).
    pub response: Option<response::Parts>,
    /// What the proxy learns as the request goes (body sizes, the response's details and
    /// flags, the upstream try), for plugins' `request.size`, `response.*`, `upstream.*`.
    pub progress: StreamProgress,
}

/// The head as the filters of one request share it.
#[derive(Clone)]
pub struct SharedHead(Rc<RefCell<StreamHead>>);

impl SharedHead {
    pub fn new(request: request::Parts, tls: bool) -> Self {
        SharedHead(Rc::new(RefCell::new(StreamHead {
            request,
            tls,
            response: None,
            progress: StreamProgress::default(),
        })))
    }

    /// The request's head. Not to be held across a plugin callback.
    pub fn request(&self) -> Ref<'_, request::Parts> {
        Ref::map(self.0.borrow(), |h| &h.request)
    }

    /// The request's head, to change. Not to be held across a plugin callback.
    pub fn request_mut(&self) -> RefMut<'_, request::Parts> {
        RefMut::map(self.0.borrow_mut(), |h| &mut h.request)
    }

    /// The whole head. Not to be held across a plugin callback.
    pub fn borrow_mut(&self) -> RefMut<'_, StreamHead> {
        self.0.borrow_mut()
    }

    /// The same head for the plugins' header calls.
    pub fn for_plugins(&self) -> wasmesh_wasm::SharedHeaders {
        self.0.clone()
    }
}

impl StreamHead {
    fn authority(&self) -> &[u8] {
        let r = &self.request;
        r.uri
            .authority()
            .map(|a| a.as_str().as_bytes())
            .or_else(|| r.headers.get(HOST).map(HeaderValue::as_bytes))
            .unwrap_or_default()
    }

    fn headers_mut(&mut self, kind: HeadersKind) -> Option<&mut http::HeaderMap> {
        match kind {
            HeadersKind::Request => Some(&mut self.request.headers),
            HeadersKind::Response => self.response.as_mut().map(|r| &mut r.headers),
        }
    }

    /// Writes a pseudo-header (`:scheme` follows the connection and is not written).
    fn set_pseudo(&mut self, kind: HeadersKind, name: &[u8], value: Bytes) {
        let ok = match (kind, name) {
            (HeadersKind::Request, b":method") => Method::from_bytes(&value)
                .map(|m| self.request.method = m)
                .is_ok(),
            (HeadersKind::Request, b":path") => PathAndQuery::from_maybe_shared(value.clone())
                .ok()
                .and_then(|path| {
                    let mut parts = self.request.uri.clone().into_parts();
                    parts.path_and_query = Some(path);
                    Uri::from_parts(parts).ok()
                })
                .map(|uri| self.request.uri = uri)
                .is_some(),
            (HeadersKind::Request, b":authority") => self.set_authority(value.clone()),
            (HeadersKind::Response, b":status") => std::str::from_utf8(&value)
                .ok()
                .and_then(|s| s.parse::<u16>().ok())
                .and_then(|s| StatusCode::from_u16(s).ok())
                .zip(self.response.as_mut())
                .map(|(status, r)| r.status = status)
                .is_some(),
            _ => false,
        };
        if !ok {
            tracing::debug!(
                name = %String::from_utf8_lossy(name),
                value = %String::from_utf8_lossy(&value),
                "a plugin's pseudo-header was not applied"
            );
        }
    }

    /// `:authority`: the `Host` header, and the URI's authority when it has one (HTTP/2,
    /// absolute form), so that both keep agreeing.
    fn set_authority(&mut self, value: Bytes) -> bool {
        let Ok(authority) = Authority::from_maybe_shared(value.clone()) else {
            return false;
        };
        let Ok(host) = HeaderValue::from_maybe_shared(value) else {
            return false;
        };
        if self.request.uri.authority().is_some() {
            let mut parts = self.request.uri.clone().into_parts();
            parts.authority = Some(authority);
            match Uri::from_parts(parts) {
                Ok(uri) => self.request.uri = uri,
                Err(_) => return false,
            }
        }
        self.request.headers.insert(HOST, host);
        true
    }
}

/// A header name a plugin gave, as hyper's maps take it; `None` (and a debug line) for a
/// name that is not valid HTTP, which is dropped rather than sent.
fn header_name(name: &[u8]) -> Option<HeaderName> {
    let parsed = HeaderName::from_bytes(name).ok();
    if parsed.is_none() {
        tracing::debug!(name = %String::from_utf8_lossy(name), "plugin set an invalid header name; dropped");
    }
    parsed
}

fn header_value(value: Bytes) -> Option<HeaderValue> {
    let parsed = HeaderValue::from_maybe_shared(value).ok();
    if parsed.is_none() {
        tracing::debug!("plugin set an invalid header value; dropped");
    }
    parsed
}

/// `host` is the request's `:authority` for plugins: it is read and written under that
/// name only.
fn is_host(kind: HeadersKind, name: &[u8]) -> bool {
    kind == HeadersKind::Request && name.eq_ignore_ascii_case(b"host")
}

impl StreamHeaders for StreamHead {
    fn get(&self, kind: HeadersKind, name: &[u8]) -> Option<&[u8]> {
        match kind {
            HeadersKind::Request => match name {
                b":method" => Some(self.request.method.as_str().as_bytes()),
                b":path" => Some(
                    self.request
                        .uri
                        .path_and_query()
                        .map_or(b"/".as_slice(), |p| p.as_str().as_bytes()),
                ),
                b":authority" => Some(self.authority()),
                b":scheme" => Some(if self.tls { b"https" } else { b"http" }),
                _ if name.starts_with(b":") || is_host(kind, name) => None,
                _ => self.request.headers.get(lookup(name)?).map(HeaderValue::as_bytes),
            },
            HeadersKind::Response => {
                let r = self.response.as_ref()?;
                match name {
                    b":status" => Some(r.status.as_str().as_bytes()),
                    _ if name.starts_with(b":") => None,
                    _ => r.headers.get(lookup(name)?).map(HeaderValue::as_bytes),
                }
            }
        }
    }

    fn for_each(&self, kind: HeadersKind, f: &mut dyn FnMut(&[u8], &[u8])) {
        let headers = match kind {
            HeadersKind::Request => {
                for pseudo in [&b":method"[..], b":path", b":authority", b":scheme"] {
                    f(pseudo, self.get(kind, pseudo).unwrap_or_default());
                }
                &self.request.headers
            }
            HeadersKind::Response => {
                let Some(r) = self.response.as_ref() else { return };
                f(b":status", r.status.as_str().as_bytes());
                &r.headers
            }
        };
        for (k, v) in headers {
            if !(kind == HeadersKind::Request && k == HOST) {
                f(k.as_str().as_bytes(), v.as_bytes());
            }
        }
    }

    fn count(&self, kind: HeadersKind) -> u32 {
        match kind {
            // the four pseudo-headers, and the headers but `Host` (it is `:authority`)
            HeadersKind::Request => {
                let headers = &self.request.headers;
                let hosts = if headers.contains_key(HOST) {
                    headers.get_all(HOST).iter().count()
                } else {
                    0
                };
                (4 + headers.len() - hosts) as u32
            }
            HeadersKind::Response => self.response.as_ref().map_or(0, |r| 1 + r.headers.len() as u32),
        }
    }

    fn add(&mut self, kind: HeadersKind, name: Bytes, value: Bytes) {
        let name = &name[..];
        if name.starts_with(b":") || is_host(kind, name) {
            let name = if is_host(kind, name) {
                &b":authority"[..]
            } else {
                name
            };
            return self.set_pseudo(kind, name, value);
        }
        let (Some(name), Some(value)) = (header_name(name), header_value(value)) else {
            return;
        };
        if let Some(h) = self.headers_mut(kind) {
            h.append(name, value);
        }
    }

    fn replace(&mut self, kind: HeadersKind, name: Bytes, value: Bytes) {
        let name = &name[..];
        if name.starts_with(b":") || is_host(kind, name) {
            let name = if is_host(kind, name) {
                &b":authority"[..]
            } else {
                name
            };
            return self.set_pseudo(kind, name, value);
        }
        let (Some(name), Some(value)) = (header_name(name), header_value(value)) else {
            return;
        };
        if let Some(h) = self.headers_mut(kind) {
            h.insert(name, value);
        }
    }

    fn remove(&mut self, kind: HeadersKind, name: &[u8]) {
        // Pseudo-headers (and `host`, the request's `:authority`) cannot be removed: every
        // request has a method, a path and an authority, every response a status.
        if name.starts_with(b":") || is_host(kind, name) {
            tracing::debug!(name = %String::from_utf8_lossy(name), "a plugin removed a pseudo-header; kept");
            return;
        }
        let Some(name) = lookup(name) else {
            return;
        };
        if let Some(h) = self.headers_mut(kind) {
            h.remove(name);
        }
    }

    fn set_all(&mut self, kind: HeadersKind, pairs: WasmHeaders) {
        let Some(old) = self.headers_mut(kind) else { return };
        let mut headers = http::HeaderMap::with_capacity(pairs.len());
        // The authority stays unless the pairs give a new one.
        if let Some(host) = old.get(HOST).filter(|_| kind == HeadersKind::Request) {
            headers.insert(HOST, host.clone());
        }
        *old = headers;
        for (k, v) in pairs.into_pairs() {
            self.add(kind, k, v);
        }
    }

    fn progress(&self) -> Option<&StreamProgress> {
        Some(&self.progress)
    }
}

/// A name to look up, matched ignoring case (hyper's maps lower-case a `&str` key on the
/// stack: a lookup allocates nothing).
fn lookup(name: &[u8]) -> Option<&str> {
    std::str::from_utf8(name).ok()
}

#[cfg(test)]
mod tests;
