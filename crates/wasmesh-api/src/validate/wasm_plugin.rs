//! WasmPlugin rules (Istio's `wasm.proto` patterns and CEL rules).

use super::check_targeting;
use crate::{
    error::FieldError,
    wasm_plugin::{EnvValueSource, WasmPlugin},
};
use std::collections::HashSet;

const SCHEMES: [&str; 4] = ["oci", "file", "http", "https"];

pub(super) fn check(plugin: &WasmPlugin, out: &mut Vec<FieldError>) {
    let spec = &plugin.spec;
    check_targeting(
        spec.selector.as_ref(),
        spec.target_ref.as_ref(),
        &spec.target_refs,
        plugin.metadata.namespace(),
        out,
    );
    let url_digest = check_url(&spec.url, out);
    if let Some(sha) = &spec.sha256 {
        if !is_sha256(sha) {
            out.push(FieldError::invalid(
                "spec.sha256",
                sha,
                "must be 64 lower-case hex digits (^[a-f0-9]{64}$)",
            ));
        } else if let Some(digest) = url_digest.filter(|d| is_sha256(d) && d != sha) {
            out.push(FieldError::invalid(
                "spec.sha256",
                sha,
                format!("the url names digest sha256:{digest}; sha256 must be the same"),
            ));
        }
    }
    if let Some(secret) = &spec.image_pull_secret {
        check_length("spec.imagePullSecret", secret, 1, 253, out);
    }
    if let Some(name) = &spec.plugin_name {
        check_length("spec.pluginName", name, 1, 256, out);
    }
    if let Some(priority) = spec.priority {
        if i32::try_from(priority).is_err() {
            out.push(FieldError::invalid_value(
                "spec.priority",
                priority,
                "must be a 32-bit integer (-2147483648 to 2147483647)",
            ));
        }
    }
    if let Some(key) = &spec.verification_key {
        check_pem("spec.verificationKey", key, out);
    }
    if let Some(value) = spec.plugin_config.as_ref().and_then(|c| c.get("verificationKey")) {
        match value.as_str() {
            Some(key) => check_pem("spec.pluginConfig.verificationKey", key, out),
            None => out.push(FieldError::invalid_value(
                "spec.pluginConfig.verificationKey",
                value,
                "must be a PEM public key as a string",
            )),
        }
    }
    if let Some(vm) = &spec.vm_config {
        if vm.env.len() > 256 {
            out.push(FieldError::invalid_value(
                "spec.vmConfig.env",
                format!("{} entries", vm.env.len()),
                "at most 256 entries are allowed",
            ));
        }
        let mut seen = HashSet::new();
        for (i, env) in vm.env.iter().enumerate() {
            let at = format!("spec.vmConfig.env[{i}]");
            super::check_unique_name(&at, &env.name, &mut seen, "each variable may be listed once", out);
            let from = env.value_from.unwrap_or_default();
            match (&env.value, from) {
                (Some(_), EnvValueSource::Host) => out.push(FieldError::rule(
                    format!("{at}.value"),
                    "value is not allowed when valueFrom is HOST (the value comes from the proxy's environment)",
                )),
                (Some(v), EnvValueSource::Inline) if v.len() > 2048 => out.push(FieldError::invalid_value(
                    format!("{at}.value"),
                    format!("a value of {} bytes", v.len()),
                    "at most 2048 bytes are allowed",
                )),
                _ => {}
            }
        }
    }
    for (i, m) in spec.r#match.iter().enumerate() {
        for (j, port) in m.ports.iter().enumerate() {
            if !(1..=65535).contains(&port.number) {
                out.push(FieldError::invalid_value(
                    format!("spec.match[{i}].ports[{j}].number"),
                    port.number,
                    "a port is 1 to 65535",
                ));
            }
        }
    }
}

/// Checks the URL; returns the digest named by `@sha256:`, if any.
fn check_url<'a>(url: &'a str, out: &mut Vec<FieldError>) -> Option<&'a str> {
    if url.is_empty() {
        out.push(FieldError::invalid(
            "spec.url",
            url,
            "a url is required: oci://, file://, http:// or https://",
        ));
        return None;
    }
    if url.chars().any(char::is_whitespace) {
        out.push(FieldError::invalid(
            "spec.url",
            url,
            "a url may not contain spaces",
        ));
        return None;
    }
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (scheme, rest),
        None => ("oci", url),
    };
    if !SCHEMES.contains(&scheme) {
        out.push(FieldError::invalid(
            "spec.url",
            url,
            format!(
                "unsupported scheme `{scheme}`; allowed: oci:// (the default), file://, http://, https://"
            ),
        ));
        return None;
    }
    if rest.is_empty() || (scheme != "file" && rest.starts_with('/')) {
        out.push(FieldError::invalid(
            "spec.url",
            url,
            match scheme {
                "oci" => "an OCI reference needs a registry and repository (oci://registry/repo:tag)",
                _ => "the url needs a host",
            },
        ));
        return None;
    }
    let digest = url.split_once("@sha256:").map(|(_, d)| d);
    if let Some(d) = digest {
        if !is_sha256(d) {
            out.push(FieldError::invalid(
                "spec.url",
                url,
                "the digest after @sha256: must be 64 lower-case hex digits",
            ));
        }
    }
    digest
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn check_length(path: &str, value: &str, min: usize, max: usize, out: &mut Vec<FieldError>) {
    let len = value.chars().count();
    if len < min || len > max {
        out.push(FieldError::invalid(
            path,
            value,
            format!("must be {min} to {max} characters long"),
        ));
    }
}

fn check_pem(path: &str, key: &str, out: &mut Vec<FieldError>) {
    let t = key.trim();
    if !(t.starts_with("-----BEGIN ") && t.contains("-----END ") && t.ends_with("-----")) {
        out.push(FieldError::invalid(
            path,
            key,
            "must be a PEM public key (-----BEGIN PUBLIC KEY----- ... -----END PUBLIC KEY-----)",
        ));
    }
}
