//! Hostnames: what a route's `hostnames` and its listener's `hostname` leave together
//! (the Gateway API's intersection), and the order in which the hosts of one port are
//! tried — the most specific first, as the specification's hostname precedence says.

use std::cmp::Ordering;

/// The hosts one group of routes answers for: a name, a wildcard (`*.example.com`), or
/// any host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostKey {
    Exact(String),
    Wildcard(String),
    Any,
}

impl HostKey {
    pub fn new(hostname: &str) -> HostKey {
        let lower = hostname.to_ascii_lowercase();
        if lower.starts_with("*.") {
            HostKey::Wildcard(lower)
        } else {
            HostKey::Exact(lower)
        }
    }

    /// The `routes[].match.hosts` of a Proxy route for this group.
    pub fn hosts(&self) -> Vec<String> {
        match self {
            HostKey::Exact(h) | HostKey::Wildcard(h) => vec![h.clone()],
            HostKey::Any => Vec::new(),
        }
    }
}

/// Most specific first: names, then wildcards with the longest suffix, then any host;
/// ties by name, so the order is the same on every run.
impl Ord for HostKey {
    fn cmp(&self, other: &Self) -> Ordering {
        fn rank(k: &HostKey) -> (u8, std::cmp::Reverse<usize>, &str) {
            match k {
                HostKey::Exact(h) => (0, std::cmp::Reverse(0), h),
                HostKey::Wildcard(h) => (1, std::cmp::Reverse(h.len()), h),
                HostKey::Any => (2, std::cmp::Reverse(0), ""),
            }
        }
        rank(self).cmp(&rank(other))
    }
}

impl PartialOrd for HostKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Does the hostname `pattern` (a name or a wildcard) take the name or wildcard `host`
/// whole? `*.example.com` takes `a.example.com` and `*.a.example.com`, not `example.com`.
fn covers(pattern: &str, host: &str) -> bool {
    match (pattern.strip_prefix("*."), host.strip_prefix("*.")) {
        (Some(suffix), Some(inner)) => {
            inner.eq_ignore_ascii_case(suffix) || crate::proxy::host_matches(pattern, inner)
        }
        (Some(_), None) => crate::proxy::host_matches(pattern, host),
        (None, Some(_)) => false,
        (None, None) => pattern.eq_ignore_ascii_case(host),
    }
}

/// The hosts a route answers for on a listener: its `hostnames` where they fall within
/// the listener's `hostname`, the listener's where it falls within a route's wildcard.
/// `None`: they do not intersect, and the route does not attach to that listener.
pub fn intersect(route_hostnames: &[String], listener_hostname: Option<&str>) -> Option<Vec<HostKey>> {
    let keys: Vec<HostKey> = match (route_hostnames.is_empty(), listener_hostname) {
        (true, None) => vec![HostKey::Any],
        (true, Some(l)) => vec![HostKey::new(l)],
        (false, None) => route_hostnames.iter().map(|h| HostKey::new(h)).collect(),
        (false, Some(l)) => route_hostnames
            .iter()
            .filter_map(|h| {
                if covers(l, h) {
                    Some(HostKey::new(h))
                } else if covers(h, l) {
                    Some(HostKey::new(l))
                } else {
                    None
                }
            })
            .collect(),
    };
    let mut keys = keys;
    keys.sort();
    keys.dedup();
    (!keys.is_empty()).then_some(keys)
}

/// Listener isolation: of the `hosts` a route got on a listener whose hostname is `own`,
/// the ones no other listener of the port (`others`: their hostnames) both takes whole
/// and is more specific than `own`. A request goes to the most specific listener that
/// matches its host, so a route's host that such a listener takes whole never reaches
/// the route (the Gateway API's listener isolation); a host such a listener takes only
/// part of stays, and the more specific listener's own host group keeps its part.
pub fn isolate(hosts: Vec<HostKey>, own: Option<&str>, others: &[Option<&str>]) -> Vec<HostKey> {
    let own_key = own.map(HostKey::new).unwrap_or(HostKey::Any);
    hosts
        .into_iter()
        .filter(|host| {
            let name = match host {
                HostKey::Exact(h) | HostKey::Wildcard(h) => h,
                HostKey::Any => return true,
            };
            !others
                .iter()
                .flatten()
                .any(|other| HostKey::new(other) < own_key && covers(other, name))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_a_more_specific_listener_takes_whole_is_isolated() {
        let hosts = |names: &[&str]| names.iter().map(|h| HostKey::new(h)).collect::<Vec<_>>();
        let others = [
            None,
            Some("*.example.com"),
            Some("*.foo.example.com"),
            Some("abc.foo.example.com"),
        ];
        let all = hosts(&[
            "bar.com",
            "*.example.com",
            "*.foo.example.com",
            "abc.foo.example.com",
        ]);
        // a listener without hostname keeps only what no hostname of the port takes
        assert_eq!(isolate(all.clone(), None, &others), hosts(&["bar.com"]));
        assert_eq!(
            isolate(
                hosts(&["*.example.com", "*.foo.example.com", "abc.foo.example.com"]),
                Some("*.example.com"),
                &others
            ),
            hosts(&["*.example.com"])
        );
        assert_eq!(
            isolate(
                hosts(&["abc.foo.example.com"]),
                Some("abc.foo.example.com"),
                &others
            ),
            hosts(&["abc.foo.example.com"])
        );
        // a wider host stays: the narrower listener's own group keeps its part
        assert_eq!(isolate(hosts(&["*.com"]), None, &others), hosts(&["*.com"]));
        assert_eq!(isolate(vec![HostKey::Any], None, &others), vec![HostKey::Any]);
    }
}
