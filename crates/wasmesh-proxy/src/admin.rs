//! The admin endpoint (docs/architecture.md): `/ready`, `/stats/prometheus`, `/config_dump`,
//! `/plugins`. It runs on the control thread, never on a worker.

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::net::TcpListener;

use crate::run::Shared;

/// Serves the admin endpoint until the process ends (also while draining, when `/ready`
/// says so).
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "admin accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(respond(&req, &shared)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn respond(req: &Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "admin endpoints are read-only: use GET\n".into(),
        );
    }
    match req.uri().path() {
        "/ready" => match shared.readiness() {
            Ok(()) => text(StatusCode::OK, "LIVE\n".into()),
            Err(why) => text(StatusCode::SERVICE_UNAVAILABLE, format!("NOT READY: {why}\n")),
        },
        "/stats/prometheus" | "/stats" | "/metrics" => {
            let mut out = String::new();
            shared.stats.render(&mut out);
            shared.render_extra_metrics(&mut out);
            let mut resp = text(StatusCode::OK, out);
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            resp
        }
        "/config_dump" => json(shared.config_dump()),
        "/plugins" => json(shared.plugins_json()),
        _ => text(
            StatusCode::NOT_FOUND,
            "unknown admin path; try /ready, /stats/prometheus, /config_dump, /plugins\n".into(),
        ),
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

fn json(value: serde_json::Value) -> Response<Full<Bytes>> {
    let body = serde_json::to_string_pretty(&value).unwrap_or_else(|_| "{}".into());
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp
}
