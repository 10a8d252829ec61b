//! An HTTPRoute's rules as Proxy routes: each match of a rule becomes one route, with
//! the rule's action — its backend's cluster, its backends' weighted clusters, a
//! redirect, or a 500 where no backend resolves or the rule needs what wasmesh does not
//! implement — with its filters' edits (`filters`) and mirrors, and a precedence key that
//! orders the routes of one host as the Gateway API's match precedence says.

use super::backends;
use super::filters::{self, BackendFilters, RuleFilters};
use super::types::{HttpRoute, HttpRouteMatch, HttpRouteRule};
use super::{Note, NoteKind, Objects};
use crate::proxy::{
    Cluster, DirectResponse, HeaderEdits, HeaderMatch, Mirror, QueryParamMatch, Redirect, Route, RouteMatch,
    WeightedCluster,
};
use crate::timestamp::Timestamp;
use std::cmp::Reverse;
use std::time::Duration;

/// What a rule does with the requests it takes.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send them to these backends, each its weight's share (one backend: all of them).
    Forward(Vec<Share>),
    /// Answer them with a redirect.
    Redirect(Redirect),
    /// Answer them here with this status.
    Respond(u16),
}

/// One backendRef of a rule that forwards: its cluster, or the status its share answers
/// when it does not resolve, with its weight and its own header edits.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    pub target: Result<Cluster, u16>,
    pub weight: u32,
    pub filters: BackendFilters,
}

/// A rule's action and the edits its filters make on what it forwards.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleAction {
    pub action: Action,
    pub filters: RuleFilters,
    /// The clusters of its `RequestMirror` filters that resolve, with their percent.
    pub mirrors: Vec<(Cluster, u32)>,
}

impl RuleAction {
    fn respond(status: u16) -> Self {
        RuleAction {
            action: Action::Respond(status),
            filters: RuleFilters::default(),
            mirrors: Vec::new(),
        }
    }

    /// The clusters the action sends to, its mirrors' too.
    pub fn clusters(&self) -> impl Iterator<Item = &Cluster> {
        let shares: &[Share] = match &self.action {
            Action::Forward(shares) => shares,
            _ => &[],
        };
        shares
            .iter()
            .filter_map(|s| s.target.as_ref().ok())
            .chain(self.mirrors.iter().map(|(c, _)| c))
    }
}

/// The status a rule answers when it cannot forward: an unresolved backend, or a filter
/// wasmesh does not implement (a filter that cannot be applied must not be skipped; the
/// request gets an error instead).
pub const UNSERVED: u16 = 500;

/// The order of routes within one host: Exact paths, then regular expressions, then the
/// longest prefix; a method; the most headers; the most query parameters; the oldest route, then by namespace/name;
/// then rule and match order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Precedence {
    path_kind: u8,
    path_len: Reverse<usize>,
    no_method: bool,
    headers: Reverse<usize>,
    query_params: Reverse<usize>,
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
    objects: &Objects,
    notes: &mut Vec<Note>,
) -> RuleAction {
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
    let filters_at = filters::At {
        object: &object,
        field: format!("{at}.filters"),
    };
    let rule_filters = filters::rule(&filters_at, &rule.filters, notes);
    let mut backend_filters = Vec::new();
    for (b, backend) in rule.backend_refs.iter().enumerate() {
        let at = filters::At {
            object: &object,
            field: format!("{at}.backendRefs[{b}].filters"),
        };
        backend_filters.push(filters::backend(&at, &backend.filters, notes));
    }
    let Some(rule_filters) = rule_filters else {
        return RuleAction::respond(UNSERVED);
    };
    if backend_filters.iter().any(Option::is_none) {
        return RuleAction::respond(UNSERVED);
    }
    if rule_filters.replaces_prefix {
        // ReplacePrefixMatch needs a prefix to replace
        let matches = rule.matches.as_deref().unwrap_or_default();
        if let Some(j) = matches.iter().position(|m| {
            m.path
                .as_ref()
                .and_then(|p| p.kind.as_deref())
                .is_some_and(|k| k != "PathPrefix")
        }) {
            notes.push(Note {
                kind: NoteKind::Invalid,
                object,
                field: format!("{at}.matches[{j}].path"),
                message: format!(
                    "ReplacePrefixMatch is only compatible with PathPrefix matches; the rule answers {UNSERVED}"
                ),
            });
            return RuleAction::respond(UNSERVED);
        }
    }
    if let Some(redirect) = rule_filters.redirect.clone() {
        // a redirect answers itself: the backends are not used
        return RuleAction {
            action: Action::Redirect(redirect),
            filters: rule_filters,
            mirrors: Vec::new(),
        };
    }
    let backends: Vec<_> = rule
        .backend_refs
        .iter()
        .zip(backend_filters.into_iter().flatten())
        .enumerate()
        .filter(|(_, (b, _))| b.weight != Some(0))
        .collect();
    if backends.is_empty() {
        notes.push(Note {
            kind: NoteKind::Unresolved,
            object,
            field: format!("{at}.backendRefs"),
            message: format!("no backend with a weight above 0; the rule answers {UNSERVED}"),
        });
        return RuleAction::respond(UNSERVED);
    }
    let total: u64 = backends
        .iter()
        .map(|(_, (b, _))| u64::from(b.weight.unwrap_or(1)))
        .sum();
    let split = backends.len() > 1;
    let mut shares = Vec::new();
    for (b, (backend, filters)) in backends {
        let weight = backend.weight.unwrap_or(1);
        let target = match backends::resolve(backend, route.metadata.namespace(), objects) {
            Ok(cluster) => Ok(cluster),
            Err(why) => {
                notes.push(Note {
                    kind: NoteKind::Unresolved,
                    object: object.clone(),
                    field: format!("{at}.backendRefs[{b}]"),
                    message: if split {
                        format!("{why}; its share ({weight}/{total}) of the requests answers {UNSERVED}")
                    } else {
                        format!("{why}; the rule answers {UNSERVED}")
                    },
                });
                Err(UNSERVED)
            }
        };
        shares.push(Share {
            target,
            weight,
            filters,
        });
    }
    if shares.iter().all(|s| s.target.is_err()) {
        return RuleAction::respond(UNSERVED);
    }
    // A mirror whose backend does not resolve is left out, the rule served without it
    // (the specification: the reference is dropped, with ResolvedRefs=False).
    let mut mirrors = Vec::new();
    for m in &rule_filters.mirrors {
        match backends::resolve(&m.backend, route.metadata.namespace(), objects) {
            Ok(cluster) => mirrors.push((cluster, m.percent)),
            Err(why) => notes.push(Note {
                kind: NoteKind::Unresolved,
                object: object.clone(),
                field: m.field.clone(),
                message: format!("{why}; the rule is served without this mirror"),
            }),
        }
    }
    RuleAction {
        action: Action::Forward(shares),
        filters: rule_filters,
        mirrors,
    }
}

/// The Proxy routes of `rule`'s matches (hosts left empty), with their precedence.
pub fn entries(
    route: &HttpRoute,
    i: usize,
    rule: &HttpRouteRule,
    action: &RuleAction,
    notes: &mut Vec<Note>,
) -> Vec<Entry> {
    let default = [HttpRouteMatch::default()];
    let matches: &[HttpRouteMatch] = match &rule.matches {
        Some(m) if !m.is_empty() => m.as_slice(),
        _ => &default,
    };
    let timeout = request_timeout(route, i, rule, notes);
    let per_try_timeout = backend_request_timeout(route, i, rule, timeout, notes);
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
                    r#match.path_separated_prefix = Some(trimmed.to_string());
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
        let mut bad_query = false;
        let mut names = std::collections::HashSet::new();
        for (k, q) in m.query_params.iter().enumerate() {
            // the specification: of entries with one name, only the first counts
            if !names.insert(q.name.as_str()) {
                continue;
            }
            let (exact, regex) = match q.kind.as_deref().unwrap_or("Exact") {
                "Exact" => (Some(q.value.clone()), None),
                "RegularExpression" => {
                    if let Err(e) = regex::Regex::new(&q.value) {
                        skip(
                            format!(
                                "queryParams[{k}].value {:?} is not a regular expression: {e}",
                                q.value
                            ),
                            NoteKind::Invalid,
                            notes,
                        );
                        bad_query = true;
                        continue;
                    }
                    (None, Some(q.value.clone()))
                }
                other => {
                    skip(
                        format!("queryParams[{k}].type {other} is not one of Exact, RegularExpression"),
                        NoteKind::Invalid,
                        notes,
                    );
                    bad_query = true;
                    continue;
                }
            };
            r#match.query_params.push(QueryParamMatch {
                name: q.name.clone(),
                exact,
                regex,
            });
        }
        if bad_query {
            continue;
        }
        r#match.method = m.method.clone();
        let mut proxy_route = Route {
            name: Some(format!(
                "{}/{}/rule{i}/match{j}",
                route.metadata.namespace(),
                route.metadata.name
            )),
            r#match,
            cluster: None,
            weighted_clusters: Vec::new(),
            direct_response: None,
            redirect: None,
            request_headers: HeaderEdits::default(),
            response_headers: HeaderEdits::default(),
            rewrite: None,
            mirrors: Vec::new(),
            timeout,
            per_try_timeout,
        };
        set_action(&mut proxy_route, action);
        out.push(Entry {
            precedence: Precedence {
                path_kind,
                path_len: Reverse(path_len),
                no_method: m.method.is_none(),
                headers: Reverse(m.headers.len()),
                query_params: Reverse(m.query_params.len()),
                created: route.metadata.creation_timestamp.clone(),
                route: (
                    route.metadata.namespace().to_string(),
                    route.metadata.name.clone(),
                ),
                rule: i,
                index: j,
            },
            route: proxy_route,
        });
    }
    out
}

/// Makes `route` do what `action` says.
fn set_action(route: &mut Route, action: &RuleAction) {
    match &action.action {
        Action::Respond(status) => route.direct_response = Some(DirectResponse { status: *status }),
        Action::Redirect(redirect) => route.redirect = Some(redirect.clone()),
        Action::Forward(shares) => {
            route.request_headers = action.filters.request_headers.clone();
            route.response_headers = action.filters.response_headers.clone();
            route.rewrite = action.filters.rewrite.clone();
            route.mirrors = action
                .mirrors
                .iter()
                .map(|(cluster, percent)| Mirror {
                    cluster: cluster.name.clone(),
                    percent: (*percent != Mirror::DEFAULT_PERCENT).then_some(*percent),
                })
                .collect();
            match shares.as_slice() {
                [Share {
                    target: Ok(cluster),
                    filters,
                    ..
                }] if *filters == BackendFilters::default() => route.cluster = Some(cluster.name.clone()),
                _ => {
                    route.weighted_clusters = shares
                        .iter()
                        .map(|s| WeightedCluster {
                            cluster: s.target.as_ref().ok().map(|c| c.name.clone()),
                            direct_response: s
                                .target
                                .as_ref()
                                .err()
                                .map(|status| DirectResponse { status: *status }),
                            weight: s.weight,
                            request_headers: s.filters.request_headers.clone(),
                            response_headers: s.filters.response_headers.clone(),
                        })
                        .collect()
                }
            }
        }
    }
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

/// `timeouts.backendRequest`: each try at the backend, as the Proxy route's
/// `perTryTimeout` (`0s`: none). The specification forbids it longer than `request`: such
/// a value is noted and not used (the request's timeout holds).
fn backend_request_timeout(
    route: &HttpRoute,
    i: usize,
    rule: &HttpRouteRule,
    request: Option<Duration>,
    notes: &mut Vec<Note>,
) -> Option<Duration> {
    let text = rule.timeouts.as_ref()?.backend_request.as_ref()?;
    let mut invalid = |message: String| {
        notes.push(Note {
            kind: NoteKind::Invalid,
            object: object(route),
            field: format!("spec.rules[{i}].timeouts.backendRequest"),
            message,
        });
        None
    };
    match crate::duration::parse(text) {
        Ok(d) if d.is_zero() => None,
        Ok(d) => match request {
            Some(r) if d > r => invalid(format!(
                "{text} is longer than timeouts.request ({}), which the specification forbids; not used",
                crate::duration::format(r)
            )),
            _ => Some(d),
        },
        Err(e) => invalid(format!("{text:?}: {e}; not used")),
    }
}

fn object(route: &HttpRoute) -> String {
    format!("HTTPRoute {}/{}", route.metadata.namespace(), route.metadata.name)
}
