//! The API's rules, checked on a typed resource. Each rule reports the field path, the
//! bad value and what is allowed; all problems of a document are reported, not the first.
//!
//! Types, unknown fields and enum values are already checked while parsing; here are the
//! rules a type cannot say (Istio's CEL rules and patterns, Kubernetes name syntax, the
//! references inside a `Proxy`).

mod names;
mod proxy;
mod route_actions;
pub(crate) use route_actions::is_host_name;
mod secret;
mod security;
#[cfg(test)]
mod tests;
mod wasm_plugin;

use std::collections::HashSet;

use crate::{
    error::FieldError,
    meta::ObjectMeta,
    resource::Resource,
    selector::{PolicyTargetReference, WorkloadSelector, GATEWAY_API_GROUP},
};

/// Every problem of `resource`; empty when it is valid.
pub fn validate(resource: &Resource) -> Vec<FieldError> {
    let mut out = Vec::new();
    check_metadata(resource.metadata(), &mut out);
    match resource {
        Resource::WasmPlugin(p) => wasm_plugin::check(p, &mut out),
        Resource::Secret(s) => secret::check(s, &mut out),
        Resource::RequestAuthentication(r) => security::check_request_authentication(r, &mut out),
        Resource::AuthorizationPolicy(a) => security::check_authorization_policy(a, &mut out),
        Resource::Proxy(p) => proxy::check(p, &mut out),
    }
    out
}

fn check_metadata(meta: &ObjectMeta, out: &mut Vec<FieldError>) {
    names::check_subdomain("metadata.name", &meta.name, out);
    if let Some(ns) = &meta.namespace {
        names::check_dns_label("metadata.namespace", ns, out);
    }
    names::check_labels("metadata.labels", &meta.labels, true, out);
    names::check_labels("metadata.annotations", &meta.annotations, false, out);
}

/// Istio's CEL rule on WasmPlugin and the security policies: at most one of `selector`,
/// `targetRef`, `targetRefs`; and the target references themselves.
fn check_targeting(
    selector: Option<&WorkloadSelector>,
    target_ref: Option<&PolicyTargetReference>,
    target_refs: &[PolicyTargetReference],
    namespace: &str,
    out: &mut Vec<FieldError>,
) {
    let set: Vec<&str> = [
        selector.map(|_| "selector"),
        target_ref.map(|_| "targetRef"),
        (!target_refs.is_empty()).then_some("targetRefs"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if set.len() > 1 {
        out.push(FieldError::rule(
            "spec",
            format!(
                "{} are all set; at most one of selector, targetRef or targetRefs is allowed",
                set.join(" and ")
            ),
        ));
    }
    if let Some(selector) = selector {
        names::check_labels("spec.selector.matchLabels", &selector.match_labels, true, out);
    }
    if let Some(r) = target_ref {
        check_target_ref("spec.targetRef", r, namespace, out);
    }
    if target_refs.len() > 16 {
        out.push(FieldError::invalid_value(
            "spec.targetRefs",
            format!("{} entries", target_refs.len()),
            "at most 16 entries are allowed",
        ));
    }
    for (i, r) in target_refs.iter().enumerate() {
        check_target_ref(&format!("spec.targetRefs[{i}]"), r, namespace, out);
    }
}

/// `{at}.name` of an entry of a list keyed by name: required, and not already in `seen`
/// (where it is then added); `duplicate` is the rule a repeated name breaks.
fn check_unique_name<'a>(
    at: &str,
    name: &'a str,
    seen: &mut HashSet<&'a str>,
    duplicate: &str,
    out: &mut Vec<FieldError>,
) {
    if name.is_empty() {
        out.push(FieldError::invalid(
            format!("{at}.name"),
            "",
            "a name is required",
        ));
    } else if !seen.insert(name) {
        out.push(FieldError::invalid(format!("{at}.name"), name, duplicate));
    }
}

/// The kinds a WasmPlugin or policy may target, with their API group.
const TARGET_KINDS: [(&str, &[&str]); 4] = [
    ("Gateway", &[GATEWAY_API_GROUP]),
    ("GatewayClass", &[GATEWAY_API_GROUP]),
    ("Service", &["", "core"]),
    ("ServiceEntry", &["networking.istio.io"]),
];

fn check_target_ref(path: &str, r: &PolicyTargetReference, namespace: &str, out: &mut Vec<FieldError>) {
    match TARGET_KINDS.iter().find(|(kind, _)| *kind == r.kind) {
        None => out.push(FieldError::invalid(
            format!("{path}.kind"),
            &r.kind,
            "allowed kinds: Gateway, GatewayClass (gateway.networking.k8s.io), Service (core), \
             ServiceEntry (networking.istio.io)",
        )),
        Some((kind, groups)) if !groups.contains(&r.group.as_str()) => out.push(FieldError::invalid(
            format!("{path}.group"),
            &r.group,
            format!("the group of {kind} is {:?}", groups[0]),
        )),
        Some(_) => {}
    }
    if r.name.is_empty() {
        out.push(FieldError::invalid(
            format!("{path}.name"),
            "",
            "a name is required",
        ));
    }
    if let Some(ns) = &r.namespace {
        if !ns.is_empty() && ns != namespace {
            out.push(FieldError::invalid(
                format!("{path}.namespace"),
                ns,
                format!("cross-namespace references are not allowed; leave it empty or use {namespace}"),
            ));
        }
    }
}
