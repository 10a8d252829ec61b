//! Hostile: spins forever in the request-headers callback. The host's per-callback time
//! budget (epoch interruption) must stop it, and `failStrategy` applies.

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_http_context(|_, _| Box::new(Spin));
}}

struct Spin;

impl Context for Spin {}

impl HttpContext for Spin {
    fn on_http_request_headers(&mut self, _n: usize, _eos: bool) -> Action {
        let mut n: u64 = 0;
        loop {
            // A volatile write keeps the optimiser from proving the loop has no effect.
            n = n.wrapping_add(1);
            unsafe { core::ptr::write_volatile(&mut n, n) };
        }
    }
}
