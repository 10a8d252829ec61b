//! The Proxy-Wasm host on wasmtime: engine, compiled-module caches (memory and disk), one
//! VM per plugin per worker, root/HTTP/TCP contexts, and every hostcall of ABI 0.2.1
//! (and 0.2.0 / 0.1.0 guests). It does not fetch modules (`wasmesh-fetch`), parse
//! resources (`wasmesh-api`) or speak HTTP (`wasmesh-proxy`): the proxy drives it through
//! the filter API below and gives it the outside world through [`Host`].
//!
//! # The seam, in the order the proxy uses it
//!
//! 1. **Process-wide** (Send + Sync, clone freely): one [`WasmHost`] per process, from
//!    [`HostConfig`] (sandbox [`Limits`], on-disk cache folder, pool size). It owns the
//!    wasmtime `Engine` (Cranelift, pooling allocator with copy-on-write memory init, epoch
//!    interruption driven by a ticker thread), the `Linker` with every hostcall, the
//!    compiled-module caches keyed by the module's sha256, the ABI's shared data and shared
//!    queues (one store for all VMs of the process), and the plugin-defined metrics.
//!    [`WasmHost::metrics`] renders them for the admin `/stats/prometheus` page.
//! 2. **Per plugin** (Send + Sync): [`WasmHost::load`] turns a [`PluginSpec`] (names,
//!    `pluginConfig` as JSON, `vmConfig.env`, failStrategy, module bytes + sha256) into an
//!    `Arc<CompiledPlugin>`: compiled once per digest (or loaded from the disk cache),
//!    linked once (`InstancePre`), ABI version detected from the `proxy_abi_version_*`
//!    export. A module Envoy refuses at load is refused here too (no supported ABI version,
//!    no `proxy_on_memory_allocate`/`malloc`, no `proxy_on_context_create`, no memory).
//!    Load errors are [`WasmError`]s naming the plugin and digest.
//! 3. **Per plugin per worker** (`!Send`, lives on the worker's current-thread runtime):
//!    [`PluginVm::start_on_worker`] instantiates the plugin, runs `_initialize`,
//!    `proxy_on_context_create` for the root context, `proxy_on_vm_start` with the VM
//!    configuration and `proxy_on_configure` with `pluginConfig` (root id = `pluginName`,
//!    "" when unset). It must be called inside a `tokio::task::LocalSet`: http/gRPC calls,
//!    timers (`proxy_set_tick_period_milliseconds` → `proxy_on_tick`) and shared-queue
//!    notifications are local tasks of the VM. [`PluginVm::failure`] tells whether it is
//!    healthy; [`CompiledPlugin::vm_health`] what every VM of the plugin is doing (for the
//!    admin API).
//! 4. **Per request / connection**: [`PluginVm::http_context_on`] (or
//!    [`PluginVm::tcp_context`]) with the [`StreamInfo`] the proxy knows and the request's
//!    own header maps ([`SharedHeaders`]: the proxy implements [`StreamHeaders`] over its
//!    request and response heads, shared by every filter of the request — no plugin holds
//!    a copy) gives an [`HttpContext`] ([`TcpContext`]). Its async methods —
//!    `on_request_headers`, `on_response_headers` (on those maps, in place),
//!    `on_request_body`, `on_request_trailers`, `on_response_*`; `on_new_connection`,
//!    `on_downstream_data`, `on_upstream_data`, `on_*_close` — take the other data by
//!    `&mut`, let the plugin read and change it, and return a [`Verdict`] ([`TcpVerdict`]): continue,
//!    buffer (bodies: StopIterationAndBuffer), local reply, close, or failed. A paused
//!    plugin is awaited inside the future until it resumes (`proxy_continue_stream` from an
//!    http call answer, a timer via `proxy_set_effective_context`, …), replies, closes or
//!    fails. Envoy's default: a plugin paused on headers gets no body callbacks until it
//!    resumes. Wrap the future in the route's timeout: a plugin may never resume. Dropping
//!    the context (or [`HttpContext::finish`]) runs `proxy_on_done`, `proxy_on_log`,
//!    `proxy_on_delete`. Built-in filters publish facts for later plugins with
//!    [`HttpContext::set_property`] (e.g. `request.auth.principal`).
//! 5. **Failures** (trap, callback time budget, memory cap, rejected configuration):
//!    logged once with the plugin's name, counted (`wasm_plugin_failures_total`), put on the
//!    VM's [`VmHealth`] (state, failures, last error with its time), the VM is marked
//!    failed, and the proxy gets a [`Failure`] whose [`Failure::action`] is decided by
//!    failStrategy: FAIL_CLOSE → `Reject(503 naming the plugin)`, FAIL_OPEN → `Skip`,
//!    FAIL_RELOAD → `Reject` for this request, and the next `http_context()` after the
//!    backoff recreates the VM.
//!
//! # What the host offers the guest
//! Every hostcall of ABI 0.2.1 (`abi/` groups them like the spec), 0.1.0's
//! `proxy_get_configuration`, `proxy_continue_request`/`_response` and
//! `proxy_clear_route_cache`, and WASI preview1's subset. Calls leave the VM through
//! [`Host`]: `http_call`, `grpc_call`, `grpc_stream`. Properties follow Envoy's attribute
//! names (`request.*` from the headers, `source.*`/`destination.*` from [`StreamInfo`],
//! `plugin_name` = `<namespace>.<name>`, `plugin_root_id`, `plugin_vm_id`, anything set with
//! [`HttpContext::set_property`] or by the plugin, then [`Host::property`] for `node.*`,
//! `xds.*`). Foreign functions: `compress`, `uncompress` (zlib) and `clear_route_cache`;
//! other names answer `NotFound`, as Envoy does for unknown ones. A root context's
//! `proxy_on_done` returning false is not waited for (there is nothing to drain).
//!
//! # Sandbox
//! No filesystem and no sockets (WASI calls for them answer `EBADF`/`ENOTCAPABLE`; the
//! environment holds only `vmConfig.env`), a memory cap per VM, a time budget per callback,
//! and every guest pointer and length bounds-checked: a bad one gets
//! `InvalidMemoryAccess`, never a host access out of bounds.

#![deny(missing_docs)]

pub mod abi;
mod core;
mod engine;
mod epoch;
mod error;
mod events;
mod exports;
mod failure;
mod filter;
pub mod health;
mod host;
mod http_context;
mod metrics;
mod module_cache;
mod module_check;
mod plugin;
mod progress;
mod shared;
mod spec;
mod state;
mod stream_headers;
mod tcp_context;
mod tls_info;
mod vm;

pub use abi::attributes::{MetaValue, NodeInfo, TrafficDirection, Value as AttributeValue};
pub use abi::foreign::TCP_PROXY_CLUSTER;
pub use engine::{HostConfig, WasmHost};
pub use error::WasmError;
pub use failure::{FailAction, Failure, FailureReason};
pub use filter::{HeaderMap, LocalReply, PeerType, StreamInfo, TcpVerdict, Verdict};
pub use health::{LastError, VmHealth, VmState};
pub use host::{
    CallError, GrpcCallRequest, GrpcCallResponse, GrpcCallResult, GrpcIncoming, GrpcOutgoing,
    GrpcStreamRequest, Host, HttpCallRequest, HttpCallResponse, HttpCallResult, LogLevel, NoHost,
};
pub use http_context::HttpContext;
pub use metrics::{MetricKind, MetricSample, Metrics};
pub use plugin::{AbiVersion, CompiledPlugin};
pub use progress::{StreamProgress, UpstreamTry};
pub use spec::{EnvValue, FailStrategy, Limits, PluginKind, PluginSpec};
pub use stream_headers::{HeadersKind, OwnedHeaders, SharedHeaders, StreamHeaders};
pub use tcp_context::TcpContext;
pub use tls_info::{Certificate, ConnectionTls};
pub use vm::PluginVm;
