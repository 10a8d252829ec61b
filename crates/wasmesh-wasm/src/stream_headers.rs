//! The stream's header maps, reached through an interface the proxy implements: one map
//! per request, shared by every filter of the chain (docs/wasm-host.md, "Headers"). The
//! ABI's header calls act on the proxy's own request and response heads; no plugin holds a
//! copy, so a plugin sees what the filters before it wrote, and `proxy_on_log` sees the
//! headers as they finally were.

use std::cell::RefCell;
use std::rc::Rc;

use bytes::Bytes;

use crate::{HeaderMap, StreamProgress};

/// Which of a stream's header maps a call acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadersKind {
    /// The request's headers, with `:method`, `:path`, `:authority`, `:scheme` first.
    Request,
    /// The response's headers, with `:status` first (empty until the response exists).
    Response,
}

/// A stream's request and response headers as plugins see them: HTTP/2-style lower-case
/// names, pseudo-headers first, repeated names as separate pairs. Names are matched
/// ignoring ASCII case. A map that does not exist yet (the response during the request's
/// callbacks) reads as empty and ignores writes.
///
/// The proxy implements it over its request and response heads; [`OwnedHeaders`] is a
/// plain implementation for streams no proxy holds (tests, benchmarks).
pub trait StreamHeaders {
    /// The first value of `name`.
    fn get(&self, kind: HeadersKind, name: &[u8]) -> Option<&[u8]>;
    /// Every pair, in order, pseudo-headers first.
    fn for_each(&self, kind: HeadersKind, f: &mut dyn FnMut(&[u8], &[u8]));
    /// How many pairs [`StreamHeaders::for_each`] gives (the `num_headers` of a headers
    /// callback); an implementation that knows it without a pass should say so.
    fn count(&self, kind: HeadersKind) -> u32 {
        let mut n = 0u32;
        self.for_each(kind, &mut |_, _| n += 1);
        n
    }
    /// Appends a pair. `name` is lower-case.
    fn add(&mut self, kind: HeadersKind, name: Bytes, value: Bytes);
    /// Replaces every value of `name` (lower-case) by `value` (added when absent).
    fn replace(&mut self, kind: HeadersKind, name: Bytes, value: Bytes);
    /// Removes every value of `name`.
    fn remove(&mut self, kind: HeadersKind, name: &[u8]);
    /// Replaces the whole map by `pairs` (`proxy_set_header_map_pairs`).
    fn set_all(&mut self, kind: HeadersKind, pairs: HeaderMap);
    /// What the proxy learned about the stream so far: body sizes, how the response came
    /// to be, the upstream try (`request.size`, `response.*`, `upstream.*`). `None` for a
    /// stream no proxy holds.
    fn progress(&self) -> Option<&StreamProgress> {
        None
    }
}

/// A stream's headers as the host and the proxy share them.
pub type SharedHeaders = Rc<RefCell<dyn StreamHeaders>>;

/// Header maps held by the host itself, for a stream that no proxy holds (tests,
/// benchmarks): pseudo-headers are plain pairs of the maps.
#[derive(Clone, Debug, Default)]
pub struct OwnedHeaders {
    /// The request's headers.
    pub request: HeaderMap,
    /// The response's headers.
    pub response: HeaderMap,
    /// What [`StreamHeaders::progress`] answers.
    pub progress: Option<StreamProgress>,
}

impl OwnedHeaders {
    /// Shared, for [`crate::PluginVm::http_context_on`].
    pub fn shared(self) -> Rc<RefCell<OwnedHeaders>> {
        Rc::new(RefCell::new(self))
    }

    fn map(&self, kind: HeadersKind) -> &HeaderMap {
        match kind {
            HeadersKind::Request => &self.request,
            HeadersKind::Response => &self.response,
        }
    }

    fn map_mut(&mut self, kind: HeadersKind) -> &mut HeaderMap {
        match kind {
            HeadersKind::Request => &mut self.request,
            HeadersKind::Response => &mut self.response,
        }
    }
}

impl StreamHeaders for OwnedHeaders {
    fn get(&self, kind: HeadersKind, name: &[u8]) -> Option<&[u8]> {
        self.map(kind).get(name).map(|v| &v[..])
    }

    fn for_each(&self, kind: HeadersKind, f: &mut dyn FnMut(&[u8], &[u8])) {
        for (k, v) in self.map(kind).pairs() {
            f(k, v);
        }
    }

    fn add(&mut self, kind: HeadersKind, name: Bytes, value: Bytes) {
        self.map_mut(kind).add_lowercase(name, value);
    }

    fn replace(&mut self, kind: HeadersKind, name: Bytes, value: Bytes) {
        self.map_mut(kind).set(name, value);
    }

    fn remove(&mut self, kind: HeadersKind, name: &[u8]) {
        self.map_mut(kind).remove(name);
    }

    fn set_all(&mut self, kind: HeadersKind, pairs: HeaderMap) {
        *self.map_mut(kind) = pairs;
    }

    fn progress(&self) -> Option<&StreamProgress> {
        self.progress.as_ref()
    }
}

/// The spec's serialisation of a stream map (see [`crate::abi::pairs`]), written into
/// `out`, which is [`count_and_size`]'s size long: the sizes and the strings in one pass over the
/// pairs, straight into the guest's memory.
pub(crate) fn serialize_into(headers: &dyn StreamHeaders, kind: HeadersKind, count: u32, out: &mut [u8]) {
    out[..4].copy_from_slice(&count.to_le_bytes());
    let (mut sizes, mut strings) = (4usize, 4 + 8 * count as usize);
    headers.for_each(kind, &mut |k, v| {
        out[sizes..sizes + 4].copy_from_slice(&(k.len() as u32).to_le_bytes());
        out[sizes + 4..sizes + 8].copy_from_slice(&(v.len() as u32).to_le_bytes());
        sizes += 8;
        out[strings..strings + k.len()].copy_from_slice(k);
        strings += k.len();
        out[strings] = 0;
        out[strings + 1..strings + 1 + v.len()].copy_from_slice(v);
        strings += v.len() + 1;
        out[strings] = 0;
        strings += 1;
    });
}

/// The number of pairs and the size of their serialisation.
pub(crate) fn count_and_size(headers: &dyn StreamHeaders, kind: HeadersKind) -> (u32, usize) {
    let (mut count, mut size) = (0u32, 4usize);
    headers.for_each(kind, &mut |k, v| {
        count += 1;
        size += 8 + k.len() + v.len() + 2;
    });
    (count, size)
}

/// The spec's serialisation of a stream map as bytes of its own (tests).
#[cfg(test)]
pub(crate) fn serialize(headers: &dyn StreamHeaders, kind: HeadersKind) -> Vec<u8> {
    let (count, size) = count_and_size(headers, kind);
    let mut out = vec![0; size];
    serialize_into(headers, kind, count, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::pairs;

    #[test]
    fn a_stream_map_written_in_one_pass_is_the_spec_serialisation() {
        let request: HeaderMap = [
            (":method", "GET"),
            (":path", "/a?b=c"),
            ("x-empty", ""),
            ("accept", "text/plain"),
            ("accept", "text/html"),
        ]
        .into_iter()
        .collect();
        let headers = OwnedHeaders {
            request: request.clone(),
            response: HeaderMap::new(),
            ..Default::default()
        };
        assert_eq!(count_and_size(&headers, HeadersKind::Request).0, 5);
        let bytes = serialize(&headers, HeadersKind::Request);
        assert_eq!(bytes, pairs::serialize(&request));
        assert_eq!(pairs::deserialize(&bytes).unwrap().len(), 5);
        assert_eq!(serialize(&headers, HeadersKind::Response), vec![0, 0, 0, 0]);
    }
}
