//! Whether the API server answers and whether everything has been listed: shared by the
//! sync loop, the probe and the admin endpoint. An outage is logged once when it starts and
//! once when it ends, however many requests fail in between.

use std::sync::Mutex;
use std::time::SystemTime;

use wasmesh_config::SourceHealth;

pub struct Health {
    url: String,
    state: Mutex<State>,
}

struct State {
    /// Not yet known at start: the first failure or answer says.
    connected: Option<bool>,
    synced: bool,
    pending: Vec<String>,
    last_sync: Option<SystemTime>,
}

impl Health {
    pub fn new(url: String) -> Self {
        Health {
            url,
            state: Mutex::new(State {
                connected: None,
                synced: false,
                pending: Vec::new(),
                last_sync: None,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The API server could not be reached (`why`). Logged when an outage starts only.
    pub fn lost(&self, why: &str) {
        let mut state = self.state();
        if state.connected != Some(false) {
            state.connected = Some(false);
            tracing::warn!(
                url = %self.url,
                error = %why,
                "Kubernetes API server unreachable; the configuration in force stays, retrying with backoff"
            );
        }
    }

    /// The API server answered. Logged when an outage ends (and at the first answer).
    pub fn reached(&self) {
        let mut state = self.state();
        match state.connected {
            Some(true) => {}
            Some(false) => {
                tracing::info!(url = %self.url, "Kubernetes API server reachable again");
            }
            None => tracing::info!(url = %self.url, "Kubernetes API server reached"),
        }
        state.connected = Some(true);
        if state.synced {
            state.last_sync = Some(SystemTime::now());
        }
    }

    pub fn is_connected(&self) -> bool {
        self.state().connected == Some(true)
    }

    /// What is still to be listed before the snapshot is complete.
    pub fn set_pending(&self, pending: Vec<String>) {
        self.state().pending = pending;
    }

    /// A complete snapshot was published.
    pub fn synced(&self) {
        let mut state = self.state();
        state.synced = true;
        state.last_sync = Some(SystemTime::now());
    }

    pub fn source_health(&self) -> SourceHealth {
        let state = self.state();
        SourceHealth {
            source: "kubernetes",
            synced: state.synced,
            pending: state.pending.clone(),
            connected: state.connected == Some(true),
            last_sync: state.last_sync,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connected_follows_the_last_answer_and_the_sync_age_starts_at_the_first_snapshot() {
        let health = Health::new("https://k8s.test".into());
        assert!(!health.source_health().connected, "unknown is not connected");
        health.reached();
        assert_eq!(health.source_health().last_sync, None, "nothing synced yet");
        health.synced();
        let first = health.source_health().last_sync.expect("synced");
        health.lost("connection refused");
        health.lost("connection refused");
        assert!(!health.is_connected());
        assert_eq!(
            health.source_health().last_sync,
            Some(first),
            "an outage does not sync"
        );
        health.reached();
        assert!(health.source_health().connected);
        assert!(health.source_health().last_sync >= Some(first));
    }
}
