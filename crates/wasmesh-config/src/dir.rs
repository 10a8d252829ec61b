//! The config directory source: every `.yaml`/`.yml`/`.json` file under a directory
//! (hidden files and folders skipped, in path order), turned into store events.

use crate::{
    diagnostic::Diagnostic,
    error::ConfigError,
    store::{Event, Store},
};
use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    fs,
    path::{Path, PathBuf},
};
use wasmesh_api::{parse, Document, Format, Parsed, ResourceKey};

/// What a directory held at one moment.
#[derive(Debug, Default)]
pub struct Scan {
    /// Valid documents, one per resource (the first in path order).
    pub documents: Vec<Document>,
    /// Invalid documents, duplicates and unreadable files.
    pub diagnostics: Vec<Diagnostic>,
    /// Resources named by an invalid document: their last good version stays.
    pub failed_keys: BTreeSet<ResourceKey>,
    /// Files holding a document too broken to say what it is, or that could not be read:
    /// every resource they held before stays.
    pub unsure_files: BTreeSet<String>,
}

/// The resource files under `dir`, sorted. Hidden entries (starting with `.`) are skipped,
/// which also skips Kubernetes ConfigMap mounts' `..data` folders and editors' swap files.
pub fn resource_files(dir: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let mut files = Vec::new();
    collect(dir, &mut files).map_err(|source| ConfigError::ReadDir {
        path: dir.to_path_buf(),
        source,
    })?;
    files.sort();
    Ok(files)
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        // Follows symlinks, as ConfigMap mounts use them.
        let meta = fs::metadata(&path)?;
        if meta.is_dir() {
            collect(&path, files)?;
        } else if Format::from_path(&path.to_string_lossy()).is_some() {
            files.push(path);
        }
    }
    Ok(())
}

/// Parses one file; the format comes from its extension (YAML when unknown).
pub fn read_file(path: &Path) -> std::io::Result<Vec<Parsed>> {
    Ok(parse_text(path, &fs::read_to_string(path)?))
}

/// Parses `text`, read from `path`, in the format of the file's extension (YAML when
/// unknown).
fn parse_text(path: &Path, text: &str) -> Vec<Parsed> {
    let name = path.display().to_string();
    let format = Format::from_path(&name).unwrap_or(Format::Yaml);
    parse(&name, text, format)
}

/// Reads and parses every resource file under `dir`.
pub fn load_dir(dir: &Path) -> Result<Scan, ConfigError> {
    scan(dir, &mut ParseCache::default())
}

/// The last text and parse of each file, so a reload parses only the files that changed.
#[derive(Debug, Default)]
struct ParseCache {
    files: HashMap<PathBuf, (String, Vec<Parsed>)>,
}

impl ParseCache {
    fn read(&mut self, path: &Path) -> std::io::Result<Vec<Parsed>> {
        let text = fs::read_to_string(path)?;
        if let Some((cached, parsed)) = self.files.get(path) {
            if *cached == text {
                return Ok(parsed.clone());
            }
        }
        let parsed = parse_text(path, &text);
        self.files.insert(path.to_path_buf(), (text, parsed.clone()));
        Ok(parsed)
    }
}

fn scan(dir: &Path, cache: &mut ParseCache) -> Result<Scan, ConfigError> {
    let mut scan = Scan::default();
    let files = resource_files(dir)?;
    cache.files.retain(|path, _| files.contains(path));
    let mut first: BTreeMap<ResourceKey, wasmesh_api::Origin> = BTreeMap::new();
    for path in files {
        let name = path.display().to_string();
        let parsed = match cache.read(&path) {
            Ok(parsed) => parsed,
            Err(e) => {
                scan.diagnostics.push(Diagnostic::Unreadable {
                    path: name.clone(),
                    message: e.to_string(),
                });
                scan.unsure_files.insert(name);
                continue;
            }
        };
        for doc in parsed {
            match doc {
                Ok(doc) => {
                    let key = doc.resource.key();
                    if let Some(origin) = first.get(&key) {
                        scan.diagnostics.push(Diagnostic::Duplicate {
                            key,
                            origin: doc.origin,
                            first: origin.clone(),
                        });
                    } else {
                        first.insert(key, doc.origin.clone());
                        scan.documents.push(doc);
                    }
                }
                Err(error) => {
                    match &error.key {
                        Some(key) => {
                            scan.failed_keys.insert(key.clone());
                        }
                        None => {
                            scan.unsure_files.insert(name.clone());
                        }
                    }
                    scan.diagnostics.push(Diagnostic::Invalid {
                        error: *error,
                        kept: None,
                    });
                }
            }
        }
    }
    Ok(scan)
}

/// A config directory as a source of events. It remembers each file's last text, so a
/// reload parses only the files that changed.
#[derive(Debug)]
pub struct DirSource {
    dir: PathBuf,
    cache: ParseCache,
}

impl DirSource {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DirSource {
            dir: dir.into(),
            cache: ParseCache::default(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reads the directory and brings `store` in line with it: valid documents are applied,
    /// resources no longer in any file are deleted, and a resource whose document is now
    /// broken keeps its last good version. Returns whether the store changed and the
    /// diagnostics of this load.
    pub fn sync(&mut self, store: &mut Store) -> Result<(bool, Vec<Diagnostic>), ConfigError> {
        let mut scan = scan(&self.dir, &mut self.cache)?;
        let present: BTreeSet<ResourceKey> = scan.documents.iter().map(|d| d.resource.key()).collect();
        let mut events: Vec<Event> = Vec::new();
        for key in store.resources().keys() {
            if present.contains(key) || scan.failed_keys.contains(key) {
                continue;
            }
            let from_unsure_file = store
                .origin(key)
                .and_then(|o| o.file_name())
                .is_some_and(|file| scan.unsure_files.contains(file));
            if !from_unsure_file {
                events.push(Event::Delete(key.clone()));
            }
        }
        events.extend(scan.documents.drain(..).map(Event::Apply));
        let mut changed = false;
        for event in events {
            changed |= store.apply(event);
        }
        for d in &mut scan.diagnostics {
            if let Diagnostic::Invalid { error, kept } = d {
                *kept = error.key.clone().filter(|k| store.resources().contains(k));
            }
        }
        Ok((changed, scan.diagnostics))
    }
}
