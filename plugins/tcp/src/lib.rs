//! A network (TCP) filter: data from the client (downstream) is upper-cased, data from the
//! server (upstream) is wrapped as `wasm(<data>)`; client data containing `QUIT` closes
//! the connection from the plugin. Counts connections in the shared data key
//! `tcp.connections`. Shows the stream-context callbacks and the downstream/upstream buffers.

use proxy_wasm::traits::{Context, RootContext, StreamContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, PeerType};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| Box::new(TcpRoot));
}}

struct TcpRoot;

impl Context for TcpRoot {}

impl RootContext for TcpRoot {
    fn create_stream_context(&self, _id: u32) -> Option<Box<dyn StreamContext>> {
        Some(Box::new(Tcp))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::StreamContext)
    }
}

struct Tcp;

impl Context for Tcp {}

impl StreamContext for Tcp {
    fn on_new_connection(&mut self) -> Action {
        let (value, cas) = self.get_shared_data("tcp.connections");
        let count = value
            .and_then(|v| String::from_utf8(v).ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        let _ = self.set_shared_data("tcp.connections", Some((count + 1).to_string().as_bytes()), cas);
        Action::Continue
    }

    fn on_downstream_data(&mut self, size: usize, _end_of_stream: bool) -> Action {
        let data = self.get_downstream_data(0, size).unwrap_or_default();
        if data.windows(4).any(|w| w == b"QUIT") {
            self.close_downstream();
            return Action::Pause;
        }
        self.set_downstream_data(0, size, &data.to_ascii_uppercase());
        Action::Continue
    }

    fn on_upstream_data(&mut self, size: usize, _end_of_stream: bool) -> Action {
        if size == 0 {
            return Action::Continue;
        }
        let data = self.get_upstream_data(0, size).unwrap_or_default();
        let mut wrapped = b"wasm(".to_vec();
        wrapped.extend_from_slice(&data);
        wrapped.push(b')');
        self.set_upstream_data(0, size, &wrapped);
        Action::Continue
    }

    fn on_downstream_close(&mut self, _peer: PeerType) {}
}
