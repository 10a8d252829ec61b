//! Secret rules: only `kubernetes.io/dockerconfigjson`, readable. Errors never show the
//! values.

use crate::{
    error::FieldError,
    secret::{Secret, SecretError, DOCKER_CONFIG_JSON_TYPE},
};

pub(super) fn check(secret: &Secret, out: &mut Vec<FieldError>) {
    match secret.secret_type.as_deref() {
        Some(DOCKER_CONFIG_JSON_TYPE) => {}
        other => {
            out.push(FieldError::invalid(
                "type",
                other.unwrap_or("(unset: Opaque)"),
                format!("wasmesh reads pull secrets only; allowed: {DOCKER_CONFIG_JSON_TYPE}"),
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
