//! What a VM's wasmtime `Store` holds: the plugin's settings, the host, the contexts' data
//! (header maps, buffers, flags) that the hostcalls read and change, and the memory cap.

use rustc_hash::FxHashMap;
use std::collections::{HashMap, HashSet};
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::Notify;
use tokio::task::AbortHandle;
use wasmtime::{Memory, ResourceLimiter, TypedFunc};

use crate::stream_headers::SharedHeaders;
use crate::vm::VmCore;
use crate::{CompiledPlugin, HeaderMap, Host, LocalReply, StreamInfo};

/// Most http/gRPC calls and streams one VM may have in flight: a plugin cannot make the
/// proxy hold unbounded work (more get `InternalFailure`).
pub const MAX_CALLS_IN_FLIGHT: usize = 4096;

/// The id of the root context (the only one per VM; stream contexts count up from 2).
pub const ROOT_CONTEXT_ID: u32 = 1;

pub struct VmState {
    pub plugin: Arc<CompiledPlugin>,
    pub host: Rc<dyn Host>,
    pub core: Weak<VmCore>,
    pub memory: Option<Memory>,
    pub malloc: Option<TypedFunc<u32, u32>>,
    pub cap: MemoryCap,
    /// The context hostcalls act on (`proxy_set_effective_context` changes it).
    pub effective: u32,
    /// By context id (the host makes them: a fast hash is safe).
    pub contexts: FxHashMap<u32, StreamState>,
    /// Properties the plugin declared (`declare_property`), by dotted path: whether
    /// each is read-only once set.
    pub declared: HashMap<String, bool>,
    /// Foreign functions and filter-state keys this host does not implement that the
    /// plugin asked for: each is logged once.
    pub unimplemented_logged: HashSet<String>,
    /// The answer being delivered in `proxy_on_http_call_response` / gRPC callbacks.
    pub call: Option<CallData>,
    pub next_token: u32,
    pub calls: FxHashMap<u32, PendingCall>,
    /// The running timer task's number; changing it stops that task.
    pub tick_generation: u64,
    pub queue_owner: Option<UnboundedSender<u32>>,
    pub env: Vec<(String, String)>,
    /// Partial lines written to WASI stdout (0) and stderr (1).
    pub stdio: [Vec<u8>; 2],
    pub started: Instant,
    /// Problems already logged for this VM (each is logged once).
    pub warned: HashSet<&'static str>,
}

/// A call (http or gRPC) in flight, owned by a context.
pub struct PendingCall {
    pub context: u32,
    pub task: AbortHandle,
    /// gRPC streams: where the plugin's messages go.
    pub outgoing: Option<UnboundedSender<crate::GrpcOutgoing>>,
}

/// The answer of an http or gRPC call while its callback runs.
#[derive(Default)]
pub struct CallData {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub trailers: HeaderMap,
    pub grpc_status: u32,
    pub grpc_message: Option<String>,
}

/// The data of one HTTP or TCP stream context.
pub struct StreamState {
    /// The stream's request and response headers, shared with the proxy and every other
    /// filter of the request (`None` for a TCP stream).
    pub headers: Option<SharedHeaders>,
    pub request_body: Bytes,
    pub request_trailers: HeaderMap,
    pub response_body: Bytes,
    pub response_trailers: HeaderMap,
    pub downstream_data: Bytes,
    pub upstream_data: Bytes,
    /// `end_of_stream` of the data being handled (for `proxy_get_buffer_status`).
    pub end_of_stream: bool,
    pub local_reply: Option<LocalReply>,
    pub close: bool,
    pub resumed: bool,
    /// Wakes the proxy waiting for a paused stream; made when first needed (most streams
    /// never pause).
    notify: Option<Rc<Notify>>,
    pub properties: HashMap<String, Bytes>,
    /// What the proxy knows of the request, shared by the request's plugins.
    pub info: Arc<StreamInfo>,
    /// Envoy filter state the plugin set (`set_envoy_filter_state`), e.g.
    /// `envoy.tcp_proxy.cluster`.
    pub filter_state: HashMap<String, Bytes>,
    /// The request's duration, known from `proxy_on_log` on (`request.duration`).
    pub duration: Option<std::time::Duration>,
}

impl StreamState {
    /// What a paused stream's waiter waits on, and resumers notify.
    pub fn notify(&mut self) -> &Rc<Notify> {
        self.notify.get_or_insert_with(|| Rc::new(Notify::new()))
    }

    /// The local reply or close the plugin asked for, taken (the reply) or read (the close).
    pub fn take_stop(&mut self) -> Option<crate::Verdict> {
        if let Some(reply) = self.local_reply.take() {
            Some(crate::Verdict::LocalReply(reply))
        } else if self.close {
            Some(crate::Verdict::Close)
        } else {
            None
        }
    }

    /// Wakes a waiter, if there is one (a stream that never paused has none; one that
    /// pauses later sees the VM's state first).
    pub fn wake_waiter(&self) {
        if let Some(n) = &self.notify {
            n.notify_one();
        }
    }

    pub fn new(info: Arc<StreamInfo>, headers: Option<SharedHeaders>) -> Self {
        StreamState {
            headers,
            request_body: Bytes::new(),
            request_trailers: HeaderMap::new(),
            response_body: Bytes::new(),
            response_trailers: HeaderMap::new(),
            downstream_data: Bytes::new(),
            upstream_data: Bytes::new(),
            end_of_stream: false,
            local_reply: None,
            close: false,
            resumed: false,
            notify: None,
            properties: HashMap::new(),
            info,
            filter_state: HashMap::new(),
            duration: None,
        }
    }
}

impl VmState {
    /// The stream the effective context names (`None` for the root context).
    pub fn stream(&mut self) -> Option<&mut StreamState> {
        let id = self.effective;
        self.contexts.get_mut(&id)
    }

    /// Stops the timer and every call in flight: no tick and no answer is delivered after.
    pub fn stop_timer_and_calls(&mut self) {
        self.tick_generation += 1;
        for (_, call) in self.calls.drain() {
            call.task.abort();
        }
    }
}

/// Caps a VM's linear memory; remembers a refusal so a following trap is reported as
/// "memory limit" rather than as a bare trap.
pub struct MemoryCap {
    pub max_bytes: usize,
    pub denied: bool,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.denied = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}
