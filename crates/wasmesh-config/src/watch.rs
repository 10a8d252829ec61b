//! Watching a config directory: every change (debounced) becomes a new snapshot on a
//! `tokio::sync::watch` channel. Runs on its own thread, so it needs no runtime.

use crate::{
    dir::DirSource,
    error::ConfigError,
    snapshot::Snapshot,
    source::{ConfigSource, SourceHealth},
    store::Store,
};
use notify::{RecursiveMode, Watcher};
use std::{
    path::PathBuf,
    sync::{mpsc, Arc, Mutex},
    thread,
    time::{Duration, SystemTime},
};
use tokio::sync::watch;

/// How long the directory must be quiet before it is read again: editors and `apply`
/// write in several steps (temp file, rename).
pub const DEBOUNCE: Duration = Duration::from_millis(150);

/// A running watch. Dropping it stops the watching thread.
pub struct ConfigWatcher {
    dir: PathBuf,
    rx: watch::Receiver<Arc<Snapshot>>,
    /// When the directory was last read.
    last_sync: Arc<Mutex<SystemTime>>,
    watcher: Option<notify::RecommendedWatcher>,
    thread: Option<thread::JoinHandle<()>>,
}

impl ConfigWatcher {
    /// A receiver of snapshots; `borrow()` is the one in force.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.rx.clone()
    }

    /// The snapshot in force.
    pub fn current(&self) -> Arc<Snapshot> {
        self.rx.borrow().clone()
    }

    /// This watcher behind the seam the data plane follows.
    pub fn into_source(self) -> Arc<dyn ConfigSource> {
        Arc::new(self)
    }
}

impl ConfigSource for ConfigWatcher {
    fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.rx.clone()
    }

    fn description(&self) -> String {
        format!("config directory {}", self.dir.display())
    }

    /// A directory is read whole at start and again on every change: always synced and
    /// reachable (a directory gone unreadable keeps what is in force and logs it).
    fn health(&self) -> SourceHealth {
        let last_sync = *self.last_sync.lock().unwrap_or_else(|e| e.into_inner());
        SourceHealth::local("directory", last_sync)
    }
}

impl Drop for ConfigWatcher {
    fn drop(&mut self) {
        // Dropping the watcher closes the event channel, which ends the thread.
        self.watcher.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Loads `dir` now (the first snapshot, generation ≥ 0) and publishes a new snapshot after
/// every change of its files — within [`DEBOUNCE`] plus the time to read them. A snapshot is
/// published when the resources or the diagnostics changed.
pub fn watch_dir(dir: impl Into<PathBuf>) -> Result<ConfigWatcher, ConfigError> {
    let mut source = DirSource::new(dir);
    let mut store = Store::new();
    let (_, diagnostics) = source.sync(&mut store)?;
    log_diagnostics(&diagnostics);
    let (tx, rx) = watch::channel(store.snapshot(diagnostics));
    let last_sync = Arc::new(Mutex::new(SystemTime::now()));
    let dir = source.dir().to_path_buf();

    let (events_tx, events_rx) = mpsc::channel::<()>();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
        Ok(event) if !event.kind.is_access() => {
            let _ = events_tx.send(());
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "config watch error"),
    })
    .map_err(|source_err| ConfigError::Watch {
        path: source.dir().to_path_buf(),
        source: source_err,
    })?;
    watcher
        .watch(source.dir(), RecursiveMode::Recursive)
        .map_err(|source_err| ConfigError::Watch {
            path: source.dir().to_path_buf(),
            source: source_err,
        })?;

    let synced = Arc::clone(&last_sync);
    let thread = thread::Builder::new()
        .name("wasmesh-config-watch".into())
        .spawn(move || run(source, store, events_rx, tx, synced))
        .expect("spawning the config watch thread");
    Ok(ConfigWatcher {
        dir,
        rx,
        last_sync,
        watcher: Some(watcher),
        thread: Some(thread),
    })
}

fn run(
    mut source: DirSource,
    mut store: Store,
    events: mpsc::Receiver<()>,
    tx: watch::Sender<Arc<Snapshot>>,
    last_sync: Arc<Mutex<SystemTime>>,
) {
    while events.recv().is_ok() {
        // Wait until the directory has been quiet for DEBOUNCE.
        loop {
            match events.recv_timeout(DEBOUNCE) {
                Ok(()) => continue,
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
        match source.sync(&mut store) {
            Ok((changed, diagnostics)) => {
                *last_sync.lock().unwrap_or_else(|e| e.into_inner()) = SystemTime::now();
                let diagnostics_changed = tx.borrow().diagnostics != diagnostics;
                if changed || diagnostics_changed {
                    log_diagnostics(&diagnostics);
                    let snapshot = store.snapshot(diagnostics);
                    tracing::info!(
                        generation = snapshot.generation,
                        resources = snapshot.resources.len(),
                        "config reloaded"
                    );
                    tx.send_replace(snapshot);
                }
            }
            // The directory itself is gone or unreadable: keep what is in force.
            Err(e) => tracing::warn!(error = %e, "config reload failed; keeping the configuration in force"),
        }
    }
}

fn log_diagnostics(diagnostics: &[crate::Diagnostic]) {
    for d in diagnostics {
        tracing::warn!("{d}");
    }
}
