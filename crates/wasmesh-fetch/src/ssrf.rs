//! The SSRF guard (Istio's `ssrf.go`): module fetches never reach link-local addresses or
//! cloud metadata services, nor the ranges an operator adds. Checked before a request (for a
//! clear error) and again in the DNS resolver the HTTP client uses (so a name cannot resolve
//! to a blocked address between the check and the connection).

use crate::error::FetchError;
use ipnet::IpNet;
use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

/// Ranges always blocked: link-local (which holds 169.254.169.254, the metadata address of
/// most clouds) and the metadata addresses outside it.
const DEFAULT_BLOCKED: &[&str] = &[
    "169.254.0.0/16",
    "fe80::/10",
    "100.100.100.200/32", // Alibaba Cloud metadata
    "fd00:ec2::254/128",  // AWS metadata over IPv6
];

#[derive(Debug, Clone)]
pub(crate) struct AddressGuard {
    blocked: Arc<Vec<IpNet>>,
}

impl AddressGuard {
    pub(crate) fn new(extra: &[IpNet]) -> Self {
        let mut blocked: Vec<IpNet> = DEFAULT_BLOCKED.iter().filter_map(|c| c.parse().ok()).collect();
        blocked.extend_from_slice(extra);
        AddressGuard {
            blocked: Arc::new(blocked),
        }
    }

    pub(crate) fn is_blocked(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.blocked.iter().any(|net| net.contains(&ip))
    }

    /// Resolves `host` and returns the first blocked address it resolves to, if any.
    /// Resolution failures are left to the real request, which reports them.
    pub(crate) async fn first_blocked(&self, host: &str, port: u16) -> Option<IpAddr> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self.is_blocked(ip).then_some(ip);
        }
        let addrs = tokio::net::lookup_host((host, port)).await.ok()?;
        addrs.map(|a| a.ip()).find(|ip| self.is_blocked(*ip))
    }

    /// [`AddressGuard::first_blocked`] as the error a fetch of the module `shown` ends with.
    pub(crate) async fn check(&self, host: &str, port: u16, shown: &str) -> Result<(), FetchError> {
        match self.first_blocked(host, port).await {
            Some(addr) => Err(FetchError::BlockedAddress {
                url: shown.to_owned(),
                addr,
            }),
            None => Ok(()),
        }
    }
}

impl reqwest::dns::Resolve for AddressGuard {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.clone();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = addrs
                .iter()
                .copied()
                .filter(|a| !guard.is_blocked(a.ip()))
                .collect();
            if allowed.is_empty() && !addrs.is_empty() {
                let msg = format!("{} resolves only to blocked addresses", name.as_str());
                return Err(msg.into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// `host[:port]` of a registry, IPv6 in brackets allowed.
pub(crate) fn split_host_port(registry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = registry.strip_prefix('[') {
        let (host, after) = rest.split_once(']').unwrap_or((rest, ""));
        return (host, after.strip_prefix(':').and_then(|p| p.parse().ok()));
    }
    match registry.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => (host, port.parse().ok()),
        _ => (registry, None),
    }
}

#[cfg(test)]
mod tests;
