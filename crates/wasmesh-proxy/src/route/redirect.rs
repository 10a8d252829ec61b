//! A route's redirect (`routes[].redirect`; docs/proxy.md): the proxy answers with the
//! request's URL, parts of it replaced — the Gateway API's `RequestRedirect` rules for
//! the defaults (the request's scheme and host; the port of the scheme set, else the
//! listener's; a scheme's own port left out of `Location`).

use http::{header, request, Response, StatusCode};

use super::rewrite::PathRewrite;
use crate::body::ProxyBody;

/// `routes[].redirect`, compiled.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Redirect {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathRewrite>,
    #[serde(serialize_with = "status_num")]
    pub status: StatusCode,
}

/// What the redirect needs to know of where the request came in.
pub struct Arrival {
    /// Whether the listener serves TLS: the request's scheme is `https`.
    pub tls: bool,
    /// The listener's port.
    pub port: u16,
}

impl Redirect {
    /// The `Location` for `req`, whose first `matched` path bytes the route's prefix took.
    pub fn location(&self, req: &request::Parts, arrival: &Arrival, matched: usize) -> String {
        let scheme = match &self.scheme {
            Some(s) => s.as_str(),
            None if arrival.tls => "https",
            None => "http",
        };
        let host = match &self.host {
            Some(h) => h.as_str(),
            None => {
                let authority = req
                    .uri
                    .authority()
                    .map(|a| a.as_str())
                    .or_else(|| req.headers.get(header::HOST).and_then(|h| h.to_str().ok()))
                    .unwrap_or("");
                wasmesh_api::proxy::host_of_authority(authority)
            }
        };
        let port = match (self.port, &self.scheme) {
            (Some(p), _) => p,
            (None, Some(s)) => own_port(s),
            (None, None) => arrival.port,
        };
        let port = if port == own_port(scheme) {
            String::new()
        } else {
            format!(":{port}")
        };
        let path = match &self.path {
            Some(p) => p.apply(req.uri.path(), matched),
            None => req.uri.path().to_string(),
        };
        let query = req.uri.query().map(|q| format!("?{q}")).unwrap_or_default();
        format!("{scheme}://{host}{port}{path}{query}")
    }

    /// The redirect response to `req`.
    pub fn response(&self, req: &request::Parts, arrival: &Arrival, matched: usize) -> Response<ProxyBody> {
        let location = self.location(req, arrival, matched);
        let mut resp = Response::new(ProxyBody::Empty);
        *resp.status_mut() = self.status;
        if let Ok(v) = header::HeaderValue::try_from(location) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
        resp.headers_mut()
            .insert(header::CONTENT_LENGTH, header::HeaderValue::from_static("0"));
        resp
    }
}

/// The port a scheme has when a URL names none.
fn own_port(scheme: &str) -> u16 {
    if scheme == "https" {
        443
    } else {
        80
    }
}

fn status_num<S: serde::Serializer>(c: &StatusCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u16(c.as_u16())
}
