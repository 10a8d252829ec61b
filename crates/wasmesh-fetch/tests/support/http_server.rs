//! Small HTTP servers run in-process on loopback: each request goes to a handler that sees
//! the path and how many requests came before it.

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::{body::Frame, Request, Response, StatusCode};
use std::{
    convert::Infallible,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

pub type Body = BoxBody<Bytes, Infallible>;

pub struct Server {
    pub addr: std::net::SocketAddr,
    pub hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `handler(path, request number starting at 0)`.
pub async fn serve<F>(handler: F) -> Server
where
    F: Fn(&str, usize) -> Response<Body> + Send + Sync + 'static,
{
    serve_request(move |req, n| handler(req.uri.path(), n)).await
}

/// Serves `handler(request head, request number starting at 0)`.
pub async fn serve_request<F>(handler: F) -> Server
where
    F: Fn(&hyper::http::request::Parts, usize) -> Response<Body> + Send + Sync + 'static,
{
    serve_inner(None, handler).await
}

/// [`serve`] over TLS with the PEM certificate chain and key given.
pub async fn serve_tls<F>(cert_pem: &str, key_pem: &str, handler: F) -> Server
where
    F: Fn(&str, usize) -> Response<Body> + Send + Sync + 'static,
{
    use tokio_rustls::rustls::{
        self,
        pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer},
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    serve_inner(Some(acceptor), move |req, n| handler(req.uri.path(), n)).await
}

async fn serve_inner<F>(tls: Option<tokio_rustls::TlsAcceptor>, handler: F) -> Server
where
    F: Fn(&hyper::http::request::Parts, usize) -> Response<Body> + Send + Sync + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let handler = Arc::new(handler);
    let counter = hits.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (handler, counter, tls) = (handler.clone(), counter.clone(), tls.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                    let n = counter.fetch_add(1, Ordering::SeqCst);
                    let (parts, _) = req.into_parts();
                    let response = handler(&parts, n);
                    async move { Ok::<_, Infallible>(response) }
                });
                let http = hyper::server::conn::http1::Builder::new();
                match tls {
                    None => {
                        let _ = http
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    }
                    Some(acceptor) => {
                        // A client that refuses our certificate ends the handshake; that is fine.
                        if let Ok(stream) = acceptor.accept(stream).await {
                            let _ = http
                                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                                .await;
                        }
                    }
                }
            });
        }
    });
    Server { addr, hits, task }
}

pub fn bytes(status: u16, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .body(Full::new(body.into()).boxed())
        .unwrap()
}

/// A body that sends its headers, then never a byte.
pub fn hang() -> Response<Body> {
    let stream = futures::stream::once(async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok::<_, Infallible>(Frame::data(Bytes::new()))
    });
    Response::new(StreamBody::new(stream).boxed())
}

/// `total` bytes of a module-looking body in 1 MiB chunks, without a Content-Length (so only
/// counting while reading can stop it).
pub fn endless_module(total: usize) -> Response<Body> {
    const CHUNK: usize = 1 << 20;
    let mut first = vec![0u8; CHUNK];
    first[..8].copy_from_slice(b"\0asm\x01\0\0\0");
    let first = Bytes::from(first);
    let zeros = Bytes::from(vec![0u8; CHUNK]);
    let chunks = total.div_ceil(CHUNK);
    let stream =
        futures::stream::iter((0..chunks).map(move |i| {
            Ok::<_, Infallible>(Frame::data(if i == 0 { first.clone() } else { zeros.clone() }))
        }));
    Response::new(StreamBody::new(stream).boxed())
}
