//! A TCP (`type: NETWORK`) plugin that picks the cluster of each connection, as TCP
//! routing plugins for Envoy do: in `on_new_connection` it calls the foreign function
//! `set_envoy_filter_state` with `envoy.tcp_proxy.cluster` = the `cluster` of its
//! `pluginConfig`.

use std::cell::RefCell;

use proxy_wasm::hostcalls::call_foreign_function;
use proxy_wasm::traits::{Context, RootContext, StreamContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

thread_local! {
    static CLUSTER: RefCell<String> = const { RefCell::new(String::new()) };
}

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| Box::new(Root));
}}

struct Root;

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let config = self.get_plugin_configuration().unwrap_or_default();
        let text = String::from_utf8_lossy(&config);
        // {"cluster": "<name>"}: the value between the quotes after the key.
        let cluster = text
            .split("\"cluster\"")
            .nth(1)
            .and_then(|rest| rest.split('"').nth(1))
            .unwrap_or_default()
            .to_owned();
        CLUSTER.with(|c| *c.borrow_mut() = cluster);
        true
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::StreamContext)
    }

    fn create_stream_context(&self, _id: u32) -> Option<Box<dyn StreamContext>> {
        Some(Box::new(Route))
    }
}

struct Route;

impl Context for Route {}

/// `SetEnvoyFilterStateArguments { path: 1, value: 2 }` in protobuf.
fn arguments(path: &str, value: &str) -> Vec<u8> {
    let mut out = vec![0x0a, path.len() as u8];
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(&[0x12, value.len() as u8]);
    out.extend_from_slice(value.as_bytes());
    out
}

impl StreamContext for Route {
    fn on_new_connection(&mut self) -> Action {
        let cluster = CLUSTER.with(|c| c.borrow().clone());
        if let Err(status) = call_foreign_function(
            "set_envoy_filter_state",
            Some(&arguments("envoy.tcp_proxy.cluster", &cluster)),
        ) {
            proxy_wasm::hostcalls::log(LogLevel::Error, &format!("set_envoy_filter_state: {status:?}")).ok();
        }
        Action::Continue
    }
}
