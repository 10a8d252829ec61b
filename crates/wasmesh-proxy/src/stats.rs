//! Istio's standard metrics (`istio_requests_total`, `istio_request_duration_milliseconds`,
//! `istio_request_bytes`, `istio_response_bytes`) and their Prometheus text exposition.
//!
//! Each worker has series of its own (atomics no other thread writes, so no cache line
//! bounces between cores) found through a cache of its own, so recording a request takes
//! no lock; the exposition sums the workers' series. Beside them, the outcomes of mirrored
//! requests (`wasmesh_mirror_requests_total`; docs/proxy.md, "Mirrors").

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Istio's default duration buckets, in milliseconds.
const DURATION_BUCKETS_MS: [f64; 19] = [
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0, 60000.0,
    300000.0, 600000.0, 1800000.0, 3600000.0,
];
/// Istio's default size buckets, in bytes.
const SIZE_BUCKETS: [f64; 8] = [1.0, 10.0, 100.0, 1000.0, 10000.0, 100000.0, 1000000.0, 10000000.0];

/// The labels of one series, as Istio names them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Labels {
    /// `destination` for inbound (SERVER) listeners, `source` for outbound ones.
    pub reporter: &'static str,
    pub destination_workload: Arc<str>,
    pub destination_workload_namespace: Arc<str>,
    /// The cluster the route chose, or `unknown`.
    pub destination_service: Arc<str>,
    pub request_protocol: &'static str,
    pub response_code: u16,
    pub response_flags: &'static str,
}

struct Histogram<const N: usize> {
    buckets: [AtomicU64; N],
    count: AtomicU64,
    sum: AtomicU64,
}

impl<const N: usize> Histogram<N> {
    fn new() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
        }
    }

    fn observe(&self, bounds: &[f64; N], value: f64, sum_unit: f64) {
        if let Some(i) = bounds.iter().position(|b| value <= *b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum.fetch_add((value * sum_unit) as u64, Relaxed);
    }
}

/// The counters of one label set, on one worker.
pub struct Series {
    requests: AtomicU64,
    duration: Histogram<19>,
    request_bytes: Histogram<8>,
    response_bytes: Histogram<8>,
}

/// All series of the process: per label set, one per worker that used it.
#[derive(Default)]
pub struct Stats {
    series: Mutex<HashMap<Labels, Vec<Arc<Series>>>>,
    /// Mirrored requests by mirror cluster and outcome.
    mirrors: Mutex<std::collections::BTreeMap<(Arc<str>, MirrorOutcome), u64>>,
}

/// What became of one copy of a request for a mirror cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MirrorOutcome {
    /// Sent, and the mirror answered (whatever its status).
    Sent,
    /// Not sent: the request's body was not whole in memory.
    Skipped,
    /// Sent or tried, and it failed: no endpoint, a connection error, a timeout.
    Failed,
}

impl MirrorOutcome {
    fn as_str(self) -> &'static str {
        match self {
            MirrorOutcome::Sent => "sent",
            MirrorOutcome::Skipped => "skipped",
            MirrorOutcome::Failed => "failed",
        }
    }
}

/// One worker's view of [`Stats`]: a lock-free cache of the series it has used.
pub struct WorkerStats {
    shared: Arc<Stats>,
    cache: RefCell<HashMap<Labels, Arc<Series>>>,
}

// === impl Stats ===

impl Stats {
    /// A new series for one worker.
    fn register(&self, labels: &Labels) -> Arc<Series> {
        let series = Arc::new(Series {
            requests: AtomicU64::new(0),
            duration: Histogram::new(),
            request_bytes: Histogram::new(),
            response_bytes: Histogram::new(),
        });
        let mut map = self.series.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(labels.clone()).or_default().push(series.clone());
        series
    }

    /// Counts one mirrored request's outcome.
    pub fn mirrored(&self, cluster: &Arc<str>, outcome: MirrorOutcome) {
        let mut map = self.mirrors.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry((cluster.clone(), outcome)).or_default() += 1;
    }

    /// How many mirrored requests to `cluster` had this outcome.
    pub fn mirror_count(&self, cluster: &str, outcome: MirrorOutcome) -> u64 {
        let map = self.mirrors.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&(Arc::from(cluster), outcome)).copied().unwrap_or(0)
    }

    /// Total requests recorded with this response code, over all other labels.
    pub fn requests_with_code(&self, code: u16) -> u64 {
        let map = self.series.lock().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .filter(|(l, _)| l.response_code == code)
            .flat_map(|(_, list)| list.iter())
            .map(|s| s.requests.load(Relaxed))
            .sum()
    }

    /// Appends the Prometheus text exposition of every series.
    pub fn render(&self, out: &mut String) {
        let map = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let mut entries: Vec<_> = map.iter().collect();
        entries.sort_by_key(|(l, _)| {
            (
                l.destination_service.clone(),
                l.response_code,
                l.response_flags,
                l.reporter,
            )
        });
        out.push_str("# HELP istio_requests_total Total requests.\n");
        out.push_str("# TYPE istio_requests_total counter\n");
        for (l, list) in &entries {
            let total: u64 = list.iter().map(|s| s.requests.load(Relaxed)).sum();
            let _ = writeln!(out, "istio_requests_total{{{}}} {total}", label_text(l));
        }
        render_histogram(
            out,
            "istio_request_duration_milliseconds",
            "Request duration in milliseconds.",
            &entries,
            &DURATION_BUCKETS_MS,
            |s| &s.duration,
            1000.0,
        );
        render_histogram(
            out,
            "istio_request_bytes",
            "Request body sizes in bytes.",
            &entries,
            &SIZE_BUCKETS,
            |s| &s.request_bytes,
            1.0,
        );
        render_histogram(
            out,
            "istio_response_bytes",
            "Response body sizes in bytes.",
            &entries,
            &SIZE_BUCKETS,
            |s| &s.response_bytes,
            1.0,
        );
        drop(map);
        self.render_mirrors(out);
    }

    fn render_mirrors(&self, out: &mut String) {
        let map = self.mirrors.lock().unwrap_or_else(|e| e.into_inner());
        if map.is_empty() {
            return;
        }
        out.push_str(
            "# HELP wasmesh_mirror_requests_total Copies of requests for mirror clusters, by outcome.\n",
        );
        out.push_str("# TYPE wasmesh_mirror_requests_total counter\n");
        for ((cluster, outcome), n) in map.iter() {
            let _ = writeln!(
                out,
                "wasmesh_mirror_requests_total{{cluster=\"{}\",outcome=\"{}\"}} {n}",
                escape(cluster),
                outcome.as_str()
            );
        }
    }
}

fn render_histogram<const N: usize>(
    out: &mut String,
    name: &str,
    help: &str,
    entries: &[(&Labels, &Vec<Arc<Series>>)],
    bounds: &[f64; N],
    pick: impl Fn(&Series) -> &Histogram<N>,
    sum_unit: f64,
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (l, list) in entries {
        let labels = label_text(l);
        let total = |f: &dyn Fn(&Histogram<N>) -> u64| list.iter().map(|s| f(pick(s))).sum::<u64>();
        let mut cumulative = 0;
        for (i, b) in bounds.iter().enumerate() {
            cumulative += total(&|h| h.buckets[i].load(Relaxed));
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {cumulative}");
        }
        let count = total(&|h| h.count.load(Relaxed));
        let sum = total(&|h| h.sum.load(Relaxed)) as f64 / sum_unit;
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
    }
}

fn label_text(l: &Labels) -> String {
    format!(
        "reporter=\"{}\",source_workload=\"unknown\",source_workload_namespace=\"unknown\",\
destination_workload=\"{}\",destination_workload_namespace=\"{}\",destination_service=\"{}\",\
destination_service_name=\"{}\",request_protocol=\"{}\",response_code=\"{}\",response_flags=\"{}\",\
connection_security_policy=\"none\"",
        l.reporter,
        escape(&l.destination_workload),
        escape(&l.destination_workload_namespace),
        escape(&l.destination_service),
        escape(&l.destination_service),
        l.request_protocol,
        l.response_code,
        l.response_flags
    )
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

// === impl WorkerStats ===

impl WorkerStats {
    pub fn new(shared: Arc<Stats>) -> Self {
        WorkerStats {
            shared,
            cache: RefCell::new(HashMap::new()),
        }
    }

    /// The process's stats, which this worker's series are part of.
    pub fn shared(&self) -> &Arc<Stats> {
        &self.shared
    }

    /// This worker's series for a label set.
    pub fn series(&self, labels: &Labels) -> Arc<Series> {
        let mut cache = self.cache.borrow_mut();
        match cache.get(labels) {
            Some(s) => s.clone(),
            None => {
                let s = self.shared.register(labels);
                cache.insert(labels.clone(), s.clone());
                s
            }
        }
    }
}

// === impl Series ===

impl Series {
    /// Records one finished request.
    pub fn observe(&self, duration: Duration, request_bytes: u64, response_bytes: u64) {
        self.requests.fetch_add(1, Relaxed);
        let ms = duration.as_secs_f64() * 1000.0;
        self.duration.observe(&DURATION_BUCKETS_MS, ms, 1000.0);
        self.request_bytes
            .observe(&SIZE_BUCKETS, request_bytes as f64, 1.0);
        self.response_bytes
            .observe(&SIZE_BUCKETS, response_bytes as f64, 1.0);
    }
}

#[cfg(test)]
mod tests;
