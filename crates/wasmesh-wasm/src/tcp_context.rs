//! `TcpContext`: one connection through one network plugin.

use std::rc::Rc;

use bytes::Bytes;

use crate::state::StreamState;
use crate::vm::VmCore;
use crate::{Failure, PeerType, TcpVerdict};

/// One TCP stream context. Dropping it ends the context (`proxy_on_done`, `proxy_on_log`,
/// `proxy_on_delete`).
pub struct TcpContext {
    core: Rc<VmCore>,
    id: u32,
}

impl TcpContext {
    pub(crate) fn new(core: Rc<VmCore>, id: u32) -> Self {
        TcpContext { core, id }
    }

    /// `proxy_on_new_connection`. A plugin that pauses here is awaited until it resumes
    /// (`proxy_continue_stream`), closes or fails.
    pub async fn on_new_connection(&mut self) -> TcpVerdict {
        let Some(f) = self.core.exports.on_new_connection.clone() else {
            return TcpVerdict::Continue;
        };
        self.reset_flags();
        let result = self.core.call("proxy_on_new_connection", &f, self.id, self.id);
        match self.settle(result) {
            TcpVerdict::Buffer => self.resumed().await,
            verdict => verdict,
        }
    }

    /// `proxy_on_downstream_data`: bytes from the client, which the plugin may change.
    pub async fn on_downstream_data(&mut self, data: &mut Bytes, end_of_stream: bool) -> TcpVerdict {
        self.data(true, data, end_of_stream)
    }

    /// `proxy_on_upstream_data`: bytes from the server, which the plugin may change.
    pub async fn on_upstream_data(&mut self, data: &mut Bytes, end_of_stream: bool) -> TcpVerdict {
        self.data(false, data, end_of_stream)
    }

    /// `proxy_on_downstream_connection_close`.
    pub fn on_downstream_close(&mut self, peer: PeerType) {
        if let Some(f) = self.core.exports.on_downstream_connection_close.clone() {
            let _ = self.core.call(
                "proxy_on_downstream_connection_close",
                &f,
                self.id,
                (self.id, peer as u32),
            );
        }
    }

    /// `proxy_on_upstream_connection_close`.
    pub fn on_upstream_close(&mut self, peer: PeerType) {
        if let Some(f) = self.core.exports.on_upstream_connection_close.clone() {
            let _ = self.core.call(
                "proxy_on_upstream_connection_close",
                &f,
                self.id,
                (self.id, peer as u32),
            );
        }
    }

    /// The Envoy filter state the plugin set with `set_envoy_filter_state`, e.g.
    /// `envoy.tcp_proxy.cluster` (the TCP cluster to connect to).
    pub fn filter_state(&self, key: &str) -> Option<Bytes> {
        self.core
            .with_stream(self.id, |s| s.filter_state.get(key).cloned())
            .flatten()
    }

    /// Ends the context now.
    pub fn finish(self) {
        // Dropping ends the context.
        drop(self);
    }

    fn reset_flags(&self) {
        self.core.with_stream(self.id, |s| s.resumed = false);
    }

    fn data(&mut self, downstream: bool, data: &mut Bytes, end_of_stream: bool) -> TcpVerdict {
        let exports = &self.core.exports;
        let (f, name, slot): (_, _, fn(&mut StreamState) -> &mut Bytes) = if downstream {
            (
                exports.on_downstream_data.clone(),
                "proxy_on_downstream_data",
                |s| &mut s.downstream_data,
            )
        } else {
            (exports.on_upstream_data.clone(), "proxy_on_upstream_data", |s| {
                &mut s.upstream_data
            })
        };
        let Some(f) = f else { return TcpVerdict::Continue };
        let size = data.len() as u32;
        let moved = self.core.with_stream(self.id, |s| {
            *slot(s) = std::mem::take(data);
            s.end_of_stream = end_of_stream;
            s.resumed = false;
        });
        if moved.is_none() {
            return TcpVerdict::Continue;
        }
        let result = self
            .core
            .call(name, &f, self.id, (self.id, size, end_of_stream as u32));
        let verdict = self.settle(result);
        if let Some(out) = self.core.with_stream(self.id, |s| std::mem::take(slot(s))) {
            *data = out;
        }
        verdict
    }

    fn settle(&self, result: Result<u32, Failure>) -> TcpVerdict {
        let action = match result {
            Ok(action) => action,
            Err(failure) => return TcpVerdict::Failed(failure),
        };
        if self.core.with_stream(self.id, |s| s.close) == Some(true) {
            return TcpVerdict::Close;
        }
        if action == 0 {
            TcpVerdict::Continue
        } else {
            TcpVerdict::Buffer
        }
    }

    /// Waits until a plugin that paused (a [`TcpVerdict::Buffer`]) resumes the connection
    /// (`proxy_continue_stream`), closes it or fails. A proxy awaits this together with the
    /// next data: when it resolves to `Continue`, the buffered data goes on.
    pub async fn resumed(&self) -> TcpVerdict {
        let Some(notify) = self.core.with_stream(self.id, |s| s.notify().clone()) else {
            return TcpVerdict::Continue;
        };
        loop {
            if let Some(failure) = self.core.failed() {
                return TcpVerdict::Failed(failure);
            }
            match self
                .core
                .with_stream(self.id, |s| (s.close, std::mem::take(&mut s.resumed)))
            {
                Some((true, _)) => return TcpVerdict::Close,
                Some((false, true)) | None => return TcpVerdict::Continue,
                Some((false, false)) => notify.notified().await,
            }
        }
    }
}

impl Drop for TcpContext {
    fn drop(&mut self) {
        // `request.duration` is known from `proxy_on_log` on, as on Envoy.
        self.core.finish_stream(self.id, |s| {
            s.duration = s.info.start.and_then(|t| t.elapsed().ok());
        });
    }
}
