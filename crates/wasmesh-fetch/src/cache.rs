//! The module cache on disk: `modules/<sha256>.wasm` (content addressed, so two urls serving
//! one module share a file) and `index.json` (which url gave which module, when, for which
//! plugin resource version, and the signatures seen with it). Entries unused for the TTL are
//! removed, and the least recently used go first when the size cap is passed. The index
//! survives restarts, so a proxy with a warm cache needs no network.
//!
//! Calls do blocking file IO; the fetcher runs them on the blocking pool.
//!
//! What is cached is trusted on the next start (the index says which url gave which bytes
//! and which signatures were seen), so the folder must be the proxy's own: created with
//! mode 0700, refused when another user owns it or its group or others can write to it
//! ([`private_dir`]), and an index file that is not the proxy's own is not read.

use crate::{cosign::CosignSignature, digest::sha256_hex, error::FetchError};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::{
    collections::{BTreeMap, HashSet},
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex,
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

/// Signature material kept with a module so a restart can re-verify without the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum SignatureMaterial {
    /// The decoded bytes of `<url>.sig`.
    Detached(Vec<u8>),
    /// The cosign signatures stored for the manifest digest.
    Cosign(Vec<CosignSignature>),
}

/// What the index records for one url.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// The url with credentials removed, for people reading the index.
    pub url: String,
    /// Hex sha256 of the module.
    pub sha256: String,
    /// `sha256:<hex>` of the image manifest (OCI).
    pub manifest_digest: Option<String>,
    pub size: u64,
    /// `<resource name>@<resource version>` of the plugin whose request fetched it.
    pub resource: String,
    /// Seconds since the epoch.
    pub fetched_at: u64,
    pub last_used: u64,
    pub signature: Option<SignatureMaterial>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Index {
    /// Key: hex sha256 of the full url (so no credential in it reaches the disk).
    entries: BTreeMap<String, Entry>,
}

#[derive(Debug)]
pub(crate) struct ModuleCache {
    dir: PathBuf,
    ttl: Duration,
    max_bytes: u64,
    index: Mutex<Index>,
}

/// A temporary file name next to `path` that no other writer (thread, fetcher or process)
/// uses, so a rename only ever publishes a complete file.
fn temp_path(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp{}-{n}", std::process::id()));
    path.with_file_name(name)
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The index key of a url.
pub(crate) fn key_of(url: &str) -> String {
    sha256_hex(url.trim().as_bytes())
}

impl ModuleCache {
    /// Opens (or creates) the cache in `dir`, dropping entries whose file is gone and
    /// entries past the TTL.
    pub(crate) fn open(dir: &Path, ttl: Duration, max_bytes: u64) -> Result<Self, FetchError> {
        let io = |source| FetchError::Cache {
            path: dir.to_path_buf(),
            source,
        };
        private_dir(dir).map_err(io)?;
        private_dir(&dir.join("modules")).map_err(|source| FetchError::Cache {
            path: dir.join("modules"),
            source,
        })?;
        let index_path = dir.join("index.json");
        let index = match std::fs::symlink_metadata(&index_path).map(|m| private_file(&m)) {
            Ok(Ok(())) => match std::fs::read(&index_path) {
                Ok(json) => serde_json::from_slice(&json).unwrap_or_else(|e| {
                    tracing::warn!(dir = %dir.display(), error = %e, "module cache index unreadable; starting empty");
                    Index::default()
                }),
                Err(_) => Index::default(),
            },
            Ok(Err(why)) => {
                tracing::warn!(path = %index_path.display(), "ignoring the module cache index: {why}; starting empty");
                Index::default()
            }
            Err(_) => Index::default(),
        };
        let cache = ModuleCache {
            dir: dir.to_path_buf(),
            ttl,
            max_bytes,
            index: Mutex::new(index),
        };
        {
            let mut index = cache.lock();
            index.entries.retain(|_, e| cache.module_path(&e.sha256).exists());
        }
        cache.purge_expired();
        Ok(cache)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn module_path(&self, sha256: &str) -> PathBuf {
        self.dir.join("modules").join(format!("{sha256}.wasm"))
    }

    /// The entry for `key` and its module bytes (re-hashed: a corrupt file is a miss).
    pub(crate) fn lookup(&self, key: &str) -> Option<(Entry, Bytes)> {
        let entry = self.lock().entries.get(key).cloned()?;
        let bytes = std::fs::read(self.module_path(&entry.sha256)).ok()?;
        if sha256_hex(&bytes) != entry.sha256 {
            tracing::warn!(url = %entry.url, "cached module is corrupt; fetching it again");
            // Other urls may name the same file; it is wrong for them too.
            let _ = std::fs::remove_file(self.module_path(&entry.sha256));
            self.remove(key);
            return None;
        }
        let mut index = self.lock();
        let entry = index.entries.get_mut(key).map(|e| {
            e.last_used = now_secs();
            e.clone()
        })?;
        self.save(&index);
        Some((entry, Bytes::from(bytes)))
    }

    /// Stores `bytes` for `key`, then enforces the size cap. A module larger than the whole
    /// cap is not stored.
    pub(crate) fn insert(&self, key: &str, entry: Entry, bytes: &[u8]) -> Result<(), FetchError> {
        if bytes.len() as u64 > self.max_bytes {
            tracing::info!(url = %entry.url, size = bytes.len(), cap = self.max_bytes, "module larger than the cache; not cached");
            return Ok(());
        }
        let path = self.module_path(&entry.sha256);
        let complete = std::fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64);
        if !complete {
            let tmp = temp_path(&path);
            let io = |source| FetchError::Cache {
                path: path.clone(),
                source,
            };
            if let Err(e) = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, &path)) {
                let _ = std::fs::remove_file(&tmp);
                return Err(io(e));
            }
        }
        let mut index = self.lock();
        let sha256 = entry.sha256.clone();
        if let Some(replaced) = index.entries.insert(key.to_owned(), entry) {
            // `Always` re-pulls replace a url's module; the old one may now be unused.
            if replaced.sha256 != sha256 {
                self.remove_file_if_unused(&index, &replaced.sha256);
            }
        }
        self.evict_over_cap(&mut index, key);
        self.save(&index);
        Ok(())
    }

    fn remove(&self, key: &str) {
        let mut index = self.lock();
        if let Some(entry) = index.entries.remove(key) {
            self.remove_file_if_unused(&index, &entry.sha256);
        }
        self.save(&index);
    }

    /// Removes entries unused for longer than the TTL. Returns how many went.
    pub(crate) fn purge_expired(&self) -> usize {
        let now = now_secs();
        let ttl = self.ttl.as_secs();
        let mut index = self.lock();
        let expired: Vec<String> = index
            .entries
            .iter()
            .filter(|(_, e)| now.saturating_sub(e.last_used) > ttl)
            .map(|(k, _)| k.clone())
            .collect();
        for key in &expired {
            if let Some(entry) = index.entries.remove(key) {
                tracing::debug!(url = %entry.url, "module cache entry expired");
                self.remove_file_if_unused(&index, &entry.sha256);
            }
        }
        if !expired.is_empty() {
            self.save(&index);
        }
        expired.len()
    }

    fn evict_over_cap(&self, index: &mut Index, keep: &str) {
        loop {
            let total = unique_bytes(index);
            if total <= self.max_bytes {
                return;
            }
            let victim = index
                .entries
                .iter()
                .filter(|(k, _)| k.as_str() != keep)
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone());
            let Some(victim) = victim else { return };
            if let Some(entry) = index.entries.remove(&victim) {
                tracing::info!(url = %entry.url, total, cap = self.max_bytes, "module cache over its cap; evicting");
                self.remove_file_if_unused(index, &entry.sha256);
            }
        }
    }

    fn remove_file_if_unused(&self, index: &Index, sha256: &str) {
        if !index.entries.values().any(|e| e.sha256 == sha256) {
            let _ = std::fs::remove_file(self.module_path(sha256));
        }
    }

    fn save(&self, index: &Index) {
        let path = self.dir.join("index.json");
        let tmp = temp_path(&path);
        let result = serde_json::to_vec_pretty(index)
            .map_err(std::io::Error::other)
            .and_then(|json| std::fs::write(&tmp, json))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            tracing::warn!(path = %path.display(), error = %e, "cannot save the module cache index");
        }
    }

    /// Number of entries (urls) in the cache.
    pub(crate) fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Bytes of module files on disk.
    pub(crate) fn total_bytes(&self) -> u64 {
        unique_bytes(&self.lock())
    }
}

pub use wasmesh_cachedir::private_dir;
use wasmesh_cachedir::private_file;

fn unique_bytes(index: &Index) -> u64 {
    let mut seen = HashSet::new();
    index
        .entries
        .values()
        .filter(|e| seen.insert(e.sha256.as_str()))
        .map(|e| e.size)
        .sum()
}

#[cfg(test)]
mod tests;
