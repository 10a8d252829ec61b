//! The token endpoint's answer (OpenID Connect Core §3.1.3.3) and the checks on the ID token
//! that are the client's job (§3.1.3.7): issuer, audience, nonce, expiry. The token came
//! straight from the token endpoint, so its signature is left to the proxy's built-in authn
//! filter (RequestAuthentication with the provider's JWKS), which checks every request.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;

/// What the provider answered to the code exchange.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenAnswer {
    /// A token response holding an ID token.
    IdToken(String),
    /// An OAuth error response (RFC 6749 §5.2).
    Error {
        error: String,
        description: Option<String>,
    },
}

#[derive(Deserialize)]
struct Raw {
    id_token: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Reads the token endpoint's body.
pub fn parse_answer(body: &[u8]) -> Result<TokenAnswer, String> {
    let raw: Raw = serde_json::from_slice(body)
        .map_err(|_| "the token endpoint did not answer with JSON".to_string())?;
    if let Some(error) = raw.error {
        return Ok(TokenAnswer::Error {
            error,
            description: raw.error_description,
        });
    }
    raw.id_token.map(TokenAnswer::IdToken).ok_or_else(|| {
        "the token endpoint's answer has no id_token (is the scope \"openid\" allowed?)".into()
    })
}

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    aud: Option<Audience>,
    nonce: Option<String>,
    exp: Option<u64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// Checks the ID token's claims and returns its `exp`.
pub fn check_id_token(
    token: &str,
    issuer: &str,
    client_id: &str,
    nonce: &str,
    now: u64,
) -> Result<u64, String> {
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("the ID token is not a JWS".into());
    };
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| "the ID token's payload is not base64url")?;
    let claims: Claims =
        serde_json::from_slice(&payload).map_err(|_| "the ID token's payload is not a JSON object")?;
    if claims.iss.as_deref() != Some(issuer) {
        return Err(format!("the ID token's issuer is not {issuer:?}"));
    }
    let audience_ok = match &claims.aud {
        Some(Audience::One(a)) => a == client_id,
        Some(Audience::Many(all)) => all.iter().any(|a| a == client_id),
        None => false,
    };
    if !audience_ok {
        return Err(format!("the ID token is not meant for client {client_id:?}"));
    }
    if claims.nonce.as_deref() != Some(nonce) {
        return Err("the ID token's nonce does not match this login".into());
    }
    match claims.exp {
        Some(exp) if exp > now => Ok(exp),
        Some(_) => Err("the ID token has already expired".into()),
        None => Err("the ID token has no exp".into()),
    }
}

#[cfg(test)]
mod tests;
