//! The built-in `authz` filter: Istio's AuthorizationPolicy. DENY policies are evaluated
//! first; then, if any ALLOW policy applies to the workload, one of them must match.
//! A refusal is Envoy RBAC's `403 RBAC: access denied`.

use http::{header, HeaderName, StatusCode};
use ipnet::IpNet;
use serde_json::Value;
use std::net::IpAddr;

use super::matcher::Patterns;
use super::Exchange;
use crate::body::ProxyBody;
use crate::error::local_reply;

/// ALLOW or DENY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Allow,
    Deny,
}

/// CIDR lists (`ipBlocks` / `notIpBlocks`).
#[derive(Debug, Clone, Default)]
pub struct IpBlocks {
    pub any_of: Vec<IpNet>,
    pub none_of: Vec<IpNet>,
}

/// `rules[].from[].source`: every field given must match.
#[derive(Debug, Clone, Default)]
pub struct Source {
    pub principals: Patterns,
    pub request_principals: Patterns,
    pub namespaces: Patterns,
    pub ip_blocks: IpBlocks,
    pub remote_ip_blocks: IpBlocks,
}

/// `rules[].to[].operation`: every field given must match.
#[derive(Debug, Clone, Default)]
pub struct Operation {
    pub hosts: Patterns,
    pub ports: Patterns,
    pub methods: Patterns,
    pub paths: Patterns,
}

/// What a `when` condition looks at.
#[derive(Debug, Clone)]
pub enum ConditionKey {
    /// `request.auth.claims[a][b]...`
    Claim(Vec<String>),
    /// `request.headers[name]`
    Header(HeaderName),
    /// `source.ip` and `remote.ip` (values are IPs or CIDRs)
    SourceIp,
    /// `source.principal` and `source.namespace` (mTLS identities; none without mTLS)
    PeerIdentity,
    /// `destination.port`
    DestinationPort,
    /// `request.auth.principal`
    RequestPrincipal,
    /// `request.auth.audiences`
    Audiences,
    /// `request.auth.presenter`
    Presenter,
    /// `connection.sni`
    Sni,
}

/// One `when` condition.
#[derive(Debug, Clone)]
pub struct Condition {
    pub key: ConditionKey,
    pub values: Patterns,
    /// For IP conditions: the values as CIDRs.
    pub ip_values: IpBlocks,
}

/// One rule: all of its parts must match.
#[derive(Debug, Clone, Default)]
pub struct Rule {
    pub from: Vec<Source>,
    pub to: Vec<Operation>,
    pub when: Vec<Condition>,
}

/// One AuthorizationPolicy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// `<namespace>/<name>`.
    pub name: String,
    pub action: Action,
    pub rules: Vec<Rule>,
}

/// The authz filter of one listener.
#[derive(Debug, Default)]
pub struct Authz {
    deny: Vec<Policy>,
    allow: Vec<Policy>,
}

/// Why a `when` key was refused.
#[derive(Debug, thiserror::Error)]
#[error("unsupported condition key {0:?}")]
pub struct UnknownKey(pub String);

// === impl ConditionKey ===

impl ConditionKey {
    /// Parses Istio's condition key syntax.
    pub fn parse(key: &str) -> Result<Self, UnknownKey> {
        if let Some(rest) = key.strip_prefix("request.auth.claims") {
            let path: Vec<String> = rest
                .split('[')
                .filter(|s| !s.is_empty())
                .map(|s| s.trim_end_matches(']').to_string())
                .collect();
            if path.is_empty() || !rest.ends_with(']') {
                return Err(UnknownKey(key.into()));
            }
            return Ok(ConditionKey::Claim(path));
        }
        if let Some(name) = key
            .strip_prefix("request.headers[")
            .and_then(|r| r.strip_suffix(']'))
        {
            return HeaderName::from_bytes(name.as_bytes())
                .map(ConditionKey::Header)
                .map_err(|_| UnknownKey(key.into()));
        }
        Ok(match key {
            "source.ip" | "remote.ip" => ConditionKey::SourceIp,
            "source.principal" | "source.namespace" => ConditionKey::PeerIdentity,
            "destination.port" => ConditionKey::DestinationPort,
            "request.auth.principal" => ConditionKey::RequestPrincipal,
            "request.auth.audiences" => ConditionKey::Audiences,
            "request.auth.presenter" => ConditionKey::Presenter,
            "connection.sni" => ConditionKey::Sni,
            _ => return Err(UnknownKey(key.into())),
        })
    }
}

// === impl IpBlocks ===

impl IpBlocks {
    /// Parses IPs and CIDRs; a bare IP is a /32 or /128.
    pub fn parse(any_of: &[String], none_of: &[String]) -> Result<Self, String> {
        let p = |list: &[String]| -> Result<Vec<IpNet>, String> {
            list.iter()
                .map(|s| {
                    s.parse::<IpNet>()
                        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                        .map_err(|_| format!("{s:?} is not an IP address or CIDR"))
                })
                .collect()
        };
        Ok(IpBlocks {
            any_of: p(any_of)?,
            none_of: p(none_of)?,
        })
    }

    fn is_empty(&self) -> bool {
        self.any_of.is_empty() && self.none_of.is_empty()
    }

    fn matches(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        (self.any_of.is_empty() || self.any_of.iter().any(|n| n.contains(&ip)))
            && !self.none_of.iter().any(|n| n.contains(&ip))
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

// === impl Rule ===

impl Rule {
    fn matches(&self, ex: &Exchange<'_>) -> bool {
        (self.from.is_empty() || self.from.iter().any(|s| s.matches(ex)))
            && (self.to.is_empty() || self.to.iter().any(|o| o.matches(ex)))
            && self.when.iter().all(|c| c.matches(ex))
    }
}

impl Source {
    fn matches(&self, ex: &Exchange<'_>) -> bool {
        let principal = ex.auth.as_ref().map(|a| a.principal.as_str()).unwrap_or("");
        (self.principals.is_empty() || self.principals.matches("", false))
            && (self.namespaces.is_empty() || self.namespaces.matches("", false))
            && (self.request_principals.is_empty() || self.request_principals.matches(principal, false))
            && (self.ip_blocks.is_empty() || self.ip_blocks.matches(ex.conn.peer.ip()))
            && (self.remote_ip_blocks.is_empty() || self.remote_ip_blocks.matches(ex.conn.peer.ip()))
    }
}

impl Operation {
    fn matches(&self, ex: &Exchange<'_>) -> bool {
        let req = ex.request();
        let host = req
            .uri
            .authority()
            .map(|a| a.as_str())
            .or_else(|| req.headers.get(header::HOST).and_then(|h| h.to_str().ok()))
            .unwrap_or("");
        let host_only = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
        (self.hosts.is_empty() || self.hosts.matches(host, true) || self.hosts.matches(host_only, true))
            && (self.ports.is_empty() || self.ports.matches(&ex.conn.local.port().to_string(), false))
            && (self.methods.is_empty() || self.methods.matches(req.method.as_str(), false))
            && (self.paths.is_empty() || self.paths.matches(req.uri.path(), false))
    }
}

impl Condition {
    fn matches(&self, ex: &Exchange<'_>) -> bool {
        let claims = ex.auth.as_ref().map(|a| &a.claims);
        let values: Vec<String> = match &self.key {
            ConditionKey::SourceIp => return self.ip_values.matches(ex.conn.peer.ip()),
            ConditionKey::Claim(path) => {
                let (first, rest) = path.split_first().expect("parse gives at least one segment");
                let mut v = claims.and_then(|c| c.get(first));
                for seg in rest {
                    v = v.and_then(|v| v.get(seg));
                }
                string_values(v)
            }
            ConditionKey::Header(name) => ex
                .request()
                .headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok().map(str::to_string))
                .collect(),
            ConditionKey::PeerIdentity => Vec::new(),
            ConditionKey::DestinationPort => vec![ex.conn.local.port().to_string()],
            ConditionKey::RequestPrincipal => ex.auth.iter().map(|a| a.principal.clone()).collect(),
            ConditionKey::Audiences => string_values(claims.and_then(|c| c.get("aud"))),
            ConditionKey::Presenter => string_values(claims.and_then(|c| c.get("azp"))),
            ConditionKey::Sni => ex.conn.sni.iter().cloned().collect(),
        };
        if values.is_empty() {
            // An absent attribute matches only a pure `notValues` condition.
            return self.values.any_of.is_empty();
        }
        self.values.matches_any(&values)
    }
}

fn string_values(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
        Some(Value::Bool(b)) => vec![b.to_string()],
        Some(Value::Number(n)) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

// === impl Authz ===

impl Authz {
    pub fn new(policies: Vec<Policy>) -> Self {
        let (deny, allow) = policies.into_iter().partition(|p| p.action == Action::Deny);
        Authz { deny, allow }
    }

    pub fn policy_names(&self) -> Vec<&str> {
        self.deny
            .iter()
            .chain(&self.allow)
            .map(|p| p.name.as_str())
            .collect()
    }

    /// True when the request may pass.
    pub fn allows(&self, ex: &Exchange<'_>) -> bool {
        let matched = |p: &Policy| p.rules.iter().any(|r| r.matches(ex));
        if let Some(p) = self.deny.iter().find(|p| matched(p)) {
            tracing::debug!(policy = %p.name, "denied by a DENY policy");
            return false;
        }
        self.allow.is_empty() || self.allow.iter().any(matched)
    }

    pub fn on_request(&self, ex: &mut Exchange<'_>) -> Option<http::Response<ProxyBody>> {
        (!self.allows(ex)).then(|| local_reply(StatusCode::FORBIDDEN, "RBAC: access denied"))
    }
}

#[cfg(test)]
mod tests;
