//! The listener: HTTP/1.1 on loopback, one task per connection, and the outage hook (the
//! listener closed so that connections are refused, open connections dropped, then the same
//! port bound again).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::handlers::handle;
use super::shared::Shared;

/// Binds `addr` so that it can be bound again at once after an outage.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Accepts connections until aborted; each ends when `outages` moves on.
pub fn serve(listener: TcpListener, shared: Arc<Shared>, outages: watch::Receiver<u64>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                // out of descriptors, say: try again shortly rather than spin
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let shared = Arc::clone(&shared);
            let mut outages = outages.clone();
            outages.mark_unchanged();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let shared = Arc::clone(&shared);
                    async move { Ok::<_, std::convert::Infallible>(handle(shared, request).await) }
                });
                let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                tokio::select! {
                    // an error on one connection concerns only its client
                    _ = connection => {}
                    _ = outages.changed() => {}
                }
            });
        }
    })
}

/// Binds `addr` again, retrying for a while if the port is not free yet.
pub async fn rebind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let mut tries = 0;
    loop {
        match bind(addr) {
            Ok(listener) => return Ok(listener),
            Err(e) if tries >= 100 => return Err(e),
            Err(_) => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}
