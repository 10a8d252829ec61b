//! A plugin failure at run time and what failStrategy makes of it.

use bytes::Bytes;

use crate::{FailStrategy, HeaderMap, LocalReply};

/// A plugin failed while handling traffic or starting. Logged once (with the plugin's name)
/// and counted by the host when it happens; the proxy only applies [`Failure::action`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("wasm plugin {plugin} failed: {reason}")]
pub struct Failure {
    /// `<namespace>.<name>` of the plugin.
    pub plugin: String,
    /// What went wrong.
    pub reason: FailureReason,
    /// The plugin's failStrategy.
    pub strategy: FailStrategy,
}

/// What went wrong in a plugin.
#[derive(Clone, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum FailureReason {
    /// The guest trapped (panic, `unreachable`, out-of-bounds access in its own memory…).
    #[error("trap in {callback}: {message}")]
    Trap {
        /// The callback that trapped.
        callback: &'static str,
        /// wasmtime's description of the trap.
        message: String,
    },
    /// The callback ran past the time budget and was interrupted.
    #[error("{callback} exceeded its time budget")]
    Timeout {
        /// The callback that was interrupted.
        callback: &'static str,
    },
    /// The guest ran out of its memory cap.
    #[error("{callback} exceeded the memory limit")]
    MemoryLimit {
        /// The callback during which memory ran out.
        callback: &'static str,
    },
    /// `proxy_on_vm_start` or `proxy_on_configure` returned false.
    #[error("{0} returned false (the plugin rejected its configuration)")]
    Rejected(&'static str),
    /// The VM could not be created (instantiation failed, out of pool slots…).
    #[error("the VM could not be created: {0}")]
    VmCreation(String),
    /// The plugin's VM failed earlier and is not usable (FAIL_CLOSE / FAIL_OPEN keep it
    /// failed; FAIL_RELOAD is waiting for the backoff to pass).
    #[error("the VM failed earlier ({0})")]
    VmFailed(String),
}

/// What the proxy does with a failed plugin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailAction {
    /// FAIL_CLOSE and FAIL_RELOAD: answer the request with this (503 naming the plugin);
    /// for TCP, close the connection.
    Reject(LocalReply),
    /// FAIL_OPEN: skip this plugin for the rest of the stream.
    Skip,
}

impl Failure {
    /// What the proxy must do, decided by the failStrategy.
    pub fn action(&self) -> FailAction {
        match self.strategy {
            FailStrategy::FailOpen => FailAction::Skip,
            FailStrategy::FailClose | FailStrategy::FailReload => FailAction::Reject(self.local_reply()),
        }
    }

    /// The 503 a FAIL_CLOSE plugin's request gets. It names the plugin but carries no guest
    /// output (which could hold secrets).
    pub fn local_reply(&self) -> LocalReply {
        let mut headers = HeaderMap::new();
        headers.add("content-type", Bytes::from_static(b"text/plain"));
        LocalReply {
            status: 503,
            headers,
            body: Bytes::from(format!("wasm plugin {} failed\n", self.plugin)),
            details: "wasm_fail_stream".to_owned(),
            grpc_status: 14,
        }
    }

    /// A short label for metrics: trap, timeout, memory, rejected, vm_creation, vm_failed.
    pub fn reason_label(&self) -> &'static str {
        match self.reason {
            FailureReason::Trap { .. } => "trap",
            FailureReason::Timeout { .. } => "timeout",
            FailureReason::MemoryLimit { .. } => "memory",
            FailureReason::Rejected(_) => "rejected",
            FailureReason::VmCreation(_) => "vm_creation",
            FailureReason::VmFailed(_) => "vm_failed",
        }
    }
}
