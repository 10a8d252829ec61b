//! The configuration and the decision, without host calls. Modelled on Envoy's `ext_authz`
//! HTTP service: the check request carries the original method and `path_prefix` + the
//! original path; a 2xx answer lets the request go on, anything else is the answer the
//! client gets.

use serde::Deserialize;

/// `pluginConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The cluster of the authorization service.
    pub cluster: String,
    /// `:authority` of the check request; defaults to the cluster's name.
    #[serde(default)]
    pub authority: Option<String>,
    /// Put before the original path in the check request.
    #[serde(default)]
    pub path_prefix: String,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Request headers copied into the check request.
    #[serde(default = "default_forward")]
    pub forward_headers: Vec<String>,
    /// Headers of an allowing answer copied onto the request (e.g. `x-user-id`).
    #[serde(default)]
    pub upstream_headers: Vec<String>,
    /// When the service cannot be reached: let the request through (true) or answer 503.
    #[serde(default)]
    pub failure_mode_allow: bool,
}

fn default_timeout() -> u64 {
    1000
}

fn default_forward() -> Vec<String> {
    vec!["authorization".into()]
}

impl Settings {
    pub fn parse(bytes: &[u8]) -> Result<Settings, String> {
        let mut s: Settings = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if s.cluster.is_empty() {
            return Err("cluster must name a cluster of the Proxy".into());
        }
        if !s.path_prefix.is_empty() && (!s.path_prefix.starts_with('/') || s.path_prefix.ends_with('/')) {
            return Err("path_prefix must start with '/' and not end with one".into());
        }
        if s.timeout_ms == 0 {
            return Err("timeout_ms must be above 0".into());
        }
        for h in s.forward_headers.iter_mut().chain(s.upstream_headers.iter_mut()) {
            if h.is_empty() || h.starts_with(':') {
                return Err(format!("{h:?} cannot be copied"));
            }
            *h = h.to_ascii_lowercase();
        }
        Ok(s)
    }

    /// The `:path` of the check request for a request to `path`.
    pub fn check_path(&self, path: &str) -> String {
        format!("{}{path}", self.path_prefix)
    }
}

/// What happens to the request once the service answered (`status` None: no answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Go on, with these headers set on the request.
    Allow(Vec<(String, String)>),
    /// Answer the client with this.
    Deny {
        status: u32,
        body: Vec<u8>,
        content_type: Option<String>,
    },
}

pub fn decide(
    settings: &Settings,
    status: Option<&str>,
    answer_headers: &[(String, String)],
    body: Vec<u8>,
) -> Outcome {
    let header = |name: &str| {
        answer_headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let code = status.and_then(|s| s.parse::<u32>().ok());
    match code {
        Some(200..=299) => Outcome::Allow(
            settings
                .upstream_headers
                .iter()
                .filter_map(|h| header(h).map(|v| (h.clone(), v)))
                .collect(),
        ),
        // Envoy's ext_authz answers 403 when the service's status is not a usable error code.
        Some(code @ 400..=599) => Outcome::Deny {
            status: code,
            body,
            content_type: header("content-type"),
        },
        Some(_) => Outcome::Deny {
            status: 403,
            body,
            content_type: header("content-type"),
        },
        None if settings.failure_mode_allow => Outcome::Allow(vec![]),
        None => Outcome::Deny {
            status: 503,
            body: format!(
                "authorization service (cluster {}) unavailable\n",
                settings.cluster
            )
            .into_bytes(),
            content_type: Some("text/plain".into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings::parse(br#"{"cluster":"authz","path_prefix":"/check","upstream_headers":["X-User-Id"]}"#)
            .unwrap()
    }

    fn h(k: &str, v: &str) -> (String, String) {
        (k.into(), v.into())
    }

    #[test]
    fn allow_copies_only_the_named_headers() {
        let answer = [h(":status", "200"), h("x-user-id", "alice"), h("x-secret", "no")];
        assert_eq!(
            decide(&settings(), Some("200"), &answer, vec![]),
            Outcome::Allow(vec![h("x-user-id", "alice")])
        );
    }

    #[test]
    fn the_service_status_and_body_reach_the_client() {
        let answer = [h("content-type", "text/plain")];
        assert_eq!(
            decide(&settings(), Some("403"), &answer, b"who are you?".to_vec()),
            Outcome::Deny {
                status: 403,
                body: b"who are you?".to_vec(),
                content_type: Some("text/plain".into())
            }
        );
        assert!(matches!(
            decide(&settings(), Some("302"), &[], vec![]),
            Outcome::Deny { status: 403, .. }
        ));
    }

    #[test]
    fn no_answer_fails_closed_unless_told_otherwise() {
        assert!(matches!(
            decide(&settings(), None, &[], vec![]),
            Outcome::Deny { status: 503, .. }
        ));
        let open = Settings {
            failure_mode_allow: true,
            ..settings()
        };
        assert_eq!(decide(&open, None, &[], vec![]), Outcome::Allow(vec![]));
    }

    #[test]
    fn config_is_checked() {
        let s = settings();
        assert_eq!(s.check_path("/orders?id=1"), "/check/orders?id=1");
        assert_eq!(s.forward_headers, vec!["authorization"]);
        assert_eq!(s.upstream_headers, vec!["x-user-id"]);
        assert!(Settings::parse(br#"{"cluster":""}"#).is_err());
        assert!(Settings::parse(br#"{"cluster":"a","path_prefix":"check"}"#).is_err());
        assert!(Settings::parse(br#"{"cluster":"a","forward_headers":[":path"]}"#).is_err());
        assert!(Settings::parse(br#"{"clutser":"a"}"#)
            .unwrap_err()
            .contains("unknown field"));
    }
}
