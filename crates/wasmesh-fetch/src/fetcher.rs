//! [`Fetcher`]: one per proxy. Parses the url, applies the pull policy against the cache,
//! collapses concurrent requests for one url into one fetch, fetches, checks digests, module
//! shape and signature, stores, and counts.

use crate::{
    cache::{key_of, now_secs, Entry, ModuleCache, SignatureMaterial},
    cosign,
    digest::{digest_hex, normalize_sha256, sha256_hex},
    error::FetchError,
    http::HttpFetcher,
    metrics::FetchMetrics,
    oci,
    options::FetchOptions,
    request::{Module, ModuleRequest, PullPolicy},
    retry::Retry,
    secret::DockerConfigJson,
    source::{redact_url, registry_of, Source},
    ssrf::AddressGuard,
    verify::{decode_signature_file, PublicKey},
    wasm::{check_module, unwrap_archive, UnwrapError},
};
use bytes::Bytes;
use oci_client::{secrets::RegistryAuth, Reference};
use reqwest::Url;
use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, Weak,
    },
};

/// Gets modules for WasmPlugins. Cheap to clone; clones share the cache and metrics.
#[derive(Clone)]
pub struct Fetcher {
    inner: Arc<Inner>,
}

struct Inner {
    opts: FetchOptions,
    cache: Arc<ModuleCache>,
    http: HttpFetcher,
    guard: AddressGuard,
    metrics: FetchMetrics,
    keychain: DockerConfigJson,
    inflight: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
    /// When expired entries were last purged (seconds since the epoch).
    last_purge: AtomicU64,
    last_errors: Mutex<HashMap<String, String>>,
}

/// What a fetch found, before it is stored.
struct Fetched {
    bytes: Vec<u8>,
    manifest_digest: Option<String>,
    signature: Option<SignatureMaterial>,
}

impl Fetcher {
    /// Opens the cache in `opts.cache_dir` and reads the default docker config.
    pub fn new(opts: FetchOptions) -> Result<Self, FetchError> {
        let cache = ModuleCache::open(&opts.cache_dir, opts.ttl, opts.max_cache_bytes)?;
        let guard = AddressGuard::new(&opts.blocked_cidrs);
        let http = HttpFetcher::new(&opts, guard.clone())?;
        let keychain = DockerConfigJson::load_default(opts.docker_config.as_deref());
        let metrics = FetchMetrics::default();
        metrics.set_cache_entries(cache.len());
        Ok(Fetcher {
            inner: Arc::new(Inner {
                opts,
                cache: Arc::new(cache),
                http,
                guard,
                metrics,
                keychain,
                inflight: Mutex::default(),
                last_purge: AtomicU64::new(now_secs()),
                last_errors: Mutex::default(),
            }),
        })
    }

    /// The options this fetcher was built with.
    pub fn options(&self) -> &FetchOptions {
        &self.inner.opts
    }

    /// The fetch and cache counters.
    pub fn metrics(&self) -> &FetchMetrics {
        &self.inner.metrics
    }

    /// Bytes of modules in the cache (never more than `max_cache_bytes`).
    pub fn cache_bytes(&self) -> u64 {
        self.inner.cache.total_bytes()
    }

    /// Removes cache entries past the TTL (call it periodically; Istio does hourly).
    pub fn purge_expired(&self) -> usize {
        let n = self.inner.cache.purge_expired();
        self.inner.metrics.set_cache_entries(self.inner.cache.len());
        n
    }

    /// Gets the module `req` describes, from the cache when the pull policy allows.
    /// A failure is logged once per url until it changes or the url succeeds again.
    pub async fn fetch(&self, req: &ModuleRequest) -> Result<Module, FetchError> {
        let result = self.fetch_checked(req).await;
        let shown = redact_url(&req.url);
        let mut last = self.inner.last_errors.lock().unwrap_or_else(|p| p.into_inner());
        match &result {
            Ok(module) => {
                if last.remove(&req.url).is_some() {
                    tracing::info!(url = %shown, sha256 = %module.sha256, "module fetch recovered");
                }
            }
            Err(e) => {
                let text = e.to_string();
                if last.get(&req.url) != Some(&text) {
                    tracing::warn!(url = %shown, resource = %req.resource_name, error = %text, "cannot get Wasm module");
                    last.insert(req.url.clone(), text);
                }
            }
        }
        result
    }

    async fn fetch_checked(&self, req: &ModuleRequest) -> Result<Module, FetchError> {
        let shown = redact_url(&req.url);
        let source = Source::parse(&req.url)?;
        let expected = match req.sha256.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => Some(normalize_sha256(s, &shown)?),
            _ => None,
        };
        let key = match req.verification_key.as_deref().map(str::trim) {
            Some(pem) if !pem.is_empty() => Some(PublicKey::from_pem(pem)?),
            _ => None,
        };
        if let (Source::Oci(image), Some(expected)) = (&source, &expected) {
            if let Some(in_url) = image.digest() {
                if digest_hex(in_url) != expected {
                    return Err(FetchError::DigestMismatch {
                        url: shown,
                        what: "sha256 field and the url's @sha256",
                        expected: expected.clone(),
                        actual: digest_hex(in_url).to_owned(),
                    });
                }
            }
        }
        match source {
            Source::File(path) => {
                self.fetch_file(&path, &shown, expected.as_deref(), key.as_ref())
                    .await
            }
            remote => self.fetch_remote(req, remote, &shown, expected, key).await,
        }
    }

    // === file:// ===

    async fn fetch_file(
        &self,
        path: &Path,
        shown: &str,
        expected: Option<&str>,
        key: Option<&PublicKey>,
    ) -> Result<Module, FetchError> {
        let file_err = |source| FetchError::File {
            url: shown.to_owned(),
            path: path.to_path_buf(),
            source,
        };
        let size = tokio::fs::metadata(path).await.map_err(file_err)?.len();
        let limit = self.inner.opts.max_module_bytes;
        if size > limit {
            return Err(FetchError::TooLarge {
                url: shown.to_owned(),
                size,
                limit,
            });
        }
        let raw = tokio::fs::read(path).await.map_err(file_err)?;
        let bytes = self.unwrap_and_check(raw, shown, expected)?;
        if let Some(key) = key {
            let mut sig_path = path.as_os_str().to_owned();
            sig_path.push(".sig");
            let sig_path = PathBuf::from(sig_path);
            let sig = match tokio::fs::read(&sig_path).await {
                Ok(content) => decode_signature_file(&content),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(FetchError::Signature {
                        url: shown.to_owned(),
                        reason: format!("no signature file {}", sig_path.display()),
                    })
                }
                Err(source) => return Err(file_err(source)),
            };
            key.verify(&bytes, &sig).map_err(|reason| FetchError::Signature {
                url: shown.to_owned(),
                reason,
            })?;
        }
        Ok(Module {
            sha256: sha256_hex(&bytes),
            bytes: Bytes::from(bytes),
            manifest_digest: None,
            from_cache: false,
            signature_verified: key.is_some(),
        })
    }

    /// Unwraps gz/tar, then checks the module's sha256 (when given) and shape.
    fn unwrap_and_check(
        &self,
        raw: Vec<u8>,
        shown: &str,
        expected: Option<&str>,
    ) -> Result<Vec<u8>, FetchError> {
        let limit = self.inner.opts.max_module_bytes;
        let bytes = unwrap_archive(raw, limit).map_err(|e| match e {
            UnwrapError::TooLarge(size) => FetchError::TooLarge {
                url: shown.to_owned(),
                size,
                limit,
            },
            UnwrapError::Invalid(reason) => FetchError::Unpack {
                url: shown.to_owned(),
                reason,
            },
        })?;
        if let Some(expected) = expected {
            let actual = sha256_hex(&bytes);
            if actual != expected {
                return Err(FetchError::DigestMismatch {
                    url: shown.to_owned(),
                    what: "module",
                    expected: expected.to_owned(),
                    actual,
                });
            }
        }
        check_module(&bytes).map_err(|reason| FetchError::NotWasm {
            url: shown.to_owned(),
            reason,
        })?;
        Ok(bytes)
    }

    // === http(s):// and oci:// ===

    async fn fetch_remote(
        &self,
        req: &ModuleRequest,
        source: Source,
        shown: &str,
        expected: Option<String>,
        key: Option<PublicKey>,
    ) -> Result<Module, FetchError> {
        let inner = &self.inner;
        let policy = effective_policy(req.pull_policy, &source);
        let cache_key = key_of(&req.url);
        // Hashed: a resource version may be a whole spec, with secrets in its pluginConfig.
        let resource = sha256_hex(format!("{}@{}", req.resource_name, req.resource_version).as_bytes());
        self.purge_if_due();

        // Requests for one url wait for each other; the later ones find the cache filled.
        let flight = self.flight(&cache_key);
        let _turn = flight.lock().await;

        let cache = inner.cache.clone();
        let lookup_key = cache_key.clone();
        let cached = tokio::task::spawn_blocking(move || cache.lookup(&lookup_key))
            .await
            .ok()
            .flatten();
        if let Some((entry, bytes)) = cached {
            if let Some(module) = cache_hit(
                &entry,
                bytes,
                policy,
                &resource,
                expected.as_deref(),
                key.as_ref(),
                &source,
            ) {
                inner.metrics.lookup(true);
                tracing::debug!(url = %shown, sha256 = %module.sha256, "module from cache");
                return Ok(module);
            }
        }
        inner.metrics.lookup(false);

        let fetched = match &source {
            Source::Http(url) => {
                self.fetch_http(url, shown, expected.as_deref(), key.as_ref())
                    .await
            }
            Source::Oci(image) => {
                self.fetch_oci(req, image, shown, expected.as_deref(), key.as_ref())
                    .await
            }
            Source::File(_) => unreachable!("file urls are not remote"),
        };
        let fetched = match fetched {
            Ok(f) => {
                inner.metrics.remote_fetch("success");
                f
            }
            Err(e) => {
                inner.metrics.remote_fetch(e.metric_result());
                return Err(e);
            }
        };
        let sha256 = sha256_hex(&fetched.bytes);
        let now = now_secs();
        let entry = Entry {
            url: shown.to_owned(),
            sha256: sha256.clone(),
            manifest_digest: fetched.manifest_digest.clone(),
            size: fetched.bytes.len() as u64,
            resource,
            fetched_at: now,
            last_used: now,
            signature: fetched.signature,
        };
        let bytes = Bytes::from(fetched.bytes);
        let cache = inner.cache.clone();
        let stored = bytes.clone();
        let insert = tokio::task::spawn_blocking(move || cache.insert(&cache_key, entry, &stored)).await;
        match insert {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(url = %shown, error = %e, "module fetched but not cached"),
            Err(e) => tracing::warn!(url = %shown, error = %e, "module fetched but not cached"),
        }
        inner.metrics.set_cache_entries(inner.cache.len());
        tracing::info!(url = %shown, sha256 = %sha256, "module fetched");
        Ok(Module {
            bytes,
            sha256,
            manifest_digest: fetched.manifest_digest,
            from_cache: false,
            signature_verified: key.is_some(),
        })
    }

    fn purge_if_due(&self) {
        let now = now_secs();
        let last = self.inner.last_purge.load(Ordering::Relaxed);
        if now.saturating_sub(last) < self.inner.opts.purge_interval.as_secs() {
            return;
        }
        if self
            .inner
            .last_purge
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            let fetcher = self.clone();
            // Blocking file IO, and nothing waits for it.
            std::thread::spawn(move || fetcher.purge_expired());
        }
    }

    fn flight(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.inner.inflight.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, weak| weak.strong_count() > 0);
        if let Some(existing) = map.get(key).and_then(Weak::upgrade) {
            return existing;
        }
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        map.insert(key.to_owned(), Arc::downgrade(&lock));
        lock
    }

    async fn fetch_http(
        &self,
        url: &Url,
        shown: &str,
        expected: Option<&str>,
        key: Option<&PublicKey>,
    ) -> Result<Fetched, FetchError> {
        let raw = self.inner.http.get(url, shown).await?;
        let bytes = self.unwrap_and_check(raw, shown, expected)?;
        let signature = match key {
            None => None,
            Some(key) => {
                let mut sig_url = url.clone();
                sig_url.set_path(&format!("{}.sig", url.path()));
                let sig_shown = redact_url(sig_url.as_str());
                let content = self.inner.http.get_optional(&sig_url, &sig_shown).await?;
                let Some(content) = content else {
                    return Err(FetchError::Signature {
                        url: shown.to_owned(),
                        reason: format!("no signature at {sig_shown} (HTTP 404)"),
                    });
                };
                let sig = decode_signature_file(&content);
                key.verify(&bytes, &sig).map_err(|reason| FetchError::Signature {
                    url: shown.to_owned(),
                    reason,
                })?;
                Some(SignatureMaterial::Detached(sig))
            }
        };
        Ok(Fetched {
            bytes,
            manifest_digest: None,
            signature,
        })
    }

    async fn fetch_oci(
        &self,
        req: &ModuleRequest,
        image: &Reference,
        shown: &str,
        expected: Option<&str>,
        key: Option<&PublicKey>,
    ) -> Result<Fetched, FetchError> {
        let opts = &self.inner.opts;
        let registry = registry_of(image);
        let (host, port) = split_host_port(registry);
        if let Some(addr) = self.inner.guard.first_blocked(host, port.unwrap_or(443)).await {
            return Err(FetchError::BlockedAddress {
                url: shown.to_owned(),
                addr,
            });
        }
        let insecure = opts.is_insecure(registry);
        let base = format!("{}://{registry}", if insecure { "http" } else { "https" });
        self.inner.http.check_token_realm(&base, shown).await?;
        let auth = self.auth_for(image, req.pull_secret.as_ref());
        let client = oci::client(insecure, opts.http_timeout, &opts.extra_ca_certificates);
        let retry = Retry {
            attempts: opts.http_attempts,
            initial: opts.initial_backoff,
        };
        let (bytes, manifest_digest) =
            oci::fetch(&client, image, &auth, opts.max_module_bytes, retry, shown)
                .await
                .map_err(|e| match e {
                    // A TLS handshake answered in plain text: the usual local-registry mistake.
                    FetchError::Registry { url, reason } if !insecure && reason.contains("InvalidContentType") => {
                        FetchError::Registry {
                            url,
                            reason: format!(
                                "{reason} (if this registry serves plain HTTP, list it in WASM_INSECURE_REGISTRIES)"
                            ),
                        }
                    }
                    other => other,
                })?;
        if let Some(expected) = expected {
            let actual = digest_hex(&manifest_digest);
            if actual != expected {
                return Err(FetchError::DigestMismatch {
                    url: shown.to_owned(),
                    what: "image manifest",
                    expected: expected.to_owned(),
                    actual: actual.to_owned(),
                });
            }
        }
        check_module(&bytes).map_err(|reason| FetchError::NotWasm {
            url: shown.to_owned(),
            reason,
        })?;
        let signature = match key {
            None => None,
            Some(key) => {
                let sigs = cosign::fetch_signatures(&client, image, &auth, &manifest_digest, shown).await?;
                cosign::verify_signatures(key, &sigs, &manifest_digest).map_err(|reason| {
                    FetchError::Signature {
                        url: shown.to_owned(),
                        reason,
                    }
                })?;
                Some(SignatureMaterial::Cosign(sigs))
            }
        };
        Ok(Fetched {
            bytes,
            manifest_digest: Some(manifest_digest),
            signature,
        })
    }

    /// The plugin's pull secret for this registry, else the docker config's, else anonymous.
    fn auth_for(&self, image: &Reference, secret: Option<&DockerConfigJson>) -> RegistryAuth {
        let registry = registry_of(image);
        secret
            .and_then(|s| s.credentials_for(registry))
            .or_else(|| self.inner.keychain.credentials_for(registry))
            .map(|c| c.to_registry_auth())
            .unwrap_or(RegistryAuth::Anonymous)
    }
}

/// `imagePullPolicy` with Istio's defaults: unset means `Always` for `:latest` (or no tag),
/// `IfNotPresent` otherwise; a digest in the url always means `IfNotPresent`.
pub(crate) fn effective_policy(policy: PullPolicy, source: &Source) -> PullPolicy {
    let Source::Oci(image) = source else {
        return if policy == PullPolicy::Always {
            PullPolicy::Always
        } else {
            PullPolicy::IfNotPresent
        };
    };
    if image.digest().is_some() {
        return PullPolicy::IfNotPresent;
    }
    match policy {
        PullPolicy::Unspecified if image.tag().is_none_or(|t| t == "latest") => PullPolicy::Always,
        PullPolicy::Unspecified => PullPolicy::IfNotPresent,
        other => other,
    }
}

/// A cached entry serves the request when the policy allows it, it matches the expected
/// digest, and (with a verification key) its stored signature verifies.
fn cache_hit(
    entry: &Entry,
    bytes: Bytes,
    policy: PullPolicy,
    resource: &str,
    expected: Option<&str>,
    key: Option<&PublicKey>,
    source: &Source,
) -> Option<Module> {
    if policy == PullPolicy::Always && entry.resource != resource {
        return None;
    }
    if let Some(expected) = expected {
        let have = match source {
            Source::Oci(_) => entry.manifest_digest.as_deref().map(digest_hex),
            _ => Some(entry.sha256.as_str()),
        };
        if have != Some(expected) {
            return None;
        }
    }
    if let Some(key) = key {
        let valid = match (&entry.signature, &entry.manifest_digest) {
            (Some(SignatureMaterial::Detached(sig)), _) => key.verify(&bytes, sig).is_ok(),
            (Some(SignatureMaterial::Cosign(sigs)), Some(digest)) => {
                cosign::verify_signatures(key, sigs, digest).is_ok()
            }
            _ => false,
        };
        if !valid {
            return None;
        }
    }
    Some(Module {
        bytes,
        sha256: entry.sha256.clone(),
        manifest_digest: entry.manifest_digest.clone(),
        from_cache: true,
        signature_verified: key.is_some(),
    })
}

fn split_host_port(registry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = registry.strip_prefix('[') {
        let (host, after) = rest.split_once(']').unwrap_or((rest, ""));
        return (host, after.strip_prefix(':').and_then(|p| p.parse().ok()));
    }
    match registry.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => (host, port.parse().ok()),
        _ => (registry, None),
    }
}

#[cfg(test)]
mod tests;
