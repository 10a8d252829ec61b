//! What plugins reach through the host on one worker: `http_call` and gRPC calls to the
//! proxy's clusters (over the worker's own upstream pool), and worker-wide properties.
//!
//! An answer is read whole before the plugin sees it, so its body is bounded
//! ([`MAX_CALL_ANSWER_BYTES`]): past it the call fails — the plugin gets an empty answer to
//! `http_call`, `RESOURCE_EXHAUSTED` to `grpc_call` — and the connection is dropped; the
//! proxy's memory does not follow the upstream's answer.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures::future::LocalBoxFuture;
use http::{header, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Limited};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use wasmesh_wasm::{
    CallError, GrpcCallRequest, GrpcCallResponse, GrpcCallResult, HeaderMap as WasmHeaders, Host,
    HttpCallRequest, HttpCallResponse, HttpCallResult, NodeInfo,
};

use super::headers::trailers_to_wasm;
use crate::body::ProxyBody;
use crate::chain::head::StreamHead;
use crate::cluster::{Cluster, ClusterProtocol, Clusters, Endpoint};
use crate::forward;
use crate::upstream::{Target, UpstreamPool};

/// The largest answer body of an `http_call` or `grpc_call`. Envoy's async client buffers
/// the whole answer too; 4 MiB is gRPC's default receive limit, and far more than an
/// authorization service or a token endpoint answers.
pub const MAX_CALL_ANSWER_BYTES: usize = 4 << 20;

/// gRPC's status for a message over the receive limit.
const GRPC_RESOURCE_EXHAUSTED: u32 = 8;

/// Why a call's answer was not delivered.
enum Unanswered {
    /// No answer: connection, protocol or timeout.
    Call(CallError),
    /// The answer's body passed [`MAX_CALL_ANSWER_BYTES`].
    TooLarge,
}

impl From<CallError> for Unanswered {
    fn from(e: CallError) -> Self {
        Unanswered::Call(e)
    }
}

fn too_large() -> String {
    format!(
        "the answer's body is larger than {} MiB, the limit of a plugin's call",
        MAX_CALL_ANSWER_BYTES >> 20
    )
}

/// One worker's [`Host`].
pub struct WorkerHost {
    pool: Rc<UpstreamPool>,
    clusters: RefCell<Arc<Clusters>>,
    next: Cell<usize>,
    /// Envoy's `node`: the workload's identity and Istio's node metadata.
    node: RefCell<Arc<NodeInfo>>,
}

impl WorkerHost {
    pub fn new(pool: Rc<UpstreamPool>) -> Self {
        WorkerHost {
            pool,
            clusters: RefCell::new(Arc::new(Clusters::default())),
            next: Cell::new(0),
            node: RefCell::new(Arc::new(NodeInfo::default())),
        }
    }

    /// Follows a new snapshot's clusters.
    pub fn update(&self, clusters: Arc<Clusters>, node: NodeInfo) {
        *self.clusters.borrow_mut() = clusters;
        *self.node.borrow_mut() = Arc::new(node);
    }

    fn target(&self, name: &str) -> Result<(Arc<Cluster>, Endpoint), CallError> {
        let clusters = self.clusters.borrow();
        let cluster = clusters
            .by_name(name)
            .cloned()
            .ok_or_else(|| CallError::UnknownCluster(name.to_string()))?;
        if cluster.endpoints.is_empty() {
            return Err(CallError::Failed(format!("cluster {name} has no endpoints")));
        }
        let n = self.next.get();
        self.next.set(n.wrapping_add(1));
        let endpoint = cluster.endpoints[n % cluster.endpoints.len()].clone();
        Ok((cluster, endpoint))
    }
}

/// Sends one request to a cluster and reads the whole answer, up to
/// [`MAX_CALL_ANSWER_BYTES`] of body (past it the answer is dropped unread, and with it the
/// connection).
async fn call(
    pool: Rc<UpstreamPool>,
    cluster: Arc<Cluster>,
    endpoint: Endpoint,
    mut parts: http::request::Parts,
    body: Bytes,
) -> Result<(http::response::Parts, Bytes, http::HeaderMap), Unanswered> {
    forward::to_upstream(&mut parts, cluster.protocol, &endpoint, None);
    let req = Request::from_parts(parts, ProxyBody::full(body));
    let (resp, _local) = pool
        .send(
            Target {
                cluster: &cluster,
                endpoint: &endpoint,
            },
            req,
            false,
        )
        .await
        .map_err(|e| CallError::Failed(e.to_string()))?;
    let (parts, body) = resp.into_parts();
    let collected = Limited::new(body, MAX_CALL_ANSWER_BYTES)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                tracing::warn!(cluster = %cluster.name, "a plugin's call failed: {}", too_large());
                Unanswered::TooLarge
            } else {
                Unanswered::Call(CallError::Failed(format!("reading the answer: {e}")))
            }
        })?;
    let trailers = collected.trailers().cloned().unwrap_or_default();
    Ok((parts, collected.to_bytes(), trailers))
}

impl Host for WorkerHost {
    fn http_call(
        &self,
        request: HttpCallRequest,
    ) -> Result<LocalBoxFuture<'static, HttpCallResult>, CallError> {
        let (cluster, endpoint) = self.target(&request.cluster)?;
        let pool = self.pool.clone();
        // The plugin's pairs, pseudo-headers included, read as a request head.
        let mut head = StreamHead {
            request: Request::new(()).into_parts().0,
            tls: false,
            response: None,
            progress: Default::default(),
        };
        wasmesh_wasm::StreamHeaders::set_all(&mut head, wasmesh_wasm::HeadersKind::Request, request.headers);
        let parts = head.request;
        let timeout = request.timeout;
        let body = request.body;
        Ok(Box::pin(async move {
            let answer = tokio::time::timeout(timeout, call(pool, cluster, endpoint, parts, body))
                .await
                .map_err(|_| CallError::Timeout)?;
            // A failed call reaches the plugin as an answer with nothing in it.
            let (parts, body, trailers) = answer.map_err(|e| match e {
                Unanswered::Call(e) => e,
                Unanswered::TooLarge => CallError::Failed(too_large()),
            })?;
            let mut headers = WasmHeaders::new();
            headers.add(":status", Bytes::from(parts.status.as_str().to_owned()));
            for (k, v) in &parts.headers {
                headers.add(k.as_str(), Bytes::copy_from_slice(v.as_bytes()));
            }
            Ok(HttpCallResponse {
                headers,
                body,
                trailers: trailers_to_wasm(&trailers),
            })
        }))
    }

    fn grpc_call(
        &self,
        request: GrpcCallRequest,
    ) -> Result<LocalBoxFuture<'static, GrpcCallResult>, CallError> {
        let (cluster, endpoint) = self.target(&request.cluster)?;
        if cluster.protocol != ClusterProtocol::Http2 {
            return Err(CallError::Failed(format!(
                "gRPC needs an http2 cluster; {} is http1",
                cluster.name
            )));
        }
        let pool = self.pool.clone();
        let mut parts = Request::new(()).into_parts().0;
        parts.method = Method::POST;
        parts.uri = Uri::try_from(format!("/{}/{}", request.service, request.method))
            .map_err(|e| CallError::Failed(format!("bad gRPC method name: {e}")))?;
        for (k, v) in request.initial_metadata.into_pairs() {
            if let (Ok(k), Ok(v)) = (
                header::HeaderName::from_bytes(&k),
                HeaderValue::from_maybe_shared(v),
            ) {
                parts.headers.append(k, v);
            }
        }
        parts.headers.insert(
            header::HOST,
            HeaderValue::from_str(&endpoint.authority).unwrap_or(HeaderValue::from_static("localhost")),
        );
        parts
            .headers
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        parts
            .headers
            .insert(header::TE, HeaderValue::from_static("trailers"));
        let mut framed = BytesMut::with_capacity(5 + request.message.len());
        framed.put_u8(0);
        framed.put_u32(request.message.len() as u32);
        framed.put_slice(&request.message);
        let timeout = request.timeout;
        Ok(Box::pin(async move {
            let answer = tokio::time::timeout(timeout, call(pool, cluster, endpoint, parts, framed.freeze()))
                .await
                .map_err(|_| CallError::Timeout)?;
            let (parts, body, trailers) = match answer {
                Ok(answer) => answer,
                Err(Unanswered::Call(e)) => return Err(e),
                // As gRPC clients answer a message over their receive limit.
                Err(Unanswered::TooLarge) => {
                    return Ok(GrpcCallResponse {
                        status: GRPC_RESOURCE_EXHAUSTED,
                        status_message: Some(too_large()),
                        ..Default::default()
                    })
                }
            };
            // A trailers-only answer carries grpc-status in the headers.
            let status_from = |m: &http::HeaderMap| {
                m.get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u32>().ok())
            };
            let status = status_from(&trailers)
                .or_else(|| status_from(&parts.headers))
                .unwrap_or(2);
            let status_message = trailers
                .get("grpc-message")
                .or_else(|| parts.headers.get("grpc-message"))
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let mut body = body;
            let message = if body.len() >= 5 {
                body.advance(1);
                let len = body.get_u32() as usize;
                body.slice(..len.min(body.len()))
            } else {
                Bytes::new()
            };
            Ok(GrpcCallResponse {
                initial_metadata: parts
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_str().as_bytes(), v.as_bytes()))
                    .collect(),
                message,
                trailing_metadata: trailers_to_wasm(&trailers),
                status,
                status_message,
            })
        }))
    }

    fn node(&self) -> Option<Arc<NodeInfo>> {
        Some(self.node.borrow().clone())
    }
}
