//! The filter API the proxy drives, independent of hyper: header maps as Envoy presents
//! them to plugins, and what each callback tells the proxy to do.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;

/// An ordered list of header (or trailer, or metadata) pairs, as Envoy hands them to
/// plugins: HTTP/2-style lower-case names, with the pseudo-headers `:method`, `:path`,
/// `:authority`, `:scheme` on requests and `:status` on responses, first. Repeated names
/// stay separate pairs in their order. Lookups ignore ASCII case.
///
/// Used for trailers, call metadata, local replies and [`crate::OwnedHeaders`]; a request's
/// own headers are the proxy's, reached through [`crate::StreamHeaders`]. Copies are
/// cheap: the pairs are shared until one side changes them (copy on write).
#[derive(Clone, Debug, Default, Eq)]
pub struct HeaderMap {
    /// `None` while empty: an empty map allocates nothing.
    pairs: Option<Arc<Vec<(Bytes, Bytes)>>>,
}

impl PartialEq for HeaderMap {
    fn eq(&self, other: &Self) -> bool {
        match (&self.pairs, &other.pairs) {
            (Some(a), Some(b)) if Arc::ptr_eq(a, b) => true,
            _ => self.pairs() == other.pairs(),
        }
    }
}

impl HeaderMap {
    /// An empty map.
    pub fn new() -> Self {
        HeaderMap::default()
    }

    /// The pairs in order.
    pub fn pairs(&self) -> &[(Bytes, Bytes)] {
        self.pairs.as_deref().map_or(&[], Vec::as_slice)
    }

    /// Consumes the map into its pairs.
    pub fn into_pairs(self) -> Vec<(Bytes, Bytes)> {
        self.pairs.map(Arc::unwrap_or_clone).unwrap_or_default()
    }

    /// The pairs, to change: copied first when another map shares them.
    fn pairs_mut(&mut self) -> &mut Vec<(Bytes, Bytes)> {
        Arc::make_mut(self.pairs.get_or_insert_with(Default::default))
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.pairs().len()
    }

    /// True when there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.pairs().is_empty()
    }

    /// The first value of `name`.
    pub fn get(&self, name: impl AsRef<[u8]>) -> Option<&Bytes> {
        let name = name.as_ref();
        self.pairs()
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a [u8]) -> impl Iterator<Item = &'a Bytes> + 'a {
        self.pairs()
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Appends a pair (the name is lower-cased, as Envoy does).
    pub fn add(&mut self, name: impl AsRef<[u8]>, value: impl Into<Bytes>) {
        self.pairs_mut().push((lower(name.as_ref()), value.into()));
    }

    /// [`HeaderMap::add`] with a name already in lower case (not copied).
    pub(crate) fn add_lowercase(&mut self, name: Bytes, value: Bytes) {
        debug_assert!(!name.iter().any(u8::is_ascii_uppercase));
        self.pairs_mut().push((name, value));
    }

    /// [`HeaderMap::add`] with a name the caller owns (lower-cased in place, not copied).
    pub(crate) fn add_owned(&mut self, mut name: Vec<u8>, value: Bytes) {
        name.make_ascii_lowercase();
        self.pairs_mut().push((Bytes::from(name), value));
    }

    /// Replaces every value of `name` by one `value` (added when absent).
    pub fn set(&mut self, name: impl AsRef<[u8]>, value: impl Into<Bytes>) {
        let name = name.as_ref();
        match self
            .pairs()
            .iter()
            .position(|(k, _)| k.eq_ignore_ascii_case(name))
        {
            Some(first) => {
                let pairs = self.pairs_mut();
                pairs[first].1 = value.into();
                let mut i = 0;
                pairs.retain(|(k, _)| {
                    i += 1;
                    i - 1 == first || !k.eq_ignore_ascii_case(name)
                });
            }
            None => self.add(name, value),
        }
    }

    /// Removes every value of `name`.
    pub fn remove(&mut self, name: impl AsRef<[u8]>) {
        let name = name.as_ref();
        if self.pairs().iter().any(|(k, _)| k.eq_ignore_ascii_case(name)) {
            self.pairs_mut().retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        }
    }
}

impl<K: AsRef<[u8]>, V: AsRef<[u8]>> FromIterator<(K, V)> for HeaderMap {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = HeaderMap::new();
        for (k, v) in iter {
            map.add(k, Bytes::copy_from_slice(v.as_ref()));
        }
        map
    }
}

fn lower(name: &[u8]) -> Bytes {
    if name.iter().any(u8::is_ascii_uppercase) {
        Bytes::from(name.to_ascii_lowercase())
    } else {
        Bytes::copy_from_slice(name)
    }
}

/// What the proxy must do after an HTTP callback (headers, body or trailers).
///
/// A plugin that pauses (`Action::Pause` in the SDKs) is awaited inside the callback's
/// future until it resumes (`proxy_continue_stream`, e.g. from an `http_call` answer or a
/// timer), sends a local reply, closes the stream, or fails — so `Verdict` never says
/// "paused" except [`Verdict::Buffer`] for bodies. The proxy must bound that wait (route
/// timeout): a plugin may never resume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Go on to the next filter with the (possibly modified) headers or data.
    Continue,
    /// Body callbacks only: the plugin paused on a chunk that is not the last
    /// (StopIterationAndBuffer). Keep the data (it stays in the buffer you passed, possibly
    /// modified), do not forward it, and call again with it plus the next chunk.
    Buffer,
    /// Answer the client with this response instead; the rest of the chain is skipped.
    LocalReply(LocalReply),
    /// Reset the stream (`proxy_close_stream`).
    Close,
    /// The plugin failed (trap, time budget, memory cap, refused context). What to do is in
    /// [`crate::Failure::action`], decided by the plugin's failStrategy; the headers or data
    /// passed in hold what the plugin left in them (FAIL_OPEN goes on with them).
    Failed(crate::Failure),
}

/// A response produced by the plugin (`proxy_send_local_response`) or by the host for a
/// failed FAIL_CLOSE plugin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalReply {
    /// HTTP status code.
    pub status: u16,
    /// Extra headers for the response.
    pub headers: HeaderMap,
    /// The response body.
    pub body: Bytes,
    /// Why: Envoy's `response.code_details` (e.g. the plugin's details string).
    pub details: String,
    /// gRPC status to send as `grpc-status` when the request is gRPC (-1: none).
    pub grpc_status: i32,
}

/// What the proxy must do after a TCP callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TcpVerdict {
    /// Forward the (possibly modified) data.
    Continue,
    /// Keep the data, do not forward it yet; call again with it plus the next data.
    Buffer,
    /// Close the connection (the plugin called `proxy_close_stream` on it).
    Close,
    /// The plugin failed; see [`crate::Failure::action`].
    Failed(crate::Failure),
}

/// Which side closed a TCP connection (the spec's `PeerType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerType {
    /// Unknown.
    Unknown = 0,
    /// Closed by the proxy itself.
    Local = 1,
    /// Closed by the peer.
    Remote = 2,
}

/// Facts about one stream or connection the proxy knows, for the properties a plugin
/// reads (`source.*`, `destination.*`, `request.protocol`, …). Anything else can be given
/// as `extra` (by the dotted property path) or set later with
/// [`crate::HttpContext::set_property`] (e.g. `request.auth.principal` from `authn`).
#[derive(Clone, Debug, Default)]
pub struct StreamInfo {
    /// The client's address (`source.address`, `source.port`).
    pub source: Option<SocketAddr>,
    /// The listener's address (`destination.address`, `destination.port`).
    pub destination: Option<SocketAddr>,
    /// `request.protocol`: "HTTP/1.1", "HTTP/2".
    pub protocol: Option<Cow<'static, str>>,
    /// `request.id` (Envoy: the `x-request-id` header).
    pub request_id: Option<String>,
    /// When the request (or connection) started: `request.time`, and `request.duration`
    /// from `proxy_on_log` on.
    pub start: Option<std::time::SystemTime>,
    /// `connection.id`: the downstream connection's number, unique in the process.
    pub connection_id: Option<u64>,
    /// The downstream connection's TLS (`connection.tls_version`, the certificates'
    /// subjects and names); `None` on plain text.
    pub tls: Option<Arc<crate::ConnectionTls>>,
    /// Further properties by dotted path, encoded as the plugin reads them (see
    /// docs/wasm-host.md), e.g. `("xds.route_name", b"default")`; shared,
    /// so that every plugin of a request gets them without a copy.
    pub extra: Arc<[(String, Bytes)]>,
}

#[cfg(test)]
mod tests;
