//! An upstream echo server on its own thread: answers every request with a JSON
//! description of what it received, and a few special paths.
//!
//! - `/delay/<ms>`: answers after that many milliseconds.
//! - `/bytes/<n>`: streams `n` bytes in 64 KiB chunks.
//! - `/upload`: reads the whole body and reports its length and a checksum.
//! - a request with `upgrade: websocket`: answers `101` and echoes raw bytes back.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// A running echo server; it stops with the test process.
pub struct Echo {
    pub addr: SocketAddr,
    pub name: String,
    pub requests: Arc<AtomicUsize>,
}

impl Echo {
    /// Starts an echo server named `name` on a free loopback port (HTTP/1.1 and h2c).
    pub fn start(name: &str) -> Echo {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind echo");
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let (n, r) = (name.to_string(), requests.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(serve(std_listener, n, r));
        });
        Echo {
            addr,
            name: name.to_string(),
            requests,
        }
    }
}

async fn serve(std_listener: std::net::TcpListener, name: String, requests: Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
    let name: Arc<str> = name.into();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (name, requests) = (name.clone(), requests.clone());
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                requests.fetch_add(1, Ordering::Relaxed);
                handle(req, name.clone())
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).boxed()
}

async fn handle(mut req: Request<Incoming>, name: Arc<str>) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    if req.headers().get("upgrade").is_some() {
        let on = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            if let Ok(up) = on.await {
                let mut io = TokioIo::new(up);
                let (mut r, mut w) = tokio::io::split(&mut io);
                let _ = tokio::io::copy(&mut r, &mut w).await;
            }
        });
        return Ok(Response::builder()
            .status(101)
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .body(full(""))
            .unwrap());
    }
    if let Some(ms) = path.strip_prefix("/delay/") {
        tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
    }
    if let Some(n) = path.strip_prefix("/bytes/") {
        let total: usize = n.parse().unwrap_or(0);
        let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
        let stream = futures::stream::unfold(total, move |left| {
            let chunk = chunk.clone();
            async move {
                if left == 0 {
                    return None;
                }
                let n = left.min(chunk.len());
                Some((Ok::<_, Infallible>(Frame::data(chunk.slice(..n))), left - n))
            }
        });
        return Ok(Response::builder()
            .header("x-upstream", &*name)
            .body(StreamBody::new(stream).boxed())
            .unwrap());
    }
    let method = req.method().to_string();
    let version = format!("{:?}", req.version());
    // Repeated headers are joined with "," in their order.
    let mut headers = serde_json::Map::new();
    for (k, v) in req.headers() {
        let v = v.to_str().unwrap_or("");
        match headers.get_mut(k.as_str()) {
            Some(serde_json::Value::String(prev)) => *prev = format!("{prev},{v}"),
            _ => {
                headers.insert(k.to_string(), v.into());
            }
        }
    }
    let uri = req.uri().to_string();
    let mut body = req.into_body();
    let (mut len, mut sum) = (0u64, 0u64);
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        if let Ok(data) = frame.into_data() {
            len += data.len() as u64;
            sum = data
                .iter()
                .fold(sum, |s, b| s.wrapping_mul(31).wrapping_add(*b as u64));
        }
    }
    let reply = serde_json::json!({
        "server": &*name, "method": method, "uri": uri, "path": path, "version": version,
        "headers": headers, "bodyLength": len, "bodySum": sum,
    });
    Ok(Response::builder()
        .header("content-type", "application/json")
        .header("x-upstream", &*name)
        .body(full(reply.to_string()))
        .unwrap())
}
