//! Shared set-up: a host with a small pool, plugins by name, a local runtime, and fake
//! hosts that record logs and answer calls.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::LocalBoxFuture;
use futures::stream::LocalBoxStream;
use tokio::sync::mpsc::UnboundedReceiver;
use wasmesh_wasm::{
    CallError, CompiledPlugin, GrpcCallRequest, GrpcCallResult, GrpcIncoming, GrpcOutgoing,
    GrpcStreamRequest, HeaderMap, Host, HostConfig, HttpCallRequest, HttpCallResult, HttpContext, Limits,
    LogLevel, PluginSpec, PluginVm, StreamInfo, Verdict, WasmHost,
};

/// A host with test-sized limits: a 500 ms callback budget, 32 MiB per VM, 256-byte log
/// lines, 50 ms reload backoff. Compiled code is cached under `target/` across runs.
pub fn host() -> WasmHost {
    WasmHost::new(HostConfig {
        limits: Limits {
            memory_bytes: 32 << 20,
            callback_budget: Duration::from_millis(500),
            max_log_line: 256,
            reload_backoff: (Duration::from_millis(50), Duration::from_millis(200)),
        },
        cache_dir: Some(
            wasmesh_testkit::repo_root()
                .join("target")
                .join("wasm-test-cache"),
        ),
        pool_slots: Some(16),
    })
    .expect("host")
}

/// A spec for the plugin `name` of `plugins/`, in namespace `test`.
pub fn spec(name: &str) -> PluginSpec {
    PluginSpec::new("test", name, wasmesh_testkit::plugin_bytes(name))
}

pub fn load(host: &WasmHost, spec: PluginSpec) -> Arc<CompiledPlugin> {
    host.load(spec).expect("plugin loads")
}

/// Runs `f` on a current-thread runtime inside a `LocalSet`, as a proxy worker does.
pub fn run<F: Future>(f: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&runtime, f)
}

pub fn start(plugin: &Arc<CompiledPlugin>, host: Rc<dyn Host>) -> PluginVm {
    let vm = PluginVm::start(plugin.clone(), host);
    if let Some(failure) = vm.failure() {
        panic!("VM did not start: {failure}");
    }
    vm
}

/// Runs `proxy_on_request_headers` (end of stream) for `request` in a fresh HTTP context of
/// `vm`, which ends with the call.
pub async fn request_headers(vm: &PluginVm, request: &mut HeaderMap) -> Verdict {
    vm.http_context(StreamInfo::default())
        .unwrap()
        .on_request_headers_with(request, true)
        .await
}

/// The headers callbacks of a context with header maps of its own
/// (`PluginVm::http_context`), given the map to start from: it is the stream's map during
/// the call, and `map` holds it as the plugin left it afterwards.
#[allow(async_fn_in_trait)]
pub trait WithHeaders {
    async fn on_request_headers_with(&mut self, map: &mut HeaderMap, end_of_stream: bool) -> Verdict;
    async fn on_response_headers_with(&mut self, map: &mut HeaderMap, end_of_stream: bool) -> Verdict;
}

impl WithHeaders for HttpContext {
    async fn on_request_headers_with(&mut self, map: &mut HeaderMap, end_of_stream: bool) -> Verdict {
        self.owned().expect("a context with its own maps").request = std::mem::take(map);
        let verdict = self.on_request_headers(end_of_stream).await;
        *map = self.owned().expect("own maps").request.clone();
        verdict
    }

    async fn on_response_headers_with(&mut self, map: &mut HeaderMap, end_of_stream: bool) -> Verdict {
        self.owned().expect("a context with its own maps").response = std::mem::take(map);
        let verdict = self.on_response_headers(end_of_stream).await;
        *map = self.owned().expect("own maps").response.clone();
        verdict
    }
}

/// Request headers as a client's GET would arrive.
pub fn get(path: &str) -> HeaderMap {
    [
        (":method", "GET"),
        (":path", path),
        (":authority", "example.com"),
        (":scheme", "http"),
    ]
    .into_iter()
    .collect()
}

pub fn text(value: Option<&Bytes>) -> &str {
    value
        .map(|v| std::str::from_utf8(v).unwrap())
        .unwrap_or("<absent>")
}

/// A host that records logs and calls, answers http calls to `auth` and gRPC calls to
/// `grpc` with what the test put in, and knows `node.id`.
#[derive(Default)]
pub struct FakeHost {
    pub logs: RefCell<Vec<(LogLevel, String)>>,
    pub http_calls: RefCell<Vec<HttpCallRequest>>,
    pub http_answer: RefCell<Option<HttpCallResult>>,
    pub grpc_calls: RefCell<Vec<GrpcCallRequest>>,
    pub grpc_answer: RefCell<Option<GrpcCallResult>>,
    /// What plugins sent on gRPC streams, in order.
    pub grpc_sent: Rc<RefCell<Vec<GrpcOutgoing>>>,
}

impl FakeHost {
    pub fn logged(&self, level: LogLevel, needle: &str) -> bool {
        self.logs
            .borrow()
            .iter()
            .any(|(l, m)| *l == level && m.contains(needle))
    }
}

impl Host for FakeHost {
    fn http_call(
        &self,
        request: HttpCallRequest,
    ) -> Result<LocalBoxFuture<'static, HttpCallResult>, CallError> {
        if request.cluster != "auth" {
            return Err(CallError::UnknownCluster(request.cluster));
        }
        self.http_calls.borrow_mut().push(request);
        let answer = self
            .http_answer
            .borrow()
            .clone()
            .expect("the test sets an http answer");
        Ok(Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            answer
        }))
    }

    fn grpc_call(
        &self,
        request: GrpcCallRequest,
    ) -> Result<LocalBoxFuture<'static, GrpcCallResult>, CallError> {
        if request.cluster != "grpc" {
            return Err(CallError::UnknownCluster(request.cluster));
        }
        self.grpc_calls.borrow_mut().push(request);
        let answer = self
            .grpc_answer
            .borrow()
            .clone()
            .expect("the test sets a gRPC answer");
        Ok(Box::pin(async move { answer }))
    }

    /// An echo service: answers the first message with initial metadata `x-meta: m1` and
    /// `echo:<message>`, every later one with `echo:<message>`, and closes with status 0
    /// (after trailing metadata) when the plugin half-closes.
    fn grpc_stream(
        &self,
        request: GrpcStreamRequest,
        mut outgoing: UnboundedReceiver<GrpcOutgoing>,
    ) -> Result<LocalBoxStream<'static, GrpcIncoming>, CallError> {
        if request.cluster != "grpc" {
            return Err(CallError::UnknownCluster(request.cluster));
        }
        let (incoming, events) = tokio::sync::mpsc::unbounded_channel();
        let sent = self.grpc_sent.clone();
        tokio::task::spawn_local(async move {
            let mut first = true;
            while let Some(item) = outgoing.recv().await {
                sent.borrow_mut().push(item.clone());
                match item {
                    GrpcOutgoing::Message(message) => {
                        if std::mem::take(&mut first) {
                            let metadata = [("x-meta", "m1")].into_iter().collect();
                            let _ = incoming.send(GrpcIncoming::InitialMetadata(metadata));
                        }
                        let mut echo = b"echo:".to_vec();
                        echo.extend_from_slice(&message);
                        let _ = incoming.send(GrpcIncoming::Message(Bytes::from(echo)));
                    }
                    GrpcOutgoing::EndOfStream => {
                        let _ = incoming.send(GrpcIncoming::TrailingMetadata(HeaderMap::new()));
                        let _ = incoming.send(GrpcIncoming::Close {
                            status: 0,
                            message: None,
                        });
                    }
                    GrpcOutgoing::Cancel => return,
                }
            }
        });
        let stream = futures::stream::unfold(events, |mut events| async move {
            events.recv().await.map(|event| (event, events))
        });
        Ok(Box::pin(stream))
    }

    fn node(&self) -> Option<std::sync::Arc<wasmesh_wasm::NodeInfo>> {
        Some(std::sync::Arc::new(wasmesh_wasm::NodeInfo {
            id: "sidecar~10.0.0.1~web.default".into(),
            ..Default::default()
        }))
    }

    fn log(&self, _plugin: &str, level: LogLevel, message: &str) {
        self.logs.borrow_mut().push((level, message.to_owned()));
    }
}
