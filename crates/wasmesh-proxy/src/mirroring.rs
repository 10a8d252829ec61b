//! Sending the copies of a forwarded request to its route's mirrors (docs/proxy.md,
//! "Mirrors"): fire and forget on the worker, through the worker's upstream pool. The
//! copy is the request as the upstream gets it (after the route's edits and rewrite),
//! with `-shadow` on its host; the mirror's answer is read and dropped. Nothing of it
//! reaches the client's request: a copy that fails or times out is logged at debug and
//! counted (`wasmesh_mirror_requests_total`).

use http::request;
use http::Request;
use http_body::Body as _;
use http_body_util::BodyExt as _;
use std::time::Duration;

use crate::body::ProxyBody;
use crate::forward;
use crate::route::mirror;
use crate::route::Route;
use crate::stats::MirrorOutcome;
use crate::upstream::Target;
use crate::worker::{ConnCtx, WorkerListener};

/// Sends a copy of the request to each of `route`'s mirrors whose turn it is. `parts` is
/// the request with the route's edits made, before it is framed for its upstream; `body`
/// its body, copied only when it is whole in memory (else the copy is skipped and
/// counted); `timeout` bounds each copy.
pub fn send_copies(
    listener: &WorkerListener,
    conn: &ConnCtx,
    route: &Route,
    parts: &request::Parts,
    body: &ProxyBody,
    timeout: Duration,
) {
    for m in &route.mirrors {
        if !m.takes_turn() {
            continue;
        }
        let stats = conn.worker.stats.shared().clone();
        let name = &listener.cluster_names[m.cluster_index];
        let name: std::sync::Arc<str> = std::sync::Arc::from(&**name);
        let Some(body) = copy_body(body) else {
            tracing::debug!(route = %route.name, mirror = %name, "request body not whole in memory: not mirrored");
            stats.mirrored(&name, MirrorOutcome::Skipped);
            continue;
        };
        let Some(endpoint) = listener.pick_endpoint(m.cluster_index).cloned() else {
            tracing::debug!(route = %route.name, mirror = %name, "mirror cluster has no endpoint");
            stats.mirrored(&name, MirrorOutcome::Failed);
            continue;
        };
        let snapshot = listener.snapshot.clone();
        let cluster_index = m.cluster_index;
        let mut parts = parts.clone();
        mirror::shadow(&mut parts);
        let protocol = snapshot.clusters.get(cluster_index).protocol;
        forward::to_upstream(&mut parts, protocol, &endpoint, None);
        forward::frame_body(&mut parts, &body);
        let req = Request::from_parts(parts, body);
        let pool = conn.worker.pool.clone();
        let route_name = route.name.clone();
        tokio::task::spawn_local(async move {
            let cluster = snapshot.clusters.get(cluster_index);
            let target = Target {
                cluster,
                endpoint: &endpoint,
            };
            let outcome = match tokio::time::timeout(timeout, pool.send(target, req, false)).await {
                Ok(Ok((resp, _))) => {
                    // read to its end, so that the connection goes back to the pool
                    let status = resp.status();
                    match tokio::time::timeout(timeout, resp.into_body().collect()).await {
                        Ok(Ok(_)) => {
                            tracing::debug!(route = %route_name, mirror = %name, %status, "mirror answered");
                            MirrorOutcome::Sent
                        }
                        _ => {
                            tracing::debug!(route = %route_name, mirror = %name, "mirror's response body failed");
                            MirrorOutcome::Failed
                        }
                    }
                }
                Ok(Err(error)) => {
                    tracing::debug!(route = %route_name, mirror = %name, %error, "mirror failed");
                    MirrorOutcome::Failed
                }
                Err(_) => {
                    tracing::debug!(route = %route_name, mirror = %name, ?timeout, "mirror timed out");
                    MirrorOutcome::Failed
                }
            };
            stats.mirrored(&name, outcome);
        });
    }
}

/// The copy of a body: none, or one held whole in memory; `None` for a body still
/// arriving (which only the upstream may read).
fn copy_body(body: &ProxyBody) -> Option<ProxyBody> {
    if body.is_end_stream() {
        return Some(ProxyBody::Empty);
    }
    match body {
        ProxyBody::Full { data, trailers } => Some(ProxyBody::Full {
            data: data.clone(),
            trailers: trailers.clone(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn only_a_body_whole_in_memory_is_copied() {
        assert!(matches!(copy_body(&ProxyBody::Empty), Some(ProxyBody::Empty)));
        let whole = ProxyBody::full("small body");
        match copy_body(&whole) {
            Some(ProxyBody::Full { data, trailers }) => {
                assert_eq!(data, Some(Bytes::from_static(b"small body")));
                assert!(trailers.is_none());
            }
            other => panic!("not copied whole: {}", other.is_some()),
        }
        let (_tx, rx) = tokio::sync::mpsc::channel(1);
        assert!(
            copy_body(&ProxyBody::Channel(rx)).is_none(),
            "a streamed body is not copied"
        );
    }
}
