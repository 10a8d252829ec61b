//! Shared data and shared queues across every VM of the process.
//!
//! - Each request increments the shared counter `shared.counter` with a CAS retry loop and
//!   gets `x-shared-counter: <new value>`.
//! - The root context registers the queue `events` in `on_vm_start` (the VM that does so
//!   owns it). Each request resolves it (vm id from `vm_config`, empty by default), enqueues
//!   its `:path`, and the owner's `on_queue_ready` dequeues everything and stores the last
//!   item in the shared data key `shared.last_event`.

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, Status};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| Box::new(SharedRoot));
}}

struct SharedRoot;

impl Context for SharedRoot {}

impl RootContext for SharedRoot {
    fn on_vm_start(&mut self, _size: usize) -> bool {
        // Only the first VM registers: the others resolve the owner's queue.
        if self.resolve_shared_queue("", "events").is_none() {
            self.register_shared_queue("events");
        }
        true
    }

    fn on_queue_ready(&mut self, queue_id: u32) {
        let mut last = None;
        while let Ok(Some(item)) = self.dequeue_shared_queue(queue_id) {
            last = Some(item);
        }
        if let Some(item) = last {
            let _ = self.set_shared_data("shared.last_event", Some(&item), None);
        }
    }

    fn create_http_context(&self, _id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Shared))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Shared;

impl Context for Shared {}

impl Shared {
    fn increment(&self) -> u64 {
        loop {
            let (value, cas) = self.get_shared_data("shared.counter");
            let current = value
                .and_then(|v| String::from_utf8(v).ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            let next = current + 1;
            match hostcalls::set_shared_data("shared.counter", Some(next.to_string().as_bytes()), cas) {
                Ok(()) => return next,
                Err(Status::CasMismatch) => continue,
                Err(_) => return 0,
            }
        }
    }
}

impl HttpContext for Shared {
    fn on_http_request_headers(&mut self, _n: usize, _eos: bool) -> Action {
        let count = self.increment();
        self.set_http_request_header("x-shared-counter", Some(&count.to_string()));
        let path = self.get_http_request_header(":path").unwrap_or_default();
        if let Some(queue) = self.resolve_shared_queue("", "events") {
            let _ = self.enqueue_shared_queue(queue, Some(path.as_bytes()));
        }
        Action::Continue
    }
}
