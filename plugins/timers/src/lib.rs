//! Parks every request until the next tick of the root context's timer (period 10 ms), then
//! releases it with header `x-released-by-tick: <tick number>`. Shows
//! `proxy_set_tick_period_milliseconds`, `proxy_on_tick`, and `proxy_set_effective_context`
//! letting the root context act on (and resume) a paused HTTP stream.

use std::cell::RefCell;
use std::time::Duration;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, MapType};

thread_local! {
    static PARKED: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| Box::new(TimersRoot { ticks: 0 }));
}}

struct TimersRoot {
    ticks: u64,
}

impl Context for TimersRoot {}

impl RootContext for TimersRoot {
    fn on_vm_start(&mut self, _size: usize) -> bool {
        self.set_tick_period(Duration::from_millis(10));
        true
    }

    fn on_tick(&mut self) {
        self.ticks += 1;
        let parked: Vec<u32> = PARKED.with(|p| p.borrow_mut().drain(..).collect());
        for id in parked {
            if hostcalls::set_effective_context(id).is_ok() {
                let _ = hostcalls::add_map_value(
                    MapType::HttpRequestHeaders,
                    "x-released-by-tick",
                    &self.ticks.to_string(),
                );
                let _ = hostcalls::resume_http_request();
            }
        }
    }

    fn create_http_context(&self, id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Parked { id }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Parked {
    id: u32,
}

impl Context for Parked {}

impl HttpContext for Parked {
    fn on_http_request_headers(&mut self, _n: usize, _eos: bool) -> Action {
        PARKED.with(|p| p.borrow_mut().push(self.id));
        Action::Pause
    }
}
