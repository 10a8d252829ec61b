//! `PluginVm`: one plugin's VM on one worker, re-created under FAIL_RELOAD.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

pub(crate) use crate::core::VmCore;
use crate::stream_headers::{OwnedHeaders, SharedHeaders};
use crate::{
    CompiledPlugin, FailStrategy, Failure, FailureReason, Host, HttpContext, StreamInfo, TcpContext,
};

/// One plugin's VM on one worker (`!Send`: it lives on the worker's thread). Create it
/// inside a `tokio::task::LocalSet`: its calls, timers and queue notifications are local
/// tasks.
pub struct PluginVm {
    plugin: Arc<CompiledPlugin>,
    host: Rc<dyn Host>,
    core: RefCell<Option<Rc<VmCore>>>,
    last_failure: RefCell<Option<Failure>>,
    /// Its number on the plugin's health board (which also holds FAIL_RELOAD's schedule).
    vm: u64,
}

impl PluginVm {
    /// [`PluginVm::start_on_worker`] for worker 0 (tests and tools with one thread).
    pub fn start(plugin: Arc<CompiledPlugin>, host: Rc<dyn Host>) -> PluginVm {
        PluginVm::start_on_worker(plugin, host, 0)
    }

    /// Instantiates the plugin and runs its start-up (`_initialize`, root context,
    /// `proxy_on_vm_start`, `proxy_on_configure`). Never fails outright: a VM that could not
    /// start reports it through [`PluginVm::failure`] and the plugin's
    /// [`CompiledPlugin::vm_health`] (as `worker`'s VM), and its contexts are refused with
    /// that failure (FAIL_RELOAD retries after the backoff).
    pub fn start_on_worker(plugin: Arc<CompiledPlugin>, host: Rc<dyn Host>, worker: usize) -> PluginVm {
        let vm = plugin.health.register(worker);
        let vm = PluginVm {
            plugin,
            host,
            core: RefCell::new(None),
            last_failure: RefCell::new(None),
            vm,
        };
        vm.create_core();
        vm
    }

    fn create_core(&self) {
        match VmCore::create(self.plugin.clone(), self.host.clone(), self.vm) {
            Ok(core) => {
                *self.core.borrow_mut() = Some(core);
                *self.last_failure.borrow_mut() = None;
                self.plugin.health.loaded(self.vm);
            }
            Err(failure) => {
                *self.core.borrow_mut() = None;
                *self.last_failure.borrow_mut() = Some(failure);
            }
        }
    }

    /// The plugin this VM runs.
    pub fn plugin(&self) -> &Arc<CompiledPlugin> {
        &self.plugin
    }

    /// Why the VM is not usable, if it is not.
    pub fn failure(&self) -> Option<Failure> {
        if let Some(core) = self.core.borrow().as_ref() {
            return core.failed();
        }
        self.last_failure.borrow().clone()
    }

    /// A healthy VM, re-creating a failed one under FAIL_RELOAD once the backoff passed
    /// (the schedule is on the health board, where `/plugins` reads it).
    fn healthy(&self) -> Result<Rc<VmCore>, Failure> {
        let Some(failure) = self.failure() else {
            return Ok(self
                .core
                .borrow()
                .clone()
                .expect("a VM without failure has a core"));
        };
        if failure.strategy == FailStrategy::FailReload
            && self.plugin.health.reload_due(self.vm, Instant::now())
        {
            tracing::info!(plugin = %failure.plugin, "re-creating the failed VM (FAIL_RELOAD)");
            self.create_core();
            if self.failure().is_none() {
                return Ok(self.core.borrow().clone().expect("just created"));
            }
        }
        let failure = self.failure().unwrap_or(failure);
        Err(Failure {
            reason: FailureReason::VmFailed(failure.reason.to_string()),
            ..failure
        })
    }

    /// Shuts the VM down: once its last stream context has ended too, the root context gets
    /// `proxy_on_done` and `proxy_on_delete`, as when Envoy removes a plugin (a root context
    /// answering false to `proxy_on_done` is not waited for). Dropping the `PluginVm` does
    /// the same; in-flight requests keep the VM alive until they end.
    pub fn shutdown(self) {}

    /// A new HTTP stream context for one request, whose header calls act on `headers`:
    /// the request's own maps, shared by every filter of the request. `info` too can be
    /// shared by the request's plugins (an `Arc` made once per request).
    pub fn http_context_on(
        &self,
        info: impl Into<Arc<StreamInfo>>,
        headers: SharedHeaders,
    ) -> Result<HttpContext, Failure> {
        let core = self.healthy()?;
        let id = core.create_stream(info.into(), Some(headers.clone()))?;
        Ok(HttpContext::new(core, id, headers))
    }

    /// [`PluginVm::http_context_on`] with header maps of its own ([`OwnedHeaders`], empty):
    /// for a stream no proxy holds (tests, benchmarks); [`HttpContext::owned`] reaches them.
    pub fn http_context(&self, info: impl Into<Arc<StreamInfo>>) -> Result<HttpContext, Failure> {
        let owned = OwnedHeaders::default().shared();
        let mut ctx = self.http_context_on(info, owned.clone())?;
        ctx.owned = Some(owned);
        Ok(ctx)
    }

    /// A new TCP stream context for one connection.
    pub fn tcp_context(&self, info: impl Into<Arc<StreamInfo>>) -> Result<TcpContext, Failure> {
        let core = self.healthy()?;
        let id = core.create_stream(info.into(), None)?;
        Ok(TcpContext::new(core, id))
    }
}

impl Drop for PluginVm {
    /// The VM leaves its plugin's health board (the plugin left the chain, or the worker
    /// stopped); in-flight requests keep the VM itself alive until they end.
    fn drop(&mut self) {
        self.plugin.health.remove(self.vm);
    }
}
