//! Listening sockets and the connections they accept: plain HTTP (HTTP/1.1 and h2c), TLS
//! (HTTP/1.1 and h2 by ALPN) and raw TCP.

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use socket2::{Domain, Protocol, Socket, Type};
use std::net::SocketAddr;
use std::rc::Rc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

use crate::chain::ConnInfo;
use crate::handler;
use crate::snapshot::ListenerProtocol;
use crate::worker::{ConnCtx, ListenerSlot, WorkerCtx};

/// Binds a listening socket that every worker can bind too (`SO_REUSEPORT`): the kernel
/// spreads new connections over the workers.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_tcp_nodelay(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}

/// Accepts connections until the task is aborted (reload or shutdown).
pub async fn accept_loop(tcp: TcpListener, slot: Rc<ListenerSlot>, worker: Rc<WorkerCtx>) {
    loop {
        let (stream, peer) = match tcp.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of descriptors and the like: back off briefly rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().unwrap_or(peer);
        let guard = worker.track();
        let slot = slot.clone();
        let worker = worker.clone();
        tokio::task::spawn_local(async move {
            let _guard = guard;
            serve(stream, peer, local, slot, worker).await;
        });
    }
}

async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    slot: Rc<ListenerSlot>,
    worker: Rc<WorkerCtx>,
) {
    let listener = slot.current();
    let info = ConnInfo {
        peer,
        local,
        sni: None,
        tls: false,
    };
    match (listener.config.protocol, &listener.config.tls) {
        (ListenerProtocol::Tcp, _) => {
            drop(listener);
            crate::tcp::proxy(stream, info, slot, worker).await
        }
        (ListenerProtocol::Http, None) => {
            drop(listener);
            let conn = Rc::new(ConnCtx { info, slot, worker });
            // The common requests on the lean path; from the first that needs more on,
            // hyper's server, with the bytes read so far replayed to it.
            let mut stream = stream;
            if let Some(read) = crate::h1_server::serve(&mut stream, &conn).await {
                serve_http(crate::h1_server::Prefixed::new(read, stream), conn).await
            }
        }
        (ListenerProtocol::Http, Some(tls)) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.config.clone());
            drop(listener);
            match acceptor.accept(stream).await {
                Ok(tls_stream) => {
                    let sni = tls_stream.get_ref().1.server_name().map(str::to_string);
                    let info = ConnInfo {
                        sni,
                        tls: true,
                        ..info
                    };
                    let conn = Rc::new(ConnCtx { info, slot, worker });
                    serve_http(tls_stream, conn).await
                }
                Err(e) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
            }
        }
    }
}

async fn serve_http<I>(io: I, conn: Rc<ConnCtx>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let peer = conn.info.peer;
    let worker = conn.worker.clone();
    let service = service_fn(move |req| handler::handle(req, conn.clone()));
    let mut shutdown = worker.shutdown.clone();
    let connection = worker
        .http
        .serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        r = connection.as_mut() => r,
        _ = shutdown.wait_for(|s| *s) => {
            // Drain: finish the requests in flight, refuse new ones (GOAWAY on h2,
            // `connection: close` on HTTP/1.1).
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}
