//! An HTTPRoute's rules as Proxy routes: each match of a rule becomes one route, with
//! the rule's action — its backend's cluster, or a 500 where the backend does not
//! resolve or the rule needs what wasmesh does not implement — and a precedence key that
//! orders the routes of one host as the Gateway API's match precedence says.

use super::backends::{self, Unresolved};
use super::types::{EndpointSlice, HttpRoute, HttpRouteMatch, HttpRouteRule, Service};
use super::{Note, NoteKind};
use crate::proxy::{Cluster, DirectResponse, HeaderMatch, Route, RouteMatch};
use crate::timestamp::Timestamp;
use std::cmp::Reverse;
use std::time::Duration;

/// What a rule does with the requests it takes.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send them to this cluster.
    Forward(Cluster),
    /// Answer them here.
    Respond(u16),
}

/// The status a rule answers when it cannot forward: an unresolved backend, or a filter
/// wasmesh does not implement (a filter that cannot be applied must not be skipped; the
/// request gets an error instead).
pub const UNSERVED: u16 = 500;

/// The order of routes within one host: Exact paths, then regular expressions, then the
/// longest prefix; a method; the most headers; the oldest route, then by namespace/name;
/// then rule and match order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Precedence {
    path_kind: u8,
    path_len: Reverse<usize>,
    no_method: bool,
    headers: Reverse<usize>,
    created: Option<Timestamp>,
    route: (String, String),
    rule: usize,
    index: usize,
}

/// One match of one rule, as a Proxy route (its hosts are set per host group).
#[derive(Debug, Clone)]
pub struct Entry {
    pub precedence: Precedence,
    pub route: Route,
}

/// The action of `rule` (index `i` of `route`); what cannot be done is in `notes`.
pub fn action(
    route: &HttpRoute,
    i: usize,
    rule: &HttpRouteRule,
    services: &[Service],
    slices: &[EndpointSlice],
    notes: &mut Vec<Note>,
) -> Action {
    let object = object(route);
    let at = format!("spec.rules[{i}]");
    let unimplemented = |field: String, message: String, notes: &mut Vec<Note>| {
        notes.push(Note {
            kind: NoteKind::Unimplemented,
            object: object.clone(),
            field,
            message,
        })
    };
    let mut refuse = false;
    for (f, filter) in rule.filters.iter().enumerate() {
        unimplemented(
            format!("{at}.filters[{f}]"),
            format!(
                "filter {} is not implemented yet; the rule answers {UNSERVED}",
                filter.kind
            ),
            notes,
        );
        refuse = true;
    }
    for (b, backend) in rule.backend_refs.iter().enumerate() {
        for (f, filter) in backend.filters.iter().enumerate() {
            unimplemented(
                format!("{at}.backendRefs[{b}].filters[{f}]"),
                format!(
                    "filter {} is not implemented yet; the rule answers {UNSERVED}",
                    filter.kind
                ),
                notes,
            );
            refuse = true;
        }
    }
    if let Some(t) = rule.timeouts.as_ref().and_then(|t| t.backend_request.as_ref()) {
        unimplemented(
            format!("{at}.timeouts.backendRequest"),
            format!("{t} is not enforced: backendRequest is not implemented yet (timeouts.request is)"),
            notes,
        );
    }
    if rule.retry.is_some() {
        unimplemented(
            format!("{at}.retry"),
            "retries are not implemented yet; requests are tried once".into(),
            notes,
        );
    }
    if rule.session_persistence.is_some() {
        unimplemented(
            format!("{at}.sessionPersistence"),
            "session persistence is not implemented yet; endpoints are picked round robin".into(),
            notes,
        );
    }
    if refuse {
        return Action::Respond(UNSERVED);
    }
    let backends: Vec<_> = rule
        .backend_refs
        .iter()
        .enumerate()
        .filter(|(_, b)| b.weight != Some(0))
        .collect();
    match backends.as_slice() {
        [] => {
            notes.push(Note {
                kind: NoteKind::Unresolved,
                object,
                field: format!("{at}.backendRefs"),
                message: format!("no backend with a weight above 0; the rule answers {UNSERVED}"),
            });
            Action::Respond(UNSERVED)
        }
        [(b, backend)] => match backends::resolve(backend, route.metadata.namespace(), services, slices) {
            Ok(cluster) => Action::Forward(cluster),
            Err(why) => {
                notes.push(Note {
                    kind: match why {
                        Unresolved::OtherNamespace { .. } => NoteKind::Unimplemented,
                        _ => NoteKind::Unresolved,
                    },
                    object,
                    field: format!("{at}.backendRefs[{b}]"),
                    message: format!("{why}; the rule answers {UNSERVED}"),
                });
                Action::Respond(UNSERVED)
            }
        },
        _ => split(route, &at, &backends, services, slices, notes),
    }
}

/// Several backends with weights: one weighted cluster, when every backend resolves to a
/// Service with a ready endpoint and they speak one protocol. Otherwise the rule answers
/// 500: the share of a backend that cannot answer should get 500 or 503 while the others
/// are served, which one cluster cannot express (not implemented yet).
fn split(
    route: &HttpRoute,
    at: &str,
    backends: &[(usize, &super::types::HttpBackendRef)],
    services: &[Service],
    slices: &[EndpointSlice],
    notes: &mut Vec<Note>,
) -> Action {
    let mut parts = Vec::new();
    let refuse = |b: usize, why: String, notes: &mut Vec<Note>| {
        notes.push(Note {
            kind: NoteKind::Unimplemented,
            object: object(route),
            field: format!("{at}.backendRefs[{b}]"),
            message: format!(
                "{why}: a weighted split with a backend that cannot answer is not implemented yet; \
                 the rule answers {UNSERVED}"
            ),
        });
        Action::Respond(UNSERVED)
    };
    for (b, backend) in backends {
        match backends::resolve(backend, route.metadata.namespace(), services, slices) {
            Ok(cluster) if cluster.endpoints.is_empty() => {
                return refuse(*b, format!("{} has no ready endpoint", cluster.name), notes)
            }
            Ok(cluster) => parts.push((cluster, backend.weight.unwrap_or(1))),
            Err(why) => return refuse(*b, why.to_string(), notes),
        }
    }
    if parts.iter().any(|(c, _)| c.protocol != parts[0].0.protocol) {
        return refuse(
            backends[0].0,
            "the backends speak HTTP/1.1 and HTTP/2".into(),
            notes,
        );
    }
    match backends::weighted(&parts) {
        Some(cluster) => Action::Forward(cluster),
        None => {
            notes.push(Note {
                kind: NoteKind::Unimplemented,
                object: object(route),
                field: format!("{at}.backendRefs"),
                message: format!(
                    "these weights over these endpoints need more than {} entries of round robin, \
                     which is not implemented; the rule answers {UNSERVED}",
                    backends::MAX_WEIGHTED_ENDPOINTS
                ),
            });
            Action::Respond(UNSERVED)
        }
    }
}

/// The Proxy routes of `rule`'s matches (hosts left empty), with their precedence.
pub fn entries(
    route: &HttpRoute,
    i: usize,
    rule: &HttpRouteRule,
    action: &Action,
    notes: &mut Vec<Note>,
) -> Vec<Entry> {
    let default = [HttpRouteMatch::default()];
    let matches: &[HttpRouteMatch] = match &rule.matches {
        Some(m) if !m.is_empty() => m.as_slice(),
        _ => &default,
    };
    let timeout = request_timeout(route, i, rule, notes);
    let mut out = Vec::new();
    for (j, m) in matches.iter().enumerate() {
        let at = format!("spec.rules[{i}].matches[{j}]");
        let skip = |why: String, kind: NoteKind, notes: &mut Vec<Note>| {
            notes.push(Note {
                kind,
                object: object(route),
                field: at.clone(),
                message: format!("{why}; this match is left out"),
            })
        };
        if !m.query_params.is_empty() {
            skip(
                "query parameter matches are not implemented yet".into(),
                NoteKind::Unimplemented,
                notes,
            );
            continue;
        }
        let path = m.path.clone().unwrap_or_default();
        let value = path.value.clone().unwrap_or_else(|| "/".to_string());
        let mut r#match = RouteMatch::default();
        let (path_kind, path_len) = match path.kind.as_deref().unwrap_or("PathPrefix") {
            "Exact" => {
                r#match.exact = Some(value.clone());
                (0, value.len())
            }
            "RegularExpression" => {
                if let Err(e) = regex::Regex::new(&value) {
                    skip(
                        format!("path {value:?} is not a regular expression: {e}"),
                        NoteKind::Invalid,
                        notes,
                    );
                    continue;
                }
                r#match.regex = Some(value.clone());
                (1, value.len())
            }
            "PathPrefix" => {
                // a prefix matches whole path segments; a trailing `/` is ignored
                let trimmed = value.trim_end_matches('/');
                if trimmed.is_empty() {
                    r#match.prefix = Some("/".into());
                    (2, 1)
                } else {
                    r#match.regex = Some(format!("{}(/.*)?", regex::escape(trimmed)));
                    (2, trimmed.len())
                }
            }
            other => {
                skip(
                    format!("path type {other} is not one of Exact, PathPrefix, RegularExpression"),
                    NoteKind::Invalid,
                    notes,
                );
                continue;
            }
        };
        let mut bad_header = false;
        for (k, h) in m.headers.iter().enumerate() {
            match h.kind.as_deref().unwrap_or("Exact") {
                "Exact" => r#match.headers.push(HeaderMatch {
                    name: h.name.to_ascii_lowercase(),
                    exact: Some(h.value.clone()),
                    regex: None,
                }),
                "RegularExpression" => r#match.headers.push(HeaderMatch {
                    name: h.name.to_ascii_lowercase(),
                    exact: None,
                    regex: Some(h.value.clone()),
                }),
                other => {
                    skip(
                        format!("headers[{k}].type {other} is not one of Exact, RegularExpression"),
                        NoteKind::Invalid,
                        notes,
                    );
                    bad_header = true;
                }
            }
        }
        if bad_header {
            continue;
        }
        r#match.method = m.method.clone();
        let (cluster, direct_response) = match action {
            Action::Forward(c) => (Some(c.name.clone()), None),
            Action::Respond(status) => (None, Some(DirectResponse { status: *status })),
        };
        out.push(Entry {
            precedence: Precedence {
                path_kind,
                path_len: Reverse(path_len),
                no_method: m.method.is_none(),
                headers: Reverse(m.headers.len()),
                created: route.metadata.creation_timestamp.clone(),
                route: (
                    route.metadata.namespace().to_string(),
                    route.metadata.name.clone(),
                ),
                rule: i,
                index: j,
            },
            route: Route {
                name: Some(format!(
                    "{}/{}/rule{i}/match{j}",
                    route.metadata.namespace(),
                    route.metadata.name
                )),
                r#match,
                cluster,
                direct_response,
                timeout,
            },
        });
    }
    out
}

/// `timeouts.request`: the whole request, as the Proxy route's `timeout` (`0s`: none).
fn request_timeout(
    route: &HttpRoute,
    i: usize,
    rule: &HttpRouteRule,
    notes: &mut Vec<Note>,
) -> Option<Duration> {
    let text = rule.timeouts.as_ref()?.request.as_ref()?;
    match crate::duration::parse(text) {
        Ok(d) if d.is_zero() => None,
        Ok(d) => Some(d),
        Err(e) => {
            notes.push(Note {
                kind: NoteKind::Invalid,
                object: object(route),
                field: format!("spec.rules[{i}].timeouts.request"),
                message: format!("{text:?}: {e}; no timeout"),
            });
            None
        }
    }
}

fn object(route: &HttpRoute) -> String {
    format!("HTTPRoute {}/{}", route.metadata.namespace(), route.metadata.name)
}
