//! Istio's Wasm fetch metrics (`pkg/wasm/monitoring.go`): `wasm_cache_entries`,
//! `wasm_cache_lookup_count{hit}`, `wasm_remote_fetch_count{result}`. Kept as atomics and
//! written in the Prometheus text format with exactly those names, for the admin page.

use std::{
    collections::BTreeMap,
    fmt::Write,
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex,
    },
};

/// Counters of one [`crate::Fetcher`].
#[derive(Debug, Default)]
pub struct FetchMetrics {
    cache_entries: AtomicU64,
    lookup_hit: AtomicU64,
    lookup_miss: AtomicU64,
    remote_fetch: Mutex<BTreeMap<&'static str, u64>>,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// `wasm_cache_entries`
    pub cache_entries: u64,
    /// `wasm_cache_lookup_count{hit="true"}`
    pub cache_hits: u64,
    /// `wasm_cache_lookup_count{hit="false"}`
    pub cache_misses: u64,
    /// `wasm_remote_fetch_count{result=…}`: `success`, `download_failure`, `manifest_failure`,
    /// `checksum_mismatched`, `signature_failure`, `invalid_module`, `fetch_failure`.
    pub remote_fetches: BTreeMap<&'static str, u64>,
}

impl FetchMetrics {
    pub(crate) fn set_cache_entries(&self, n: usize) {
        self.cache_entries.store(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn lookup(&self, hit: bool) {
        let counter = if hit { &self.lookup_hit } else { &self.lookup_miss };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn remote_fetch(&self, result: &'static str) {
        let mut map = self.remote_fetch.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry(result).or_default() += 1;
    }

    /// The current values.
    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            cache_entries: self.cache_entries.load(Ordering::Relaxed),
            cache_hits: self.lookup_hit.load(Ordering::Relaxed),
            cache_misses: self.lookup_miss.load(Ordering::Relaxed),
            remote_fetches: self
                .remote_fetch
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }

    /// Appends the metrics in the Prometheus text exposition format.
    pub fn write_prometheus(&self, out: &mut String) {
        let s = self.snapshot();
        let _ = writeln!(
            out,
            "# HELP wasm_cache_entries Number of Wasm modules in the module cache."
        );
        let _ = writeln!(out, "# TYPE wasm_cache_entries gauge");
        let _ = writeln!(out, "wasm_cache_entries {}", s.cache_entries);
        let _ = writeln!(
            out,
            "# HELP wasm_cache_lookup_count Number of module cache lookups."
        );
        let _ = writeln!(out, "# TYPE wasm_cache_lookup_count counter");
        let _ = writeln!(out, "wasm_cache_lookup_count{{hit=\"true\"}} {}", s.cache_hits);
        let _ = writeln!(out, "wasm_cache_lookup_count{{hit=\"false\"}} {}", s.cache_misses);
        let _ = writeln!(
            out,
            "# HELP wasm_remote_fetch_count Number of remote module fetches, by result."
        );
        let _ = writeln!(out, "# TYPE wasm_remote_fetch_count counter");
        for (result, n) in &s.remote_fetches {
            let _ = writeln!(out, "wasm_remote_fetch_count{{result=\"{result}\"}} {n}");
        }
    }
}
