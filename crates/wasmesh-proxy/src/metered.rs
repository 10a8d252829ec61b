//! The response body hyper writes downstream. It counts the bytes that pass and records the
//! request's stats (Istio's request count, duration, request and response sizes) as soon as
//! the end of the response is known — before its last bytes are written, so a client that
//! has the whole response finds the request counted — or when the body is dropped early (a
//! reset). Sizes are the bytes that passed, whether or not a `content-length` announced
//! them.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::body::{BodyError, ProxyBody};
use crate::stats::Series;

/// What is recorded when the response ends.
pub struct Record {
    pub series: Arc<Series>,
    pub start: Instant,
    /// The request body's bytes, counted as they went upstream (`None`: it had none).
    pub request_bytes: Option<Arc<AtomicU64>>,
}

/// A response body that records its request's stats when it ends.
pub struct Metered {
    inner: ProxyBody,
    sent: u64,
    record: Option<Record>,
}

impl Metered {
    pub fn new(inner: ProxyBody, record: Record) -> Self {
        let mut body = Metered {
            inner,
            sent: 0,
            record: Some(record),
        };
        // hyper may never poll a body that is already at its end.
        if body.inner.is_end_stream() {
            body.finish();
        }
        body
    }

    fn finish(&mut self) {
        if let Some(r) = self.record.take() {
            let request_bytes = r.request_bytes.map_or(0, |n| n.load(Relaxed));
            r.series.observe(r.start.elapsed(), request_bytes, self.sent);
        }
    }
}

impl Body for Metered {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.sent += data.len() as u64;
                }
                if this.inner.is_end_stream() {
                    this.finish();
                }
            }
            Poll::Ready(_) => this.finish(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests;
