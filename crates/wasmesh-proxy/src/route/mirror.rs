//! A route's mirrors (`routes[].mirrors`; docs/proxy.md, "Mirrors"): the clusters that get
//! a copy of the requests the route forwards, each for its percent of them. Which requests
//! are copied is counted, not drawn: of every 100 forwarded requests, `percent` are,
//! spread evenly. The count is one atomic per mirror, shared by the workers.

use http::header::{self, HeaderValue};
use http::request;
use http::uri::{PathAndQuery, Uri};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One mirror, compiled.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Mirror {
    pub cluster: String,
    /// The cluster's index in the snapshot's clusters.
    #[serde(skip)]
    pub cluster_index: usize,
    pub percent: u32,
    #[serde(skip)]
    turn: Arc<AtomicU64>,
}

impl Mirror {
    pub fn new(cluster: String, cluster_index: usize, percent: u32) -> Self {
        Mirror {
            cluster,
            cluster_index,
            percent: percent.min(100),
            turn: Arc::default(),
        }
    }

    /// Whether this request is copied: the request `n` (from 0) is when
    /// `⌊(n+1)·p/100⌋ > ⌊n·p/100⌋`, so that `p` of every 100 are.
    pub fn takes_turn(&self) -> bool {
        match self.percent {
            0 => false,
            100 => true,
            p => {
                let n = self.turn.fetch_add(1, Ordering::Relaxed) % 100;
                let p = u64::from(p);
                (n + 1) * p / 100 > n * p / 100
            }
        }
    }
}

/// Makes `parts`, a copy of the request as it goes upstream, the mirror's: its host gets
/// `-shadow` after the name and before any port (`example.com:8080` becomes
/// `example.com-shadow:8080`), as Envoy's shadow requests do. The host goes as `Host`; towards an HTTP/2 upstream `:authority` is made from it
/// (crate::forward::to_upstream).
pub fn shadow(parts: &mut request::Parts) {
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| parts.uri.authority().map(|a| a.as_str().to_owned()));
    if parts.uri.authority().is_some() {
        let pq = parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        parts.uri = Uri::from(pq);
    }
    let Some(host) = host else { return };
    if let Ok(v) = HeaderValue::from_str(&shadow_host(&host)) {
        parts.headers.insert(header::HOST, v);
    }
}

/// `host` with `-shadow` appended to its name, before any port.
pub fn shadow_host(host: &str) -> String {
    // an IPv6 literal `[::1]:80` has colons of its own: the port is after `]`
    let port_at = match host.rfind(']') {
        Some(end) => host[end..].find(':').map(|i| end + i),
        None => host.rfind(':'),
    };
    match port_at {
        Some(i) => format!("{}-shadow{}", &host[..i], &host[i..]),
        None => format!("{host}-shadow"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_gets_shadow_before_its_port() {
        assert_eq!(shadow_host("example.com"), "example.com-shadow");
        assert_eq!(shadow_host("example.com:8080"), "example.com-shadow:8080");
        assert_eq!(shadow_host("[::1]:80"), "[::1]-shadow:80");
        assert_eq!(shadow_host("[::1]"), "[::1]-shadow");
    }

    #[test]
    fn the_shadow_host_replaces_the_authority() {
        let (mut parts, _) = http::Request::get("http://a.example.com:81/x?y=1")
            .body(())
            .unwrap()
            .into_parts();
        shadow(&mut parts);
        assert_eq!(parts.uri, "/x?y=1");
        assert_eq!(parts.headers[header::HOST], "a.example.com-shadow:81");
        let (mut parts, _) = http::Request::get("/x")
            .header("host", "b.example.com")
            .body(())
            .unwrap()
            .into_parts();
        shadow(&mut parts);
        assert_eq!(parts.headers[header::HOST], "b.example.com-shadow");
    }

    #[test]
    fn a_percent_takes_that_many_of_every_hundred_spread_evenly() {
        for p in [0, 1, 10, 33, 50, 99, 100] {
            let m = Mirror::new("c".into(), 0, p);
            let taken = (0..1000).filter(|_| m.takes_turn()).count();
            assert_eq!(taken, 10 * p as usize, "percent {p}");
        }
        // 50%: every other request, not the first 50 of each hundred
        let m = Mirror::new("c".into(), 0, 50);
        let turns: Vec<bool> = (0..4).map(|_| m.takes_turn()).collect();
        assert_eq!(turns, [false, true, false, true]);
    }
}
