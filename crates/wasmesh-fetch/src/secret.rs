//! Pull secrets: the `.dockerconfigjson` of a `kubernetes.io/dockerconfigjson` Secret, and the
//! user's docker config when a plugin names none. Nothing here prints a password: `Debug`
//! redacts, and parse errors describe the shape, never the content.

use crate::error::FetchError;
use base64::{engine::general_purpose::STANDARD, Engine};
use serde::Deserialize;
use std::{
    collections::BTreeMap,
    fmt,
    path::{Path, PathBuf},
};

/// Credentials for one registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// HTTP basic (also used to get a bearer token when the registry asks for one).
    Basic { username: String, password: String },
    /// A registry token sent as `Authorization: Bearer`.
    Bearer(String),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Basic { username, .. } => write!(f, "Basic({username:?}, <redacted>)"),
            Credentials::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

impl Credentials {
    pub(crate) fn to_registry_auth(&self) -> oci_client::secrets::RegistryAuth {
        match self {
            Credentials::Basic { username, password } => {
                oci_client::secrets::RegistryAuth::Basic(username.clone(), password.clone())
            }
            Credentials::Bearer(token) => oci_client::secrets::RegistryAuth::Bearer(token.clone()),
        }
    }
}

/// A parsed docker config: registry → credentials.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct DockerConfigJson {
    auths: BTreeMap<String, Credentials>,
}

impl fmt::Debug for DockerConfigJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerConfigJson")
            .field("registries", &self.auths.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(Deserialize)]
struct RawConfig {
    #[serde(default)]
    auths: BTreeMap<String, RawAuth>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
struct RawAuth {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    registrytoken: Option<String>,
}

impl DockerConfigJson {
    /// Parses the JSON text of a `.dockerconfigjson` (`{"auths": {"host": {"auth": "…"}}}`).
    pub fn from_json(json: &[u8]) -> Result<Self, FetchError> {
        // serde_json's messages quote input fragments; report only the position.
        let raw: RawConfig = serde_json::from_slice(json).map_err(|e| FetchError::PullSecret {
            reason: format!(
                "not a docker config JSON ({:?} error at line {}, column {})",
                e.classify(),
                e.line(),
                e.column()
            ),
        })?;
        if raw.creds_store.is_some() || !raw.cred_helpers.is_empty() {
            // Running helper programs from a proxy is not something we do; say so once.
            tracing::warn!("docker config credential helpers (credsStore, credHelpers) are not supported; only \"auths\" is read");
        }
        let mut auths = BTreeMap::new();
        for (registry, raw) in raw.auths {
            let creds = credentials_from(&registry, raw)?;
            if let Some(creds) = creds {
                auths.insert(normalize_registry(&registry), creds);
            }
        }
        Ok(DockerConfigJson { auths })
    }

    /// Parses a Secret's `data[".dockerconfigjson"]` value (base64 of the JSON).
    pub fn from_base64(data: &str) -> Result<Self, FetchError> {
        let json = STANDARD.decode(data.trim()).map_err(|_| FetchError::PullSecret {
            reason: "data[.dockerconfigjson] is not valid base64".into(),
        })?;
        Self::from_json(&json)
    }

    /// A config with one registry's credentials (for `wasmesh push --username`).
    pub fn single(registry: &str, credentials: Credentials) -> Self {
        let mut auths = BTreeMap::new();
        auths.insert(normalize_registry(registry), credentials);
        DockerConfigJson { auths }
    }

    /// The credentials for `registry` (`host[:port]`), if any.
    pub fn credentials_for(&self, registry: &str) -> Option<&Credentials> {
        self.auths.get(&normalize_registry(registry))
    }

    /// The registries this config has credentials for.
    pub fn registries(&self) -> impl Iterator<Item = &str> {
        self.auths.keys().map(String::as_str)
    }

    /// The user's docker config: `path`, else `$DOCKER_CONFIG/config.json`, else
    /// `~/.docker/config.json`. Missing or unreadable files give an empty config.
    pub fn load_default(path: Option<&Path>) -> Self {
        let path = path.map(Path::to_path_buf).or_else(default_docker_config_path);
        let Some(path) = path else { return Self::default() };
        match std::fs::read(&path) {
            Ok(json) => Self::from_json(&json).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), error = %e, "ignoring the docker config");
                Self::default()
            }),
            Err(_) => Self::default(),
        }
    }
}

fn default_docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker").join("config.json"))
}

fn credentials_from(registry: &str, raw: RawAuth) -> Result<Option<Credentials>, FetchError> {
    if let Some(token) = raw.registrytoken.filter(|t| !t.is_empty()) {
        return Ok(Some(Credentials::Bearer(token)));
    }
    if let Some(auth) = raw.auth.filter(|a| !a.is_empty()) {
        let bad = || FetchError::PullSecret {
            reason: format!("auths[{registry:?}].auth is not base64 of \"username:password\""),
        };
        let decoded = STANDARD.decode(auth.trim()).map_err(|_| bad())?;
        let text = String::from_utf8(decoded).map_err(|_| bad())?;
        let (username, password) = text.split_once(':').ok_or_else(bad)?;
        return Ok(Some(Credentials::Basic {
            username: username.to_owned(),
            password: password.to_owned(),
        }));
    }
    match (raw.username, raw.password) {
        (Some(username), Some(password)) => Ok(Some(Credentials::Basic { username, password })),
        _ => Ok(None),
    }
}

/// Docker configs key registries as `host`, `host:port`, `https://host/v1/`…; Docker Hub has
/// several names.
fn normalize_registry(key: &str) -> String {
    let key = key.trim();
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = key.split('/').next().unwrap_or(key).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".into(),
        _ => host,
    }
}

#[cfg(test)]
mod tests;
