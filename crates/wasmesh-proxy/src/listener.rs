//! Listening sockets and the connections they accept: plain HTTP (HTTP/1.1 and h2c), TLS
//! (HTTP/1.1 and h2 by ALPN) and raw TCP.
//!
//! Every wait on a client is bounded by the listener's settings: the TLS handshake
//! (`tls.handshakeTimeout`), a request head (`http.requestHeadersTimeout`, hyper's header
//! timer on HTTP/1.1) and a connection with no request in flight (`http.idleTimeout`,
//! [`idle_out`], which hyper has no setting for on HTTP/2).

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use socket2::{Domain, Protocol, Socket, Type};
use std::cell::Cell;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use crate::chain::ConnInfo;
use crate::handler;
use crate::metered::Metered;
use crate::snapshot::{HttpTimeouts, ListenerProtocol};
use crate::worker::{ConnCtx, ListenerSlot, WorkerCtx};

/// How long a TLS connection the lean path ends may take to take its close_notify.
const CLOSE_NOTIFY_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

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
        id: crate::chain::next_connection_id(),
        peer,
        local,
        sni: None,
        tls: None,
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
            let handshake_timeout = tls.handshake_timeout;
            let certificates = tls.certificates.clone();
            drop(listener);
            let Ok(accepted) = tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await else {
                tracing::debug!(%peer, timeout = ?handshake_timeout, "TLS handshake not finished in time; closing");
                return;
            };
            match accepted {
                Ok(tls_stream) => {
                    let session = tls_stream.get_ref().1;
                    let sni = session.server_name().map(str::to_string);
                    let local = &certificates.pick(session.server_name()).facts;
                    let facts = crate::certificate::connection(session.protocol_version(), local);
                    let info = ConnInfo {
                        sni,
                        tls: Some(Arc::new(facts)),
                        ..info
                    };
                    let h2 = session.alpn_protocol() == Some(b"h2");
                    let conn = Rc::new(ConnCtx { info, slot, worker });
                    if h2 {
                        return serve_http(tls_stream, conn).await;
                    }
                    // HTTP/1.1 over TLS takes the lean path too, as over plain TCP.
                    let mut stream = tls_stream;
                    match crate::h1_server::serve(&mut stream, &conn).await {
                        Some(read) => serve_http(crate::h1_server::Prefixed::new(read, stream), conn).await,
                        // The lean path closed it: with a close_notify, as hyper would, for a
                        // bounded time.
                        None => {
                            let _ = tokio::time::timeout(CLOSE_NOTIFY_WAIT, stream.shutdown()).await;
                        }
                    }
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
    let (http, timeouts) = {
        let listener = conn.slot.current();
        (listener.http.clone(), listener.config.timeouts)
    };
    let activity = Rc::new(Activity::new());
    let streams = activity.clone();
    let service = service_fn(move |req| {
        let open = Open::new(&streams);
        let response = handler::handle(req, conn.clone());
        async move {
            let response = response.await?;
            Ok::<_, crate::error::ProxyError>(response.map(|body| Tracked { body, _open: open }))
        }
    });
    let mut shutdown = worker.shutdown.clone();
    let connection = http.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        r = connection.as_mut() => r,
        _ = shutdown.wait_for(|s| *s) => {
            // Drain: finish the requests in flight, refuse new ones (GOAWAY on h2,
            // `connection: close` on HTTP/1.1).
            connection.as_mut().graceful_shutdown();
            connection.await
        }
        () = idle_out(&activity, timeouts) => {
            tracing::debug!(%peer, "closing a connection with no request in flight");
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// The requests (HTTP/2 streams) of one connection in flight, and since when there is none.
struct Activity {
    open: Cell<usize>,
    idle_since: Cell<Instant>,
    /// Whether a request has come yet.
    served: Cell<bool>,
}

impl Activity {
    fn new() -> Self {
        Activity {
            open: Cell::new(0),
            idle_since: Cell::new(Instant::now()),
            served: Cell::new(false),
        }
    }
}

/// One request in flight, from its head to the end (or drop) of its response body.
struct Open(Rc<Activity>);

impl Open {
    fn new(activity: &Rc<Activity>) -> Self {
        activity.open.set(activity.open.get() + 1);
        activity.served.set(true);
        Open(activity.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        let open = self.0.open.get() - 1;
        self.0.open.set(open);
        if open == 0 {
            self.0.idle_since.set(Instant::now());
        }
    }
}

/// Ends when the connection has had no request in flight for the idle timeout — before its
/// first request, for the request-headers timeout if that is shorter: on HTTP/2 a request
/// reaches the service only with its whole header block, so a client that connects and
/// sends nothing, or half a header block, is bounded here. The timer is moved only when it
/// fires, not on every request.
async fn idle_out(activity: &Activity, timeouts: HttpTimeouts) {
    let limit = || {
        if activity.served.get() {
            timeouts.idle
        } else {
            timeouts.request_headers.min(timeouts.idle)
        }
    };
    let sleep = tokio::time::sleep(limit());
    tokio::pin!(sleep);
    loop {
        sleep.as_mut().await;
        let due = if activity.open.get() > 0 {
            Instant::now() + timeouts.idle
        } else {
            activity.idle_since.get() + limit()
        };
        if due <= Instant::now() {
            return;
        }
        sleep.as_mut().reset(due);
    }
}

/// A response body that keeps its request counted as in flight until it is done.
struct Tracked {
    body: Metered,
    _open: Open,
}

impl Body for Tracked {
    type Data = Bytes;
    type Error = <Metered as Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
