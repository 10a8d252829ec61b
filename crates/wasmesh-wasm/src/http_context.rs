//! `HttpContext`: one request through one plugin.

use std::cell::{RefCell, RefMut};
use std::rc::Rc;

use bytes::Bytes;

use wasmtime::Store;

use crate::core::StreamCall;
use crate::state::{StreamState, VmState};
use crate::stream_headers::{OwnedHeaders, SharedHeaders};
use crate::vm::VmCore;
use crate::{HeaderMap, HeadersKind, Verdict};

/// One HTTP stream context. Its methods follow Envoy's order: request headers, body
/// chunks, trailers, then the response's. Dropping it ends the context (`proxy_on_done`,
/// `proxy_on_log`, `proxy_on_delete`).
pub struct HttpContext {
    core: Rc<VmCore>,
    id: u32,
    headers: SharedHeaders,
    /// The maps of a context made with [`crate::PluginVm::http_context`].
    pub(crate) owned: Option<Rc<RefCell<OwnedHeaders>>>,
}

impl HttpContext {
    pub(crate) fn new(core: Rc<VmCore>, id: u32, headers: SharedHeaders) -> Self {
        HttpContext {
            core,
            id,
            headers,
            owned: None,
        }
    }

    /// The header maps of a context made with [`crate::PluginVm::http_context`] (`None`
    /// for one on the proxy's own headers). Not to be held across a callback.
    pub fn owned(&self) -> Option<RefMut<'_, OwnedHeaders>> {
        self.owned.as_ref().map(|o| o.borrow_mut())
    }

    /// The context id the guest knows this stream by.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// `proxy_on_request_headers`: the plugin reads and changes the stream's request
    /// headers (pseudo-headers included) in place. `end_of_stream` is true for a request
    /// without body. The caller must hold no borrow of the headers while it runs.
    pub async fn on_request_headers(&mut self, end_of_stream: bool) -> Verdict {
        self.headers_callback(
            "proxy_on_request_headers",
            HeadersKind::Request,
            end_of_stream,
            |core, store, id, n| match &core.exports.on_request_headers {
                Some(f) => core.enter_headers(store, f, id, n, end_of_stream),
                None => Ok(0),
            },
        )
        .await
    }

    /// `proxy_on_request_body` with one chunk (or, after [`Verdict::Buffer`], everything
    /// buffered so far plus the new chunk).
    pub async fn on_request_body(&mut self, body: &mut Bytes, end_of_stream: bool) -> Verdict {
        self.body(
            "proxy_on_request_body",
            |s| &mut s.request_body,
            body,
            end_of_stream,
            |core, store, id, n| match &core.exports.on_request_body {
                Some(f) => core.enter(store, f, id, (id, n, end_of_stream as u32)),
                None => Ok(0),
            },
        )
        .await
    }

    /// `proxy_on_request_trailers`.
    pub async fn on_request_trailers(&mut self, trailers: &mut HeaderMap) -> Verdict {
        self.trailers(
            "proxy_on_request_trailers",
            |s| &mut s.request_trailers,
            trailers,
            true,
            |core, store, id, n| match &core.exports.on_request_trailers {
                Some(f) => core.enter(store, f, id, (id, n)),
                None => Ok(0),
            },
        )
        .await
    }

    /// `proxy_on_response_headers`: on the stream's response headers (with `:status`), in
    /// place; see [`HttpContext::on_request_headers`].
    pub async fn on_response_headers(&mut self, end_of_stream: bool) -> Verdict {
        self.headers_callback(
            "proxy_on_response_headers",
            HeadersKind::Response,
            end_of_stream,
            |core, store, id, n| match &core.exports.on_response_headers {
                Some(f) => core.enter_headers(store, f, id, n, end_of_stream),
                None => Ok(0),
            },
        )
        .await
    }

    /// `proxy_on_response_body`; see [`HttpContext::on_request_body`].
    pub async fn on_response_body(&mut self, body: &mut Bytes, end_of_stream: bool) -> Verdict {
        self.body(
            "proxy_on_response_body",
            |s| &mut s.response_body,
            body,
            end_of_stream,
            |core, store, id, n| match &core.exports.on_response_body {
                Some(f) => core.enter(store, f, id, (id, n, end_of_stream as u32)),
                None => Ok(0),
            },
        )
        .await
    }

    /// `proxy_on_response_trailers`.
    pub async fn on_response_trailers(&mut self, trailers: &mut HeaderMap) -> Verdict {
        self.trailers(
            "proxy_on_response_trailers",
            |s| &mut s.response_trailers,
            trailers,
            true,
            |core, store, id, n| match &core.exports.on_response_trailers {
                Some(f) => core.enter(store, f, id, (id, n)),
                None => Ok(0),
            },
        )
        .await
    }

    /// Publishes a property for this stream (e.g. `request.auth.principal` from the built-in
    /// authn filter) by its dotted path; the plugin reads it with `proxy_get_property`.
    pub fn set_property(&self, path: &str, value: impl Into<Bytes>) {
        let value = value.into();
        self.core
            .with_stream(self.id, |s| s.properties.insert(path.to_owned(), value));
    }

    /// Ends the context now (`proxy_on_done`, `proxy_on_log`, `proxy_on_delete`); the plugin
    /// sees the stream's headers as they are then.
    pub fn finish(self) {
        // Dropping ends the context.
        drop(self);
    }

    async fn headers_callback(
        &mut self,
        callback: &'static str,
        kind: HeadersKind,
        end_of_stream: bool,
        call: impl FnOnce(&VmCore, &mut Store<VmState>, u32, u32) -> wasmtime::Result<u32>,
    ) -> Verdict {
        let count = match self.headers.try_borrow() {
            Ok(h) => h.count(kind),
            Err(_) => 0,
        };
        let id = self.id;
        let done = self.core.call_stream(
            callback,
            id,
            |s| {
                s.end_of_stream = end_of_stream;
                s.resumed = false;
            },
            |core, store| call(core, store, id, count),
        );
        self.settle(done, false, end_of_stream).await
    }

    async fn trailers(
        &mut self,
        callback: &'static str,
        slot: fn(&mut StreamState) -> &mut HeaderMap,
        map: &mut HeaderMap,
        end_of_stream: bool,
        call: impl FnOnce(&VmCore, &mut Store<VmState>, u32, u32) -> wasmtime::Result<u32>,
    ) -> Verdict {
        let count = map.len() as u32;
        let done = self.enter(callback, slot, map, count, end_of_stream, call);
        if matches!(done, StreamCall::Gone) {
            return Verdict::Continue;
        }
        let verdict = self.settle(done, false, end_of_stream).await;
        // The map as the plugin left it goes back whatever the verdict (a FAIL_OPEN proxy
        // goes on with it); a copy (shared until changed) stays for later callbacks.
        if let Some(out) = self.core.with_stream(self.id, |s| slot(s).clone()) {
            *map = out;
        }
        verdict
    }

    /// Hands `value` (the headers or the body) to the stream's `slot` and calls `callback`
    /// with the context's id and `n` (the count of headers, or the body's size), under one
    /// borrow of the store.
    fn enter<T: Default>(
        &mut self,
        callback: &'static str,
        slot: fn(&mut StreamState) -> &mut T,
        value: &mut T,
        n: u32,
        end_of_stream: bool,
        call: impl FnOnce(&VmCore, &mut Store<VmState>, u32, u32) -> wasmtime::Result<u32>,
    ) -> StreamCall<u32> {
        let id = self.id;
        self.core.call_stream(
            callback,
            id,
            |s| {
                *slot(s) = std::mem::take(value);
                s.end_of_stream = end_of_stream;
                s.resumed = false;
            },
            |core, store| call(core, store, id, n),
        )
    }

    async fn body(
        &mut self,
        callback: &'static str,
        slot: fn(&mut StreamState) -> &mut Bytes,
        body: &mut Bytes,
        end_of_stream: bool,
        call: impl FnOnce(&VmCore, &mut Store<VmState>, u32, u32) -> wasmtime::Result<u32>,
    ) -> Verdict {
        let size = body.len() as u32;
        let done = self.enter(callback, slot, body, size, end_of_stream, call);
        if matches!(done, StreamCall::Gone) {
            return Verdict::Continue;
        }
        let verdict = self.settle(done, true, end_of_stream).await;
        if let Some(out) = self.core.with_stream(self.id, |s| std::mem::take(slot(s))) {
            *body = out;
        }
        verdict
    }

    /// Turns a callback's result into a verdict, awaiting a paused plugin.
    async fn settle(&mut self, done: StreamCall<u32>, is_body: bool, end_of_stream: bool) -> Verdict {
        let (action, stop) = match done {
            StreamCall::Gone => return Verdict::Continue,
            StreamCall::Failed(failure) => return Verdict::Failed(failure),
            StreamCall::Done { value, stop } => (value, stop),
        };
        if let Some(verdict) = stop {
            return verdict;
        }
        // 0 = Continue, 2 = ContinueAndEndStream; anything else stops iteration.
        if matches!(action, 0 | 2) {
            return Verdict::Continue;
        }
        if is_body && !end_of_stream {
            return Verdict::Buffer;
        }
        self.resumed().await
    }

    /// Waits until a paused plugin resumes (`proxy_continue_stream`), replies, closes the
    /// stream or fails. The callbacks await this themselves; a proxy needs it only after a
    /// [`Verdict::Buffer`], when it waits for more body and the plugin may resume first
    /// (e.g. from an http call's answer): the buffered data then goes on.
    pub async fn resumed(&mut self) -> Verdict {
        let Some(notify) = self.core.with_stream(self.id, |s| s.notify().clone()) else {
            return Verdict::Continue;
        };
        loop {
            if let Some(failure) = self.core.failed() {
                return Verdict::Failed(failure);
            }
            if let Some(verdict) = self.terminal() {
                return verdict;
            }
            let resumed = self.core.with_stream(self.id, |s| std::mem::take(&mut s.resumed));
            if resumed != Some(false) {
                return Verdict::Continue;
            }
            notify.notified().await;
        }
    }

    /// A local reply or close the plugin asked for.
    fn terminal(&self) -> Option<Verdict> {
        self.core.with_stream(self.id, StreamState::take_stop).flatten()
    }
}

impl Drop for HttpContext {
    fn drop(&mut self) {
        // `request.duration` is known from `proxy_on_log` on, as on Envoy.
        self.core.finish_stream(self.id, |s| {
            s.duration = s.info.start.and_then(|t| t.elapsed().ok());
        });
    }
}
