//! A gRPC upstream for the tests: an h2c server answering every unary call.

use std::net::SocketAddr;

/// A gRPC server (h2c) that answers every unary call with `echo:<message>`, or, when the
/// message is `/big/N`, with a message of N bytes.
pub fn grpc_echo() -> SocketAddr {
    use bytes::{Buf, BufMut, Bytes, BytesMut};
    use http_body_util::BodyExt;
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    let svc =
                        hyper::service::service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                            let path = req.uri().path().to_string();
                            let mut body = req.into_body().collect().await.unwrap().to_bytes();
                            let msg = if body.len() >= 5 {
                                body.advance(5);
                                body
                            } else {
                                Bytes::new()
                            };
                            let msg = String::from_utf8_lossy(&msg).into_owned();
                            let reply = match msg.strip_prefix("/big/").and_then(|n| n.parse().ok()) {
                                Some(n) => "x".repeat(n),
                                None => format!("echo:{path}:{msg}"),
                            };
                            let mut framed = BytesMut::new();
                            framed.put_u8(0);
                            framed.put_u32(reply.len() as u32);
                            framed.put_slice(reply.as_bytes());
                            let mut trailers = hyper::HeaderMap::new();
                            trailers.insert("grpc-status", "0".parse().unwrap());
                            let frames = vec![
                                Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(framed.freeze())),
                                Ok(hyper::body::Frame::trailers(trailers)),
                            ];
                            let body = http_body_util::StreamBody::new(futures::stream::iter(frames));
                            Ok::<_, std::convert::Infallible>(
                                hyper::Response::builder()
                                    .header("content-type", "application/grpc")
                                    .body(body)
                                    .unwrap(),
                            )
                        });
                    let _ = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
    });
    addr
}
