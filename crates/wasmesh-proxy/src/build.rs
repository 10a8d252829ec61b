//! Building a [`Snapshot`] from resources: the `Proxy` resource's listeners, routes and
//! clusters, and the RequestAuthentication and AuthorizationPolicy resources that apply to
//! the workload, compiled into the built-in filters. Pure apart from reading TLS files
//! (`tls`: a listener's certificates, from files or Secrets).

use http::HeaderName;
use std::collections::HashMap;
use std::sync::Arc;

use wasmesh_api::{authorization_policy as ap, proxy as px, AuthorizationPolicy};
use wasmesh_api::{Builtin, Filter, WorkloadChains};

use crate::chain::authn::{Authn, JwtRule, TokenLocation};
use crate::chain::authz::{self, Authz, Condition, ConditionKey, IpBlocks};
use crate::chain::matcher::Patterns;
use crate::chain::{ChainSpec, FilterSpec};
use crate::cluster::{Cluster, ClusterProtocol, Clusters};
use crate::plugin::load::Loaded;
use crate::route::mirror::Mirror;
use crate::route::query::QueryMatch;
use crate::route::{HeaderMatch, HeaderValueMatch, PathMatch, Route, RouteTable};

mod actions;
mod tls;
use crate::snapshot::{HttpTimeouts, ListenerConfig, ListenerProtocol, Snapshot, TrafficDirection, Workload};

/// Why a snapshot could not be built; the previous one stays in force.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A cluster could not be built.
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
    /// A route or TCP listener names a cluster that does not exist.
    #[error("listener {listener}: unknown cluster {cluster:?}")]
    UnknownCluster { listener: String, cluster: String },
    /// A regex does not compile.
    #[error("listener {listener}, route {route}: bad regex: {source}")]
    Regex {
        listener: String,
        route: String,
        #[source]
        source: regex::Error,
    },
    /// A direct response's status is not an HTTP status.
    #[error("listener {listener}, route {route}: {status} is not an HTTP status")]
    Status {
        listener: String,
        route: String,
        status: u16,
    },
    /// A route's method is not an HTTP method.
    #[error("listener {listener}, route {route}: {method:?} is not an HTTP method")]
    Method {
        listener: String,
        route: String,
        method: String,
    },
    /// A header name is not valid.
    #[error("{context}: {name:?} is not a valid header name")]
    HeaderName { context: String, name: String },
    /// A header value is not valid.
    #[error("{context}: {value:?} is not a valid header value")]
    HeaderValue { context: String, value: String },
    /// TLS files could not be read or used.
    #[error("listener {listener}: TLS: {reason}")]
    Tls { listener: String, reason: String },
    /// An AuthorizationPolicy could not be compiled.
    #[error("AuthorizationPolicy {policy}: {reason}")]
    Policy { policy: String, reason: String },
}

/// The resources a snapshot is built from.
pub struct Inputs<'a> {
    pub version: u64,
    pub proxy: &'a wasmesh_api::Proxy,
    /// What `resolve` selected for this workload, per listener.
    pub chains: &'a WorkloadChains,
    /// Bodies fetched for `jwksUri`s, by URI (or why the fetch failed).
    pub jwks: &'a HashMap<String, Result<String, String>>,
    /// The plugins the chains name, loaded (or why not).
    pub plugins: &'a Loaded,
    /// Every resource, for the TLS Secrets listeners name (`tls.secretName`).
    pub resources: &'a wasmesh_api::Resources,
}

/// Builds a snapshot.
pub fn snapshot(inputs: Inputs<'_>) -> Result<Snapshot, BuildError> {
    let proxy = inputs.proxy;
    let clusters = proxy
        .spec
        .clusters
        .iter()
        .map(|c| {
            let protocol = match c.protocol {
                px::ClusterProtocol::Http1 => ClusterProtocol::Http1,
                px::ClusterProtocol::Http2 => ClusterProtocol::Http2,
            };
            Cluster::new(&c.name, &c.endpoints, protocol, c.connect_timeout())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let clusters = Arc::new(Clusters::new(clusters));
    let builtins = Builtins::new(&inputs)?;
    let listeners = proxy
        .spec
        .listeners
        .iter()
        .map(|l| {
            let chain = Arc::new(builtins.chain(inputs.chains, &l.name, inputs.plugins));
            listener(l, &clusters, chain, &inputs).map(Arc::new)
        })
        .collect::<Result<_, _>>()?;
    Ok(Snapshot {
        version: inputs.version,
        workload: Workload {
            namespace: proxy.metadata.namespace().to_string(),
            name: proxy.metadata.name.clone(),
        },
        labels: proxy.metadata.labels.clone(),
        listeners,
        clusters,
    })
}

fn listener(
    l: &px::Listener,
    clusters: &Clusters,
    chain: Arc<ChainSpec>,
    inputs: &Inputs<'_>,
) -> Result<ListenerConfig, BuildError> {
    let cluster_index = |name: &str| {
        clusters.index_of(name).ok_or_else(|| BuildError::UnknownCluster {
            listener: l.name.clone(),
            cluster: name.to_string(),
        })
    };
    let routes = l
        .routes
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let name = r.name.clone().unwrap_or_else(|| format!("{}-{i}", l.name));
            let regex_err = |source| BuildError::Regex {
                listener: l.name.clone(),
                route: name.clone(),
                source,
            };
            let path = match r.r#match.path() {
                px::PathMatch::Prefix(p) => PathMatch::Prefix(p.to_string()),
                px::PathMatch::SeparatedPrefix(p) => {
                    PathMatch::SeparatedPrefix(p.trim_end_matches('/').to_string())
                }
                px::PathMatch::Exact(p) => PathMatch::Exact(p.to_string()),
                px::PathMatch::Regex(p) => PathMatch::regex(p).map_err(regex_err)?,
            };
            let headers = r
                .r#match
                .headers
                .iter()
                .map(|h| {
                    let hname = header_name(&h.name, || format!("listener {}, route {name}", l.name))?;
                    let value = match (&h.exact, &h.regex) {
                        (Some(e), _) => HeaderValueMatch::Exact(e.clone()),
                        (None, Some(re)) => HeaderValueMatch::regex(re).map_err(regex_err)?,
                        (None, None) => HeaderValueMatch::Present,
                    };
                    Ok(HeaderMatch { name: hname, value })
                })
                .collect::<Result<_, BuildError>>()?;
            let cx = actions::Context {
                listener: &l.name,
                route: &name,
            };
            let mirrors = r
                .mirrors
                .iter()
                .map(|m| {
                    Ok(Mirror::new(
                        m.cluster.clone(),
                        cluster_index(&m.cluster)?,
                        m.percent(),
                    ))
                })
                .collect::<Result<_, BuildError>>()?;
            let weighted_clusters = if r.weighted_clusters.is_empty() {
                None
            } else {
                Some(actions::weighted(&cx, &r.weighted_clusters, &cluster_index)?)
            };
            let query_params = r
                .r#match
                .query_params
                .iter()
                .map(|q| {
                    let value = match (&q.exact, &q.regex) {
                        (Some(e), _) => HeaderValueMatch::Exact(e.clone()),
                        (None, Some(re)) => HeaderValueMatch::regex(re).map_err(regex_err)?,
                        (None, None) => HeaderValueMatch::Present,
                    };
                    Ok(QueryMatch {
                        name: q.name.clone(),
                        value,
                    })
                })
                .collect::<Result<_, BuildError>>()?;
            let (cluster, cluster_index, direct_response) = match (&r.cluster, r.direct_response) {
                (_, Some(direct)) => (
                    String::new(),
                    // never read: the router answers a direct response before it picks a cluster
                    usize::MAX,
                    Some(
                        http::StatusCode::from_u16(direct.status).map_err(|_| BuildError::Status {
                            listener: l.name.clone(),
                            route: name.clone(),
                            status: direct.status,
                        })?,
                    ),
                ),
                (Some(c), None) => (c.clone(), cluster_index(c)?, None),
                // answered before a cluster is picked: a redirect, or a split's shares
                (None, None) if r.redirect.is_some() || !r.weighted_clusters.is_empty() => {
                    (String::new(), usize::MAX, None)
                }
                (None, None) => (String::new(), cluster_index("")?, None),
            };
            let redirect = r
                .redirect
                .as_ref()
                .map(|rd| actions::redirect(&cx, rd))
                .transpose()?;
            let request_headers = actions::edits(&cx, "requestHeaders", &r.request_headers)?;
            let response_headers = actions::edits(&cx, "responseHeaders", &r.response_headers)?;
            let rewrite = r
                .rewrite
                .as_ref()
                .map(|rw| actions::rewrite(&cx, rw))
                .transpose()?;
            Ok(Route {
                mirrors,
                query_params,
                redirect,
                weighted_clusters,
                request_headers,
                response_headers,
                rewrite,
                cluster_index,
                cluster,
                direct_response,
                hosts: r.r#match.hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
                method: match &r.r#match.method {
                    Some(m) => {
                        Some(
                            http::Method::from_bytes(m.as_bytes()).map_err(|_| BuildError::Method {
                                listener: l.name.clone(),
                                route: name.clone(),
                                method: m.clone(),
                            })?,
                        )
                    }
                    None => None,
                },
                name,
                path,
                headers,
                timeout: r.timeout,
                per_try_timeout: r.per_try_timeout,
            })
        })
        .collect::<Result<Vec<_>, BuildError>>()?;
    let namespace = inputs.proxy.metadata.namespace();
    let tls = l
        .tls
        .as_ref()
        .map(|t| tls::listener_tls(&l.name, namespace, t, inputs.resources))
        .transpose()?;
    Ok(ListenerConfig {
        name: l.name.clone(),
        address: l.address,
        protocol: match l.protocol {
            px::ListenerProtocol::Http => ListenerProtocol::Http,
            px::ListenerProtocol::Tcp => ListenerProtocol::Tcp,
        },
        traffic_direction: match l.traffic_direction {
            px::TrafficDirection::Server => TrafficDirection::Server,
            px::TrafficDirection::Client => TrafficDirection::Client,
        },
        tls,
        timeouts: HttpTimeouts {
            request_headers: l.http.request_headers_timeout(),
            idle: l.http.idle_timeout(),
        },
        routes: RouteTable::new(routes),
        http: crate::admit::RequestPolicy {
            path_normalization: l.http.path_normalization(),
            upgrades: match &l.http.upgrades {
                Some(list) => list.iter().map(|u| u.to_ascii_lowercase()).collect(),
                None => crate::admit::RequestPolicy::default().upgrades,
            },
        },
        tcp_cluster: l.cluster.as_deref().map(cluster_index).transpose()?,
        chain,
    })
}

fn header_name(name: &str, context: impl FnOnce() -> String) -> Result<HeaderName, BuildError> {
    HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).map_err(|_| BuildError::HeaderName {
        context: context(),
        name: name.to_string(),
    })
}

/// The built-in filters, compiled once and shared by every listener's chain.
struct Builtins {
    authn: Option<Arc<Authn>>,
    authz: Option<Arc<Authz>>,
}

impl Builtins {
    fn new(inputs: &Inputs<'_>) -> Result<Self, BuildError> {
        let rules = jwt_rules(inputs)?;
        let policies = inputs
            .chains
            .authorization_policies
            .iter()
            .filter_map(|p| policy(p).transpose())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Builtins {
            authn: (!rules.is_empty()).then(|| Arc::new(Authn::new(rules))),
            authz: (!policies.is_empty()).then(|| Arc::new(Authz::new(policies))),
        })
    }

    /// The listener's chain in the order `resolve` gave; a built-in with nothing to enforce
    /// is left out, so that requests do not pay for it.
    fn chain(&self, chains: &WorkloadChains, listener: &str, plugins: &Loaded) -> ChainSpec {
        let Some(lc) = chains.listener(listener) else {
            return ChainSpec::default();
        };
        let filters = lc
            .filters
            .iter()
            .filter_map(|f| match f {
                Filter::Builtin(Builtin::Authn) => self.authn.clone().map(FilterSpec::Authn),
                Filter::Builtin(Builtin::Authz) => self.authz.clone().map(FilterSpec::Authz),
                Filter::Builtin(Builtin::Stats) => Some(FilterSpec::Stats),
                Filter::Builtin(Builtin::Router) => Some(FilterSpec::Router),
                Filter::Wasm(p) => {
                    let name = p.qualified_name();
                    match plugins.get(&name) {
                        Some(Ok(w)) => Some(FilterSpec::Wasm(w.clone())),
                        // docs/modules.md and docs/wasm-host.md: a module that can't be had is skipped under
                        // FAIL_OPEN and answers 503 naming the plugin otherwise.
                        _ if p.fail_strategy() == wasmesh_api::FailStrategy::FailOpen => None,
                        Some(Err(reason)) => Some(FilterSpec::Unavailable {
                            plugin: name,
                            reason: reason.clone(),
                        }),
                        None => Some(FilterSpec::Unavailable {
                            plugin: name,
                            reason: "not loaded".into(),
                        }),
                    }
                }
            })
            .collect();
        ChainSpec { filters }
    }
}

fn jwt_rules(inputs: &Inputs<'_>) -> Result<Vec<JwtRule>, BuildError> {
    let mut out = Vec::new();
    for ra in &inputs.chains.request_authentications {
        for r in &ra.spec.jwt_rules {
            let context = || {
                format!(
                    "RequestAuthentication {}/{}",
                    ra.metadata.namespace(),
                    ra.metadata.name
                )
            };
            let keys = match (&r.jwks, &r.jwks_uri) {
                (Some(inline), _) => JwtRule::parse_jwks(inline),
                (None, Some(uri)) => match inputs.jwks.get(uri) {
                    Some(Ok(body)) => JwtRule::parse_jwks(body),
                    Some(Err(e)) => Err(e.clone()),
                    None => Err(format!("JWKS from {uri} not fetched yet")),
                },
                (None, None) => Err("no jwks or jwksUri".to_string()),
            };
            if let Err(e) = &keys {
                tracing::warn!(issuer = %r.issuer, error = %e, "{}: JWKS unusable; tokens of this issuer will be rejected", context());
            }
            let mut locations = Vec::new();
            for h in &r.from_headers {
                locations.push(TokenLocation::Header {
                    name: header_name(&h.name, context)?,
                    prefix: h.prefix.clone().unwrap_or_default(),
                });
            }
            locations.extend(r.from_params.iter().cloned().map(TokenLocation::Param));
            locations.extend(r.from_cookies.iter().cloned().map(TokenLocation::Cookie));
            if locations.is_empty() {
                locations = JwtRule::default_locations();
            }
            let output_payload_to_header = r
                .output_payload_to_header
                .as_deref()
                .map(|h| header_name(h, context))
                .transpose()?;
            let claim_to_headers = r
                .output_claim_to_headers
                .iter()
                .map(|c| Ok((header_name(&c.header, context)?, c.claim.clone())))
                .collect::<Result<_, BuildError>>()?;
            out.push(JwtRule {
                issuer: r.issuer.clone(),
                audiences: r.audiences.clone(),
                keys,
                locations,
                forward_original_token: r.forward_original_token.unwrap_or(false),
                output_payload_to_header,
                claim_to_headers,
            });
        }
    }
    Ok(out)
}

/// Compiles one AuthorizationPolicy; AUDIT policies change no decision and are left out.
fn policy(p: &AuthorizationPolicy) -> Result<Option<authz::Policy>, BuildError> {
    let name = format!("{}/{}", p.metadata.namespace(), p.metadata.name);
    let err = |reason: String| BuildError::Policy {
        policy: name.clone(),
        reason,
    };
    let action = match p.action() {
        ap::Action::Allow => authz::Action::Allow,
        ap::Action::Deny => authz::Action::Deny,
        ap::Action::Audit => return Ok(None),
        ap::Action::Custom => {
            return Err(err(
                "Unimplemented: action CUSTOM (external authorization) is not supported".into(),
            ))
        }
    };
    let rules = p
        .spec
        .rules
        .iter()
        .map(|r| {
            let from = r
                .from
                .iter()
                .map(|f| {
                    let s = &f.source;
                    let mut principals = s.principals.clone();
                    principals.extend(s.service_accounts.iter().cloned());
                    let mut not_principals = s.not_principals.clone();
                    not_principals.extend(s.not_service_accounts.iter().cloned());
                    Ok(authz::Source {
                        principals: Patterns::new(&principals, &not_principals),
                        request_principals: Patterns::new(&s.request_principals, &s.not_request_principals),
                        namespaces: Patterns::new(&s.namespaces, &s.not_namespaces),
                        ip_blocks: IpBlocks::parse(&s.ip_blocks, &s.not_ip_blocks).map_err(&err)?,
                        remote_ip_blocks: IpBlocks::parse(&s.remote_ip_blocks, &s.not_remote_ip_blocks)
                            .map_err(&err)?,
                    })
                })
                .collect::<Result<_, BuildError>>()?;
            let to =
                r.to.iter()
                    .map(|t| {
                        let o = &t.operation;
                        authz::Operation {
                            hosts: Patterns::new(&o.hosts, &o.not_hosts),
                            ports: Patterns::new(&o.ports, &o.not_ports),
                            methods: Patterns::new(&o.methods, &o.not_methods),
                            paths: Patterns::new(&o.paths, &o.not_paths),
                        }
                    })
                    .collect();
            let when = r
                .when
                .iter()
                .map(|c| {
                    let key = ConditionKey::parse(&c.key).map_err(|e| err(e.to_string()))?;
                    let ip_values = if matches!(key, ConditionKey::SourceIp) {
                        IpBlocks::parse(&c.values, &c.not_values).map_err(&err)?
                    } else {
                        IpBlocks::default()
                    };
                    Ok(Condition {
                        key,
                        values: Patterns::new(&c.values, &c.not_values),
                        ip_values,
                    })
                })
                .collect::<Result<_, BuildError>>()?;
            Ok(authz::Rule { from, to, when })
        })
        .collect::<Result<_, BuildError>>()?;
    Ok(Some(authz::Policy { name, action, rules }))
}
