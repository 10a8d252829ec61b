//! Byte tunnels: upgraded HTTP/1.1 connections (WebSocket) and TCP listeners.

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

/// Copies bytes both ways between an upgraded downstream and upstream connection until
/// either side closes.
pub async fn splice_upgrades(downstream: OnUpgrade, upstream: OnUpgrade) {
    let (down, up) = match tokio::try_join!(downstream, upstream) {
        Ok(pair) => pair,
        Err(e) => {
            tracing::debug!(error = %e, "upgrade did not complete");
            return;
        }
    };
    let mut down = TokioIo::new(down);
    let mut up = TokioIo::new(up);
    if let Err(e) = tokio::io::copy_bidirectional(&mut down, &mut up).await {
        tracing::debug!(error = %e, "upgraded connection ended with an error");
    }
}
