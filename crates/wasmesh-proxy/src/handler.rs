//! One HTTP request, from the downstream connection to the upstream and back: the chain's
//! request path, the router, the chain's response path, then stats.

use futures::future::Either;
use futures::FutureExt as _;
use http::{header, request, Request, Response, StatusCode};
use http_body::Body as _;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use crate::body::ProxyBody;
use crate::chain::head::SharedHead;
use crate::chain::{Exchange, RequestFlow};
use crate::cluster::ClusterProtocol;
use crate::error::ProxyError;
use crate::forward;
use crate::metered::{Metered, Record};
use crate::plugin::stream::{self, Contexts};
use crate::route::redirect::Arrival;
use crate::route::Decision;
use crate::stats::Labels;
use crate::upstream::Target;
use crate::worker::{ConnCtx, StatKey, WorkerListener};
use wasmesh_wasm::UpstreamTry;

/// Envoy's default route timeout.
const DEFAULT_ROUTE_TIMEOUT: Duration = Duration::from_secs(15);

/// What the router learned, for stats.
struct Routed {
    /// The cluster's index.
    cluster: Option<usize>,
    flag: &'static str,
}

/// Serves one request on the listener snapshot current when it arrived. An `Err` resets
/// the stream (a plugin's `proxy_close_stream`).
pub async fn handle(
    req: Request<hyper::body::Incoming>,
    conn: Rc<ConnCtx>,
) -> Result<Response<Metered>, ProxyError> {
    let start = Instant::now();
    let listener = conn.slot.current();
    let (mut parts, body) = req.into_parts();
    // Checked before the upgrade is taken: a refused or stripped upgrade is no upgrade.
    let refused = crate::admit::admit(&mut parts, &listener.config.http).err();
    let mut req = Request::from_parts(parts, body);
    let on_upgrade = match refused {
        None => forward::upgrade_of_request(&req).map(|v| (v, hyper::upgrade::on(&mut req))),
        Some(_) => None,
    };
    let (parts, body) = req.into_parts();
    let end_of_stream = body.is_end_stream();
    // The request body's bytes are counted as they go upstream (for the stats' sizes).
    let request_bytes = (!end_of_stream).then(|| Arc::new(AtomicU64::new(0)));
    let body = match &request_bytes {
        Some(count) => ProxyBody::Counted {
            inner: body,
            count: count.clone(),
        },
        None => ProxyBody::Incoming(body),
    };
    let request = Arrived {
        start,
        listener,
        parts,
        body,
        request_bytes,
        on_upgrade,
        refused,
    };
    Box::pin(serve(request, conn)).await
}

/// Serves a request that has no body and asks for no upgrade (the lean HTTP/1.1 server's).
pub async fn handle_bodyless(
    mut parts: request::Parts,
    conn: Rc<ConnCtx>,
) -> Result<Response<Metered>, ProxyError> {
    let start = Instant::now();
    let listener = conn.slot.current();
    let refused = crate::admit::admit(&mut parts, &listener.config.http).err();
    let request = Arrived {
        start,
        listener,
        parts,
        body: ProxyBody::Empty,
        request_bytes: None,
        on_upgrade: None,
        refused,
    };
    serve(request, conn).await
}

/// A request as it arrived, before any filter.
struct Arrived {
    start: Instant,
    /// The listener snapshot current when the request arrived: it serves the request to
    /// its end.
    listener: Rc<WorkerListener>,
    parts: request::Parts,
    body: ProxyBody,
    /// The request body's bytes, counted as they go upstream (`None`: it has none).
    request_bytes: Option<Arc<AtomicU64>>,
    on_upgrade: Option<(http::HeaderValue, hyper::upgrade::OnUpgrade)>,
    /// The request failed admission (crate::admit): this is its reply, and no filter runs.
    refused: Option<ProxyError>,
}

async fn serve(request: Arrived, conn: Rc<ConnCtx>) -> Result<Response<Metered>, ProxyError> {
    let Arrived {
        start,
        listener,
        mut parts,
        body,
        request_bytes,
        on_upgrade,
        refused,
    } = request;
    if let Some(refusal) = refused {
        return Ok(refuse(&listener, &conn, start, refusal));
    }
    // Before any filter, as Envoy's connection manager: plugins read the id as `request.id`.
    conn.worker.request_ids.ensure(&mut parts.headers);
    forward::set_forwarded_proto(&mut parts.headers, conn.info.tls.is_some());
    let protocol = request_protocol(&parts);
    let head = SharedHead::new(parts, conn.info.tls.is_some());
    let mut ex = Exchange {
        head: head.clone(),
        conn: &conn.info,
        auth: None,
        plugin_info: None,
    };
    let chain = &listener.config.chain;
    let mut contexts: Contexts = Vec::new();
    let mut pause_limit = DEFAULT_ROUTE_TIMEOUT;
    let has_plugins = chain.has_plugins();
    if has_plugins {
        contexts = (0..chain.filters.len()).map(|_| None).collect();
        // Envoy computes the route before the filters run: plugins can read it.
        let routes = &listener.config.routes;
        let found = routes.position(&ex.request());
        if let Some(route) = found.and_then(|i| routes.get(i)) {
            pause_limit = route.timeout.unwrap_or(DEFAULT_ROUTE_TIMEOUT);
        }
        let made = &listener.route_properties;
        let route_properties = &made[found.unwrap_or(made.len() - 1)];
        let properties =
            crate::plugin::attributes::request_properties(route_properties, conn.info.sni.as_deref());
        let info = crate::plugin::stream::stream_info(&conn.info, &head.request(), properties);
        ex.plugin_info = Some(info);
    }
    let end_of_stream = body.is_end_stream();
    // The plugin paths live in boxed futures, so that the common path's future stays small
    // (hyper moves it around by value). Only chains with plugins can pause.
    let flow = if has_plugins {
        let mut on_request = Box::pin(chain.on_request(&mut ex, &listener.vms, &mut contexts, end_of_stream));
        // Most chains run through without pausing: the timer is armed only for one that
        // paused. A plugin may pause a request and never resume it: the route's timeout
        // bounds that.
        match poll_once(on_request.as_mut()).await {
            Poll::Ready(flow) => flow,
            Poll::Pending => match tokio::time::timeout(pause_limit, on_request).await {
                Ok(flow) => flow,
                // The reply stands in for the paused plugin: it passes that plugin's
                // response callbacks and those of every filter before it.
                Err(_) => {
                    let mut response = ProxyError::PluginTimeout { timeout: pause_limit }.into_response();
                    crate::local_reply::mark(&mut response, None);
                    RequestFlow::Reply {
                        index: contexts.iter().rposition(Option::is_some).unwrap_or(0),
                        response,
                    }
                }
            },
        }
    } else {
        chain.on_request_builtin(&mut ex)
    };
    let (response, end, routed) = match flow {
        RequestFlow::Forward => {
            let mut routed = Routed {
                cluster: None,
                flag: "-",
            };
            let keep_head = contexts.iter().any(Option::is_some);
            let plugins_see_body = keep_head && !body.is_end_stream();
            let known_length = ex.request().headers.contains_key(header::CONTENT_LENGTH)
                && body.size_hint().exact().is_some_and(|n| n <= stream::SMALL_BODY);
            let result = if plugins_see_body && known_length {
                // A small body with a length is read whole and passed to the plugins in one
                // piece: its Content-Length stays, and is made right if a plugin changed
                // the body (docs/filter-chain.md, "Bodies").
                let end = chain.filters.len();
                match Box::pin(stream::filter_small_request(&mut contexts, end, body, &head)).await {
                    Ok(body) => {
                        match body.size_hint().exact() {
                            Some(n) => ex.request_mut().headers.insert(header::CONTENT_LENGTH, n.into()),
                            // Trailers (HTTP/2): the length goes with the frames.
                            None => ex.request_mut().headers.remove(header::CONTENT_LENGTH),
                        };
                        route_and_send(
                            &listener,
                            &conn,
                            &mut ex,
                            body,
                            on_upgrade,
                            &mut routed,
                            keep_head,
                        )
                        .await
                    }
                    Err(reply) => Ok(reply),
                }
            } else if plugins_see_body {
                // A streamed body keeps its Content-Length, as on Envoy: a plugin that
                // changes the body removes it in `on_request_headers`, and the body then
                // goes chunked (docs/filter-chain.md, "Bodies").
                let declared = ex
                    .request()
                    .headers
                    .get(header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
                let (tx, rx) = tokio::sync::mpsc::channel(4);
                let end = chain.filters.len();
                let pump = stream::pump_request(body, &mut contexts, end, tx, declared, &head);
                let send = route_and_send(
                    &listener,
                    &conn,
                    &mut ex,
                    ProxyBody::Channel(rx),
                    on_upgrade,
                    &mut routed,
                    keep_head,
                );
                Box::pin(async move {
                    // A plugin's reply in place of the body goes to the client at once; the
                    // upstream request is dropped, its body ending in an error (a reset).
                    let (pump, send) = (std::pin::pin!(pump), std::pin::pin!(send));
                    match futures::future::select(pump, send).await {
                        Either::Left((Some(reply), _)) => Ok(reply),
                        Either::Left((None, send)) => send.await,
                        Either::Right((sent, pump)) => match pump.await {
                            Some(reply) => Ok(reply),
                            None => sent,
                        },
                    }
                })
                .await
            } else {
                route_and_send(
                    &listener,
                    &conn,
                    &mut ex,
                    body,
                    on_upgrade,
                    &mut routed,
                    keep_head,
                )
                .await
            };
            let resp = match result {
                Ok(resp) => resp,
                Err(e) => {
                    routed.flag = e.response_flag();
                    if keep_head {
                        if let (Some(reason), Some(try_)) = (
                            e.transport_failure_reason(),
                            head.borrow_mut().progress.upstream.as_mut(),
                        ) {
                            try_.transport_failure_reason = reason.into();
                        }
                    }
                    e.into_response()
                }
            };
            (resp, chain.filters.len(), routed)
        }
        // A reply passes the response callbacks of the filter that made it and of every
        // filter before it, in reverse order, as Envoy's encoder path does.
        RequestFlow::Reply { index, response } => (
            response,
            index + 1,
            Routed {
                cluster: None,
                flag: "-",
            },
        ),
        RequestFlow::Close(plugin) => return Err(ProxyError::StreamClosed { plugin }),
    };
    if response.extensions().get::<stream::Closed>().is_some() {
        return Err(ProxyError::StreamClosed {
            plugin: "request body".into(),
        });
    }
    if !contexts.is_empty() {
        record_origin(&head, &response);
    }
    let response = crate::local_reply::encode(response, protocol == "grpc");
    let (mut parts, mut body) = response.into_parts();
    if !contexts.is_empty() {
        if let Err(why) = Box::pin(chain.on_response(end, &mut contexts, &head, &mut parts, &mut body)).await
        {
            return Err(ProxyError::StreamClosed { plugin: why });
        }
    }
    if contexts.iter().any(Option::is_some) && !body.is_end_stream() {
        let small = body.size_hint().exact().is_some_and(|n| n <= stream::SMALL_BODY);
        body = if small {
            match Box::pin(stream::filter_small_response(&mut contexts, end, body, &head)).await {
                Ok(b) => {
                    // The whole body is known: keep a content-length honest.
                    if parts.headers.contains_key(header::CONTENT_LENGTH) {
                        let n = b.size_hint().exact().unwrap_or(0);
                        parts.headers.insert(header::CONTENT_LENGTH, n.into());
                    }
                    b
                }
                Err(why) => return Err(ProxyError::StreamClosed { plugin: why }),
            }
        } else {
            // The contexts end with the streamed body (`proxy_on_log`): they read a copy of
            // the response head as it left.
            head.borrow_mut().response = Some(parts.clone());
            stream::pump_response(std::mem::take(&mut contexts), end, body, head.clone())
        };
    }
    // `proxy_on_log` sees the final response head: contexts that end now do so before the
    // head leaves.
    if contexts.iter().any(Option::is_some) {
        head.borrow_mut().response = Some(parts);
        drop(contexts);
        parts = head
            .borrow_mut()
            .response
            .take()
            .expect("the response head was just put");
    }
    Ok(finish(
        &listener,
        &conn,
        start,
        protocol,
        request_bytes,
        routed,
        parts,
        body,
    ))
}

/// Records how the response came to be, for plugins (`response.code_details`,
/// `response.flags`): what made it said so on it, else it is the upstream's.
fn record_origin(head: &SharedHead, response: &Response<ProxyBody>) {
    let mut head = head.borrow_mut();
    let progress = &mut head.progress;
    match response.extensions().get::<crate::local_reply::Origin>() {
        Some(origin) => {
            progress.code_details = Some(origin.details.clone());
            progress.response_flags |= origin.flags;
        }
        None => progress.code_details = Some("via_upstream".into()),
    }
}

/// The response as it goes to the client, recorded in the stats when it ends.
#[allow(clippy::too_many_arguments)]
fn finish(
    listener: &WorkerListener,
    conn: &ConnCtx,
    start: Instant,
    protocol: &'static str,
    request_bytes: Option<Arc<AtomicU64>>,
    routed: Routed,
    parts: http::response::Parts,
    body: ProxyBody,
) -> Response<Metered> {
    let key = StatKey {
        cluster: routed.cluster,
        code: parts.status.as_u16(),
        flag: routed.flag,
        protocol,
    };
    let series = listener.series(&conn.worker.stats, key, || Labels {
        reporter: listener.reporter,
        destination_workload: listener.workload.clone(),
        destination_workload_namespace: listener.workload_namespace.clone(),
        destination_service: match routed.cluster {
            Some(i) => std::sync::Arc::from(&*listener.cluster_names[i]),
            None => listener.unknown.clone(),
        },
        request_protocol: protocol,
        response_code: parts.status.as_u16(),
        response_flags: routed.flag,
    });
    let record = Record {
        series,
        start,
        request_bytes,
    };
    Response::from_parts(parts, Metered::new(body, record))
}

/// The reply to a request that failed admission, recorded in the stats like any other.
fn refuse(
    listener: &WorkerListener,
    conn: &ConnCtx,
    start: Instant,
    refusal: ProxyError,
) -> Response<Metered> {
    let routed = Routed {
        cluster: None,
        flag: refusal.response_flag(),
    };
    let (parts, body) = refusal.into_response().into_parts();
    finish(listener, conn, start, "http", None, routed, parts, body)
}

/// The router: picks the route and an endpoint, and waits for the upstream's headers.
async fn route_and_send(
    listener: &WorkerListener,
    conn: &ConnCtx,
    ex: &mut Exchange<'_>,
    body: ProxyBody,
    on_upgrade: Option<(http::HeaderValue, hyper::upgrade::OnUpgrade)>,
    routed: &mut Routed,
    keep_head: bool,
) -> Result<Response<ProxyBody>, ProxyError> {
    let forward = match listener.config.routes.decide(&ex.request()) {
        Decision::NoRoute => {
            let request = ex.request();
            return Err(ProxyError::NoRoute {
                listener: listener.config.name.clone(),
                method: request.method.clone(),
                path: request.uri.path().to_string(),
            });
        }
        Decision::Respond { route, status } => {
            return Err(ProxyError::DirectResponse {
                route: route.name.clone(),
                status,
            })
        }
        Decision::Redirect { route, redirect } => {
            let arrival = Arrival {
                tls: conn.info.tls.is_some(),
                port: conn.info.local.port(),
            };
            let mut response = redirect.response(&ex.request(), &arrival, route.path.matched_len());
            // Envoy's router answers a redirect itself: `direct_response`.
            response.extensions_mut().insert(crate::local_reply::Origin {
                details: "direct_response".into(),
                flags: 0,
            });
            return Ok(response);
        }
        Decision::Forward(forward) => forward,
    };
    let route = forward.route;
    let cluster_index = forward.cluster_index;
    let cluster = listener.snapshot.clusters.get(cluster_index);
    routed.cluster = Some(cluster_index);
    let endpoint = listener
        .pick_endpoint(cluster_index)
        .ok_or_else(|| ProxyError::NoHealthyUpstream {
            cluster: cluster.name.clone(),
        })?;
    // The router's try, for plugins (`upstream.*`, `response.backend_latency`).
    if keep_head {
        ex.head.borrow_mut().progress.upstream = Some(UpstreamTry::start(endpoint.addr));
    }
    let timeout = route.timeout.unwrap_or(DEFAULT_ROUTE_TIMEOUT);
    let (upgrade, downstream_upgrade) = match on_upgrade {
        Some((v, on)) => (Some(v), Some(on)),
        None => (None, None),
    };
    // A request without a body to an HTTP/1.1 upstream goes as encoded bytes on the lean
    // client. Without route edits or mirrors they are encoded straight from the request
    // head, which stays where it is: plugin contexts still to end (`proxy_on_log`) read it
    // as it left the filters. Any other request goes as a copy (docs/performance.md).
    let lean = upgrade.is_none() && body.is_end_stream() && cluster.protocol == ClusterProtocol::Http1;
    let in_place = if lean && route.mirrors.is_empty() && !forward.edits_request() {
        let request = ex.request();
        crate::h1::encode_upstream_head(&request, &endpoint.authority).map(|h| (h, request.method.clone()))
    } else {
        None
    };
    let target = Target { cluster, endpoint };
    let pool = &conn.worker.pool;
    let outgoing = match in_place {
        Some((head, method)) => Outgoing::Encoded(head, method),
        None => {
            let mut parts = if keep_head {
                ex.request().clone()
            } else {
                std::mem::replace(&mut *ex.request_mut(), empty_parts())
            };
            // the route's edits, after the filters (as Envoy's router)
            forward.edit_request(&mut parts);
            if !route.mirrors.is_empty() {
                crate::mirroring::send_copies(listener, conn, route, &parts, &body, timeout);
            }
            forward::to_upstream(&mut parts, cluster.protocol, endpoint, upgrade.as_ref());
            forward::frame_body(&mut parts, &body);
            if lean {
                Outgoing::Encoded(crate::h1::encode_head(&parts), parts.method)
            } else {
                Outgoing::Parts(parts)
            }
        }
    };
    // Each way's future is awaited where it was made: a future moved is a future copied,
    // and these are the largest a request makes (docs/performance.md, "Futures that move").
    let ((resp, local), downstream_upgrade) = match outgoing {
        Outgoing::Encoded(head, method) => {
            drop(body);
            (
                one_try(route, timeout, pool.send_head(target, &head, &method)).await?,
                None,
            )
        }
        Outgoing::Parts(parts) => {
            let send = pool.send(target, Request::from_parts(parts, body), upgrade.is_some());
            (one_try(route, timeout, send).await?, downstream_upgrade)
        }
    };
    answered(
        ex,
        keep_head,
        &forward,
        cluster,
        endpoint,
        downstream_upgrade,
        resp,
        local,
    )
}

/// How a request leaves for the upstream.
enum Outgoing {
    /// A head without a body, encoded for the lean HTTP/1.1 client, and its method.
    Encoded(Vec<u8>, http::Method),
    /// A request for hyper's client (a body, an upgrade or HTTP/2), its body apart.
    Parts(request::Parts),
}

/// Waits for the upstream's answer to one try: within the route's `timeout` (`timeout`
/// here, its default applied), or its `perTryTimeout` when shorter (docs/proxy.md), else 504.
/// A combinator rather than an `async fn`, so that `send` is not moved once more into a
/// future of its own.
fn one_try<'r, T, F>(
    route: &'r crate::route::Route,
    timeout: Duration,
    send: F,
) -> impl Future<Output = Result<T, ProxyError>> + 'r
where
    F: Future<Output = Result<T, ProxyError>> + 'r,
{
    let per_try = route.per_try_timeout.filter(|t| *t < timeout);
    tokio::time::timeout(per_try.unwrap_or(timeout), send).map(move |answer| match answer {
        Ok(answer) => answer,
        Err(_) => {
            let route = route.name.clone();
            Err(match per_try {
                Some(timeout) => ProxyError::TryTimeout { route, timeout },
                None => ProxyError::RouteTimeout { route, timeout },
            })
        }
    })
}

/// The upstream's response head, for the filters' response path: the router's try noted
/// for plugins, an upgrade's tunnel opened, hop-by-hop headers dropped and the route's
/// response edits made.
#[allow(clippy::too_many_arguments)]
fn answered(
    ex: &mut Exchange<'_>,
    keep_head: bool,
    forward: &crate::route::decide::Forward<'_>,
    cluster: &crate::cluster::Cluster,
    endpoint: &crate::cluster::Endpoint,
    downstream_upgrade: Option<hyper::upgrade::OnUpgrade>,
    resp: Response<ProxyBody>,
    local: Option<std::net::SocketAddr>,
) -> Result<Response<ProxyBody>, ProxyError> {
    let (mut parts, body) = resp.into_parts();
    if keep_head {
        if let Some(try_) = ex.head.borrow_mut().progress.upstream.as_mut() {
            try_.answered = true;
            try_.local_address = local;
            if body.is_end_stream() {
                try_.end();
            }
        }
    }
    if parts.status == StatusCode::SWITCHING_PROTOCOLS {
        // A tunnel opens only for an upgrade the chain saw and admitted; an upstream that
        // switches protocols on its own would carry bytes no filter checked.
        let Some(downstream) = downstream_upgrade else {
            return Err(ProxyError::UpstreamProtocol {
                cluster: cluster.name.clone(),
                endpoint: endpoint.authority.clone(),
                source: "101 Switching Protocols to a request that asked for no upgrade".into(),
            });
        };
        let mut upstream_resp = Response::from_parts(parts.clone(), body);
        let upstream = hyper::upgrade::on(&mut upstream_resp);
        tokio::task::spawn_local(crate::tunnel::splice_upgrades(downstream, upstream));
        return Ok(Response::from_parts(parts, ProxyBody::Empty));
    }
    forward::to_downstream(&mut parts);
    // before the filters' response path sees it, as Envoy's router
    forward.edit_response(&mut parts.headers);
    Ok(Response::from_parts(parts, body))
}

/// Polls a future once, without waiting.
async fn poll_once<F: Future>(mut fut: Pin<&mut F>) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await
}

fn empty_parts() -> request::Parts {
    Request::new(()).into_parts().0
}

/// Istio's `request_protocol` label: `grpc` for gRPC, else `http`.
fn request_protocol(parts: &request::Parts) -> &'static str {
    if crate::local_reply::is_grpc(&parts.headers) {
        "grpc"
    } else {
        "http"
    }
}
