//! The openid-connect plugin's settings for the gateway scenario, and a logged-in session
//! cookie minted offline: the plugin's session cookie is `<exp>.<id_token>.<seal>`, sealed
//! with HMAC-SHA256 under the configured `cookie_secret` (docs/plugins/openid-connect.md),
//! so a cookie sealed here with the same secret is one the plugin accepts without a login
//! at a provider. The ID token is the bench's JWT, which the built-in authn then validates.

use crate::jwt;
use anyhow::Result;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use sha2::{Digest, Sha256};

/// The plugin's `cookie_secret` in the scenario (a benchmark value, not a secret).
const COOKIE_SECRET: &str = "bench-cookie-secret-0123456789abcdef";
/// The plugin's default session cookie name.
const COOKIE_NAME: &str = "wasmesh-oidc";
/// The label the plugin seals session cookies under.
const SESSION_LABEL: &str = "wasmesh-oidc-session-v1";
/// The session's end: the JWT's own `exp` (bench/src/jwt.rs), ten years from a fixed start.
const SESSION_EXP: u64 = 2_079_000_000;

/// `pluginConfig` of the openid-connect plugin, one `key: value` a line. The provider is
/// never called: every request carries a live session.
pub fn plugin_config() -> String {
    format!(
        "openid_server: backend\nopenid_realm: bench\nopenid_authority: 127.0.0.1\n\
         client_id: bench\nclient_secret: bench-client-secret\ncookie_secret: {COOKIE_SECRET}\n"
    )
}

/// `<name>=<sealed session>` for the `Cookie` header.
pub fn session_cookie() -> Result<String> {
    let body = format!("{SESSION_EXP}.{}", jwt::make()?.token);
    let mut message = SESSION_LABEL.as_bytes().to_vec();
    message.push(0);
    message.extend_from_slice(body.as_bytes());
    let seal = B64.encode(hmac_sha256(COOKIE_SECRET.as_bytes(), &message));
    Ok(format!("{COOKIE_NAME}={body}.{seal}"))
}

/// HMAC-SHA256 (RFC 2104) for a key of at most one block.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    block[..key.len()].copy_from_slice(key);
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_cookie_carries_the_bench_token_before_its_seal() {
        let cookie = session_cookie().unwrap();
        let token = jwt::make().unwrap().token;
        let value = cookie.strip_prefix("wasmesh-oidc=").unwrap();
        let (body, seal) = value.rsplit_once('.').unwrap();
        assert_eq!(body, format!("{SESSION_EXP}.{token}"));
        assert_eq!(B64.decode(seal).unwrap().len(), 32);
    }
}
