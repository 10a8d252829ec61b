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
    policy::{cache_hit, effective_policy},
    request::{Module, ModuleRequest},
    retry::Retry,
    secret::DockerConfigJson,
    source::{redact_url, registry_of, Source},
    ssrf::{split_host_port, AddressGuard},
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
        let shown = redact_url(&req.url);
        let result = self.fetch_checked(req, &shown).await;
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

    async fn fetch_checked(&self, req: &ModuleRequest, shown: &str) -> Result<Module, FetchError> {
        let source = Source::parse(&req.url)?;
        let expected = match req.sha256.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => Some(normalize_sha256(s, shown)?),
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
                        url: shown.to_owned(),
                        what: "sha256 field and the url's @sha256",
                        expected: expected.clone(),
                        actual: digest_hex(in_url).to_owned(),
                    });
                }
            }
        }
        match source {
            Source::File(path) => {
                self.fetch_file(&path, shown, expected.as_deref(), key.as_ref())
                    .await
            }
            remote => self.fetch_remote(req, remote, shown, expected, key).await,
        }
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
}

mod sources;

#[cfg(test)]
mod tests;
