//! Each worker's upstream connections: HTTP/1.1 pools of idle keep-alive connections and
//! one multiplexed HTTP/2 connection per endpoint.
//!
//! Requests without a body go through the lean HTTP/1.1 client of [`crate::h1`], on its own
//! pool; requests with a body or an upgrade through hyper's client.
//!
//! The pool lives on one worker thread only (`Rc` and `RefCell`, no lock): this is Envoy's
//! model of per-worker connection pools. An HTTP/1.1 connection goes back to the pool when
//! the response body it carried has been read to its end; a body dropped early takes its
//! connection with it, because the connection is then in an unknown state.

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::TokioIo;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;

use crate::body::{BodyError, ProxyBody};
use crate::cluster::{Cluster, ClusterProtocol, Endpoint};
use crate::error::ProxyError;
use crate::exec::LocalExec;
use crate::h1;

/// Idle HTTP/1.1 connections kept per endpoint; more than this are closed when they end.
const MAX_IDLE_PER_ENDPOINT: usize = 256;
/// How often idle connections are looked over: those the peer closed are let go.
pub const SWEEP_EVERY: Duration = Duration::from_secs(5);
/// Idle connections older than this many sweeps (a minute, as nginx's upstream
/// `keepalive_timeout`) are closed, so connections to endpoints that left do not linger.
const IDLE_SWEEPS: u32 = 12;

/// One worker's connections to every upstream endpoint it has talked to.
#[derive(Default)]
pub struct UpstreamPool {
    /// Idle lean connections, each with the sweep count when it went idle.
    lean: RefCell<HashMap<SocketAddr, Vec<(h1::Conn, u32)>>>,
    sweeps: Cell<u32>,
    /// Idle hyper HTTP/1.1 connections, each with its local address.
    idle: RefCell<HashMap<SocketAddr, Vec<H1Sender>>>,
    /// One HTTP/2 connection per endpoint, with its local address.
    h2: RefCell<HashMap<SocketAddr, H2Sender>>,
}

/// A hyper HTTP/1.1 connection's sender, and the connection's local address.
type H1Sender = (http1::SendRequest<ProxyBody>, Option<SocketAddr>);
/// An HTTP/2 connection's sender, and the connection's local address.
type H2Sender = (http2::SendRequest<ProxyBody>, Option<SocketAddr>);

/// A response's head and body, and the local address of the connection it came on
/// (`upstream.local_address`).
pub type Sent = (Response<ProxyBody>, Option<SocketAddr>);

/// Where a request goes: the cluster (for its protocol and timeouts) and the endpoint.
pub struct Target<'a> {
    pub cluster: &'a Cluster,
    pub endpoint: &'a Endpoint,
}

// === impl UpstreamPool ===

impl UpstreamPool {
    /// Sends a request to an endpoint and waits for the response headers.
    ///
    /// `upgrade` keeps the HTTP/1.1 connection out of the pool, because after a `101` it
    /// carries the upgraded protocol's bytes.
    pub async fn send(
        self: &Rc<Self>,
        target: Target<'_>,
        req: Request<ProxyBody>,
        upgrade: bool,
    ) -> Result<Sent, ProxyError> {
        match target.cluster.protocol {
            ClusterProtocol::Http1 => self.send_h1(target, req, upgrade).await,
            ClusterProtocol::Http2 => self.send_h2(target, req).await,
        }
    }

    async fn send_h1(
        self: &Rc<Self>,
        target: Target<'_>,
        mut req: Request<ProxyBody>,
        upgrade: bool,
    ) -> Result<Sent, ProxyError> {
        if !upgrade && req.body().is_end_stream() {
            return self.send_lean(target, req).await;
        }
        let addr = target.endpoint.addr;
        // Reuse an idle connection; one that the peer closed meanwhile gives the request
        // back unsent, and it is tried on the next one.
        while let Some((mut sender, local)) = self.take_idle(addr) {
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(req).await {
                Ok(resp) => return Ok((self.wrap_h1(resp, addr, sender, local, upgrade), local)),
                Err(mut e) => match e.take_message() {
                    Some(r) => req = r,
                    None => return Err(reset(&target, e.into_error())),
                },
            }
        }
        // Opening a connection is rare next to reusing one: boxed, it does not grow every
        // request's future (docs/performance.md, "Futures that move").
        let (mut sender, local) = Box::pin(open_h1(&target)).await?;
        let resp = sender.send_request(req).await.map_err(|e| reset(&target, e))?;
        Ok((self.wrap_h1(resp, addr, sender, local, upgrade), local))
    }

    /// A request without a body, on the lean client. A reused connection that turns out
    /// closed before the request was written is given up for the next (or a new) one. One
    /// closed after the request was written, without a byte of response, most likely idled
    /// out as the request went: an idempotent request is sent again, once, on a new
    /// connection; others fail (the upstream may have acted on them).
    async fn send_lean(
        self: &Rc<Self>,
        target: Target<'_>,
        req: Request<ProxyBody>,
    ) -> Result<Sent, ProxyError> {
        let (parts, _) = req.into_parts();
        let head = h1::encode_head(&parts);
        self.send_head(target, &head, &parts.method).await
    }

    /// [`UpstreamPool::send_lean`] for a request head already encoded (by
    /// [`h1::encode_upstream_head`]) to an HTTP/1.1 cluster's endpoint.
    pub async fn send_head(
        self: &Rc<Self>,
        target: Target<'_>,
        head: &[u8],
        method: &http::Method,
    ) -> Result<Sent, ProxyError> {
        let addr = target.endpoint.addr;
        while let Some(mut conn) = self.take_lean(addr) {
            match conn.send(head, method).await {
                Ok(resp) => return Ok(self.wrap_lean(resp, conn, addr)),
                Err(h1::Error::NotSent) => continue,
                Err(h1::Error::Closed) if h1::is_idempotent(method) => break,
                Err(e) => return Err(lean_error(&target, e)),
            }
        }
        let mut conn = h1::Conn::new(Box::pin(connect(&target)).await?);
        match conn.send(head, method).await {
            Ok(resp) => Ok(self.wrap_lean(resp, conn, addr)),
            Err(e) => Err(lean_error(&target, e)),
        }
    }

    fn wrap_lean(self: &Rc<Self>, head: h1::Head, conn: h1::Conn, addr: SocketAddr) -> Sent {
        let local = conn.local;
        let body = h1::body(&head, conn, Home::new(self, addr));
        (Response::from_parts(head.parts, body), local)
    }

    pub(crate) fn take_lean(&self, addr: SocketAddr) -> Option<h1::Conn> {
        let mut lean = self.lean.borrow_mut();
        let list = lean.get_mut(&addr)?;
        while let Some((conn, _)) = list.pop() {
            if conn.is_reusable() {
                return Some(conn);
            }
        }
        None
    }

    /// Looks over the idle connections every [`SWEEP_EVERY`] while the pool lives: those
    /// the peer closed, and those idle for [`IDLE_SWEEPS`] sweeps, are closed.
    pub async fn sweep_every(pool: Weak<UpstreamPool>) {
        loop {
            tokio::time::sleep(SWEEP_EVERY).await;
            let Some(pool) = pool.upgrade() else { return };
            pool.sweep();
        }
    }

    pub(crate) fn sweep(&self) {
        let now = self.sweeps.get().wrapping_add(1);
        self.sweeps.set(now);
        let mut lean = self.lean.borrow_mut();
        for list in lean.values_mut() {
            list.retain(|(conn, since)| now.wrapping_sub(*since) < IDLE_SWEEPS && conn.is_reusable());
        }
        lean.retain(|_, list| !list.is_empty());
        let mut idle = self.idle.borrow_mut();
        for list in idle.values_mut() {
            list.retain(|(sender, _)| !sender.is_closed());
        }
        idle.retain(|_, list| !list.is_empty());
    }

    fn wrap_h1(
        self: &Rc<Self>,
        resp: Response<Incoming>,
        addr: SocketAddr,
        sender: http1::SendRequest<ProxyBody>,
        local: Option<SocketAddr>,
        upgrade: bool,
    ) -> Response<ProxyBody> {
        if upgrade && resp.status() == http::StatusCode::SWITCHING_PROTOCOLS {
            return resp.map(ProxyBody::Incoming);
        }
        let giveback = Giveback {
            pool: Rc::downgrade(self),
            addr,
            sender,
            local,
        };
        resp.map(|body| {
            let mut body = PooledBody {
                inner: body,
                giveback: Some(giveback),
            };
            body.maybe_give_back();
            ProxyBody::Upstream(body)
        })
    }

    fn take_idle(&self, addr: SocketAddr) -> Option<H1Sender> {
        let mut idle = self.idle.borrow_mut();
        let list = idle.get_mut(&addr)?;
        while let Some(s) = list.pop() {
            if !s.0.is_closed() {
                return Some(s);
            }
        }
        None
    }

    fn give_back(&self, addr: SocketAddr, sender: http1::SendRequest<ProxyBody>, local: Option<SocketAddr>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.borrow_mut();
        let list = idle.entry(addr).or_default();
        if list.len() < MAX_IDLE_PER_ENDPOINT {
            list.push((sender, local));
        }
    }

    async fn send_h2(
        self: &Rc<Self>,
        target: Target<'_>,
        req: Request<ProxyBody>,
    ) -> Result<Sent, ProxyError> {
        let addr = target.endpoint.addr;
        let existing = self.h2.borrow().get(&addr).cloned();
        let (mut sender, local) = match existing {
            Some((s, local)) if !s.is_closed() => (s, local),
            _ => {
                let opened = Box::pin(open_h2(&target)).await?;
                self.h2.borrow_mut().insert(addr, opened.clone());
                opened
            }
        };
        sender.ready().await.map_err(|e| reset(&target, e))?;
        let resp = sender.send_request(req).await.map_err(|e| reset(&target, e))?;
        Ok((resp.map(ProxyBody::Incoming), local))
    }
}

/// A new hyper HTTP/1.1 connection to the target's endpoint, its driver spawned.
async fn open_h1(target: &Target<'_>) -> Result<H1Sender, ProxyError> {
    let stream = connect(target).await?;
    let local = stream.local_addr().ok();
    // The same limits on a response head as the lean client's.
    let (sender, conn) = http1::Builder::new()
        .max_buf_size(h1::MAX_HEAD_BYTES)
        .max_headers(crate::worker::MAX_HEADERS)
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|e| reset(target, e))?;
    tokio::task::spawn_local(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(error = %e, "upstream connection ended with an error");
        }
    });
    Ok((sender, local))
}

/// A new HTTP/2 connection to the target's endpoint, its driver spawned.
async fn open_h2(target: &Target<'_>) -> Result<H2Sender, ProxyError> {
    let stream = connect(target).await?;
    let local = stream.local_addr().ok();
    let (sender, conn) = http2::Builder::new(LocalExec)
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|e| reset(target, e))?;
    tokio::task::spawn_local(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "upstream h2 connection ended with an error");
        }
    });
    Ok((sender, local))
}

async fn connect(target: &Target<'_>) -> Result<TcpStream, ProxyError> {
    let timeout = target.cluster.connect_timeout;
    let stream = tokio::time::timeout(timeout, TcpStream::connect(target.endpoint.addr))
        .await
        .map_err(|_| ProxyError::UpstreamConnectTimeout {
            cluster: target.cluster.name.clone(),
            endpoint: target.endpoint.authority.clone(),
            timeout,
        })?
        .map_err(|source| ProxyError::UpstreamConnect {
            cluster: target.cluster.name.clone(),
            endpoint: target.endpoint.authority.clone(),
            source,
        })?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// hyper's error as the router reports it: a response hyper could not parse is the
/// upstream's protocol error (502), as on the lean client; anything else a reset (503).
fn reset(target: &Target<'_>, source: hyper::Error) -> ProxyError {
    if crate::body::DownstreamBodyError::is_cause_of(&source) {
        // The request body the client sent broke its framing: the client's fault.
        return ProxyError::BadRequest(error_chain(&source));
    }
    upstream_failure(target, source.is_parse(), source.into())
}

/// An error and its causes, `: `-separated, each said once.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        let s = e.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        next = e.source();
    }
    text
}

/// The lean client's error as the router reports it, as [`reset`] does hyper's.
fn lean_error(target: &Target<'_>, e: h1::Error) -> ProxyError {
    let protocol = matches!(e, h1::Error::Malformed(_));
    upstream_failure(target, protocol, e.into())
}

fn upstream_failure(target: &Target<'_>, protocol: bool, source: BodyError) -> ProxyError {
    let cluster = target.cluster.name.clone();
    let endpoint = target.endpoint.authority.clone();
    if protocol {
        ProxyError::UpstreamProtocol {
            cluster,
            endpoint,
            source,
        }
    } else {
        ProxyError::UpstreamReset {
            cluster,
            endpoint,
            source,
        }
    }
}

/// Where a lean connection goes back to when the response it carried has ended.
pub struct Home {
    pool: Weak<UpstreamPool>,
    addr: SocketAddr,
}

impl Home {
    pub fn new(pool: &Rc<UpstreamPool>, addr: SocketAddr) -> Home {
        Home {
            pool: Rc::downgrade(pool),
            addr,
        }
    }

    pub fn give_back(self, conn: h1::Conn) {
        let Some(pool) = self.pool.upgrade() else { return };
        let mut lean = pool.lean.borrow_mut();
        let list = lean.entry(self.addr).or_default();
        if list.len() < MAX_IDLE_PER_ENDPOINT {
            list.push((conn, pool.sweeps.get()));
        }
    }
}

/// What a finished response body hands back to the pool.
struct Giveback {
    pool: Weak<UpstreamPool>,
    addr: SocketAddr,
    sender: http1::SendRequest<ProxyBody>,
    local: Option<SocketAddr>,
}

/// A response body from a pooled HTTP/1.1 connection.
pub struct PooledBody {
    inner: Incoming,
    giveback: Option<Giveback>,
}

// === impl PooledBody ===

impl PooledBody {
    fn maybe_give_back(&mut self) {
        if self.inner.is_end_stream() {
            self.give_back();
        }
    }

    fn give_back(&mut self) {
        if let Some(g) = self.giveback.take() {
            if let Some(pool) = g.pool.upgrade() {
                pool.give_back(g.addr, g.sender, g.local);
            }
        }
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => this.give_back(),
            Poll::Ready(Some(Ok(_))) => this.maybe_give_back(),
            Poll::Ready(Some(Err(_))) => this.giveback = None,
            Poll::Pending => {}
        }
        polled.map_err(|e| e.into())
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
