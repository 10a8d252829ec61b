//! The provider's metadata (OpenID Connect Discovery 1.0 §3), fetched once per VM from
//! `openid_server` and kept.

use serde::Deserialize;

use crate::url::Endpoint;

/// What the flow uses of the discovery document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    pub issuer: String,
    /// Where the browser is sent to log in (absolute; the browser reaches it itself).
    pub authorization_endpoint: String,
    /// Where the plugin exchanges the code, through `openid_server`.
    pub token_endpoint: Endpoint,
    /// Where the browser is sent to log out at the provider, when it has one.
    pub end_session_endpoint: Option<String>,
}

#[derive(Deserialize)]
struct Raw {
    issuer: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    end_session_endpoint: Option<String>,
}

impl Discovery {
    /// Parses the document; the error says which member is missing or wrong.
    pub fn parse(body: &[u8]) -> Result<Discovery, String> {
        let raw: Raw = serde_json::from_slice(body).map_err(|e| format!("not a discovery document: {e}"))?;
        let issuer = raw.issuer.ok_or("the discovery document has no issuer")?;
        let authorization_endpoint = raw
            .authorization_endpoint
            .filter(|u| Endpoint::parse(u).is_some())
            .ok_or("the discovery document has no valid authorization_endpoint")?;
        let token_endpoint = raw
            .token_endpoint
            .as_deref()
            .and_then(Endpoint::parse)
            .ok_or("the discovery document has no valid token_endpoint")?;
        let end_session_endpoint = raw.end_session_endpoint.filter(|u| Endpoint::parse(u).is_some());
        Ok(Discovery {
            issuer,
            authorization_endpoint,
            token_endpoint,
            end_session_endpoint,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_flow_needs() {
        let doc = br#"{"issuer":"http://127.0.0.1:9090/realms/ingress",
            "authorization_endpoint":"http://127.0.0.1:9090/realms/ingress/auth",
            "token_endpoint":"http://127.0.0.1:9090/realms/ingress/token",
            "jwks_uri":"http://127.0.0.1:9090/realms/ingress/jwks",
            "response_types_supported":["code"]}"#;
        let d = Discovery::parse(doc).unwrap();
        assert_eq!(d.issuer, "http://127.0.0.1:9090/realms/ingress");
        assert_eq!(d.token_endpoint.path, "/realms/ingress/token");
        assert_eq!(d.end_session_endpoint, None);
    }

    #[test]
    fn says_what_is_missing() {
        let err = Discovery::parse(br#"{"issuer":"x","authorization_endpoint":"http://a/b"}"#).unwrap_err();
        assert_eq!(err, "the discovery document has no valid token_endpoint");
        assert!(Discovery::parse(b"<html>")
            .unwrap_err()
            .starts_with("not a discovery document"));
    }
}
