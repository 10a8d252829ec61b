//! TCP listeners: bytes to a cluster endpoint and back, through the listener's
//! `type: NETWORK` plugins (downstream data in chain order, upstream data in reverse).

use bytes::{Bytes, BytesMut};
use std::rc::Rc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wasmesh_wasm::{FailAction, PeerType, StreamInfo, TcpContext, TcpVerdict, TCP_PROXY_CLUSTER};

use crate::chain::{ConnInfo, FilterSpec};
use crate::worker::{ListenerSlot, WorkerCtx};

/// Bytes read per read call.
const READ_SIZE: usize = 16 * 1024;

/// Proxies one downstream TCP connection to the listener's cluster — or to the cluster a
/// plugin named in its `proxy_on_new_connection` with `set_envoy_filter_state`
/// (`envoy.tcp_proxy.cluster`), as Envoy's TCP proxy reads it (docs/wasm-host.md).
pub async fn proxy(
    mut downstream: TcpStream,
    info: ConnInfo,
    slot: Rc<ListenerSlot>,
    _worker: Rc<WorkerCtx>,
) {
    let listener = slot.current();
    let Some(default_cluster) = listener.config.tcp_cluster else {
        tracing::warn!(listener = %listener.config.name, "tcp listener without a cluster");
        return;
    };
    let mut extra = vec![crate::plugin::attributes::listener_direction(
        listener.config.traffic_direction,
    )];
    let cluster_name = &listener.snapshot.clusters.get(default_cluster).name;
    extra.extend(
        crate::plugin::attributes::route("", cluster_name)
            .into_iter()
            .skip(2),
    );
    let extra: std::sync::Arc<[(String, Bytes)]> = extra.into();
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
                    start: Some(std::time::SystemTime::now()),
                    connection_id: Some(info.id),
                    extra: extra.clone(),
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
    // The last plugin to set it wins, as the filter state holds one value.
    let chosen = contexts
        .iter()
        .rev()
        .find_map(|c| c.filter_state(TCP_PROXY_CLUSTER));
    let listener = slot.current();
    let cluster_index = match &chosen {
        None => default_cluster,
        Some(name) => {
            let name = String::from_utf8_lossy(name);
            match listener.snapshot.clusters.index_of(&name) {
                Some(index) => index,
                None => {
                    tracing::warn!(cluster = %name, peer = %info.peer, "closing tcp connection: a plugin chose a cluster (envoy.tcp_proxy.cluster) that does not exist");
                    return;
                }
            }
        }
    };
    let cluster = listener.snapshot.clusters.get(cluster_index).clone();
    let Some(endpoint) = listener.pick_endpoint(cluster_index).cloned() else {
        tracing::warn!(cluster = %cluster.name, peer = %info.peer, "no healthy upstream for tcp connection");
        return;
    };
    drop(listener);
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
