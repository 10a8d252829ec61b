//! `v1 Secret` of type `kubernetes.io/dockerconfigjson` (registry credentials for
//! `imagePullSecret`) or `kubernetes.io/tls` (a listener's certificate and key, for a
//! Proxy's `tls.secretName` and a Gateway's `certificateRefs`). Its values never appear in
//! `Debug` output or errors.

use crate::meta::ObjectMeta;
use base64::Engine as _;
use serde::{ser::SerializeStruct, Deserialize, Serialize, Serializer};
use std::{collections::BTreeMap, fmt};

/// The type of a TLS Secret.
pub const TLS_TYPE: &str = "kubernetes.io/tls";
/// A TLS Secret's PEM certificate chain.
pub const TLS_CERT_KEY: &str = "tls.crt";
/// A TLS Secret's PEM private key.
pub const TLS_KEY_KEY: &str = "tls.key";

/// The type of a pull Secret.
pub const DOCKER_CONFIG_JSON_TYPE: &str = "kubernetes.io/dockerconfigjson";
/// The key holding the docker config in `data` / `stringData`.
pub const DOCKER_CONFIG_JSON_KEY: &str = ".dockerconfigjson";

/// A Kubernetes Secret. `Debug` and `Serialize` (config dumps) show the keys of `data` and
/// `stringData`, never the values.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Secret {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    /// Must be `kubernetes.io/dockerconfigjson`.
    #[serde(default, rename = "type")]
    pub secret_type: Option<String>,
    /// Base64 values.
    #[serde(default)]
    pub data: BTreeMap<String, String>,
    /// Plain values; win over `data` for the same key, as in Kubernetes.
    #[serde(default)]
    pub string_data: BTreeMap<String, String>,
    #[serde(default)]
    pub immutable: Option<bool>,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("metadata", &self.metadata)
            .field("type", &self.secret_type)
            .field("data_keys", &self.data.keys().collect::<Vec<_>>())
            .field("string_data_keys", &self.string_data.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The value shown in place of every secret value.
pub const REDACTED: &str = "<redacted>";

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let hide = |m: &BTreeMap<String, String>| -> BTreeMap<String, &str> {
            m.keys().map(|k| (k.clone(), REDACTED)).collect()
        };
        let mut s = serializer.serialize_struct("Secret", 6)?;
        s.serialize_field("apiVersion", &self.api_version)?;
        s.serialize_field("kind", &self.kind)?;
        s.serialize_field("metadata", &self.metadata)?;
        s.serialize_field("type", &self.secret_type)?;
        s.serialize_field("data", &hide(&self.data))?;
        s.serialize_field("stringData", &hide(&self.string_data))?;
        s.end()
    }
}

/// Why a Secret's docker config can't be read. Never carries the secret's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Neither `data` nor `stringData` has `.dockerconfigjson`.
    #[error("has no `.dockerconfigjson` in data or stringData")]
    Missing,
    /// `data[".dockerconfigjson"]` is not base64.
    #[error("data[\".dockerconfigjson\"] is not valid base64")]
    Base64,
    /// The config is not JSON of the form `{"auths": {...}}`.
    #[error(".dockerconfigjson is not a docker config JSON ({{\"auths\": {{...}}}}): {0}")]
    Json(String),
    /// An `auth` entry is not base64 of `user:password`.
    #[error("auths[\"{0}\"].auth is not base64 of `username:password`")]
    Auth(String),
    /// A TLS Secret lacks `tls.crt` or `tls.key`.
    #[error("has no `{0}` in data or stringData")]
    TlsMissing(&'static str),
    /// A TLS Secret's `data` value is not base64.
    #[error("data[\"{0}\"] is not valid base64")]
    TlsBase64(&'static str),
    /// A TLS Secret's value is not the PEM it must be.
    #[error("`{key}` holds no PEM {want} (`-----BEGIN {want}-----`)")]
    TlsPem { key: &'static str, want: &'static str },
}

/// A TLS Secret's PEM certificate chain and key, as bytes. `Debug` shows neither.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsPair {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

impl fmt::Debug for TlsPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsPair(<redacted>)")
    }
}

/// The parsed `.dockerconfigjson`: credentials per registry.
#[derive(Clone, Default, PartialEq, Deserialize)]
pub struct DockerConfig {
    #[serde(default)]
    pub auths: BTreeMap<String, DockerAuth>,
}

impl fmt::Debug for DockerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerConfig")
            .field("registries", &self.auths.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// One registry's entry in a docker config.
#[derive(Clone, Default, PartialEq, Deserialize)]
pub struct DockerAuth {
    #[serde(default)]
    pub auth: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default, rename = "identitytoken")]
    pub identity_token: Option<String>,
}

/// Credentials for one registry. `Debug` shows the user name only.
#[derive(Clone, PartialEq, Eq)]
pub enum RegistryCredentials {
    Basic {
        username: String,
        password: String,
    },
    /// An OAuth2 refresh token (docker's `identitytoken`).
    IdentityToken(String),
}

impl fmt::Debug for RegistryCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryCredentials::Basic { username, .. } => {
                write!(f, "Basic {{ username: {username:?}, password: <redacted> }}")
            }
            RegistryCredentials::IdentityToken(_) => f.write_str("IdentityToken(<redacted>)"),
        }
    }
}

impl Secret {
    /// The value of `key`, from `stringData` or base64 `data`.
    fn value(&self, key: &'static str) -> Result<Vec<u8>, SecretError> {
        if let Some(plain) = self.string_data.get(key) {
            return Ok(plain.as_bytes().to_vec());
        }
        let encoded = self.data.get(key).ok_or(SecretError::TlsMissing(key))?;
        base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| SecretError::TlsBase64(key))
    }

    /// A `kubernetes.io/tls` Secret's certificate chain and key, each checked to hold the
    /// PEM it must (a certificate; a private key: PKCS#8, PKCS#1 or SEC1). Whether the key
    /// fits the certificate is for the TLS library to say, when the listener is built.
    pub fn tls_pair(&self) -> Result<TlsPair, SecretError> {
        let cert_pem = self.value(TLS_CERT_KEY)?;
        let key_pem = self.value(TLS_KEY_KEY)?;
        let has = |bytes: &[u8], label: &str| {
            let text = String::from_utf8_lossy(bytes);
            text.contains(&format!("-----BEGIN {label}-----"))
                && text.contains(&format!("-----END {label}-----"))
        };
        if !has(&cert_pem, "CERTIFICATE") {
            return Err(SecretError::TlsPem {
                key: TLS_CERT_KEY,
                want: "CERTIFICATE",
            });
        }
        if !["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"]
            .iter()
            .any(|label| has(&key_pem, label))
        {
            return Err(SecretError::TlsPem {
                key: TLS_KEY_KEY,
                want: "PRIVATE KEY",
            });
        }
        Ok(TlsPair { cert_pem, key_pem })
    }

    /// The `.dockerconfigjson` bytes, from `stringData` or base64 `data`.
    pub fn docker_config_json(&self) -> Result<Vec<u8>, SecretError> {
        if let Some(plain) = self.string_data.get(DOCKER_CONFIG_JSON_KEY) {
            return Ok(plain.as_bytes().to_vec());
        }
        let encoded = self
            .data
            .get(DOCKER_CONFIG_JSON_KEY)
            .ok_or(SecretError::Missing)?;
        base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| SecretError::Base64)
    }

    /// The parsed docker config; every `auth` entry is checked too.
    pub fn docker_config(&self) -> Result<DockerConfig, SecretError> {
        let bytes = self.docker_config_json()?;
        let config: DockerConfig = serde_json::from_slice(&bytes)
            // serde_json's messages name positions and types, not the content.
            .map_err(|e| SecretError::Json(format!("line {} column {}", e.line(), e.column())))?;
        for (registry, entry) in &config.auths {
            entry
                .credentials()
                .map_err(|()| SecretError::Auth(registry.clone()))?;
        }
        Ok(config)
    }
}

impl DockerConfig {
    /// The credentials for `registry` (`host[:port]`). Entries may be written as a bare
    /// host, with a scheme, or with a path (`https://index.docker.io/v1/`).
    pub fn credentials_for(&self, registry: &str) -> Option<RegistryCredentials> {
        self.auths
            .iter()
            .find(|(key, _)| registry_host(key) == registry)
            .and_then(|(_, entry)| entry.credentials().ok().flatten())
    }
}

fn registry_host(key: &str) -> &str {
    let without_scheme = key.split_once("://").map_or(key, |(_, rest)| rest);
    without_scheme.split('/').next().unwrap_or(without_scheme)
}

impl DockerAuth {
    fn credentials(&self) -> Result<Option<RegistryCredentials>, ()> {
        if let Some(token) = &self.identity_token {
            return Ok(Some(RegistryCredentials::IdentityToken(token.clone())));
        }
        if let Some(auth) = &self.auth {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|_| ())?;
            let text = String::from_utf8(decoded).map_err(|_| ())?;
            let (username, password) = text.split_once(':').ok_or(())?;
            return Ok(Some(RegistryCredentials::Basic {
                username: username.to_string(),
                password: password.to_string(),
            }));
        }
        match (&self.username, &self.password) {
            (Some(username), Some(password)) => Ok(Some(RegistryCredentials::Basic {
                username: username.clone(),
                password: password.clone(),
            })),
            _ => Ok(None),
        }
    }
}
