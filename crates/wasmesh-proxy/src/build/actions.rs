//! A Proxy route's actions compiled (docs/proxy.md, "Changing requests and responses"):
//! header edits, the rewrite, the redirect and the weighted clusters.

use http::header::HeaderValue;
use wasmesh_api::proxy as px;

use super::{header_name, BuildError};
use crate::route::redirect::Redirect;
use crate::route::rewrite::{PathRewrite, Rewrite};
use crate::route::weighted::{Share, Weighted};
use crate::route::HeaderEdits;

/// Where a route is, for errors: `listener http, route api`.
pub(super) struct Context<'a> {
    pub listener: &'a str,
    pub route: &'a str,
}

impl Context<'_> {
    fn at(&self, field: &str) -> String {
        format!("listener {}, route {}, {field}", self.listener, self.route)
    }
}

pub(super) fn edits(cx: &Context<'_>, field: &str, e: &px::HeaderEdits) -> Result<HeaderEdits, BuildError> {
    let pairs = |list: &str, values: &[px::HeaderValue]| {
        values
            .iter()
            .map(|h| {
                let at = || cx.at(&format!("{field}.{list}"));
                let name = header_name(&h.name, at)?;
                let value = HeaderValue::from_str(&h.value).map_err(|_| BuildError::HeaderValue {
                    context: at(),
                    value: h.value.clone(),
                })?;
                Ok((name, value))
            })
            .collect::<Result<Vec<_>, BuildError>>()
    };
    Ok(HeaderEdits {
        set: pairs("set", &e.set)?,
        add: pairs("add", &e.add)?,
        remove: e
            .remove
            .iter()
            .map(|n| header_name(n, || cx.at(&format!("{field}.remove"))))
            .collect::<Result<_, _>>()?,
    })
}

fn path(p: &px::PathRewrite) -> Option<PathRewrite> {
    match (&p.full_path, &p.prefix) {
        (Some(full), _) => Some(PathRewrite::FullPath(full.clone())),
        (None, Some(prefix)) => Some(PathRewrite::Prefix(prefix.clone())),
        (None, None) => None,
    }
}

pub(super) fn rewrite(cx: &Context<'_>, r: &px::Rewrite) -> Result<Rewrite, BuildError> {
    Ok(Rewrite {
        host: r
            .host
            .as_ref()
            .map(|h| {
                HeaderValue::from_str(h).map_err(|_| BuildError::HeaderValue {
                    context: cx.at("rewrite.host"),
                    value: h.clone(),
                })
            })
            .transpose()?,
        path: r.path.as_ref().and_then(path),
    })
}

pub(super) fn redirect(cx: &Context<'_>, r: &px::Redirect) -> Result<Redirect, BuildError> {
    let status = r.status.unwrap_or(px::Redirect::DEFAULT_STATUS);
    Ok(Redirect {
        scheme: r.scheme.clone(),
        host: r.host.clone(),
        port: r.port,
        path: r.path.as_ref().and_then(path),
        status: http::StatusCode::from_u16(status).map_err(|_| BuildError::Status {
            listener: cx.listener.to_string(),
            route: cx.route.to_string(),
            status,
        })?,
    })
}

pub(super) fn weighted(
    cx: &Context<'_>,
    shares: &[px::WeightedCluster],
    cluster_index: &dyn Fn(&str) -> Result<usize, BuildError>,
) -> Result<Weighted, BuildError> {
    let shares = shares
        .iter()
        .enumerate()
        .map(|(k, w)| {
            let field = format!("weightedClusters[{k}]");
            let (cluster, cluster_index, direct_response) = match (&w.cluster, w.direct_response) {
                (_, Some(d)) => (
                    String::new(),
                    usize::MAX,
                    Some(
                        http::StatusCode::from_u16(d.status).map_err(|_| BuildError::Status {
                            listener: cx.listener.to_string(),
                            route: cx.route.to_string(),
                            status: d.status,
                        })?,
                    ),
                ),
                (Some(c), None) => (c.clone(), cluster_index(c)?, None),
                (None, None) => (String::new(), cluster_index("")?, None),
            };
            Ok(Share {
                cluster,
                cluster_index,
                direct_response,
                weight: w.weight,
                request_headers: edits(cx, &format!("{field}.requestHeaders"), &w.request_headers)?,
                response_headers: edits(cx, &format!("{field}.responseHeaders"), &w.response_headers)?,
            })
        })
        .collect::<Result<Vec<_>, BuildError>>()?;
    Ok(Weighted::new(shares))
}
