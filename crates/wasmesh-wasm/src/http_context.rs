//! `HttpContext`: one request through one plugin.

use std::rc::Rc;

use bytes::Bytes;

use crate::state::StreamState;
use crate::vm::VmCore;
use crate::{Failure, HeaderMap, Verdict};

/// One HTTP stream context. Its methods follow Envoy's order: request headers, body
/// chunks, trailers, then the response's. Dropping it ends the context (`proxy_on_done`,
/// `proxy_on_log`, `proxy_on_delete`).
pub struct HttpContext {
    core: Rc<VmCore>,
    id: u32,
}

impl HttpContext {
    pub(crate) fn new(core: Rc<VmCore>, id: u32) -> Self {
        HttpContext { core, id }
    }

    /// The context id the guest knows this stream by.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// `proxy_on_request_headers`: the plugin may read and change `headers` (pseudo-headers
    /// included). `end_of_stream` is true for a request without body.
    pub async fn on_request_headers(&mut self, headers: &mut HeaderMap, end_of_stream: bool) -> Verdict {
        self.headers(
            |s| &mut s.request_headers,
            headers,
            end_of_stream,
            |core, id, n| match &core.exports.on_request_headers {
                Some(f) => core.call_headers("proxy_on_request_headers", f, id, n, end_of_stream),
                None => Ok(0),
            },
        )
        .await
    }

    /// `proxy_on_request_body` with one chunk (or, after [`Verdict::Buffer`], everything
    /// buffered so far plus the new chunk).
    pub async fn on_request_body(&mut self, body: &mut Bytes, end_of_stream: bool) -> Verdict {
        self.body(
            |s| &mut s.request_body,
            body,
            end_of_stream,
            |core, id, n| match &core.exports.on_request_body {
                Some(f) => core.call("proxy_on_request_body", f, id, (id, n, end_of_stream as u32)),
                None => Ok(0),
            },
        )
        .await
    }

    /// `proxy_on_request_trailers`.
    pub async fn on_request_trailers(&mut self, trailers: &mut HeaderMap) -> Verdict {
        self.headers(
            |s| &mut s.request_trailers,
            trailers,
            true,
            |core, id, n| match &core.exports.on_request_trailers {
                Some(f) => core.call("proxy_on_request_trailers", f, id, (id, n)),
                None => Ok(0),
            },
        )
        .await
    }

    /// `proxy_on_response_headers` (with `:status`).
    pub async fn on_response_headers(&mut self, headers: &mut HeaderMap, end_of_stream: bool) -> Verdict {
        self.headers(
            |s| &mut s.response_headers,
            headers,
            end_of_stream,
            |core, id, n| match &core.exports.on_response_headers {
                Some(f) => core.call_headers("proxy_on_response_headers", f, id, n, end_of_stream),
                None => Ok(0),
            },
        )
        .await
    }

    /// `proxy_on_response_body`; see [`HttpContext::on_request_body`].
    pub async fn on_response_body(&mut self, body: &mut Bytes, end_of_stream: bool) -> Verdict {
        self.body(
            |s| &mut s.response_body,
            body,
            end_of_stream,
            |core, id, n| match &core.exports.on_response_body {
                Some(f) => core.call("proxy_on_response_body", f, id, (id, n, end_of_stream as u32)),
                None => Ok(0),
            },
        )
        .await
    }

    /// `proxy_on_response_trailers`.
    pub async fn on_response_trailers(&mut self, trailers: &mut HeaderMap) -> Verdict {
        self.headers(
            |s| &mut s.response_trailers,
            trailers,
            true,
            |core, id, n| match &core.exports.on_response_trailers {
                Some(f) => core.call("proxy_on_response_trailers", f, id, (id, n)),
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
    /// sees the request and response headers it last saw.
    pub fn finish(self) {
        // Dropping ends the context.
        drop(self);
    }

    async fn headers(
        &mut self,
        slot: fn(&mut StreamState) -> &mut HeaderMap,
        map: &mut HeaderMap,
        end_of_stream: bool,
        call: impl FnOnce(&VmCore, u32, u32) -> Result<u32, Failure>,
    ) -> Verdict {
        let count = map.len() as u32;
        let moved = self.core.with_stream(self.id, |s| {
            *slot(s) = std::mem::take(map);
            s.end_of_stream = end_of_stream;
            s.resumed = false;
        });
        if moved.is_none() {
            return Verdict::Continue;
        }
        let result = call(&self.core, self.id, count);
        let verdict = self.settle(result, false, end_of_stream).await;
        // The map as the plugin left it goes back whatever the verdict (a FAIL_OPEN proxy
        // goes on with it); a copy stays for `proxy_on_log` and later callbacks.
        if let Some(out) = self.core.with_stream(self.id, |s| slot(s).clone()) {
            *map = out;
        }
        verdict
    }

    async fn body(
        &mut self,
        slot: fn(&mut StreamState) -> &mut Bytes,
        body: &mut Bytes,
        end_of_stream: bool,
        call: impl FnOnce(&VmCore, u32, u32) -> Result<u32, Failure>,
    ) -> Verdict {
        let size = body.len() as u32;
        let moved = self.core.with_stream(self.id, |s| {
            *slot(s) = std::mem::take(body);
            s.end_of_stream = end_of_stream;
            s.resumed = false;
        });
        if moved.is_none() {
            return Verdict::Continue;
        }
        let result = call(&self.core, self.id, size);
        let verdict = self.settle(result, true, end_of_stream).await;
        if let Some(out) = self.core.with_stream(self.id, |s| std::mem::take(slot(s))) {
            *body = out;
        }
        verdict
    }

    /// Turns a callback's result into a verdict, awaiting a paused plugin.
    async fn settle(&mut self, result: Result<u32, Failure>, is_body: bool, end_of_stream: bool) -> Verdict {
        let action = match result {
            Ok(action) => action,
            Err(failure) => return Verdict::Failed(failure),
        };
        // 0 = Continue, 2 = ContinueAndEndStream; anything else stops iteration.
        let paused = !matches!(action, 0 | 2);
        if let Some(verdict) = self.terminal() {
            return verdict;
        }
        if !paused {
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
        self.core
            .with_stream(self.id, |s| {
                if let Some(reply) = s.local_reply.take() {
                    Some(Verdict::LocalReply(reply))
                } else if s.close {
                    Some(Verdict::Close)
                } else {
                    None
                }
            })
            .flatten()
    }
}

impl Drop for HttpContext {
    fn drop(&mut self) {
        self.core.finish_stream(self.id);
    }
}
