//! Reads `pluginConfig` (JSON, through `on_configure`) and the VM configuration (through
//! `on_vm_start`). `on_configure` fails (returns false) when the JSON is not an object with
//! a string `greeting`, so the host's handling of a rejected configuration can be tested.
//! Each request gets `x-config-greeting: <greeting>` and `x-vm-config: <vm configuration>`.
//! When the VM shuts down, the root context logs `config: root context done`.

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| Box::new(ConfigRoot::default()));
}}

#[derive(Default)]
struct ConfigRoot {
    greeting: Rc<String>,
    vm_config: Rc<String>,
}

impl Context for ConfigRoot {
    fn on_done(&mut self) -> bool {
        proxy_wasm::hostcalls::log(LogLevel::Info, "config: root context done").ok();
        true
    }
}

impl RootContext for ConfigRoot {
    fn on_vm_start(&mut self, _size: usize) -> bool {
        let vm_config = self.get_vm_configuration().unwrap_or_default();
        self.vm_config = Rc::new(String::from_utf8_lossy(&vm_config).into_owned());
        true
    }

    fn on_configure(&mut self, _size: usize) -> bool {
        let config = self.get_plugin_configuration().unwrap_or_default();
        let greeting = serde_json::from_slice::<serde_json::Value>(&config)
            .ok()
            .and_then(|v| v.get("greeting").and_then(|g| g.as_str()).map(str::to_owned));
        match greeting {
            Some(greeting) => {
                self.greeting = Rc::new(greeting);
                true
            }
            None => {
                proxy_wasm::hostcalls::log(LogLevel::Error, "config: pluginConfig needs a string `greeting`")
                    .ok();
                false
            }
        }
    }

    fn create_http_context(&self, _id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Config {
            greeting: self.greeting.clone(),
            vm_config: self.vm_config.clone(),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Config {
    greeting: Rc<String>,
    vm_config: Rc<String>,
}

impl Context for Config {}

impl HttpContext for Config {
    fn on_http_request_headers(&mut self, _n: usize, _eos: bool) -> Action {
        self.set_http_request_header("x-config-greeting", Some(&self.greeting));
        self.set_http_request_header("x-vm-config", Some(&self.vm_config));
        Action::Continue
    }
}
