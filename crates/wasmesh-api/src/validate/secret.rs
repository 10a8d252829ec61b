//! Secret rules: `kubernetes.io/dockerconfigjson` or `kubernetes.io/tls`, readable. Errors
//! never show the values.

use crate::{
    error::FieldError,
    secret::{Secret, SecretError, DOCKER_CONFIG_JSON_TYPE, TLS_TYPE},
};

pub(super) fn check(secret: &Secret, out: &mut Vec<FieldError>) {
    match secret.secret_type.as_deref() {
        Some(DOCKER_CONFIG_JSON_TYPE) => {}
        Some(TLS_TYPE) => {
            if let Err(e) = secret.tls_pair() {
                let key = match &e {
                    SecretError::TlsMissing(_) => None,
                    SecretError::TlsBase64(key) | SecretError::TlsPem { key, .. } => Some(*key),
                    _ => None,
                };
                let path = match key {
                    None => "data".to_string(),
                    Some(key) if secret.string_data.contains_key(key) => format!("stringData[\"{key}\"]"),
                    Some(key) => format!("data[\"{key}\"]"),
                };
                out.push(FieldError::rule(path, e.to_string()));
            }
            return;
        }
        other => {
            out.push(FieldError::invalid(
                "type",
                other.unwrap_or("(unset: Opaque)"),
                format!("wasmesh reads pull secrets and TLS secrets only; allowed: {DOCKER_CONFIG_JSON_TYPE}, {TLS_TYPE}"),
            ));
            return;
        }
    }
    if let Err(e) = secret.docker_config() {
        let path = match e {
            SecretError::Missing => "data",
            _ if secret.string_data.contains_key(".dockerconfigjson") => "stringData[\".dockerconfigjson\"]",
            _ => "data[\".dockerconfigjson\"]",
        };
        out.push(FieldError::rule(path, e.to_string()));
    }
}
