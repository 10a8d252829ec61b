//! The demo's peers: an echo upstream that answers with the request it saw (so plugin
//! changes to requests can be seen), and an authorization service for `ext-authz-call`.

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// The users the authorization service lets in.
pub const KNOWN_USERS: [&str; 2] = ["alice", "bob"];

/// Binds both peers and serves them on the current runtime.
pub async fn start(echo: SocketAddr, authz: SocketAddr) -> anyhow::Result<()> {
    let echo = TcpListener::bind(echo)
        .await
        .with_context(|| format!("binding the echo upstream to {echo} (try --random-ports)"))?;
    let authz = TcpListener::bind(authz)
        .await
        .with_context(|| format!("binding the authorization service to {authz} (try --random-ports)"))?;
    tokio::spawn(serve(echo, |req| echo_answer(&req)));
    tokio::spawn(serve(authz, |req| authz_answer(&req)));
    Ok(())
}

async fn serve(listener: TcpListener, answer: fn(Request<Incoming>) -> Response<Full<Bytes>>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |req| async move { Ok::<_, Infallible>(answer(req)) });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The request line and headers, one per line, as the upstream received them.
pub fn echo_text<B>(req: &Request<B>) -> String {
    let mut text = format!("{} {} {:?}\n", req.method(), req.uri(), req.version());
    for (name, value) in req.headers() {
        text.push_str(&format!(
            "{name}: {}\n",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    text
}

fn echo_answer<B>(req: &Request<B>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(echo_text(req))));
    resp.headers_mut()
        .insert("content-type", "text/plain; charset=utf-8".parse().unwrap());
    resp
}

/// `2xx` with `x-user-id` for a known `x-user`, `403` otherwise.
pub fn authz_answer<B>(req: &Request<B>) -> Response<Full<Bytes>> {
    let user = req
        .headers()
        .get("x-user")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let (status, body) = if KNOWN_USERS.contains(&user) {
        (200, String::new())
    } else {
        (403, format!("unknown user {user:?}: try -H 'x-user: alice'\n"))
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = hyper::StatusCode::from_u16(status).expect("a valid status");
    resp.headers_mut()
        .insert("content-type", "text/plain; charset=utf-8".parse().unwrap());
    if status == 200 {
        resp.headers_mut().insert(
            "x-user-id",
            user.parse().expect("a known user is a valid header value"),
        );
    }
    resp
}
