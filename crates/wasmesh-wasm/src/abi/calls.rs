//! What `proxy_http_call`, `proxy_grpc_call` and `proxy_grpc_stream` share: registering a
//! call the host has started (the in-flight bound, a fresh token, the context that owns it,
//! the task that delivers its answer).

use std::future::Future;
use std::rc::Weak;
use std::time::Duration;

use super::Status;
use crate::state::{PendingCall, VmState, MAX_CALLS_IN_FLIGHT, ROOT_CONTEXT_ID};
use crate::vm::VmCore;
use crate::{CallError, GrpcOutgoing, Host};
use tokio::sync::mpsc::UnboundedSender;

/// Starts a call with `open` (refused with `InternalFailure` when the VM already has
/// [`MAX_CALLS_IN_FLIGHT`]; an unknown cluster is `BadArgument`, any other refusal
/// `InternalFailure`), gives it the next token, and spawns `deliver(opened, token, core)`
/// as its task, owned by the effective context. Returns the token.
pub fn start<T, F>(
    state: &mut VmState,
    open: impl FnOnce(&dyn Host) -> Result<T, CallError>,
    deliver: impl FnOnce(T, u32, Weak<VmCore>) -> F,
    outgoing: Option<UnboundedSender<GrpcOutgoing>>,
) -> Result<u32, Status>
where
    F: Future<Output = ()> + 'static,
{
    if state.calls.len() >= MAX_CALLS_IN_FLIGHT {
        return Err(Status::InternalFailure);
    }
    let opened = match open(state.host.as_ref()) {
        Ok(opened) => opened,
        Err(CallError::UnknownCluster(_)) => return Err(Status::BadArgument),
        Err(_) => return Err(Status::InternalFailure),
    };
    state.next_token = state.next_token.wrapping_add(1).max(1);
    let token = state.next_token;
    let context = if state.effective == 0 {
        ROOT_CONTEXT_ID
    } else {
        state.effective
    };
    let task = deliver(opened, token, state.core.clone());
    let task =
        crate::events::spawn_local(state, "http and gRPC calls", task).ok_or(Status::InternalFailure)?;
    state.calls.insert(
        token,
        PendingCall {
            context,
            task: task.abort_handle(),
            outgoing,
        },
    );
    Ok(token)
}

/// `answer`, or `CallError::Timeout` once `timeout` (at least a millisecond) has passed.
pub async fn within<T>(
    timeout: Duration,
    answer: impl Future<Output = Result<T, CallError>>,
) -> Result<T, CallError> {
    tokio::time::timeout(timeout.max(Duration::from_millis(1)), answer)
        .await
        .unwrap_or(Err(CallError::Timeout))
}
