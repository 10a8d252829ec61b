//! What the host needs from the proxy: the outside world. One `Host` per worker (it may be
//! `!Send`; its futures run on the worker's `LocalSet`).

use std::time::Duration;

use bytes::Bytes;
use futures::future::LocalBoxFuture;
use futures::stream::LocalBoxStream;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::HeaderMap;

/// Implemented by the proxy for one worker. Everything has a default so tests can
/// implement only what they use; the defaults refuse (unknown cluster, no property).
pub trait Host: 'static {
    /// Sends `request` to the cluster `request.cluster` (`proxy_http_call`). Return
    /// `Err(CallError::UnknownCluster)` at once when there is no such cluster: the plugin
    /// then gets `BadArgument`, as from Envoy. The answer (or failure) is delivered into the
    /// VM as `proxy_on_http_call_response`.
    fn http_call(
        &self,
        request: HttpCallRequest,
    ) -> Result<LocalBoxFuture<'static, HttpCallResult>, CallError> {
        Err(CallError::UnknownCluster(request.cluster))
    }

    /// Makes a unary gRPC call to an http2 cluster (`proxy_grpc_call`). The answer is
    /// delivered as `proxy_on_grpc_receive_initial_metadata`, `_receive`,
    /// `_receive_trailing_metadata` and `proxy_on_grpc_close`.
    fn grpc_call(
        &self,
        request: GrpcCallRequest,
    ) -> Result<LocalBoxFuture<'static, GrpcCallResult>, CallError> {
        Err(CallError::UnknownCluster(request.cluster))
    }

    /// Opens a gRPC stream to an http2 cluster (`proxy_grpc_stream`). What the plugin sends
    /// (`proxy_grpc_send`, `proxy_grpc_close`, `proxy_grpc_cancel`) arrives on `outgoing`;
    /// what the returned stream yields is delivered into the VM as
    /// `proxy_on_grpc_receive_initial_metadata`, `_receive`, `_receive_trailing_metadata`
    /// and `proxy_on_grpc_close` (which ends it).
    fn grpc_stream(
        &self,
        request: GrpcStreamRequest,
        outgoing: UnboundedReceiver<GrpcOutgoing>,
    ) -> Result<LocalBoxStream<'static, GrpcIncoming>, CallError> {
        let _ = outgoing;
        Err(CallError::UnknownCluster(request.cluster))
    }

    /// A worker-wide property (`node.*`, `xds.cluster_name`, `xds.listener_direction`, …) by
    /// its dotted path. Stream properties come from [`crate::StreamInfo`] and the headers.
    fn property(&self, path: &str) -> Option<Bytes> {
        let _ = path;
        None
    }

    /// Envoy's `node` (`node.*`, `xds.node`): the proxy's id and Istio's node metadata.
    /// `None`: every `node` attribute is `NotFound`.
    fn node(&self) -> Option<std::sync::Arc<crate::abi::attributes::NodeInfo>> {
        None
    }

    /// A log line written by a plugin (`proxy_log`, or WASI stdout/stderr). The default
    /// emits it through `tracing` with the plugin's name.
    fn log(&self, plugin: &str, level: LogLevel, message: &str) {
        match level {
            LogLevel::Trace => tracing::trace!(plugin = %plugin, "{message}"),
            LogLevel::Debug => tracing::debug!(plugin = %plugin, "{message}"),
            LogLevel::Info => tracing::info!(plugin = %plugin, "{message}"),
            LogLevel::Warn => tracing::warn!(plugin = %plugin, "{message}"),
            LogLevel::Error | LogLevel::Critical => tracing::error!(plugin = %plugin, "{message}"),
        }
    }

    /// The level reported to plugins by `proxy_get_log_level`.
    fn log_level(&self) -> LogLevel {
        LogLevel::Info
    }
}

/// A host that knows no clusters and no worker properties (tests, tools).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHost;

impl Host for NoHost {}

/// Proxy-Wasm log levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// trace
    Trace = 0,
    /// debug
    Debug = 1,
    /// info
    Info = 2,
    /// warn
    Warn = 3,
    /// error
    Error = 4,
    /// critical
    Critical = 5,
}

impl LogLevel {
    /// From the ABI's number.
    pub fn from_abi(level: u32) -> Option<LogLevel> {
        Some(match level {
            0 => LogLevel::Trace,
            1 => LogLevel::Debug,
            2 => LogLevel::Info,
            3 => LogLevel::Warn,
            4 => LogLevel::Error,
            5 => LogLevel::Critical,
            _ => return None,
        })
    }
}

/// An HTTP request a plugin sends to a cluster.
#[derive(Clone, Debug)]
pub struct HttpCallRequest {
    /// The cluster's name (the `upstream` argument).
    pub cluster: String,
    /// Headers including `:method`, `:path`, `:authority` (Envoy requires these three).
    pub headers: HeaderMap,
    /// Request body.
    pub body: Bytes,
    /// Request trailers.
    pub trailers: HeaderMap,
    /// The plugin's timeout for the whole call.
    pub timeout: Duration,
}

/// The answer to an [`HttpCallRequest`].
#[derive(Clone, Debug, Default)]
pub struct HttpCallResponse {
    /// Response headers including `:status`.
    pub headers: HeaderMap,
    /// Response body.
    pub body: Bytes,
    /// Response trailers.
    pub trailers: HeaderMap,
}

/// Result of an http call: a failure reaches the plugin as a response with no headers.
pub type HttpCallResult = Result<HttpCallResponse, CallError>;

/// A unary gRPC call a plugin makes.
#[derive(Clone, Debug)]
pub struct GrpcCallRequest {
    /// The cluster (an http2 cluster).
    pub cluster: String,
    /// Fully qualified service name, e.g. `helloworld.Greeter`.
    pub service: String,
    /// Method name, e.g. `SayHello`.
    pub method: String,
    /// Initial metadata to send.
    pub initial_metadata: HeaderMap,
    /// The serialised request message (without gRPC framing).
    pub message: Bytes,
    /// Timeout for the whole call.
    pub timeout: Duration,
}

/// The answer to a [`GrpcCallRequest`].
#[derive(Clone, Debug, Default)]
pub struct GrpcCallResponse {
    /// Initial metadata received.
    pub initial_metadata: HeaderMap,
    /// The response message (without gRPC framing); empty when none.
    pub message: Bytes,
    /// Trailing metadata received.
    pub trailing_metadata: HeaderMap,
    /// `grpc-status` (0 = OK).
    pub status: u32,
    /// `grpc-message`, if any.
    pub status_message: Option<String>,
}

/// Result of a gRPC call; a transport failure reaches the plugin as status 14 (UNAVAILABLE).
pub type GrpcCallResult = Result<GrpcCallResponse, CallError>;

/// A gRPC stream a plugin opens.
#[derive(Clone, Debug)]
pub struct GrpcStreamRequest {
    /// The cluster (an http2 cluster).
    pub cluster: String,
    /// Fully qualified service name.
    pub service: String,
    /// Method name.
    pub method: String,
    /// Initial metadata to send.
    pub initial_metadata: HeaderMap,
}

/// What a plugin sends on its gRPC stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GrpcOutgoing {
    /// One message (without gRPC framing).
    Message(Bytes),
    /// The plugin is done sending (`end_of_stream` or `proxy_grpc_close`): half-close.
    EndOfStream,
    /// The plugin cancelled the stream (`proxy_grpc_cancel`): reset it.
    Cancel,
}

/// What the proxy delivers from a gRPC stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GrpcIncoming {
    /// Response headers.
    InitialMetadata(HeaderMap),
    /// One message (without gRPC framing).
    Message(Bytes),
    /// Response trailers.
    TrailingMetadata(HeaderMap),
    /// The stream ended with this `grpc-status` (0 = OK) and `grpc-message`.
    Close {
        /// `grpc-status`.
        status: u32,
        /// `grpc-message`.
        message: Option<String>,
    },
}

/// Why a call to a cluster could not be made or did not complete.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// No cluster by that name (reported to the plugin as `BadArgument`).
    #[error("unknown cluster `{0}`")]
    UnknownCluster(String),
    /// The call was not answered within its timeout.
    #[error("call timed out")]
    Timeout,
    /// The call failed (connection refused, reset, protocol error…).
    #[error("call failed: {0}")]
    Failed(String),
}
