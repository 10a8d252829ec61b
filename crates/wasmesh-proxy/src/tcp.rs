//! TCP listeners: bytes to a cluster endpoint and back, through the listener's
//! `type: NETWORK` plugins (downstream data in chain order, upstream data in reverse).

use bytes::{Bytes, BytesMut};
use std::rc::Rc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wasmesh_wasm::{FailAction, PeerType, StreamInfo, TcpContext, TcpVerdict};

use crate::chain::{ConnInfo, FilterSpec};
use crate::worker::{ListenerSlot, WorkerCtx};

/// Bytes read per read call.
const READ_SIZE: usize = 16 * 1024;

/// Proxies one downstream TCP connection to the listener's cluster.
pub async fn proxy(
    mut downstream: TcpStream,
    info: ConnInfo,
    slot: Rc<ListenerSlot>,
    _worker: Rc<WorkerCtx>,
) {
    let listener = slot.current();
    let Some(cluster_index) = listener.config.tcp_cluster else {
        tracing::warn!(listener = %listener.config.name, "tcp listener without a cluster");
        return;
    };
    let cluster = listener.snapshot.clusters.get(cluster_index).clone();
    let Some(endpoint) = listener.pick_endpoint(cluster_index).cloned() else {
        tracing::warn!(cluster = %cluster.name, peer = %info.peer, "no healthy upstream for tcp connection");
        return;
    };
    // Open the plugins' contexts; a plugin that can't run closes the connection unless it
    // is FAIL_OPEN.
    let mut contexts: Vec<TcpContext> = Vec::new();
    for (i, filter) in listener.config.chain.filters.iter().enumerate() {
        match filter {
            FilterSpec::Unavailable { plugin, reason } => {
                tracing::warn!(%plugin, %reason, peer = %info.peer, "closing tcp connection: plugin unavailable");
                return;
            }
            FilterSpec::Wasm(_) => {
                let Some(vm) = listener.vms.get(i).and_then(Option::as_ref) else {
                    continue;
                };
                let stream_info = StreamInfo {
                    source: Some(info.peer),
                    destination: Some(info.local),
                    ..Default::default()
                };
                match vm.tcp_context(stream_info) {
                    Ok(ctx) => contexts.push(ctx),
                    Err(f) => match f.action() {
                        FailAction::Skip => {}
                        FailAction::Reject(_) => return,
                    },
                }
            }
            _ => {}
        }
    }
    drop(listener);
    for ctx in contexts.iter_mut() {
        if !proceed(ctx.on_new_connection().await) {
            return;
        }
    }
    let connect = tokio::time::timeout(cluster.connect_timeout, TcpStream::connect(endpoint.addr)).await;
    let mut upstream = match connect {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::warn!(cluster = %cluster.name, endpoint = %endpoint.authority, error = %e, "upstream connect error");
            return;
        }
        Err(_) => {
            tracing::warn!(cluster = %cluster.name, endpoint = %endpoint.authority, "upstream connect timeout");
            return;
        }
    };
    let _ = upstream.set_nodelay(true);
    if contexts.is_empty() {
        if let Err(e) = tokio::io::copy_bidirectional(&mut downstream, &mut upstream).await {
            tracing::debug!(peer = %info.peer, error = %e, "tcp proxy ended with an error");
        }
        return;
    }
    filtered(&mut downstream, &mut upstream, &mut contexts).await;
}

/// False when the connection must close.
fn proceed(verdict: TcpVerdict) -> bool {
    match verdict {
        TcpVerdict::Continue | TcpVerdict::Buffer => true,
        TcpVerdict::Close => false,
        TcpVerdict::Failed(f) => matches!(f.action(), FailAction::Skip),
    }
}

/// Runs data through the plugins. `Ok(Some(data))`: forward; `Ok(None)`: buffered;
/// `Err(())`: close.
async fn run(
    contexts: &mut [TcpContext],
    pending: &mut [BytesMut],
    downstream_data: bool,
    chunk: Bytes,
    eos: bool,
) -> Result<Option<Bytes>, ()> {
    let mut data = chunk;
    let order: Vec<usize> = if downstream_data {
        (0..contexts.len()).collect()
    } else {
        (0..contexts.len()).rev().collect()
    };
    for i in order {
        if !pending[i].is_empty() {
            pending[i].extend_from_slice(&data);
            data = pending[i].split().freeze();
        }
        let ctx = &mut contexts[i];
        let verdict = if downstream_data {
            ctx.on_downstream_data(&mut data, eos).await
        } else {
            ctx.on_upstream_data(&mut data, eos).await
        };
        match verdict {
            TcpVerdict::Continue => {}
            TcpVerdict::Buffer => {
                pending[i].extend_from_slice(&data);
                return Ok(None);
            }
            v => {
                if !proceed(v) {
                    return Err(());
                }
            }
        }
    }
    Ok(Some(data))
}

async fn filtered(downstream: &mut TcpStream, upstream: &mut TcpStream, contexts: &mut [TcpContext]) {
    let n = contexts.len();
    let (mut down_pending, mut up_pending): (Vec<BytesMut>, Vec<BytesMut>) = (
        (0..n).map(|_| BytesMut::new()).collect(),
        (0..n).map(|_| BytesMut::new()).collect(),
    );
    let (mut down_buf, mut up_buf) = (vec![0u8; READ_SIZE], vec![0u8; READ_SIZE]);
    let (mut down_open, mut up_open) = (true, true);
    while down_open || up_open {
        tokio::select! {
            r = downstream.read(&mut down_buf), if down_open => {
                let (chunk, eos) = match r {
                    Ok(0) | Err(_) => (Bytes::new(), true),
                    Ok(k) => (Bytes::copy_from_slice(&down_buf[..k]), false),
                };
                match run(contexts, &mut down_pending, true, chunk, eos).await {
                    Ok(Some(data)) if !data.is_empty() => {
                        if upstream.write_all(&data).await.is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(()) => break,
                }
                if eos {
                    down_open = false;
                    for ctx in contexts.iter_mut() {
                        ctx.on_downstream_close(PeerType::Remote);
                    }
                    let _ = upstream.shutdown().await;
                }
            }
            r = upstream.read(&mut up_buf), if up_open => {
                let (chunk, eos) = match r {
                    Ok(0) | Err(_) => (Bytes::new(), true),
                    Ok(k) => (Bytes::copy_from_slice(&up_buf[..k]), false),
                };
                match run(contexts, &mut up_pending, false, chunk, eos).await {
                    Ok(Some(data)) if !data.is_empty() => {
                        if downstream.write_all(&data).await.is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(()) => break,
                }
                if eos {
                    up_open = false;
                    for ctx in contexts.iter_mut() {
                        ctx.on_upstream_close(PeerType::Remote);
                    }
                    let _ = downstream.shutdown().await;
                }
            }
        }
    }
}
