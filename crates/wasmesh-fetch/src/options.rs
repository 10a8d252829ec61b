//! [`FetchOptions`]: Istio's agent defaults, plus the cache size cap Istio lacks.

use crate::error::FetchError;
use ipnet::IpNet;
use std::{path::PathBuf, time::Duration};

/// How the [`crate::Fetcher`] fetches and caches.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Where cached modules and their index live.
    pub cache_dir: PathBuf,
    /// A cached module not used for this long is removed (Istio: `WASM_MODULE_EXPIRY`, 24h).
    pub ttl: Duration,
    /// How often expired entries are looked for, during fetches (Istio: `WASM_PURGE_INTERVAL`, 1h).
    pub purge_interval: Duration,
    /// The cache never holds more than this many bytes of modules (default 1 GiB).
    pub max_cache_bytes: u64,
    /// Larger modules are refused (Istio: `ISTIO_WASM_MAX_BINARY_SIZE_BYTES`, 256 MiB).
    pub max_module_bytes: u64,
    /// Per-request timeout, body included (Istio: `WASM_HTTP_REQUEST_TIMEOUT`, 15s).
    pub http_timeout: Duration,
    /// Attempts per request on network errors and retryable 5xx (Istio: 5).
    pub http_attempts: u32,
    /// First backoff between attempts; doubles each time (Istio: 500ms).
    pub initial_backoff: Duration,
    /// Registries (`host[:port]`) reached over plain HTTP; `*` means all
    /// (Istio: `WASM_INSECURE_REGISTRIES`).
    pub insecure_registries: Vec<String>,
    /// Ranges blocked in addition to link-local and cloud-metadata addresses
    /// (Istio: `BLOCKED_CIDRS_IN_WASM_FETCH`).
    pub blocked_cidrs: Vec<IpNet>,
    /// PEM certificates trusted besides the built-in roots, for registries and servers
    /// behind a private CA (our `WASM_EXTRA_CA_CERTS`: a PEM file).
    pub extra_ca_certificates: Vec<Vec<u8>>,
    /// The docker config used when a plugin has no pull secret; `None` means
    /// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
    pub docker_config: Option<PathBuf>,
}

impl FetchOptions {
    /// Istio's defaults, with the cache in `cache_dir`.
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        FetchOptions {
            cache_dir: cache_dir.into(),
            ttl: Duration::from_secs(24 * 3600),
            purge_interval: Duration::from_secs(3600),
            max_cache_bytes: 1 << 30,
            max_module_bytes: 256 << 20,
            http_timeout: Duration::from_secs(15),
            http_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            insecure_registries: Vec::new(),
            blocked_cidrs: Vec::new(),
            extra_ca_certificates: Vec::new(),
            docker_config: None,
        }
    }

    /// [`FetchOptions::new`], then Istio's environment variables where set:
    /// `WASM_MODULE_EXPIRY`, `WASM_PURGE_INTERVAL`, `WASM_HTTP_REQUEST_TIMEOUT` (Go durations such as `15s`, `24h`),
    /// `WASM_HTTP_REQUEST_MAX_RETRIES`, `WASM_INSECURE_REGISTRIES` (comma separated),
    /// `BLOCKED_CIDRS_IN_WASM_FETCH` (comma separated), `ISTIO_WASM_MAX_BINARY_SIZE_BYTES`,
    /// and our `WASM_CACHE_MAX_BYTES` and `WASM_EXTRA_CA_CERTS` (a PEM file).
    pub fn from_env(cache_dir: impl Into<PathBuf>) -> Result<Self, FetchError> {
        Self::from_lookup(cache_dir, |name| std::env::var(name).ok())
    }

    pub(crate) fn from_lookup(
        cache_dir: impl Into<PathBuf>,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, FetchError> {
        let mut opts = Self::new(cache_dir);
        let bad = |name: &str, value: &str, what: &str| FetchError::Options {
            reason: format!("{name}={value:?} is not {what}"),
        };
        if let Some(v) = var("WASM_MODULE_EXPIRY") {
            opts.ttl = parse_go_duration(&v).ok_or_else(|| bad("WASM_MODULE_EXPIRY", &v, "a duration"))?;
        }
        if let Some(v) = var("WASM_PURGE_INTERVAL") {
            opts.purge_interval =
                parse_go_duration(&v).ok_or_else(|| bad("WASM_PURGE_INTERVAL", &v, "a duration"))?;
        }
        if let Some(v) = var("WASM_HTTP_REQUEST_TIMEOUT") {
            opts.http_timeout =
                parse_go_duration(&v).ok_or_else(|| bad("WASM_HTTP_REQUEST_TIMEOUT", &v, "a duration"))?;
        }
        if let Some(v) = var("WASM_HTTP_REQUEST_MAX_RETRIES") {
            let n: u32 = v
                .trim()
                .parse()
                .map_err(|_| bad("WASM_HTTP_REQUEST_MAX_RETRIES", &v, "a number"))?;
            opts.http_attempts = n.max(1);
        }
        if let Some(v) = var("ISTIO_WASM_MAX_BINARY_SIZE_BYTES") {
            opts.max_module_bytes = v
                .trim()
                .parse()
                .map_err(|_| bad("ISTIO_WASM_MAX_BINARY_SIZE_BYTES", &v, "a number"))?;
        }
        if let Some(v) = var("WASM_CACHE_MAX_BYTES") {
            opts.max_cache_bytes = v
                .trim()
                .parse()
                .map_err(|_| bad("WASM_CACHE_MAX_BYTES", &v, "a number"))?;
        }
        if let Some(v) = var("WASM_INSECURE_REGISTRIES") {
            opts.insecure_registries = split_list(&v).map(str::to_owned).collect();
        }
        if let Some(v) = var("BLOCKED_CIDRS_IN_WASM_FETCH") {
            opts.blocked_cidrs = split_list(&v)
                .map(|c| {
                    c.parse()
                        .map_err(|_| bad("BLOCKED_CIDRS_IN_WASM_FETCH", c, "a CIDR"))
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = var("WASM_EXTRA_CA_CERTS") {
            let pem = std::fs::read(v.trim()).map_err(|e| FetchError::Options {
                reason: format!("WASM_EXTRA_CA_CERTS={v:?}: {e}"),
            })?;
            opts.extra_ca_certificates.push(pem);
        }
        Ok(opts)
    }

    /// Whether `registry` (`host[:port]`) may be reached over plain HTTP.
    pub fn is_insecure(&self, registry: &str) -> bool {
        self.insecure_registries.iter().any(|r| r == "*" || r == registry)
    }
}

fn split_list(v: &str) -> impl Iterator<Item = &str> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// Parses the Go durations Istio's variables use: `1h30m`, `15s`, `500ms`, `1.5h` (the
/// resources' own duration syntax, around which a variable may carry white space).
pub(crate) fn parse_go_duration(text: &str) -> Option<Duration> {
    wasmesh_api::duration::parse(text.trim()).ok()
}

#[cfg(test)]
mod tests;
