//! Compiled modules, cached twice: in memory by sha256 (one `Module` shared by every
//! plugin using those bytes) and on disk as serialised machine code keyed by sha256 and
//! the engine's settings, so a restart does not recompile.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use wasmtime::{Engine, Module};

use crate::WasmError;

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Where a compiled module came from (for logs and tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheHit {
    /// Already compiled in this process.
    Memory,
    /// Loaded from the on-disk cache.
    Disk,
    /// Compiled now.
    Compiled,
}

pub struct ModuleCache {
    dir: Option<PathBuf>,
    engine_key: String,
    /// Compiled modules in use, with the number of loaded plugins using each.
    modules: Mutex<HashMap<String, (Module, usize)>>,
}

impl ModuleCache {
    pub fn new(engine: &Engine, dir: Option<PathBuf>) -> Result<Self, WasmError> {
        if let Some(dir) = &dir {
            std::fs::create_dir_all(dir).map_err(|source| WasmError::Cache {
                path: dir.clone(),
                source,
            })?;
        }
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = format!("{:016x}", hasher.finish());
        Ok(ModuleCache {
            dir,
            engine_key,
            modules: Mutex::new(HashMap::new()),
        })
    }

    /// The compiled module for `bytes` whose sha256 is `digest` (checked by the caller).
    /// Each success must be paired with one [`ModuleCache::release`].
    pub fn get_or_compile(
        &self,
        engine: &Engine,
        plugin: &str,
        digest: &str,
        bytes: &[u8],
    ) -> Result<(Module, CacheHit), WasmError> {
        if let Some((module, users)) = self
            .modules
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(digest)
        {
            *users += 1;
            return Ok((module.clone(), CacheHit::Memory));
        }
        let (module, hit) = match self.load_from_disk(engine, digest) {
            Some(module) => (module, CacheHit::Disk),
            None => {
                let module = Module::new(engine, bytes).map_err(|e| WasmError::Compile {
                    plugin: plugin.to_owned(),
                    digest: digest.to_owned(),
                    message: format!("{e:#}"),
                })?;
                self.store_on_disk(&module, digest);
                (module, CacheHit::Compiled)
            }
        };
        let mut modules = self.modules.lock().unwrap_or_else(|e| e.into_inner());
        // Another thread may have compiled the same digest meanwhile: share one.
        let (module, users) = modules.entry(digest.to_owned()).or_insert((module, 0));
        *users += 1;
        Ok((module.clone(), hit))
    }

    /// A plugin using `digest` is gone; the last one frees the compiled code (VMs still
    /// running keep their own reference).
    pub fn release(&self, digest: &str) {
        let mut modules = self.modules.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, users)) = modules.get_mut(digest) {
            *users -= 1;
            if *users == 0 {
                modules.remove(digest);
            }
        }
    }

    /// How many distinct compiled modules are in use.
    pub fn len(&self) -> usize {
        self.modules.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn path(&self, digest: &str) -> Option<PathBuf> {
        // The digest is hex we computed: safe as a file name.
        let digest: String = digest.chars().filter(char::is_ascii_hexdigit).collect();
        self.dir
            .as_ref()
            .map(|dir| dir.join(format!("{digest}-{}.cwasm", self.engine_key)))
    }

    fn load_from_disk(&self, engine: &Engine, digest: &str) -> Option<Module> {
        let path = self.path(digest)?;
        if !path.is_file() {
            return None;
        }
        // SAFETY: the file was written by `store_on_disk` of this host with an engine of the
        // same settings (the key is part of the name); wasmtime checks the header and the
        // engine compatibility again and refuses a mismatch. The cache folder belongs to
        // the proxy, not to plugins.
        #[allow(unsafe_code)]
        let loaded = unsafe { Module::deserialize_file(engine, &path) };
        match loaded {
            Ok(module) => Some(module),
            Err(e) => {
                tracing::warn!(path = %path.display(), "ignoring unusable compiled-code cache entry: {e}");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    fn store_on_disk(&self, module: &Module, digest: &str) {
        let Some(path) = self.path(digest) else { return };
        let result = module
            .serialize()
            .map_err(|e| e.to_string())
            .and_then(|bytes| write_atomically(&path, &bytes).map_err(|e| e.to_string()));
        if let Err(e) = result {
            tracing::warn!(path = %path.display(), "could not write the compiled-code cache: {e}");
        }
        if let Some(dir) = &self.dir {
            evict_oldest(dir, MAX_DISK_ENTRIES);
        }
    }
}

/// Most compiled modules kept on disk; the least recently written go first.
const MAX_DISK_ENTRIES: usize = 64;

fn evict_oldest(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if files.len() <= keep {
        return;
    }
    files.sort();
    for (_, path) in &files[..files.len() - keep] {
        let _ = std::fs::remove_file(path);
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_disk_cache_keeps_the_newest_entries() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..5 {
            std::fs::write(dir.path().join(format!("{i}.cwasm")), b"x").unwrap();
            // Distinct modification times.
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::fs::write(dir.path().join("other.txt"), b"x").unwrap();
        evict_oldest(dir.path(), 3);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["2.cwasm", "3.cwasm", "4.cwasm", "other.txt"]);
    }
}
