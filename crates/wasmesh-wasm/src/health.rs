//! What each VM of a plugin is doing — started, its configuration rejected, failed, or
//! waiting to be re-created under FAIL_RELOAD — with its failures and the last one, for the
//! admin API's `/plugins` and the metrics (docs/wasm-host.md, "When a plugin fails"). One
//! board per loaded plugin: its VMs write it on their workers, the admin endpoint reads it
//! on the control thread. It also holds FAIL_RELOAD's schedule, so what `/plugins` says is
//! what the VM does.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use crate::{FailStrategy, Failure, FailureReason};

/// What one VM is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmState {
    /// Started: its callbacks run.
    Loaded,
    /// `proxy_on_vm_start` or `proxy_on_configure` returned false. Under FAIL_CLOSE and
    /// FAIL_OPEN it stays so until the plugin changes.
    ConfigureRejected,
    /// It trapped, ran out of its time budget or memory, or could not be created. Under
    /// FAIL_CLOSE and FAIL_OPEN it stays so until the plugin changes.
    Failed,
    /// FAIL_RELOAD: it failed and is re-created, for the first request at or after
    /// `next_at`; `attempt` counts the re-creations since it last ran (1 for the first).
    Reloading {
        /// Which re-creation comes next (1, 2, …).
        attempt: u32,
        /// When it may happen: the backoff (doubling up to its cap) after the failure.
        next_at: Instant,
    },
}

impl VmState {
    /// The admin API's words: `loaded`, `configure-rejected`, `failed`,
    /// `reloading (attempt 2, next in 1.5s)`.
    pub fn describe(&self, now: Instant) -> String {
        match self {
            VmState::Reloading { attempt, next_at } => {
                reloading(*attempt, next_at.saturating_duration_since(now))
            }
            other => other.label().to_owned(),
        }
    }

    /// The state's name alone, as a metric label: `loaded`, `configure-rejected`, `failed`,
    /// `reloading`.
    pub fn label(&self) -> &'static str {
        match self {
            VmState::Loaded => "loaded",
            VmState::ConfigureRejected => "configure-rejected",
            VmState::Failed => "failed",
            VmState::Reloading { .. } => "reloading",
        }
    }
}

/// `reloading (attempt n, next in t)`, as the admin API says it of a VM or of a module
/// fetch waiting for its next try; a try that is due waits for its trigger (a request, the
/// loader's timer).
pub fn reloading(attempt: u32, wait: Duration) -> String {
    if wait.is_zero() {
        format!("reloading (attempt {attempt}, due now)")
    } else {
        // Tenths of a second: precise enough to watch, short enough to read.
        let tenths = wait.as_millis().div_ceil(100);
        format!(
            "reloading (attempt {attempt}, next in {}.{}s)",
            tenths / 10,
            tenths % 10
        )
    }
}

/// The last failure of a VM (or of loading a plugin), as a sentence, and when it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastError {
    /// What went wrong, e.g. `trap in proxy_on_request_headers: wasm trap: unreachable`.
    pub message: String,
    /// When.
    pub at: SystemTime,
}

/// One VM of a plugin, as the board knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmHealth {
    /// The worker the VM runs on.
    pub worker: usize,
    /// What it is doing.
    pub state: VmState,
    /// Failures of this VM (and of the VMs that replaced it under FAIL_RELOAD).
    pub failures: u64,
    /// The last of them.
    pub last_error: Option<LastError>,
}

/// The VMs of one plugin, by a number each gets when it starts.
#[derive(Default)]
pub(crate) struct HealthBoard {
    vms: Mutex<BTreeMap<u64, VmHealth>>,
    next: AtomicU64,
}

impl HealthBoard {
    /// A new VM on `worker`: its number on the board.
    pub fn register(&self, worker: usize) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(
            id,
            VmHealth {
                worker,
                state: VmState::Loaded,
                failures: 0,
                last_error: None,
            },
        );
        id
    }

    /// The VM started (or was re-created): it runs.
    pub fn loaded(&self, vm: u64) {
        if let Some(h) = self.lock().get_mut(&vm) {
            h.state = VmState::Loaded;
        }
    }

    /// The VM failed: counted, remembered, and — under FAIL_RELOAD — its re-creation
    /// scheduled after `backoff` (initial, cap), doubling with each attempt.
    pub fn failed(&self, vm: u64, failure: &Failure, backoff: (Duration, Duration)) {
        let now = Instant::now();
        let mut vms = self.lock();
        let Some(h) = vms.get_mut(&vm) else { return };
        h.failures += 1;
        h.last_error = Some(LastError {
            message: failure.reason.to_string(),
            at: SystemTime::now(),
        });
        h.state = match (failure.strategy, &failure.reason) {
            (FailStrategy::FailReload, _) => {
                let attempt = match h.state {
                    VmState::Reloading { attempt, .. } => attempt + 1,
                    _ => 1,
                };
                VmState::Reloading {
                    attempt,
                    next_at: now + backoff_for(attempt, backoff),
                }
            }
            (_, FailureReason::Rejected(_)) => VmState::ConfigureRejected,
            _ => VmState::Failed,
        };
    }

    /// True when the VM waits for FAIL_RELOAD's re-creation and its time has come.
    pub fn reload_due(&self, vm: u64, now: Instant) -> bool {
        matches!(
            self.lock().get(&vm).map(|h| h.state),
            Some(VmState::Reloading { next_at, .. }) if now >= next_at
        )
    }

    /// The VM is gone (its plugin left the chain, or the worker stopped).
    pub fn remove(&self, vm: u64) {
        self.lock().remove(&vm);
    }

    /// Every VM of the plugin, by worker.
    pub fn snapshot(&self) -> Vec<VmHealth> {
        let mut all: Vec<VmHealth> = self.lock().values().cloned().collect();
        all.sort_by_key(|h| h.worker);
        all
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, VmHealth>> {
        self.vms.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The wait before re-creation `attempt` (1, 2, …): `initial`, doubling, at most `cap`.
pub fn backoff_for(attempt: u32, (initial, cap): (Duration, Duration)) -> Duration {
    let doublings = attempt.saturating_sub(1).min(31);
    initial.saturating_mul(1 << doublings).min(cap)
}

#[cfg(test)]
mod tests;
