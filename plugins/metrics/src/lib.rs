//! Defines a counter `wasmesh_test_requests_total`, a gauge `wasmesh_test_last_path_length`
//! and a histogram `wasmesh_test_path_length` in `on_configure`; each request increments
//! the counter, sets the gauge and records the histogram, then reads the counter back and
//! reports it as `x-metric-requests: <value>`. Shows `proxy_{define,increment,record,get}_metric`.

use std::cell::Cell;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, MetricType};

thread_local! {
    static IDS: Cell<(u32, u32, u32)> = const { Cell::new((0, 0, 0)) };
}

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| Box::new(MetricsRoot));
}}

struct MetricsRoot;

impl Context for MetricsRoot {}

impl RootContext for MetricsRoot {
    fn on_configure(&mut self, _size: usize) -> bool {
        let counter = hostcalls::define_metric(MetricType::Counter, "wasmesh_test_requests_total");
        let gauge = hostcalls::define_metric(MetricType::Gauge, "wasmesh_test_last_path_length");
        let histogram = hostcalls::define_metric(MetricType::Histogram, "wasmesh_test_path_length");
        match (counter, gauge, histogram) {
            (Ok(c), Ok(g), Ok(h)) => {
                IDS.with(|ids| ids.set((c, g, h)));
                true
            }
            _ => false,
        }
    }

    fn create_http_context(&self, _id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Metrics))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Metrics;

impl Context for Metrics {}

impl HttpContext for Metrics {
    fn on_http_request_headers(&mut self, _n: usize, _eos: bool) -> Action {
        let (counter, gauge, histogram) = IDS.with(Cell::get);
        let length = self.get_http_request_header(":path").unwrap_or_default().len() as u64;
        let _ = hostcalls::increment_metric(counter, 1);
        let _ = hostcalls::record_metric(gauge, length);
        let _ = hostcalls::record_metric(histogram, length);
        let value = hostcalls::get_metric(counter).unwrap_or(0);
        self.set_http_request_header("x-metric-requests", Some(&value.to_string()));
        Action::Continue
    }
}
