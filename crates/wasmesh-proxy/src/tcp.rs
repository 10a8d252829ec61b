//! TCP listeners: bytes to a cluster endpoint and back.

use std::rc::Rc;
use tokio::net::TcpStream;

use crate::chain::ConnInfo;
use crate::worker::{ListenerSlot, WorkerCtx};

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
    if let Err(e) = tokio::io::copy_bidirectional(&mut downstream, &mut upstream).await {
        tracing::debug!(peer = %info.peer, error = %e, "tcp proxy ended with an error");
    }
}
