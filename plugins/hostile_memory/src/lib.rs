//! Hostile: allocates 1 MiB blocks and keeps them until memory runs out, in the
//! request-headers callback. The host's memory cap per VM must stop it (the allocation
//! fails and the module traps) and `failStrategy` applies; the process is unharmed.

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_http_context(|_, _| Box::new(Bomb));
}}

struct Bomb;

impl Context for Bomb {}

impl HttpContext for Bomb {
    fn on_http_request_headers(&mut self, _n: usize, _eos: bool) -> Action {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut block = vec![0u8; 1 << 20];
            block[0] = hoard.len() as u8;
            hoard.push(block);
            if hoard.len() == usize::MAX {
                break;
            }
        }
        Action::Continue
    }
}
