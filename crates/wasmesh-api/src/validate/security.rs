//! RequestAuthentication and AuthorizationPolicy rules (Istio's validation).

use super::check_targeting;
use crate::{
    authorization_policy::{Action, AuthorizationPolicy, Source},
    error::FieldError,
    request_authentication::RequestAuthentication,
};
use std::net::IpAddr;

pub(super) fn check_request_authentication(r: &RequestAuthentication, out: &mut Vec<FieldError>) {
    let spec = &r.spec;
    check_targeting(
        spec.selector.as_ref(),
        spec.target_ref.as_ref(),
        &spec.target_refs,
        r.metadata.namespace(),
        out,
    );
    for (i, rule) in spec.jwt_rules.iter().enumerate() {
        let at = format!("spec.jwtRules[{i}]");
        if rule.issuer.is_empty() {
            out.push(FieldError::invalid(
                format!("{at}.issuer"),
                "",
                "an issuer is required",
            ));
        }
        if rule.jwks.is_some() && rule.jwks_uri.is_some() {
            out.push(FieldError::rule(
                &at,
                "jwks and jwksUri are both set; set at most one",
            ));
        }
        if let Some(jwks) = &rule.jwks {
            let ok = serde_json::from_str::<serde_json::Value>(jwks)
                .ok()
                .is_some_and(|v| v.get("keys").is_some_and(|k| k.is_array()));
            if !ok {
                out.push(FieldError::rule(
                    format!("{at}.jwks"),
                    "must be a JSON Web Key Set as a JSON string: {\"keys\": [...]}",
                ));
            }
        }
        if let Some(uri) = &rule.jwks_uri {
            if !(uri.starts_with("http://") || uri.starts_with("https://")) {
                out.push(FieldError::invalid(
                    format!("{at}.jwksUri"),
                    uri,
                    "must be an http:// or https:// URL",
                ));
            }
        }
        for (j, h) in rule.from_headers.iter().enumerate() {
            if !is_header_name(&h.name) {
                out.push(FieldError::invalid(
                    format!("{at}.fromHeaders[{j}].name"),
                    &h.name,
                    "must be an HTTP header name",
                ));
            }
        }
        if let Some(h) = &rule.output_payload_to_header {
            if !is_header_name(h) {
                out.push(FieldError::invalid(
                    format!("{at}.outputPayloadToHeader"),
                    h,
                    "must be an HTTP header name",
                ));
            }
        }
        for (j, c) in rule.output_claim_to_headers.iter().enumerate() {
            if !is_header_name(&c.header) {
                out.push(FieldError::invalid(
                    format!("{at}.outputClaimToHeaders[{j}].header"),
                    &c.header,
                    "must be an HTTP header name",
                ));
            }
            if c.claim.is_empty() {
                out.push(FieldError::invalid(
                    format!("{at}.outputClaimToHeaders[{j}].claim"),
                    "",
                    "a claim name is required",
                ));
            }
        }
    }
}

/// `when[].key` prefixes Istio understands (those ending in `[` take a name and `]`).
const CONDITION_KEYS: [&str; 13] = [
    "request.headers[",
    "request.auth.claims[",
    "source.ip",
    "remote.ip",
    "source.namespace",
    "source.principal",
    "request.auth.principal",
    "request.auth.audiences",
    "request.auth.presenter",
    "destination.ip",
    "destination.port",
    "connection.sni",
    "experimental.envoy.filters.",
];

pub(super) fn check_authorization_policy(a: &AuthorizationPolicy, out: &mut Vec<FieldError>) {
    let spec = &a.spec;
    check_targeting(
        spec.selector.as_ref(),
        spec.target_ref.as_ref(),
        &spec.target_refs,
        a.metadata.namespace(),
        out,
    );
    match (a.action(), &spec.provider) {
        (Action::Custom, None) => out.push(FieldError::rule(
            "spec.provider",
            "action CUSTOM needs a provider",
        )),
        (action, Some(_)) if action != Action::Custom => out.push(FieldError::rule(
            "spec.provider",
            "a provider is only allowed with action CUSTOM",
        )),
        _ => {}
    }
    for (i, rule) in spec.rules.iter().enumerate() {
        let at = format!("spec.rules[{i}]");
        for (j, from) in rule.from.iter().enumerate() {
            check_source(&format!("{at}.from[{j}].source"), &from.source, out);
        }
        for (j, to) in rule.to.iter().enumerate() {
            let op = &to.operation;
            let path = format!("{at}.to[{j}].operation");
            let lists = [
                &op.hosts,
                &op.not_hosts,
                &op.ports,
                &op.not_ports,
                &op.methods,
                &op.not_methods,
                &op.paths,
                &op.not_paths,
            ];
            if lists.iter().all(|l| l.is_empty()) {
                out.push(FieldError::rule(
                    &path,
                    "an operation must set at least one field",
                ));
            }
            for (field, ports) in [("ports", &op.ports), ("notPorts", &op.not_ports)] {
                for (k, port) in ports.iter().enumerate() {
                    if !port.parse::<u16>().is_ok_and(|p| p > 0) {
                        out.push(FieldError::invalid(
                            format!("{path}.{field}[{k}]"),
                            port,
                            "a port is 1 to 65535",
                        ));
                    }
                }
            }
        }
        for (j, cond) in rule.when.iter().enumerate() {
            let path = format!("{at}.when[{j}]");
            let known = CONDITION_KEYS.iter().any(|k| {
                cond.key.strip_prefix(k).is_some_and(|rest| {
                    if k.ends_with('[') {
                        rest.len() > 1 && rest.ends_with(']')
                    } else {
                        rest.is_empty() || k.ends_with('.')
                    }
                })
            });
            if !known {
                out.push(FieldError::invalid(
                    format!("{path}.key"),
                    &cond.key,
                    "allowed: request.headers[NAME], request.auth.claims[NAME], request.auth.principal, \
                     request.auth.audiences, request.auth.presenter, source.ip, remote.ip, source.namespace, \
                     source.principal, destination.ip, destination.port, connection.sni",
                ));
            }
            if cond.values.is_empty() && cond.not_values.is_empty() {
                out.push(FieldError::rule(&path, "values or notValues must be set"));
            }
        }
    }
}

fn check_source(path: &str, s: &Source, out: &mut Vec<FieldError>) {
    let lists = [
        &s.principals,
        &s.not_principals,
        &s.request_principals,
        &s.not_request_principals,
        &s.namespaces,
        &s.not_namespaces,
        &s.service_accounts,
        &s.not_service_accounts,
        &s.ip_blocks,
        &s.not_ip_blocks,
        &s.remote_ip_blocks,
        &s.not_remote_ip_blocks,
    ];
    if lists.iter().all(|l| l.is_empty()) {
        out.push(FieldError::rule(path, "a source must set at least one field"));
    }
    for (field, blocks) in [
        ("ipBlocks", &s.ip_blocks),
        ("notIpBlocks", &s.not_ip_blocks),
        ("remoteIpBlocks", &s.remote_ip_blocks),
        ("notRemoteIpBlocks", &s.not_remote_ip_blocks),
    ] {
        for (k, block) in blocks.iter().enumerate() {
            if !is_ip_block(block) {
                out.push(FieldError::invalid(
                    format!("{path}.{field}[{k}]"),
                    block,
                    "must be an IP address or CIDR (10.0.0.0/8, ::1)",
                ));
            }
        }
    }
}

fn is_ip_block(s: &str) -> bool {
    match s.split_once('/') {
        None => s.parse::<IpAddr>().is_ok(),
        Some((ip, len)) => match (ip.parse::<IpAddr>(), len.parse::<u8>()) {
            (Ok(IpAddr::V4(_)), Ok(l)) => l <= 32,
            (Ok(IpAddr::V6(_)), Ok(l)) => l <= 128,
            _ => false,
        },
    }
}

/// An HTTP header name (RFC 9110 token).
pub(super) fn is_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
