//! The two cookies of the flow, both sealed with the configured `cookie_secret`:
//!
//! - the **session** cookie `<exp>.<id_token>.<seal>`: the ID token the provider issued and
//!   the moment the session ends. The seal covers both, so the session is bound to that very
//!   token: change one byte of it, or the expiry, and the cookie is refused.
//! - the **state** cookie `<state>.<nonce>.<exp>.<return-to>.<seal>`, set when the browser
//!   is sent to the provider and checked on the callback (OpenID Connect Core §3.1.2.1 and
//!   §15.5.2: state against cross-site request forgery, nonce against replayed tokens).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::seal;

const SESSION_LABEL: &str = "wasmesh-oidc-session-v1";
const STATE_LABEL: &str = "wasmesh-oidc-state-v1";

/// How long a login may take between the redirect and the callback.
pub const STATE_TTL_SECONDS: u64 = 600;

/// A logged-in session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id_token: String,
    /// Unix seconds after which the session is over.
    pub expires_at: u64,
}

/// Why a cookie was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieError {
    /// Not in the plugin's format at all.
    Malformed,
    /// The seal does not match: forged, altered, or sealed under another key.
    BadSeal,
    /// Sealed by us, but past its expiry.
    Expired,
}

impl std::fmt::Display for CookieError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CookieError::Malformed => "malformed",
            CookieError::BadSeal => "signature does not match",
            CookieError::Expired => "expired",
        })
    }
}

impl Session {
    /// The cookie value.
    pub fn encode(&self, key: &[u8]) -> String {
        let body = format!("{}.{}", self.expires_at, self.id_token);
        let seal = seal::seal(key, SESSION_LABEL, &body);
        format!("{body}.{seal}")
    }

    /// Reads a cookie value back, refusing anything we did not seal or that is over at `now`.
    pub fn decode(value: &str, key: &[u8], now: u64) -> Result<Session, CookieError> {
        let (body, seal) = value.rsplit_once('.').ok_or(CookieError::Malformed)?;
        if !seal::verify(key, SESSION_LABEL, body, seal) {
            return Err(CookieError::BadSeal);
        }
        let (exp, id_token) = body.split_once('.').ok_or(CookieError::Malformed)?;
        let expires_at: u64 = exp.parse().map_err(|_| CookieError::Malformed)?;
        if now >= expires_at {
            return Err(CookieError::Expired);
        }
        Ok(Session {
            id_token: id_token.to_string(),
            expires_at,
        })
    }
}

/// A login in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginState {
    /// The `state` parameter sent to the provider.
    pub state: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// Unix seconds after which the callback is refused.
    pub expires_at: u64,
    /// The path (and query) the user asked for, to go back to after the login.
    pub return_to: String,
}

impl LoginState {
    /// A new login: `random` must be 64 bytes from a cryptographic source.
    pub fn new(random: &[u8; 64], return_to: &str, now: u64) -> LoginState {
        LoginState {
            state: URL_SAFE_NO_PAD.encode(&random[..32]),
            nonce: URL_SAFE_NO_PAD.encode(&random[32..]),
            expires_at: now + STATE_TTL_SECONDS,
            return_to: return_to.to_string(),
        }
    }

    /// The cookie value.
    pub fn encode(&self, key: &[u8]) -> String {
        let body = format!(
            "{}.{}.{}.{}",
            self.state,
            self.nonce,
            self.expires_at,
            URL_SAFE_NO_PAD.encode(self.return_to.as_bytes())
        );
        let seal = seal::seal(key, STATE_LABEL, &body);
        format!("{body}.{seal}")
    }

    /// Reads a cookie value back, refusing anything we did not seal or that is over at `now`.
    pub fn decode(value: &str, key: &[u8], now: u64) -> Result<LoginState, CookieError> {
        let (body, seal) = value.rsplit_once('.').ok_or(CookieError::Malformed)?;
        if !seal::verify(key, STATE_LABEL, body, seal) {
            return Err(CookieError::BadSeal);
        }
        let parts: Vec<&str> = body.split('.').collect();
        let [state, nonce, exp, return_to] = parts[..] else {
            return Err(CookieError::Malformed);
        };
        let expires_at: u64 = exp.parse().map_err(|_| CookieError::Malformed)?;
        let return_to = URL_SAFE_NO_PAD
            .decode(return_to)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or(CookieError::Malformed)?;
        if now >= expires_at {
            return Err(CookieError::Expired);
        }
        Ok(LoginState {
            state: state.into(),
            nonce: nonce.into(),
            expires_at,
            return_to,
        })
    }
}

/// Only a local path may be a place to return to: never another site (an open redirect).
pub fn safe_return_path(path: &str) -> &str {
    if path.starts_with('/') && !path.starts_with("//") && !path.starts_with("/\\") {
        path
    } else {
        "/"
    }
}

#[cfg(test)]
mod tests;
