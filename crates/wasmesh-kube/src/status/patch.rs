//! One status write, as every status wasmesh writes is written: a JSON merge patch of
//! `{"status": ...}` on the object's status subresource, made only when the object does
//! not already have it, not made again for the same content before [`REWRITE`] (the watch
//! lags behind a write), and its error said once per object until it changes.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{json, Value};

/// A write that the object does not show yet (the watch lags, or another writer wrote
/// something else) is not made again before this.
pub const REWRITE: Duration = Duration::from_secs(10);

/// The writes made, per object (`Kind namespace/name`).
#[derive(Default)]
pub struct Patcher {
    /// What was last written (its fingerprint: the status without its times) and when.
    written: HashMap<String, (String, Instant)>,
    /// The last error said per object.
    said: HashMap<String, String>,
}

impl Patcher {
    /// The object `key` has the status it should: the next difference is written at once.
    pub fn settled(&mut self, key: &str) {
        self.written.remove(key);
    }

    /// Writes `status` on `name` through `api` unless the same `fingerprint` was written
    /// less than [`REWRITE`] ago. `hint` says what to check when the write is refused.
    /// True when it was written now.
    pub async fn patch(
        &mut self,
        api: &Api<DynamicObject>,
        key: &str,
        name: &str,
        status: &Value,
        fingerprint: String,
        hint: &str,
    ) -> bool {
        let now = Instant::now();
        if let Some((f, at)) = self.written.get(key) {
            if *f == fingerprint && now.duration_since(*at) < REWRITE {
                return false;
            }
        }
        self.written.insert(key.to_string(), (fingerprint, now));
        let patch = json!({ "status": status });
        match api
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {
                self.said.remove(key);
                tracing::debug!(object = %key, "status written");
                true
            }
            Err(e) => {
                let text = e.to_string();
                if self.said.get(key) != Some(&text) {
                    tracing::warn!(object = %key, error = %text, "cannot write the status ({hint}); retrying");
                    self.said.insert(key.to_string(), text);
                }
                false
            }
        }
    }
}
