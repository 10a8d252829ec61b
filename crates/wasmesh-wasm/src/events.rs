//! Asynchronous events delivered back into a VM from its local tasks: http and gRPC
//! answers, gRPC stream events, timer ticks and shared-queue notifications; and the tasks
//! themselves.

use std::time::Duration;

use crate::core::VmCore;
use crate::state::{CallData, VmState, ROOT_CONTEXT_ID};
use crate::{GrpcCallResult, GrpcIncoming, HttpCallResult};

impl VmCore {
    /// Delivers an http call's answer: `proxy_on_http_call_response`.
    pub fn deliver_http_call(&self, token: u32, result: HttpCallResult) {
        let Ok(Some(call)) = self.with_state(|s| s.calls.remove(&token)) else {
            return;
        };
        let Some(f) = self.exports.on_http_call_response.clone() else {
            return;
        };
        let data = match result {
            Ok(response) => CallData {
                headers: response.headers,
                body: response.body,
                trailers: response.trailers,
                ..Default::default()
            },
            // Envoy reports a failed call as an answer with nothing in it.
            Err(_) => CallData::default(),
        };
        let args = (
            call.context,
            token,
            data.headers.len() as u32,
            data.body.len() as u32,
            data.trailers.len() as u32,
        );
        self.with_answer(data, || {
            let _ = self.call("proxy_on_http_call_response", &f, call.context, args);
        });
    }

    /// Delivers a unary gRPC call's answer: `proxy_on_grpc_receive` on success, else
    /// `proxy_on_grpc_close` with the status (as Envoy does for unary calls).
    pub fn deliver_grpc_call(&self, token: u32, result: GrpcCallResult) {
        let Ok(Some(call)) = self.with_state(|s| s.calls.remove(&token)) else {
            return;
        };
        let response = result.unwrap_or_else(|e| crate::GrpcCallResponse {
            status: 14,
            status_message: Some(e.to_string()),
            ..Default::default()
        });
        let data = CallData {
            headers: response.initial_metadata,
            body: response.message,
            trailers: response.trailing_metadata,
            grpc_status: response.status,
            grpc_message: response.status_message,
        };
        let (status, size) = (data.grpc_status, data.body.len() as u32);
        let ex = &self.exports;
        let (name, func, arg) = if status == 0 {
            ("proxy_on_grpc_receive", &ex.on_grpc_receive, size)
        } else {
            ("proxy_on_grpc_close", &ex.on_grpc_close, status)
        };
        let Some(func) = func.clone() else { return };
        self.with_answer(data, || {
            let _ = self.call(name, &func, call.context, (call.context, token, arg));
        });
    }

    /// Delivers one event of a gRPC stream into the VM.
    pub fn deliver_grpc_stream(&self, token: u32, event: GrpcIncoming) {
        let closing = matches!(event, GrpcIncoming::Close { .. });
        let call = if closing {
            self.with_state(|s| s.calls.remove(&token).map(|c| c.context))
        } else {
            self.with_state(|s| s.calls.get(&token).map(|c| c.context))
        };
        let Ok(Some(context)) = call else { return };
        let ex = &self.exports;
        let mut data = CallData::default();
        let (name, func, arg) = match event {
            GrpcIncoming::InitialMetadata(map) => {
                let n = map.len() as u32;
                data.headers = map;
                (
                    "proxy_on_grpc_receive_initial_metadata",
                    &ex.on_grpc_receive_initial_metadata,
                    n,
                )
            }
            GrpcIncoming::Message(message) => {
                let n = message.len() as u32;
                data.body = message;
                ("proxy_on_grpc_receive", &ex.on_grpc_receive, n)
            }
            GrpcIncoming::TrailingMetadata(map) => {
                let n = map.len() as u32;
                data.trailers = map;
                (
                    "proxy_on_grpc_receive_trailing_metadata",
                    &ex.on_grpc_receive_trailing_metadata,
                    n,
                )
            }
            GrpcIncoming::Close { status, message } => {
                data.grpc_status = status;
                data.grpc_message = message;
                ("proxy_on_grpc_close", &ex.on_grpc_close, status)
            }
        };
        let Some(func) = func.clone() else { return };
        self.with_answer(data, || {
            let _ = self.call(name, &func, context, (context, token, arg));
        });
    }

    /// Runs `deliver` while `data` is the answer the plugin's hostcalls read (buffers,
    /// header maps and `proxy_get_status` of the call).
    fn with_answer(&self, data: CallData, deliver: impl FnOnce()) {
        let _ = self.with_state(|s| s.call = Some(data));
        deliver();
        let _ = self.with_state(|s| s.call = None);
    }

    /// `proxy_on_tick` on the root context.
    pub fn tick(&self) {
        if let Some(f) = &self.exports.on_tick {
            let _ = self.call("proxy_on_tick", f, ROOT_CONTEXT_ID, ROOT_CONTEXT_ID);
        }
    }

    /// `proxy_on_queue_ready` on the root context.
    pub fn queue_ready(&self, queue: u32) {
        if let Some(f) = &self.exports.on_queue_ready {
            let _ = self.call(
                "proxy_on_queue_ready",
                f,
                ROOT_CONTEXT_ID,
                (ROOT_CONTEXT_ID, queue),
            );
        }
    }
}

/// Starts (or restarts, or stops with 0) the VM's timer. Called from the hostcall; the
/// task ends when the VM is gone, failed, or the period changes again.
pub fn restart_ticker(state: &mut VmState, period_ms: u32) {
    state.tick_generation += 1;
    if period_ms == 0 {
        return;
    }
    let generation = state.tick_generation;
    let core = state.core.clone();
    let period = Duration::from_millis(period_ms.into());
    spawn_local(state, "timers", async move {
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let Some(core) = core.upgrade() else { return };
            let current = core.with_state(|s| s.tick_generation).unwrap_or(generation);
            if current != generation || core.failed().is_some() {
                return;
            }
            core.tick();
        }
    });
}

/// Makes this VM the owner of queue notifications: a local task calls
/// `proxy_on_queue_ready` for each enqueue.
pub fn queue_owner(state: &mut VmState) -> tokio::sync::mpsc::UnboundedSender<u32> {
    if let Some(sender) = &state.queue_owner {
        return sender.clone();
    }
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<u32>();
    let core = state.core.clone();
    spawn_local(state, "shared queue notifications", async move {
        while let Some(queue) = receiver.recv().await {
            let Some(core) = core.upgrade() else { return };
            if core.failed().is_some() {
                return;
            }
            core.queue_ready(queue);
        }
    });
    state.queue_owner = Some(sender.clone());
    sender
}

/// Spawns a local task of the VM. Outside a `LocalSet` (a misuse of this crate) it logs once
/// and returns `None` instead of panicking, and the feature is unavailable to the plugin.
pub fn spawn_local(
    state: &mut VmState,
    what: &'static str,
    task: impl std::future::Future<Output = ()> + 'static,
) -> Option<tokio::task::JoinHandle<()>> {
    let spawned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tokio::task::spawn_local(task)));
    match spawned {
        Ok(handle) => Some(handle),
        Err(_) => {
            if state.warned.insert(what) {
                tracing::error!(
                    plugin = %state.plugin.plugin_name,
                    "{what} need the VM to run inside a tokio LocalSet; they are unavailable"
                );
            }
            None
        }
    }
}
