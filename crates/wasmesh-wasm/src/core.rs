//! One live VM: the wasmtime `Store` with its instance, the calls into the guest with the
//! time budget, failure handling, and the local tasks that deliver asynchronous events
//! (http/gRPC answers, ticks, queue notifications) back into the guest.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Store, Trap, TypedFunc, WasmParams, WasmResults};

use crate::engine::EPOCH_TICK;
use crate::exports::{Exports, HeadersFn};
use crate::state::{CallData, MemoryCap, StreamState, VmState, ROOT_CONTEXT_ID};
use crate::{
    CompiledPlugin, EnvValue, Failure, FailureReason, GrpcCallResult, GrpcIncoming, Host, HttpCallResult,
    StreamInfo,
};

/// Longest trap description kept in a [`Failure`].
const MAX_TRAP_MESSAGE: usize = 512;

pub struct VmCore {
    pub plugin: Arc<CompiledPlugin>,
    pub store: RefCell<Store<VmState>>,
    pub exports: Exports,
    failed: RefCell<Option<Failure>>,
    next_context: Cell<u32>,
    budget_ticks: u64,
}

impl VmCore {
    /// Instantiates the plugin and runs its start-up: `_initialize`/`_start`, the root
    /// context's `proxy_on_context_create`, `proxy_on_vm_start`, `proxy_on_configure`.
    pub fn create(plugin: Arc<CompiledPlugin>, host: Rc<dyn Host>) -> Result<Rc<VmCore>, Failure> {
        let limits = plugin.host.inner.limits.clone();
        let env = plugin
            .spec
            .env
            .iter()
            .filter_map(|(name, value)| match value {
                EnvValue::Inline(v) => Some((name.clone(), v.clone())),
                EnvValue::Host => std::env::var(name).ok().map(|v| (name.clone(), v)),
            })
            .collect();
        let state = VmState {
            plugin: plugin.clone(),
            host,
            core: Default::default(),
            memory: None,
            malloc: None,
            cap: MemoryCap {
                max_bytes: limits.memory_bytes,
                denied: false,
            },
            effective: ROOT_CONTEXT_ID,
            contexts: HashMap::new(),
            root_properties: HashMap::new(),
            call: None,
            next_token: 0,
            calls: HashMap::new(),
            tick_generation: 0,
            queue_owner: None,
            env,
            stdio: [Vec::new(), Vec::new()],
            started: Instant::now(),
            warned: HashSet::new(),
        };
        let budget_ticks = (limits.callback_budget.as_micros() / EPOCH_TICK.as_micros()).max(1) as u64 + 1;
        let mut store = Store::new(&plugin.host.inner.engine, state);
        store.limiter(|s| &mut s.cap);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(budget_ticks);
        let fail = |reason| Failure {
            plugin: plugin.plugin_name.clone(),
            reason,
            strategy: plugin.spec.fail_strategy,
        };
        let instance = plugin
            .pre
            .instantiate(&mut store)
            .map_err(|e| fail(FailureReason::VmCreation(truncate(format!("{e:#}")))))?;
        let exports = Exports::lookup(&instance, &mut store);
        let memory = instance.get_memory(&mut store, "memory");
        let data = store.data_mut();
        data.memory = memory;
        data.malloc = exports.malloc.clone();
        let core = Rc::new_cyclic(|weak| {
            store.data_mut().core = weak.clone();
            VmCore {
                plugin: plugin.clone(),
                store: RefCell::new(store),
                exports,
                failed: RefCell::new(None),
                next_context: Cell::new(ROOT_CONTEXT_ID + 1),
                budget_ticks,
            }
        });
        core.start_up().map_err(|f| core.fail(f))?;
        plugin.host.inner.metrics.count_vm_start(&plugin.plugin_name);
        Ok(core)
    }

    fn start_up(&self) -> Result<(), Failure> {
        let ex = &self.exports;
        if let Some(f) = &ex.initialize {
            self.call("_initialize", f, ROOT_CONTEXT_ID, ())?;
        } else if let Some(f) = &ex.start {
            self.call("_start", f, ROOT_CONTEXT_ID, ())?;
        }
        if let Some(f) = &ex.on_context_create {
            self.call(
                "proxy_on_context_create",
                f,
                ROOT_CONTEXT_ID,
                (ROOT_CONTEXT_ID, 0),
            )?;
        }
        let spec = &self.plugin.spec;
        if let Some(f) = &ex.on_vm_start {
            let ok = self.call(
                "proxy_on_vm_start",
                f,
                ROOT_CONTEXT_ID,
                (ROOT_CONTEXT_ID, spec.vm_config.len() as u32),
            )?;
            if ok == 0 {
                return Err(self.failure(FailureReason::Rejected("proxy_on_vm_start")));
            }
        }
        if let Some(f) = &ex.on_configure {
            let size = spec.plugin_config.len() as u32;
            let ok = self.call("proxy_on_configure", f, ROOT_CONTEXT_ID, (ROOT_CONTEXT_ID, size))?;
            if ok == 0 {
                return Err(self.failure(FailureReason::Rejected("proxy_on_configure")));
            }
        }
        Ok(())
    }

    fn failure(&self, reason: FailureReason) -> Failure {
        Failure {
            plugin: self.plugin.plugin_name.clone(),
            reason,
            strategy: self.plugin.spec.fail_strategy,
        }
    }

    /// The failure that broke this VM, if any.
    pub fn failed(&self) -> Option<Failure> {
        self.failed.borrow().clone()
    }

    /// Marks the VM failed (first failure only), logs and counts it once, and wakes every
    /// paused context so it can report the failure.
    pub fn fail(&self, failure: Failure) -> Failure {
        if let Some(first) = self.failed.borrow().as_ref() {
            return first.clone();
        }
        tracing::error!(plugin = %failure.plugin, strategy = ?failure.strategy, "{}", failure.reason);
        self.plugin
            .host
            .inner
            .metrics
            .count_failure(&failure.plugin, failure.reason_label());
        *self.failed.borrow_mut() = Some(failure.clone());
        if let Ok(mut store) = self.store.try_borrow_mut() {
            let data = store.data_mut();
            for call in data.calls.values() {
                call.task.abort();
            }
            data.calls.clear();
            data.tick_generation += 1;
            for stream in data.contexts.values() {
                stream.notify.notify_one();
            }
        }
        failure
    }

    /// Calls into the guest with `effective` as the effective context and a fresh time
    /// budget. A trap, an interrupt or a re-entrant call fails the VM.
    pub fn call<P: WasmParams, R: WasmResults>(
        &self,
        callback: &'static str,
        func: &TypedFunc<P, R>,
        effective: u32,
        args: P,
    ) -> Result<R, Failure> {
        if let Some(failed) = self.failed() {
            return Err(self.failure(FailureReason::VmFailed(failed.reason.to_string())));
        }
        let Ok(mut store) = self.store.try_borrow_mut() else {
            return Err(self.failure(FailureReason::VmFailed(format!(
                "{callback} called while the VM was busy"
            ))));
        };
        store.data_mut().effective = effective;
        store.set_epoch_deadline(self.budget_ticks);
        let result = func.call(&mut *store, args);
        crate::abi::wasi::flush_stdio(store.data_mut());
        match result {
            Ok(value) => Ok(value),
            Err(error) => {
                let memory_denied = store.data().cap.denied;
                drop(store);
                let reason = match error.downcast_ref::<Trap>() {
                    Some(Trap::Interrupt) => FailureReason::Timeout { callback },
                    _ if memory_denied => FailureReason::MemoryLimit { callback },
                    _ => FailureReason::Trap {
                        callback,
                        message: truncate(format!("{error:#}")),
                    },
                };
                Err(self.fail(self.failure(reason)))
            }
        }
    }

    /// Calls a headers callback of either ABI shape.
    pub fn call_headers(
        &self,
        callback: &'static str,
        func: &HeadersFn,
        context: u32,
        count: u32,
        end_of_stream: bool,
    ) -> Result<u32, Failure> {
        match func {
            HeadersFn::WithEndOfStream(f) => {
                self.call(callback, f, context, (context, count, end_of_stream as u32))
            }
            HeadersFn::Legacy(f) => self.call(callback, f, context, (context, count)),
        }
    }

    /// Creates a stream context (`proxy_on_context_create(id, root)`).
    pub fn create_stream(&self, info: StreamInfo) -> Result<u32, Failure> {
        let id = self.next_context.get();
        self.next_context.set(id.wrapping_add(1).max(ROOT_CONTEXT_ID + 1));
        self.with_state(|s| {
            s.contexts.insert(id, StreamState::new(info));
        })?;
        if let Some(f) = &self.exports.on_context_create {
            if let Err(failure) = self.call("proxy_on_context_create", f, id, (id, ROOT_CONTEXT_ID)) {
                let _ = self.with_state(|s| s.contexts.remove(&id));
                return Err(failure);
            }
        }
        Ok(id)
    }

    /// Runs `f` on the store's data (not while the guest runs).
    pub fn with_state<R>(&self, f: impl FnOnce(&mut VmState) -> R) -> Result<R, Failure> {
        match self.store.try_borrow_mut() {
            Ok(mut store) => Ok(f(store.data_mut())),
            Err(_) => Err(self.failure(FailureReason::VmFailed("the VM was busy".into()))),
        }
    }

    /// Runs `f` on one stream's data; `None` when the context is gone.
    pub fn with_stream<R>(&self, id: u32, f: impl FnOnce(&mut StreamState) -> R) -> Option<R> {
        self.with_state(|s| s.contexts.get_mut(&id).map(f)).ok().flatten()
    }

    /// Ends a stream context: `proxy_on_done`, `proxy_on_log`, `proxy_on_delete`; cancels
    /// its calls. Errors are already logged and counted by `call`.
    pub fn finish_stream(&self, id: u32) {
        if self.failed().is_none() {
            let ex = &self.exports;
            if let Some(f) = &ex.on_done {
                let _ = self.call("proxy_on_done", f, id, id);
            }
            if let Some(f) = &ex.on_log {
                let _ = self.call("proxy_on_log", f, id, id);
            }
            if let Some(f) = &ex.on_delete {
                let _ = self.call("proxy_on_delete", f, id, id);
            }
        }
        let _ = self.with_state(|s| {
            s.contexts.remove(&id);
            s.calls.retain(|_, call| {
                let mine = call.context == id;
                if mine {
                    call.task.abort();
                }
                !mine
            });
        });
    }

    /// The root context's end: `proxy_on_done`, `proxy_on_delete`; stops timers and calls.
    pub fn shut_down(&self) {
        if self.failed().is_none() {
            if let Some(f) = &self.exports.on_done {
                let _ = self.call("proxy_on_done", f, ROOT_CONTEXT_ID, ROOT_CONTEXT_ID);
            }
            if let Some(f) = &self.exports.on_delete {
                let _ = self.call("proxy_on_delete", f, ROOT_CONTEXT_ID, ROOT_CONTEXT_ID);
            }
        }
        let _ = self.with_state(|s| {
            s.tick_generation += 1;
            for call in s.calls.values() {
                call.task.abort();
            }
            s.calls.clear();
        });
    }

    // === asynchronous events ===

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
        let _ = self.with_state(|s| s.call = Some(data));
        let _ = self.call("proxy_on_http_call_response", &f, call.context, args);
        let _ = self.with_state(|s| s.call = None);
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
        let _ = self.with_state(|s| s.call = Some(data));
        let ex = &self.exports;
        if status == 0 {
            if let Some(f) = &ex.on_grpc_receive {
                let _ = self.call(
                    "proxy_on_grpc_receive",
                    f,
                    call.context,
                    (call.context, token, size),
                );
            }
        } else if let Some(f) = &ex.on_grpc_close {
            let _ = self.call(
                "proxy_on_grpc_close",
                f,
                call.context,
                (call.context, token, status),
            );
        }
        let _ = self.with_state(|s| s.call = None);
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
        let _ = self.with_state(|s| s.call = Some(data));
        let _ = self.call(name, &func, context, (context, token, arg));
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

fn truncate(mut message: String) -> String {
    if message.len() > MAX_TRAP_MESSAGE {
        let mut end = MAX_TRAP_MESSAGE;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    message
}
