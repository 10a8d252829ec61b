//! The epoch ticker: a thread that advances the engine's epoch every [`EPOCH_TICK`], which is
//! what interrupts a callback that overruns its time budget (docs/wasm-host.md). It sleeps
//! while no call into any VM has started for longer than a budget: at rest, or with no
//! plugin loaded, it does not wake at all.
//!
//! Why the budget still holds: a call first sets its deadline (the epoch it read plus the
//! budget's ticks), then marks the clock busy. The ticker goes to sleep only after
//! [`EpochClock::idle_ticks`] ticks in a row found the clock not busy, more than a budget's
//! ticks: a call that started before it stopped looking has seen its deadline pass. A call
//! that finds the clock not busy wakes the ticker itself (a store and a load in each order,
//! sequentially consistent, so either the call sees the ticker asleep or the ticker sees
//! the call). Under load the clock is busy already and a call pays one plain load.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::Duration;

/// How often the epoch advances: the granularity of the callback time budget.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(5);

/// The ticks a call's deadline is away: its budget, rounded down, and one more (a call may
/// start just before a tick).
pub(crate) fn budget_ticks(budget: Duration) -> u64 {
    (budget.as_micros() / EPOCH_TICK.as_micros()).max(1) as u64 + 1
}

/// What the VMs and the ticker share.
#[derive(Debug)]
pub(crate) struct EpochClock {
    /// A call started since the ticker last looked.
    busy: AtomicBool,
    /// The ticker is asleep (or going to sleep) until a call starts.
    asleep: AtomicBool,
    stop: AtomicBool,
    /// Ticks in a row without a call before the ticker sleeps.
    idle_ticks: u64,
    thread: OnceLock<Thread>,
}

impl EpochClock {
    /// A clock for VMs whose deadlines are at most `budget_ticks` ticks away.
    pub fn new(budget_ticks: u64) -> EpochClock {
        EpochClock {
            busy: AtomicBool::new(false),
            asleep: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            idle_ticks: budget_ticks + 2,
            thread: OnceLock::new(),
        }
    }

    /// A call into a VM has set its deadline and is about to start.
    #[inline]
    pub fn call_starts(&self) {
        if !self.busy.load(Ordering::Relaxed) {
            self.wake();
        }
    }

    #[cold]
    fn wake(&self) {
        self.busy.store(true, Ordering::SeqCst);
        if self.asleep.load(Ordering::SeqCst) {
            self.asleep.store(false, Ordering::SeqCst);
            if let Some(thread) = self.thread.get() {
                thread.unpark();
            }
        }
    }

    /// Ends the ticker (the host is gone).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.asleep.store(false, Ordering::SeqCst);
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
    }

    /// Whether the ticker sleeps now (for tests).
    #[cfg(test)]
    pub fn is_asleep(&self) -> bool {
        self.asleep.load(Ordering::SeqCst)
    }

    /// The ticker's loop: `tick` advances the epoch, and answers false once the engine is
    /// gone.
    fn run(&self, tick: impl Fn() -> bool) {
        let mut idle = 0u64;
        while !self.stop.load(Ordering::Relaxed) {
            std::thread::sleep(EPOCH_TICK);
            if !tick() {
                return;
            }
            if self.busy.swap(false, Ordering::SeqCst) {
                idle = 0;
                continue;
            }
            idle += 1;
            if idle < self.idle_ticks {
                continue;
            }
            self.asleep.store(true, Ordering::SeqCst);
            if self.busy.load(Ordering::SeqCst) {
                self.asleep.store(false, Ordering::SeqCst);
                continue;
            }
            // `park` may return spuriously: sleep until a call (or `stop`) says otherwise.
            while self.asleep.load(Ordering::SeqCst) {
                std::thread::park();
            }
            idle = 0;
        }
    }
}

/// Starts the ticker thread for `engine`.
pub(crate) fn spawn_ticker(engine: wasmtime::EngineWeak, clock: Arc<EpochClock>) {
    let spawned = std::thread::Builder::new().name("wasm-epoch".into()).spawn({
        let clock = clock.clone();
        move || {
            let _ = clock.thread.set(std::thread::current());
            clock.run(|| match engine.upgrade() {
                Some(engine) => {
                    engine.increment_epoch();
                    true
                }
                None => false,
            })
        }
    });
    if let Err(e) = spawned {
        // Without the ticker no callback can be interrupted; say so loudly.
        tracing::error!("could not start the wasm epoch ticker, callback time budgets are off: {e}");
    }
}

#[cfg(test)]
mod tests;
