//! `h1_chunked`: the lean client's chunked-body decoder on arbitrary bytes from an upstream,
//! through the real client over a loopback connection (the decoder is a state machine over
//! the connection's reads, so it is driven by reads, not by a copy of its parsing).
//!
//! Input: a first byte N (mod 8), N little-endian u16 cut points, then the body as the
//! upstream sends it after `transfer-encoding: chunked`.
//!
//! Properties: no panic; the body decodes to the same result whether it arrives in one
//! piece or cut where the input says (a chunk-size line, a chunk or the trailers split
//! across reads); a decoded body is no longer than what was sent; written back as one chunk
//! it decodes to itself.

use std::time::Duration;

use http::Method;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use wasmesh_proxy::fuzzing::exchange;

const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nhost: fuzz\r\n\r\n";
/// Larger than any input: the body limit is not what is tested.
const LIMIT: usize = 1 << 24;

/// A runtime and a listener on loopback, made once per thread.
struct Loopback {
    runtime: Runtime,
    listener: TcpListener,
}

thread_local! {
    static LOOPBACK: Loopback = {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("a listener on loopback");
        Loopback { runtime, listener }
    };
}

pub fn check(data: &[u8]) {
    let (cuts, body) = split_input(data);
    LOOPBACK.with(|lb| {
        lb.runtime.block_on(async {
            let whole = lb.deliver(&[body]).await;
            let pieces = lb.deliver(&segments(body, &cuts)).await;
            assert_eq!(
                whole.as_ref().ok(),
                pieces.as_ref().ok(),
                "the body decodes the same in one piece ({whole:?}) and cut at {cuts:?} ({pieces:?})"
            );
            let Ok(decoded) = whole else { return };
            assert!(decoded.len() <= body.len(), "more came out than went in");
            let mut again = Vec::new();
            if !decoded.is_empty() {
                again.extend_from_slice(format!("{:x}\r\n", decoded.len()).as_bytes());
                again.extend_from_slice(&decoded);
                again.extend_from_slice(b"\r\n");
            }
            again.extend_from_slice(b"0\r\n\r\n");
            assert_eq!(
                lb.deliver(&[&again]).await,
                Ok(decoded),
                "one chunk decodes to itself"
            );
        })
    });
}

/// The cut points and the body of an input.
fn split_input(data: &[u8]) -> (Vec<usize>, &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return (Vec::new(), data);
    };
    let n = (n % 8) as usize;
    if rest.len() < 2 * n {
        return (Vec::new(), rest);
    }
    let (cuts, body) = rest.split_at(2 * n);
    let mut cuts: Vec<usize> = cuts
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]) as usize % (body.len() + 1))
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    (cuts, body)
}

fn segments<'a>(body: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::with_capacity(cuts.len() + 1);
    let mut at = 0;
    for &cut in cuts {
        out.push(&body[at..cut]);
        at = cut;
    }
    out.push(&body[at..]);
    out
}

impl Loopback {
    /// The body the lean client reads when an upstream sends `HEAD` then `segments`, each
    /// in its own write with the reader let run in between, and then closes its side.
    async fn deliver(&self, segments: &[&[u8]]) -> Result<Vec<u8>, String> {
        let addr = self.listener.local_addr().expect("the listener's address");
        let (client, accepted) = tokio::join!(TcpStream::connect(addr), self.listener.accept());
        let client = client.expect("connect on loopback");
        let (mut upstream, _) = accepted.expect("accept on loopback");
        // Closed with a reset: millions of connections leave no TIME_WAIT behind.
        for socket in [&client, &upstream] {
            socket2::SockRef::from(socket)
                .set_linger(Some(Duration::ZERO))
                .expect("SO_LINGER");
        }
        let send = async {
            // The client may be done (or have given up) before all is sent.
            let _ = upstream.write_all(HEAD).await;
            for segment in segments {
                let _ = upstream.write_all(segment).await;
                for _ in 0..4 {
                    tokio::task::yield_now().await;
                }
            }
            let _ = upstream.shutdown().await;
        };
        let (_, read) = tokio::join!(send, exchange(client, REQUEST, &Method::GET, LIMIT));
        drop(upstream);
        read.map(|(_, body)| body.to_vec())
    }
}
