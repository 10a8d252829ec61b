//! Reads `vmConfig.env` through WASI (`environ_get`): each request gets
//! `x-env-<name lower-cased, '_' as '-'>: <value>` for every variable the VM sees, and
//! `x-env-count: <n>`. `on_vm_start` prints one line to stdout and one to stderr, and the
//! variables' names as one multi-line write to stdout, which the host turns into log events
//! (the multi-line write one event). Shows the WASI preview1 subset of the spec.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| Box::new(EnvRoot));
}}

struct EnvRoot;

impl Context for EnvRoot {}

impl RootContext for EnvRoot {
    fn on_vm_start(&mut self, _size: usize) -> bool {
        println!("vm_env: started with {} variables", std::env::vars().count());
        eprintln!("vm_env: this line went to stderr");
        let names: Vec<String> = std::env::vars().map(|(name, _)| name).collect();
        // Formatted first, so the lines reach stdout in one write.
        let report = format!("vm_env: variables:\n{}\n", names.join("\n"));
        print!("{report}");
        true
    }

    fn create_http_context(&self, _id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Env))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Env;

impl Context for Env {}

impl HttpContext for Env {
    fn on_http_request_headers(&mut self, _n: usize, _eos: bool) -> Action {
        let vars: Vec<(String, String)> = std::env::vars().collect();
        for (name, value) in &vars {
            let header = format!("x-env-{}", name.to_ascii_lowercase().replace('_', "-"));
            self.set_http_request_header(&header, Some(value));
        }
        self.set_http_request_header("x-env-count", Some(&vars.len().to_string()));
        Action::Continue
    }
}
