//! One live VM: the wasmtime `Store` with its instance, start-up, stream contexts, the calls
//! into the guest with the time budget, and failure handling. Asynchronous events (call
//! answers, ticks, queue notifications) are in `events.rs`.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use wasmtime::{Store, Trap, TypedFunc, WasmBacktrace, WasmParams, WasmResults};

use crate::epoch::EpochClock;
use crate::exports::{Exports, HeadersFn};
use crate::state::{MemoryCap, StreamState, VmState, ROOT_CONTEXT_ID};
use crate::stream_headers::SharedHeaders;
use crate::{CompiledPlugin, EnvValue, Failure, FailureReason, Host, StreamInfo};

/// Longest trap description kept in a [`Failure`].
const MAX_TRAP_MESSAGE: usize = 512;

/// What [`VmCore::call_stream`] saw.
pub enum StreamCall<R> {
    /// The context is gone: nothing was called.
    Gone,
    /// The call failed (the VM with it).
    Failed(Failure),
    /// The callback's answer, and the local reply or close it asked for.
    Done { value: R, stop: Option<crate::Verdict> },
}

pub struct VmCore {
    pub plugin: Arc<CompiledPlugin>,
    pub store: RefCell<Store<VmState>>,
    pub exports: Exports,
    failed: RefCell<Option<Failure>>,
    /// This VM's number on its plugin's health board.
    vm: u64,
    next_context: Cell<u32>,
    budget_ticks: u64,
    /// Told when a call starts, so the epoch ticker is awake (epoch.rs).
    clock: Arc<EpochClock>,
}

impl VmCore {
    /// Instantiates the plugin and runs its start-up: `_initialize`/`_start`, the root
    /// context's `proxy_on_context_create`, `proxy_on_vm_start`, `proxy_on_configure`.
    /// `vm` is the VM's number on the plugin's health board, where failures are recorded.
    pub fn create(plugin: Arc<CompiledPlugin>, host: Rc<dyn Host>, vm: u64) -> Result<Rc<VmCore>, Failure> {
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
            contexts: Default::default(),
            declared: HashMap::new(),
            unimplemented_logged: Default::default(),
            call: None,
            next_token: 0,
            calls: Default::default(),
            tick_generation: 0,
            queue_owner: None,
            env,
            stdio: [Vec::new(), Vec::new()],
            started: Instant::now(),
            warned: HashSet::new(),
        };
        let budget_ticks = crate::epoch::budget_ticks(limits.callback_budget);
        let clock = plugin.host.inner.clock.clone();
        let mut store = Store::new(&plugin.host.inner.engine, state);
        store.limiter(|s| &mut s.cap);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(budget_ticks);
        // instantiation runs the module's start function
        clock.call_starts();
        let fail = |reason| Failure {
            plugin: plugin.plugin_name.clone(),
            reason,
            strategy: plugin.spec.fail_strategy,
        };
        let instance = plugin.pre.instantiate(&mut store).map_err(|e| {
            let failure = fail(FailureReason::VmCreation(truncate(format!("{e:#}"))));
            plugin.report_failure(vm, &failure);
            failure
        })?;
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
                vm,
                next_context: Cell::new(ROOT_CONTEXT_ID + 1),
                budget_ticks,
                clock,
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

    /// Marks the VM failed (first failure only), reports it (logged once per cause, counted,
    /// on the health board), and wakes every paused context so it can report the failure.
    pub fn fail(&self, failure: Failure) -> Failure {
        if let Some(first) = self.failed.borrow().as_ref() {
            return first.clone();
        }
        self.plugin.report_failure(self.vm, &failure);
        *self.failed.borrow_mut() = Some(failure.clone());
        if let Ok(mut store) = self.store.try_borrow_mut() {
            let data = store.data_mut();
            data.stop_timer_and_calls();
            for stream in data.contexts.values() {
                stream.wake_waiter();
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
        match self.enter(&mut store, func, effective, args) {
            Ok(value) => Ok(value),
            Err(error) => {
                let memory_denied = store.data().cap.denied;
                drop(store);
                Err(self.call_failed(callback, error, memory_denied))
            }
        }
    }

    /// A callback on stream context `id` under one borrow of the store: `prepare` sets the
    /// context's state, `call` enters the guest (through [`VmCore::enter`]), and the local
    /// reply or close the plugin asked for is read after. [`StreamCall::Gone`] when the
    /// context is gone (or the VM busy), as [`VmCore::with_stream`] answers `None`.
    pub fn call_stream<R>(
        &self,
        callback: &'static str,
        id: u32,
        prepare: impl FnOnce(&mut StreamState),
        call: impl FnOnce(&Self, &mut Store<VmState>) -> wasmtime::Result<R>,
    ) -> StreamCall<R> {
        let Ok(mut store) = self.store.try_borrow_mut() else {
            return StreamCall::Gone;
        };
        let Some(stream) = store.data_mut().contexts.get_mut(&id) else {
            return StreamCall::Gone;
        };
        prepare(stream);
        if let Some(failed) = self.failed() {
            return StreamCall::Failed(self.failure(FailureReason::VmFailed(failed.reason.to_string())));
        }
        match call(self, &mut store) {
            Ok(value) => {
                let stop = store
                    .data_mut()
                    .contexts
                    .get_mut(&id)
                    .and_then(StreamState::take_stop);
                StreamCall::Done { value, stop }
            }
            Err(error) => {
                let memory_denied = store.data().cap.denied;
                drop(store);
                StreamCall::Failed(self.call_failed(callback, error, memory_denied))
            }
        }
    }

    /// Enters the guest on a borrowed store: `effective` as the effective context, a fresh
    /// time budget (the epoch ticker told, docs/wasm-host.md), the guest's stdio flushed
    /// after.
    pub fn enter<P: WasmParams, R: WasmResults>(
        &self,
        store: &mut Store<VmState>,
        func: &TypedFunc<P, R>,
        effective: u32,
        args: P,
    ) -> wasmtime::Result<R> {
        store.data_mut().effective = effective;
        store.set_epoch_deadline(self.budget_ticks);
        self.clock.call_starts();
        let result = func.call(&mut *store, args);
        crate::abi::wasi::flush_stdio(store.data_mut());
        result
    }

    /// [`VmCore::enter`] for a headers callback of either ABI shape.
    pub fn enter_headers(
        &self,
        store: &mut Store<VmState>,
        func: &HeadersFn,
        context: u32,
        count: u32,
        end_of_stream: bool,
    ) -> wasmtime::Result<u32> {
        match func {
            HeadersFn::WithEndOfStream(f) => {
                self.enter(store, f, context, (context, count, end_of_stream as u32))
            }
            HeadersFn::Legacy(f) => self.enter(store, f, context, (context, count)),
        }
    }

    /// The failure a call into the guest ended in (the store no longer borrowed): the VM
    /// fails.
    fn call_failed(&self, callback: &'static str, error: wasmtime::Error, memory_denied: bool) -> Failure {
        let reason = match error.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => FailureReason::Timeout { callback },
            _ if memory_denied => FailureReason::MemoryLimit { callback },
            _ => FailureReason::Trap {
                callback,
                message: truncate(trap_sentence(&error)),
            },
        };
        // The guest's call stack is for whoever debugs the plugin, not for the
        // failure's one-line reason (docs/wasm-host.md, "When a plugin fails").
        if let Some(trace) = error.downcast_ref::<WasmBacktrace>() {
            tracing::debug!(plugin = %self.plugin.plugin_name, callback, "wasm backtrace of the trap:\n{trace}");
        }
        self.fail(self.failure(reason))
    }

    /// Creates a stream context (`proxy_on_context_create(id, root)`), under one borrow of
    /// the store.
    pub fn create_stream(
        &self,
        info: Arc<StreamInfo>,
        headers: Option<SharedHeaders>,
    ) -> Result<u32, Failure> {
        let id = self.next_context.get();
        self.next_context.set(id.wrapping_add(1).max(ROOT_CONTEXT_ID + 1));
        let Ok(mut store) = self.store.try_borrow_mut() else {
            return Err(self.failure(FailureReason::VmFailed("the VM was busy".into())));
        };
        let create = self.exports.on_context_create.as_ref();
        if let (Some(_), Some(failed)) = (create, self.failed()) {
            return Err(self.failure(FailureReason::VmFailed(failed.reason.to_string())));
        }
        let state = StreamState::new(info, headers);
        store.data_mut().contexts.insert(id, state);
        let Some(f) = create else {
            return Ok(id);
        };
        if let Err(error) = self.enter(&mut store, f, id, (id, ROOT_CONTEXT_ID)) {
            store.data_mut().contexts.remove(&id);
            let memory_denied = store.data().cap.denied;
            drop(store);
            return Err(self.call_failed("proxy_on_context_create", error, memory_denied));
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

    /// Ends a stream context: `ending` sets its last state (e.g. `request.duration`), then
    /// `proxy_on_done`, `proxy_on_log`, `proxy_on_delete`; cancels its calls. All under one
    /// borrow of the store. Errors are logged and counted as any call's.
    pub fn finish_stream(&self, id: u32, ending: impl FnOnce(&mut StreamState)) {
        let Ok(mut store) = self.store.try_borrow_mut() else {
            return;
        };
        if let Some(stream) = store.data_mut().contexts.get_mut(&id) {
            ending(stream);
        }
        if self.failed().is_none() {
            let ex = &self.exports;
            let mut result = Ok(());
            if let Some(f) = &ex.on_done {
                result = self
                    .enter(&mut store, f, id, id)
                    .map(drop)
                    .map_err(|e| ("proxy_on_done", e));
            }
            if let (Ok(()), Some(f)) = (&result, &ex.on_log) {
                result = self.enter(&mut store, f, id, id).map_err(|e| ("proxy_on_log", e));
            }
            if let (Ok(()), Some(f)) = (&result, &ex.on_delete) {
                result = self
                    .enter(&mut store, f, id, id)
                    .map_err(|e| ("proxy_on_delete", e));
            }
            if let Err((callback, error)) = result {
                let memory_denied = store.data().cap.denied;
                drop(store);
                self.call_failed(callback, error, memory_denied);
                let _ = self.with_state(|s| forget_stream(s, id));
                return;
            }
        }
        forget_stream(store.data_mut(), id);
    }

    /// The root context's end: `proxy_on_done`, `proxy_on_delete`; stops timers and calls.
    fn shut_down(&self) {
        if self.failed().is_none() {
            if let Some(f) = &self.exports.on_done {
                let _ = self.call("proxy_on_done", f, ROOT_CONTEXT_ID, ROOT_CONTEXT_ID);
            }
            if let Some(f) = &self.exports.on_delete {
                let _ = self.call("proxy_on_delete", f, ROOT_CONTEXT_ID, ROOT_CONTEXT_ID);
            }
        }
        let _ = self.with_state(VmState::stop_timer_and_calls);
    }
}

/// A stream context's state dropped, and the calls it made cancelled.
fn forget_stream(state: &mut VmState, id: u32) {
    state.contexts.remove(&id);
    state.calls.retain(|_, call| {
        let mine = call.context == id;
        if mine {
            call.task.abort();
        }
        !mine
    });
}

/// What went wrong, as one sentence: the trap's own description (wasmtime's error chain
/// puts the guest's call stack first, which buries it), or the error a hostcall ended the
/// guest with.
fn trap_sentence(error: &wasmtime::Error) -> String {
    match error.downcast_ref::<Trap>() {
        Some(Trap::UnreachableCodeReached) => {
            "the plugin aborted (wasm `unreachable` executed; Rust and Go SDKs abort so on a \
             panic, which the plugin's log shows)"
                .to_owned()
        }
        Some(trap) => format!("{trap}"),
        None => error.root_cause().to_string(),
    }
    .replace('\n', " ")
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

impl Drop for VmCore {
    /// The last holder (the `PluginVm` or a stream context) is gone: end the root context.
    fn drop(&mut self) {
        self.shut_down();
    }
}
