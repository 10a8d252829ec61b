//! The seam in front of the store: every source of resources (the config directory, the
//! Kubernetes API server) publishes the same [`Snapshot`]s on a watch channel and says how
//! it is doing, so the data plane follows either one the same way (docs/architecture.md).

use crate::snapshot::Snapshot;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;

/// A source of resources, followed by the data plane.
pub trait ConfigSource: Send + Sync {
    /// A receiver of snapshots; `borrow()` is the latest. A snapshot is sent on every
    /// change, and once when the source has first read everything it follows.
    fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>>;

    /// The latest snapshot: the resources in force with their origins, and what went wrong.
    fn current(&self) -> Arc<Snapshot> {
        self.subscribe().borrow().clone()
    }

    /// What the source reads, for messages: `config directory DIR`, `Kubernetes API
    /// server https://…`.
    fn description(&self) -> String;

    /// How the source is doing now.
    fn health(&self) -> SourceHealth;
}

/// How a source is doing.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceHealth {
    /// `directory` or `kubernetes`: the `source` label of the metrics.
    pub source: &'static str,
    /// Everything the source follows has been read once and is in the snapshot. Until then
    /// the snapshot is not complete and the proxy is not ready.
    pub synced: bool,
    /// What is still missing while not `synced` (like `the first list of WasmPlugins`).
    pub pending: Vec<String>,
    /// The source can be read now (an API server that answers; a directory always can).
    pub connected: bool,
    /// When the source last knew its snapshot to be current.
    pub last_sync: Option<SystemTime>,
}

impl SourceHealth {
    /// The health of a source that is read at once and always reachable, last read at
    /// `last_sync`.
    pub fn local(source: &'static str, last_sync: SystemTime) -> Self {
        SourceHealth {
            source,
            synced: true,
            pending: Vec::new(),
            connected: true,
            last_sync: Some(last_sync),
        }
    }

    /// Appends `wasmesh_config_source_connected` (0/1) and
    /// `wasmesh_config_source_last_sync_age_seconds` in the Prometheus text format; the age
    /// is left out until the first sync.
    pub fn render_metrics(&self, out: &mut String) {
        let source = self.source;
        out.push_str(
            "# HELP wasmesh_config_source_connected Whether the config source can be read now (1) or not (0).\n\
             # TYPE wasmesh_config_source_connected gauge\n",
        );
        let _ = writeln!(
            out,
            "wasmesh_config_source_connected{{source=\"{source}\"}} {}",
            u8::from(self.connected)
        );
        if let Some(at) = self.last_sync {
            let age = SystemTime::now().duration_since(at).unwrap_or(Duration::ZERO);
            out.push_str(
                "# HELP wasmesh_config_source_last_sync_age_seconds Seconds since the config source last knew its resources to be current.\n\
                 # TYPE wasmesh_config_source_last_sync_age_seconds gauge\n",
            );
            let _ = writeln!(
                out,
                "wasmesh_config_source_last_sync_age_seconds{{source=\"{source}\"}} {:.3}",
                age.as_secs_f64()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_say_connected_and_the_age_of_the_last_sync() {
        let mut health = SourceHealth::local("kubernetes", SystemTime::now() - Duration::from_secs(3));
        health.connected = false;
        let mut out = String::new();
        health.render_metrics(&mut out);
        assert!(
            out.contains("\nwasmesh_config_source_connected{source=\"kubernetes\"} 0\n"),
            "{out}"
        );
        let age: f64 = out
            .lines()
            .find_map(|l| {
                l.strip_prefix("wasmesh_config_source_last_sync_age_seconds{source=\"kubernetes\"} ")
            })
            .expect("the age line")
            .parse()
            .unwrap();
        assert!((3.0..10.0).contains(&age), "{age}");

        health.last_sync = None;
        let mut out = String::new();
        health.render_metrics(&mut out);
        assert!(
            !out.contains("last_sync_age"),
            "no age before the first sync: {out}"
        );
    }
}
