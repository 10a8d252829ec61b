//! The plugin's configuration (`pluginConfig` of the WasmPlugin), parsed and checked once in
//! `on_configure`. The seed's keys `openid_server` (the cluster that reaches the provider)
//! and `openid_realm` come first; the rest is what a real deployment needs.

use std::fmt;

use serde::Deserialize;

/// Shortest accepted `cookie_secret`: HMAC-SHA256 wants a key of at least its output size.
pub const MIN_SECRET_LEN: usize = 32;

/// A checked configuration.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// The cluster (of the Proxy resource) through which the provider is called.
    pub openid_server: String,
    /// The provider's realm; with the default discovery path it names
    /// `/realms/<realm>/.well-known/openid-configuration` (Keycloak's layout).
    pub openid_realm: String,
    /// Path of the discovery document on `openid_server`.
    pub discovery_path: String,
    /// The `:authority` sent with calls to `openid_server`.
    pub openid_authority: String,
    pub client_id: String,
    pub client_secret: String,
    /// Where the provider sends the browser back; handled by the plugin, never forwarded.
    pub redirect_path: String,
    /// Visiting this path ends the session.
    pub logout_path: String,
    pub scopes: Vec<String>,
    pub cookie_name: String,
    /// Key of the HMAC-SHA256 that signs the session and state cookies.
    pub cookie_secret: Vec<u8>,
    /// Upper bound of a session's life, whatever the ID token's `exp` says.
    pub session_ttl_seconds: u64,
    /// Timeout of each call to the provider.
    pub call_timeout_ms: u64,
}

/// What a WasmPlugin author may write in `pluginConfig`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    openid_server: Option<String>,
    openid_realm: Option<String>,
    discovery_path: Option<String>,
    openid_authority: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    redirect_path: Option<String>,
    logout_path: Option<String>,
    scopes: Option<Vec<String>>,
    cookie_name: Option<String>,
    cookie_secret: Option<String>,
    session_ttl_seconds: Option<u64>,
    call_timeout_ms: Option<u64>,
    /// Read by the host (signature check of the module), not by the plugin.
    #[serde(rename = "verificationKey")]
    _verification_key: Option<serde_json::Value>,
}

/// Why a configuration was refused. Never holds a secret's value.
#[derive(Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// `pluginConfig` is not a JSON object of the known keys.
    Json(String),
    /// A required key is absent or empty.
    Missing(&'static str),
    /// A key has a value the plugin cannot use.
    Invalid { key: &'static str, why: String },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Json(e) => write!(f, "pluginConfig is not valid: {e}"),
            ConfigError::Missing(key) => write!(f, "pluginConfig.{key} is required"),
            ConfigError::Invalid { key, why } => write!(f, "pluginConfig.{key}: {why}"),
        }
    }
}

impl Config {
    /// Parses and checks `pluginConfig` (JSON bytes as the host hands them over).
    pub fn parse(bytes: &[u8]) -> Result<Config, ConfigError> {
        let raw: Raw = serde_json::from_slice(bytes).map_err(|e| ConfigError::Json(e.to_string()))?;
        let openid_server = required(raw.openid_server, "openid_server")?;
        let openid_realm = required(raw.openid_realm, "openid_realm")?;
        let client_id = required(raw.client_id, "client_id")?;
        let client_secret = required(raw.client_secret, "client_secret")?;
        let cookie_secret = required(raw.cookie_secret, "cookie_secret")?;
        if cookie_secret.len() < MIN_SECRET_LEN {
            return Err(ConfigError::Invalid {
                key: "cookie_secret",
                why: format!(
                    "must be at least {MIN_SECRET_LEN} bytes long (it was {})",
                    cookie_secret.len()
                ),
            });
        }
        if !is_token(&openid_realm) {
            return Err(invalid(
                "openid_realm",
                "may hold only letters, digits, '-', '_' and '.'",
            ));
        }
        let discovery_path = raw
            .discovery_path
            .unwrap_or_else(|| format!("/realms/{openid_realm}/.well-known/openid-configuration"));
        let redirect_path = raw.redirect_path.unwrap_or_else(|| "/oauth2/callback".into());
        let logout_path = raw.logout_path.unwrap_or_else(|| "/oauth2/logout".into());
        for (key, path) in [
            ("discovery_path", &discovery_path),
            ("redirect_path", &redirect_path),
            ("logout_path", &logout_path),
        ] {
            if !path.starts_with('/') || path.contains(['?', '#', ' ']) {
                return Err(ConfigError::Invalid {
                    key,
                    why: format!("must be a path starting with '/' without query, got {path:?}"),
                });
            }
        }
        if redirect_path == logout_path {
            return Err(invalid("logout_path", "must differ from redirect_path"));
        }
        let scopes = raw.scopes.unwrap_or_else(|| vec!["openid".into()]);
        if !scopes.iter().any(|s| s == "openid") {
            return Err(invalid(
                "scopes",
                "must include \"openid\" (OpenID Connect Core §3.1.2.1)",
            ));
        }
        if let Some(bad) = scopes.iter().find(|s| s.is_empty() || s.contains(' ')) {
            return Err(ConfigError::Invalid {
                key: "scopes",
                why: format!("bad scope {bad:?}"),
            });
        }
        let cookie_name = raw.cookie_name.unwrap_or_else(|| "wasmesh-oidc".into());
        if !is_token(&cookie_name) {
            return Err(invalid(
                "cookie_name",
                "may hold only letters, digits, '-', '_' and '.'",
            ));
        }
        let session_ttl_seconds = raw.session_ttl_seconds.unwrap_or(3600);
        if session_ttl_seconds == 0 {
            return Err(invalid("session_ttl_seconds", "must be above 0"));
        }
        let call_timeout_ms = raw.call_timeout_ms.unwrap_or(5000);
        if call_timeout_ms == 0 {
            return Err(invalid("call_timeout_ms", "must be above 0"));
        }
        Ok(Config {
            openid_authority: raw.openid_authority.unwrap_or_else(|| openid_server.clone()),
            openid_server,
            openid_realm,
            discovery_path,
            client_id,
            client_secret,
            redirect_path,
            logout_path,
            scopes,
            cookie_name,
            cookie_secret: cookie_secret.into_bytes(),
            session_ttl_seconds,
            call_timeout_ms,
        })
    }

    /// The name of the short-lived cookie that carries state and nonce during a login.
    pub fn state_cookie_name(&self) -> String {
        format!("{}-state", self.cookie_name)
    }
}

// Secrets stay out of logs even when someone prints the whole config.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("openid_server", &self.openid_server)
            .field("openid_realm", &self.openid_realm)
            .field("discovery_path", &self.discovery_path)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("redirect_path", &self.redirect_path)
            .field("logout_path", &self.logout_path)
            .field("scopes", &self.scopes)
            .field("cookie_name", &self.cookie_name)
            .field("cookie_secret", &"<redacted>")
            .field("session_ttl_seconds", &self.session_ttl_seconds)
            .finish_non_exhaustive()
    }
}

fn required(value: Option<String>, key: &'static str) -> Result<String, ConfigError> {
    value
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConfigError::Missing(key))
}

fn invalid(key: &'static str, why: &str) -> ConfigError {
    ConfigError::Invalid {
        key,
        why: why.to_string(),
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

#[cfg(test)]
mod tests;
