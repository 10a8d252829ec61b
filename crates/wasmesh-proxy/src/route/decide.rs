//! What the router does with a request (docs/proxy.md, "Routes"), before any endpoint
//! is picked: no route, a direct response, a redirect, or a cluster to forward to with
//! the edits the route and its share make. The handler serves requests by it; the
//! Gateway API conformance tests (crates/wasmesh-proxy/tests/gateway_conformance.rs)
//! ask it the same questions.

use http::request::Parts;
use http::{HeaderMap, StatusCode};

use super::redirect::Redirect;
use super::weighted::Share;
use super::{Route, RouteTable};

/// The router's decision for one request.
#[derive(Debug)]
pub enum Decision<'a> {
    /// No route takes the request (404).
    NoRoute,
    /// The route answers with this status (`directResponse`, or its share's).
    Respond { route: &'a Route, status: StatusCode },
    /// The route answers with a redirect.
    Redirect {
        route: &'a Route,
        redirect: &'a Redirect,
    },
    /// The request goes to a cluster.
    Forward(Forward<'a>),
}

/// A request going to a cluster: the route, the share of a split it took, the cluster.
#[derive(Debug, Clone, Copy)]
pub struct Forward<'a> {
    pub route: &'a Route,
    pub share: Option<&'a Share>,
    /// The cluster's index in the snapshot's clusters.
    pub cluster_index: usize,
}

impl Forward<'_> {
    /// The cluster's name, as configured.
    pub fn cluster_name(&self) -> &str {
        match self.share {
            Some(share) => &share.cluster,
            None => &self.route.cluster,
        }
    }

    /// Makes `parts` the request the upstream gets: the route's header edits, then the
    /// share's (after the filters, as Envoy's router), then the rewrite.
    pub fn edit_request(&self, parts: &mut Parts) {
        self.route.request_headers.apply(&mut parts.headers);
        if let Some(share) = self.share {
            share.request_headers.apply(&mut parts.headers);
        }
        if let Some(rewrite) = &self.route.rewrite {
            rewrite.apply(parts, self.route.path.matched_len());
        }
    }

    /// Whether [`Forward::edit_request`] changes anything.
    pub fn edits_request(&self) -> bool {
        !self.route.request_headers.is_empty()
            || self.share.is_some_and(|s| !s.request_headers.is_empty())
            || self.route.rewrite.is_some()
    }

    /// Edits the upstream's response headers: the route's, then the share's.
    pub fn edit_response(&self, headers: &mut HeaderMap) {
        self.route.response_headers.apply(headers);
        if let Some(share) = self.share {
            share.response_headers.apply(headers);
        }
    }
}

impl RouteTable {
    /// The router's decision for `req`; a split takes its next turn.
    pub fn decide(&self, req: &Parts) -> Decision<'_> {
        let Some(route) = self.find(req) else {
            return Decision::NoRoute;
        };
        if let Some(status) = route.direct_response {
            return Decision::Respond { route, status };
        }
        if let Some(redirect) = &route.redirect {
            return Decision::Redirect { route, redirect };
        }
        let share = route.weighted_clusters.as_ref().map(|w| w.pick());
        let cluster_index = match share {
            Some(share) => {
                if let Some(status) = share.direct_response {
                    return Decision::Respond { route, status };
                }
                share.cluster_index
            }
            None => route.cluster_index,
        };
        Decision::Forward(Forward {
            route,
            share,
            cluster_index,
        })
    }
}
