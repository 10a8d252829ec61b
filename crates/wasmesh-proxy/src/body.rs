//! The one body type that flows through the proxy, in both directions.
//!
//! An enum rather than a boxed trait object, so that the common cases — a body streamed
//! untouched from the downstream connection to the upstream one, or back — cost no
//! allocation and no dynamic dispatch.

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

use crate::h1::H1Body;
use crate::upstream::PooledBody;

/// The error a body frame can fail with.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// A downstream request body that broke its framing (a bad chunk-size line, a body cut
/// short, oversized trailers): the client's fault, which the router reports as 400 `DPE`
/// rather than as the upstream's failure.
#[derive(Debug, thiserror::Error)]
#[error("malformed request body: {0}")]
pub struct DownstreamBodyError(#[source] pub hyper::Error);

impl DownstreamBodyError {
    /// True when `error`, or an error behind it, is a downstream body's.
    pub fn is_cause_of(error: &(dyn std::error::Error + 'static)) -> bool {
        let mut next = Some(error);
        while let Some(e) = next {
            if e.is::<DownstreamBodyError>() {
                return true;
            }
            next = e.source();
        }
        false
    }
}

/// A request or response body as it passes through the proxy.
pub enum ProxyBody {
    /// No body at all.
    Empty,
    /// A body held in memory (local replies, buffered bodies), with optional trailers.
    Full {
        data: Option<Bytes>,
        trailers: Option<HeaderMap>,
    },
    /// A body still arriving from a connection.
    Incoming(Incoming),
    /// A request body still arriving, its bytes counted for the stats as they pass.
    Counted { inner: Incoming, count: Arc<AtomicU64> },
    /// A response body from a pooled upstream connection, which hands the connection back
    /// to its pool when the body ends.
    Upstream(PooledBody),
    /// A response body read from an upstream HTTP/1.1 connection by the lean client.
    H1(H1Body),
    /// A body whose frames passed plugins on another task.
    Channel(mpsc::Receiver<Result<Frame<Bytes>, BodyError>>),
}

// === impl ProxyBody ===

impl ProxyBody {
    /// A body made of one piece of data.
    pub fn full(data: impl Into<Bytes>) -> Self {
        let data = data.into();
        ProxyBody::Full {
            data: (!data.is_empty()).then_some(data),
            trailers: None,
        }
    }
}

/// [`ProxyBody::Counted`] is only ever a downstream request's body (the handler counts
/// every request body that is not empty).
fn downstream(e: hyper::Error) -> BodyError {
    Box::new(DownstreamBodyError(e))
}

impl From<Incoming> for ProxyBody {
    fn from(body: Incoming) -> Self {
        ProxyBody::Incoming(body)
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            ProxyBody::Empty => Poll::Ready(None),
            ProxyBody::Full { data, trailers } => {
                if let Some(data) = data.take() {
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Poll::Ready(trailers.take().map(|t| Ok(Frame::trailers(t))))
            }
            ProxyBody::Incoming(body) => Pin::new(body).poll_frame(cx).map_err(|e| e.into()),
            ProxyBody::Counted { inner, count } => {
                let polled = Pin::new(inner).poll_frame(cx);
                if let Poll::Ready(Some(Ok(frame))) = &polled {
                    if let Some(data) = frame.data_ref() {
                        count.fetch_add(data.len() as u64, Relaxed);
                    }
                }
                polled.map_err(downstream)
            }
            ProxyBody::Upstream(body) => Pin::new(body).poll_frame(cx),
            ProxyBody::H1(body) => Pin::new(body).poll_frame(cx),
            ProxyBody::Channel(rx) => rx.poll_recv(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ProxyBody::Empty => true,
            ProxyBody::Full { data, trailers } => data.is_none() && trailers.is_none(),
            ProxyBody::Incoming(body) => body.is_end_stream(),
            ProxyBody::Counted { inner, .. } => inner.is_end_stream(),
            ProxyBody::Upstream(body) => body.is_end_stream(),
            ProxyBody::H1(body) => body.is_end_stream(),
            ProxyBody::Channel(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ProxyBody::Empty => SizeHint::with_exact(0),
            ProxyBody::Full { data, trailers } => match (data, trailers) {
                (Some(d), None) => SizeHint::with_exact(d.len() as u64),
                (None, None) => SizeHint::with_exact(0),
                _ => SizeHint::default(),
            },
            ProxyBody::Incoming(body) => body.size_hint(),
            ProxyBody::Counted { inner, .. } => inner.size_hint(),
            ProxyBody::Upstream(body) => body.size_hint(),
            ProxyBody::H1(body) => body.size_hint(),
            ProxyBody::Channel(_) => SizeHint::default(),
        }
    }
}
