//! Kubernetes name and label syntax (DNS-1123 names, qualified label keys, label values).

use crate::error::FieldError;
use regex::Regex;
use std::{collections::BTreeMap, sync::LazyLock};

static DNS_LABEL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$").expect("valid regex"));
static DNS_SUBDOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$").expect("valid regex")
});
static LABEL_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$").expect("valid regex"));

const SUBDOMAIN_RULE: &str =
    "a DNS-1123 subdomain: at most 253 lower-case letters, digits, '-' and '.', starting and ending with a letter or digit";
const LABEL_RULE: &str =
    "a DNS-1123 label: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit";

/// A resource name: a DNS-1123 subdomain.
pub(crate) fn check_subdomain(path: &str, value: &str, out: &mut Vec<FieldError>) {
    if value.len() > 253 || !DNS_SUBDOMAIN.is_match(value) {
        out.push(FieldError::invalid(
            path,
            value,
            format!("must be {SUBDOMAIN_RULE}"),
        ));
    }
}

/// A namespace: a DNS-1123 label.
pub(crate) fn check_dns_label(path: &str, value: &str, out: &mut Vec<FieldError>) {
    if value.len() > 63 || !DNS_LABEL.is_match(value) {
        out.push(FieldError::invalid(path, value, format!("must be {LABEL_RULE}")));
    }
}

/// Label (or annotation) keys: `[prefix/]name`; label values when `values` is true.
pub(crate) fn check_labels(
    path: &str,
    labels: &BTreeMap<String, String>,
    values: bool,
    out: &mut Vec<FieldError>,
) {
    for (key, value) in labels {
        let at = format!("{path}.{key}");
        check_label_key(&at, key, out);
        if values && !(value.is_empty() || (value.len() <= 63 && LABEL_NAME.is_match(value))) {
            out.push(FieldError::invalid(
                at,
                value,
                "a label value must be empty or at most 63 letters, digits, '-', '_' and '.', \
                 starting and ending with a letter or digit",
            ));
        }
    }
}

fn check_label_key(path: &str, key: &str, out: &mut Vec<FieldError>) {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| p.len() <= 253 && DNS_SUBDOMAIN.is_match(p));
    let name_ok = name.len() <= 63 && LABEL_NAME.is_match(name);
    if !prefix_ok || !name_ok {
        out.push(FieldError::invalid(
            path,
            key,
            "a label key is [prefix/]name: the optional prefix a DNS-1123 subdomain, the name at most \
             63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
        ));
    }
}
