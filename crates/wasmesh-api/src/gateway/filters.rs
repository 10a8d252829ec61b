//! HTTPRoute filters as Proxy route fields (docs/gateway-api.md, "Filters"):
//! `RequestHeaderModifier` and `ResponseHeaderModifier` as header edits, `RequestRedirect`
//! as a redirect, `URLRewrite` as a rewrite, `RequestMirror` as a mirror (its backendRef
//! resolved with the rule's, `rules`); on a backendRef, the two header modifiers.
//! A filter that wasmesh does not implement, or one the specification does not allow
//! there, makes the rule answer 500 with a note: the specification forbids skipping a
//! filter.

use super::types::{HttpBackendRef, HttpHeaderFilter, HttpPathModifier, HttpRouteFilter};
use super::{Note, NoteKind};
use crate::proxy::{HeaderEdits, HeaderValue, PathRewrite, Redirect, Rewrite};

/// What a rule's filters ask of its routes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleFilters {
    pub request_headers: HeaderEdits,
    pub response_headers: HeaderEdits,
    pub rewrite: Option<Rewrite>,
    pub redirect: Option<Redirect>,
    /// A path modifier of type `ReplacePrefixMatch`: every match of the rule must be a
    /// `PathPrefix` one.
    pub replaces_prefix: bool,
    /// `RequestMirror` filters, in order.
    pub mirrors: Vec<MirrorRef>,
}

/// One `RequestMirror`: the backend to resolve, the percent of requests it gets, and the
/// filter's field path (for a note when the backend does not resolve).
#[derive(Debug, Clone, PartialEq)]
pub struct MirrorRef {
    pub backend: HttpBackendRef,
    pub percent: u32,
    pub field: String,
}

/// The header edits of one backendRef: on its requests, on its responses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BackendFilters {
    pub request_headers: HeaderEdits,
    pub response_headers: HeaderEdits,
}

/// Where the filters are, for notes: the route (`HTTPRoute edge/web`) and the field path
/// of the filter list (`spec.rules[0].filters`).
pub struct At<'a> {
    pub object: &'a str,
    pub field: String,
}

impl At<'_> {
    fn note(&self, kind: NoteKind, field: String, message: String, notes: &mut Vec<Note>) {
        notes.push(Note {
            kind,
            object: self.object.to_string(),
            field,
            message: format!("{message}; the rule answers {}", super::rules::UNSERVED),
        });
    }
}

/// The filters of a rule; `None` when the rule must answer 500 (noted).
pub fn rule(at: &At<'_>, filters: &[HttpRouteFilter], notes: &mut Vec<Note>) -> Option<RuleFilters> {
    let mut out = RuleFilters::default();
    let mut ok = true;
    let mut seen = std::collections::HashSet::new();
    for (f, filter) in filters.iter().enumerate() {
        let field = format!("{}[{f}]", at.field);
        if !seen.insert(filter.kind.as_str()) && !repeatable(&filter.kind) {
            at.note(
                NoteKind::Invalid,
                field,
                format!(
                    "filter {} appears twice; the specification allows it once",
                    filter.kind
                ),
                notes,
            );
            ok = false;
            continue;
        }
        let (request, response) = (&mut out.request_headers, &mut out.response_headers);
        if let Some(valid) = header_modifier(at, &field, filter, request, response, notes) {
            ok &= valid;
            continue;
        }
        let done =
            match filter.kind.as_str() {
                "RequestRedirect" => redirect(at, &field, filter, &mut out.replaces_prefix, notes)
                    .map(|r| out.redirect = Some(r)),
                "URLRewrite" => rewrite(at, &field, filter, &mut out.replaces_prefix, notes)
                    .map(|r| out.rewrite = Some(r)),
                "RequestMirror" => mirror(at, &field, filter, notes).map(|m| out.mirrors.push(m)),
                other => {
                    unimplemented(at, field, other, notes);
                    None
                }
            };
        ok &= done.is_some();
    }
    if out.redirect.is_some() && out.rewrite.is_some() {
        at.note(
            NoteKind::Invalid,
            at.field.clone(),
            "RequestRedirect and URLRewrite cannot both be set on a rule".into(),
            notes,
        );
        ok = false;
    }
    ok.then_some(out)
}

/// The filters of a backendRef: the header modifiers; `None` when the rule must answer
/// 500 (noted).
pub fn backend(at: &At<'_>, filters: &[HttpRouteFilter], notes: &mut Vec<Note>) -> Option<BackendFilters> {
    let mut out = BackendFilters::default();
    let mut ok = true;
    for (f, filter) in filters.iter().enumerate() {
        let field = format!("{}[{f}]", at.field);
        let (request, response) = (&mut out.request_headers, &mut out.response_headers);
        match header_modifier(at, &field, filter, request, response, notes) {
            Some(valid) => ok &= valid,
            None => {
                unimplemented(at, field, &format!("{} on a backendRef", filter.kind), notes);
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

/// A `RequestHeaderModifier` or `ResponseHeaderModifier`, into `request` or `response`:
/// `None` for any other filter, else whether it was valid (noted when not).
fn header_modifier(
    at: &At<'_>,
    field: &str,
    filter: &HttpRouteFilter,
    request: &mut HeaderEdits,
    response: &mut HeaderEdits,
    notes: &mut Vec<Note>,
) -> Option<bool> {
    let (key, spec, into) = match filter.kind.as_str() {
        "RequestHeaderModifier" => ("requestHeaderModifier", &filter.request_header_modifier, request),
        "ResponseHeaderModifier" => (
            "responseHeaderModifier",
            &filter.response_header_modifier,
            response,
        ),
        _ => return None,
    };
    let edits = header_filter(at, field, key, spec, notes);
    let valid = edits.is_some();
    if let Some(edits) = edits {
        *into = edits;
    }
    Some(valid)
}

/// `RequestMirror` and `ExtensionRef` may appear more than once on a rule.
fn repeatable(kind: &str) -> bool {
    matches!(kind, "RequestMirror" | "ExtensionRef")
}

fn unimplemented(at: &At<'_>, field: String, what: &str, notes: &mut Vec<Note>) {
    at.note(
        NoteKind::Unimplemented,
        field,
        format!("filter {what} is not implemented yet"),
        notes,
    );
}

fn missing(at: &At<'_>, field: &str, kind: &str, key: &str, notes: &mut Vec<Note>) {
    at.note(
        NoteKind::Invalid,
        field.to_string(),
        format!("type {kind} without {key}"),
        notes,
    );
}

fn header_filter(
    at: &At<'_>,
    field: &str,
    key: &str,
    filter: &Option<HttpHeaderFilter>,
    notes: &mut Vec<Note>,
) -> Option<HeaderEdits> {
    let Some(filter) = filter else {
        let kind = format!("{}{}", key[..1].to_ascii_uppercase(), &key[1..]);
        missing(at, field, &kind, key, notes);
        return None;
    };
    let mut ok = true;
    let mut bad = |path: String, value: &str, why: &str, notes: &mut Vec<Note>| {
        at.note(
            NoteKind::Invalid,
            format!("{field}.{key}.{path}"),
            format!("{value:?}: {why}"),
            notes,
        );
        ok = false;
    };
    let mut names = std::collections::HashSet::new();
    for (list, values) in [("set", &filter.set), ("add", &filter.add)] {
        for (k, h) in values.iter().enumerate() {
            if !is_header_name(&h.name) {
                bad(
                    format!("{list}[{k}].name"),
                    &h.name,
                    "not an HTTP header name",
                    notes,
                );
            } else if !names.insert((list, h.name.to_ascii_lowercase())) {
                // the specification: names are unique within a list, without case
                bad(
                    format!("{list}[{k}].name"),
                    &h.name,
                    "named twice (names are compared without case)",
                    notes,
                );
            }
            if h.value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
                bad(
                    format!("{list}[{k}].value"),
                    &h.value,
                    "a header value has no control character",
                    notes,
                );
            }
        }
    }
    for (k, name) in filter.remove.iter().enumerate() {
        if !is_header_name(name) {
            bad(format!("remove[{k}]"), name, "not an HTTP header name", notes);
        }
    }
    let pairs = |v: &[super::types::HttpHeader]| {
        v.iter()
            .map(|h| HeaderValue {
                name: h.name.to_ascii_lowercase(),
                value: h.value.clone(),
            })
            .collect()
    };
    ok.then(|| HeaderEdits {
        set: pairs(&filter.set),
        add: pairs(&filter.add),
        remove: filter.remove.iter().map(|n| n.to_ascii_lowercase()).collect(),
    })
}

fn redirect(
    at: &At<'_>,
    field: &str,
    filter: &HttpRouteFilter,
    replaces_prefix: &mut bool,
    notes: &mut Vec<Note>,
) -> Option<Redirect> {
    let Some(r) = &filter.request_redirect else {
        missing(at, field, "RequestRedirect", "requestRedirect", notes);
        return None;
    };
    let field = format!("{field}.requestRedirect");
    let mut ok = true;
    if let Some(scheme) = &r.scheme {
        if scheme != "http" && scheme != "https" {
            at.note(
                NoteKind::Invalid,
                format!("{field}.scheme"),
                format!("{scheme:?} is not http or https"),
                notes,
            );
            ok = false;
        }
    }
    if let Some(status) = r.status_code {
        if !Redirect::STATUSES.contains(&status) {
            at.note(
                NoteKind::Invalid,
                format!("{field}.statusCode"),
                format!("{status} is not a redirect status (301, 302; 303, 307, 308)"),
                notes,
            );
            ok = false;
        }
    }
    if r.port == Some(0) {
        at.note(
            NoteKind::Invalid,
            format!("{field}.port"),
            "0 is not a port".into(),
            notes,
        );
        ok = false;
    }
    if let Some(host) = &r.hostname {
        ok &= check_hostname(at, &format!("{field}.hostname"), host, notes);
    }
    let path = match &r.path {
        Some(p) => match path(at, &format!("{field}.path"), p, replaces_prefix, notes) {
            Some(p) => Some(p),
            None => return None,
        },
        None => None,
    };
    ok.then(|| Redirect {
        scheme: r.scheme.clone(),
        host: r.hostname.clone(),
        port: r.port,
        path,
        status: Some(r.status_code.unwrap_or(Redirect::DEFAULT_STATUS)),
    })
}

/// `RequestMirror`: `percent` (0 to 100) or `fraction` (made a whole percent, rounded to
/// the nearest), not both; neither: 100.
fn mirror(at: &At<'_>, field: &str, filter: &HttpRouteFilter, notes: &mut Vec<Note>) -> Option<MirrorRef> {
    let Some(m) = &filter.request_mirror else {
        missing(at, field, "RequestMirror", "requestMirror", notes);
        return None;
    };
    let field = format!("{field}.requestMirror");
    let mut bad = |key: &str, message: String| {
        at.note(NoteKind::Invalid, format!("{field}.{key}"), message, notes);
        None
    };
    let percent = match (m.percent, &m.fraction) {
        (Some(_), Some(_)) => return bad("percent", "percent and fraction cannot both be set".into()),
        (Some(p), None) if !(0..=100).contains(&p) => {
            return bad("percent", format!("{p} is not a percent from 0 to 100"))
        }
        (Some(p), None) => p as u32,
        (None, Some(f)) => {
            let denominator = f.denominator.unwrap_or(100);
            if denominator <= 0 || f.numerator < 0 || f.numerator > denominator {
                return bad(
                    "fraction",
                    format!(
                        "{}/{denominator} is not a fraction from 0 to 1 (denominator above 0)",
                        f.numerator
                    ),
                );
            }
            ((f.numerator * 100 + denominator / 2) / denominator) as u32
        }
        (None, None) => 100,
    };
    Some(MirrorRef {
        backend: m.backend_ref.clone(),
        percent,
        field: format!("{field}.backendRef"),
    })
}

fn rewrite(
    at: &At<'_>,
    field: &str,
    filter: &HttpRouteFilter,
    replaces_prefix: &mut bool,
    notes: &mut Vec<Note>,
) -> Option<Rewrite> {
    let Some(r) = &filter.url_rewrite else {
        missing(at, field, "URLRewrite", "urlRewrite", notes);
        return None;
    };
    let field = format!("{field}.urlRewrite");
    let mut ok = true;
    if let Some(host) = &r.hostname {
        ok &= check_hostname(at, &format!("{field}.hostname"), host, notes);
    }
    let path = match &r.path {
        Some(p) => Some(path(at, &format!("{field}.path"), p, replaces_prefix, notes)?),
        None => None,
    };
    ok.then(|| Rewrite {
        host: r.hostname.clone(),
        path,
    })
}

fn path(
    at: &At<'_>,
    field: &str,
    p: &HttpPathModifier,
    replaces_prefix: &mut bool,
    notes: &mut Vec<Note>,
) -> Option<PathRewrite> {
    let (value, out) = match p.kind.as_str() {
        "ReplaceFullPath" => {
            let v = p.replace_full_path.clone().unwrap_or_default();
            let ok = v.starts_with('/');
            (
                (v.clone(), ok, "replaceFullPath"),
                PathRewrite {
                    full_path: Some(v),
                    prefix: None,
                },
            )
        }
        "ReplacePrefixMatch" => {
            *replaces_prefix = true;
            let v = p.replace_prefix_match.clone().unwrap_or_default();
            let ok = v.is_empty() || v.starts_with('/');
            (
                (v.clone(), ok, "replacePrefixMatch"),
                PathRewrite {
                    full_path: None,
                    prefix: Some(v),
                },
            )
        }
        other => {
            at.note(
                NoteKind::Invalid,
                format!("{field}.type"),
                format!("{other} is not one of ReplaceFullPath, ReplacePrefixMatch"),
                notes,
            );
            return None;
        }
    };
    let (v, starts_ok, key) = value;
    if !starts_ok || v.bytes().any(|b| !b.is_ascii_graphic() || b == b'?' || b == b'#') {
        at.note(
            NoteKind::Invalid,
            format!("{field}.{key}"),
            format!("{v:?} is not a path (it starts with /, without query, space or control character)"),
            notes,
        );
        return None;
    }
    Some(out)
}

/// A precise host name, as the Proxy's `rewrite.host` and `redirect.host` take.
fn check_hostname(at: &At<'_>, field: &str, host: &str, notes: &mut Vec<Note>) -> bool {
    let ok = crate::validate::is_host_name(host);
    if !ok {
        at.note(
            NoteKind::Invalid,
            field.to_string(),
            format!("{host:?} is not a host name"),
            notes,
        );
    }
    ok
}

/// An RFC 9110 token.
fn is_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
