//! Plugin-defined metrics (`proxy_define_metric` …) shared by every VM of the process, as
//! Envoy's stats are, plus the host's own counters; rendered for `/stats/prometheus`.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::abi::Status;

/// The spec's metric types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetricKind {
    /// Only goes up.
    Counter,
    /// Goes up and down, or is set.
    Gauge,
    /// Records values into buckets.
    Histogram,
}

/// Envoy's default histogram bucket bounds.
const BUCKETS: [f64; 19] = [
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0, 60000.0,
    300000.0, 600000.0, 1800000.0, 3600000.0,
];

/// One metric's current value.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricSample {
    /// The name the plugin defined (made Prometheus-safe when rendered).
    pub name: String,
    /// Its type.
    pub kind: MetricKind,
    /// Counter or gauge value; for histograms, the number of records.
    pub value: i64,
    /// Histograms: cumulative counts per bucket upper bound, and the sum of records.
    pub buckets: Vec<(f64, u64)>,
    /// Histograms: sum of recorded values.
    pub sum: f64,
}

struct Metric {
    name: String,
    kind: MetricKind,
    value: AtomicI64,
    histogram: Mutex<(Vec<u64>, f64)>,
}

/// The registry. Ids are stable for the life of the process.
#[derive(Default)]
pub struct Metrics {
    registry: RwLock<Registry>,
    failures: Mutex<HashMap<(String, &'static str), u64>>,
    vm_starts: Mutex<HashMap<String, u64>>,
}

#[derive(Default)]
struct Registry {
    by_key: HashMap<(MetricKind, String), u32>,
    metrics: Vec<Arc<Metric>>,
}

impl Metrics {
    /// Defines (or finds) a metric; returns its id.
    pub fn define(&self, kind: MetricKind, name: &str) -> u32 {
        let key = (kind, name.to_owned());
        if let Some(&id) = self
            .registry
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .by_key
            .get(&key)
        {
            return id;
        }
        let mut registry = self.registry.write().unwrap_or_else(|e| e.into_inner());
        if let Some(&id) = registry.by_key.get(&key) {
            return id;
        }
        registry.metrics.push(Arc::new(Metric {
            name: name.to_owned(),
            kind,
            value: AtomicI64::new(0),
            histogram: Mutex::new((vec![0; BUCKETS.len()], 0.0)),
        }));
        let id = registry.metrics.len() as u32;
        registry.by_key.insert(key, id);
        id
    }

    fn get_metric(&self, id: u32) -> Result<Arc<Metric>, Status> {
        let registry = self.registry.read().unwrap_or_else(|e| e.into_inner());
        let index = (id as usize).checked_sub(1).ok_or(Status::NotFound)?;
        registry.metrics.get(index).cloned().ok_or(Status::NotFound)
    }

    /// `proxy_increment_metric`: counters and gauges (counters refuse negative offsets).
    pub fn increment(&self, id: u32, offset: i64) -> Result<(), Status> {
        let metric = self.get_metric(id)?;
        match metric.kind {
            MetricKind::Counter if offset < 0 => Err(Status::BadArgument),
            MetricKind::Counter | MetricKind::Gauge => {
                metric.value.fetch_add(offset, Ordering::Relaxed);
                Ok(())
            }
            MetricKind::Histogram => Err(Status::BadArgument),
        }
    }

    /// `proxy_record_metric`: adds to a counter, sets a gauge, records into a histogram.
    pub fn record(&self, id: u32, value: u64) -> Result<(), Status> {
        let metric = self.get_metric(id)?;
        let signed = i64::try_from(value).unwrap_or(i64::MAX);
        match metric.kind {
            MetricKind::Counter => {
                metric.value.fetch_add(signed, Ordering::Relaxed);
            }
            MetricKind::Gauge => metric.value.store(signed, Ordering::Relaxed),
            MetricKind::Histogram => {
                metric.value.fetch_add(1, Ordering::Relaxed);
                let mut histogram = metric.histogram.lock().unwrap_or_else(|e| e.into_inner());
                let v = value as f64;
                if let Some(i) = BUCKETS.iter().position(|bound| v <= *bound) {
                    histogram.0[i] += 1;
                }
                histogram.1 += v;
            }
        }
        Ok(())
    }

    /// `proxy_get_metric`: counters and gauges.
    pub fn get(&self, id: u32) -> Result<u64, Status> {
        let metric = self.get_metric(id)?;
        match metric.kind {
            MetricKind::Counter | MetricKind::Gauge => Ok(metric.value.load(Ordering::Relaxed).max(0) as u64),
            MetricKind::Histogram => Err(Status::BadArgument),
        }
    }

    /// Every plugin-defined metric, in definition order.
    pub fn snapshot(&self) -> Vec<MetricSample> {
        let registry = self.registry.read().unwrap_or_else(|e| e.into_inner());
        registry
            .metrics
            .iter()
            .map(|m| {
                let (buckets, sum) = if m.kind == MetricKind::Histogram {
                    let histogram = m.histogram.lock().unwrap_or_else(|e| e.into_inner());
                    let mut total = 0;
                    let cumulative = BUCKETS.iter().zip(&histogram.0).map(|(b, c)| {
                        total += c;
                        (*b, total)
                    });
                    (cumulative.collect(), histogram.1)
                } else {
                    (Vec::new(), 0.0)
                };
                MetricSample {
                    name: m.name.clone(),
                    kind: m.kind,
                    value: m.value.load(Ordering::Relaxed),
                    buckets,
                    sum,
                }
            })
            .collect()
    }

    /// Counts one plugin failure (`wasm_plugin_failures_total{plugin,reason}`).
    pub(crate) fn count_failure(&self, plugin: &str, reason: &'static str) {
        *self
            .failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((plugin.to_owned(), reason))
            .or_default() += 1;
    }

    /// Failures counted for `plugin` (all reasons).
    pub fn failures(&self, plugin: &str) -> u64 {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures
            .iter()
            .filter(|((p, _), _)| p == plugin)
            .map(|(_, n)| n)
            .sum()
    }

    /// Counts one VM start (`wasm_vm_starts_total{plugin}`).
    pub(crate) fn count_vm_start(&self, plugin: &str) {
        *self
            .vm_starts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(plugin.to_owned())
            .or_default() += 1;
    }

    /// The Prometheus text exposition of every metric here; each has `# HELP` and `# TYPE`.
    pub fn render_prometheus(&self) -> String {
        let mut out = String::new();
        for sample in self.snapshot() {
            let name = prometheus_name(&sample.name);
            // A plugin gives no description, so HELP says where the metric comes from and,
            // when it had to be changed to be a Prometheus name, the name the plugin chose.
            let _ = write!(out, "# HELP {name} Defined by a Proxy-Wasm plugin");
            if name != sample.name {
                let _ = write!(out, " as \"{}\"", help_text(&sample.name));
            }
            let _ = writeln!(out, ".");
            match sample.kind {
                MetricKind::Counter | MetricKind::Gauge => {
                    let kind = if sample.kind == MetricKind::Counter {
                        "counter"
                    } else {
                        "gauge"
                    };
                    let _ = writeln!(out, "# TYPE {name} {kind}\n{name} {}", sample.value);
                }
                MetricKind::Histogram => {
                    let _ = writeln!(out, "# TYPE {name} histogram");
                    for (bound, count) in &sample.buckets {
                        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {count}");
                    }
                    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", sample.value);
                    let _ = writeln!(out, "{name}_sum {}\n{name}_count {}", sample.sum, sample.value);
                }
            }
        }
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if !failures.is_empty() {
            let _ = writeln!(
                out,
                "# HELP wasm_plugin_failures_total Plugin VM failures, by plugin and reason."
            );
            let _ = writeln!(out, "# TYPE wasm_plugin_failures_total counter");
            for ((plugin, reason), n) in failures.iter() {
                let _ = writeln!(
                    out,
                    "wasm_plugin_failures_total{{plugin=\"{}\",reason=\"{reason}\"}} {n}",
                    label_value(plugin)
                );
            }
        }
        let starts = self.vm_starts.lock().unwrap_or_else(|e| e.into_inner());
        if !starts.is_empty() {
            let _ = writeln!(out, "# HELP wasm_vm_starts_total Plugin VMs started, by plugin.");
            let _ = writeln!(out, "# TYPE wasm_vm_starts_total counter");
            for (plugin, n) in starts.iter() {
                let _ = writeln!(
                    out,
                    "wasm_vm_starts_total{{plugin=\"{}\"}} {n}",
                    label_value(plugin)
                );
            }
        }
        out
    }
}

/// Text for a `# HELP` line: backslash and line feed escaped, as the exposition format
/// requires.
fn help_text(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A Prometheus-safe metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`, other characters as `_`.
fn prometheus_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn label_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests;
