//! Editing a config directory: `apply` adds or replaces resources, `delete` removes them.
//! The input is validated first; nothing is written unless all of it is valid. Each
//! document is replaced where it is written (other documents of that file stay as they are,
//! and so does the comment block that opens the replaced one: docs/api.md says which
//! comments survive); each file is written atomically (a hidden temp file, then a rename)
//! and keeps its mode.

use crate::dir::resource_files;
use std::{
    collections::{BTreeMap, BTreeSet},
    fmt, fs,
    io::Write,
    ops::Range,
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
};
use wasmesh_api::{parse, DocumentError, Format, Resource, ResourceKey};

/// Why an edit was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The input has invalid documents; nothing was written.
    #[error("{} invalid document(s); nothing was changed", .0.len())]
    Invalid(Vec<DocumentError>),
    /// The input has no document.
    #[error("{0} holds no document; nothing was changed")]
    Empty(String),
    /// The input defines a resource twice.
    #[error("{0} is defined twice in the input; nothing was changed")]
    Duplicate(ResourceKey),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The edited text did not read back as expected (a bug, or a file format mix that
    /// can't be edited in place); nothing was written.
    #[error("editing {path} would not give the expected resources: {why}; nothing was changed")]
    Verify { path: PathBuf, why: String },
    /// The config directory can't be read.
    #[error(transparent)]
    Config(#[from] crate::ConfigError),
    /// A resource to change is an item of a List with other items; editing it in place
    /// would change its neighbours.
    #[error(
        "{key} is an item of a List in {path}; edit that file, or split the List into documents of their own"
    )]
    InList { key: ResourceKey, path: PathBuf },
    /// `apply` of a List with several items: each needs a document of its own.
    #[error(
        "{0} holds a List of several items; apply takes documents of their own (split the List with ---)"
    )]
    InputList(String),
}

/// What an edit does to one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Written to a new place in this file.
    Created(PathBuf),
    /// Replaced in this file.
    Configured(PathBuf),
    /// Already so.
    Unchanged(PathBuf),
    /// Removed.
    Deleted,
    /// `delete` of a resource that is not in the directory.
    NotFound,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Created(p) => write!(f, "created ({})", p.display()),
            Outcome::Configured(p) => write!(f, "configured ({})", p.display()),
            Outcome::Unchanged(p) => write!(f, "unchanged ({})", p.display()),
            Outcome::Deleted => f.write_str("deleted"),
            Outcome::NotFound => f.write_str("not found"),
        }
    }
}

/// A planned edit: new contents per file (`None`: remove the file) and what happens to
/// each resource of the input.
#[derive(Debug, Default)]
pub struct Edit {
    pub files: BTreeMap<PathBuf, Option<String>>,
    pub outcomes: Vec<(ResourceKey, Outcome)>,
}

/// One document of the input.
struct Input {
    key: ResourceKey,
    resource: Resource,
    /// The document's text without its `---` line.
    text: String,
}

/// Where a resource is written in the directory.
struct Place {
    path: PathBuf,
    span: Range<usize>,
    resource: Option<Resource>,
}

impl Place {
    /// Refuses a place inside a List that holds other items too.
    fn editable(&self, files: &BTreeMap<PathBuf, DirFile>, key: &ResourceKey) -> Result<(), EditError> {
        let shared = files[&self.path]
            .places
            .iter()
            .filter(|(_, span, _)| *span == self.span)
            .count()
            > 1;
        if shared {
            return Err(EditError::InList {
                key: key.clone(),
                path: self.path.clone(),
            });
        }
        Ok(())
    }
}

struct DirFile {
    text: String,
    format: Format,
    /// Each document's key, span and resource (`None` when it is invalid).
    places: Vec<(ResourceKey, Range<usize>, Option<Resource>)>,
}

/// The valid documents of the input; `require_documents`: refuse a List of several items
/// (their text can't be copied one by one).
fn read_input(
    name: &str,
    text: &str,
    format: Format,
    require_documents: bool,
) -> Result<Vec<Input>, EditError> {
    let mut inputs = Vec::new();
    let mut invalid = Vec::new();
    let mut seen = BTreeSet::new();
    let mut spans = BTreeSet::new();
    for doc in parse(name, text, format) {
        match doc {
            Ok(doc) => {
                let in_list = !spans.insert((doc.span.start, doc.span.end));
                if in_list && require_documents {
                    return Err(EditError::InputList(name.to_string()));
                }
                let key = doc.resource.key();
                if !seen.insert(key.clone()) {
                    return Err(EditError::Duplicate(key));
                }
                inputs.push(Input {
                    key,
                    resource: doc.resource,
                    text: without_marker(&text[doc.span]),
                });
            }
            Err(e) => invalid.push(*e),
        }
    }
    if !invalid.is_empty() {
        return Err(EditError::Invalid(invalid));
    }
    if inputs.is_empty() {
        return Err(EditError::Empty(name.to_string()));
    }
    Ok(inputs)
}

fn without_marker(doc: &str) -> String {
    let body = match doc.split_once('\n') {
        Some((first, rest)) if first.starts_with("---") && first[3..].trim().is_empty() => rest,
        _ => doc,
    };
    format!("{}\n", body.trim_end())
}

/// `doc` after its `---` line, if it has one.
fn without_marker_str(doc: &str) -> &str {
    let marker = marker_of(doc);
    &doc[marker.len()..]
}

/// The comment lines (and blank lines between them) that open a YAML document, up to its
/// first line of content.
fn leading_comments(doc: &str) -> &str {
    let mut end = 0;
    let mut kept = 0;
    for line in doc.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with('#') {
            end += line.len();
            kept = end;
        } else if trimmed.is_empty() {
            end += line.len();
        } else {
            break;
        }
    }
    &doc[..kept]
}

fn marker_of(doc: &str) -> &str {
    match doc.split_inclusive('\n').next() {
        Some(first) if first.starts_with("---") => first,
        _ => "",
    }
}

fn read_dir_files(dir: &Path) -> Result<BTreeMap<PathBuf, DirFile>, EditError> {
    let mut files = BTreeMap::new();
    for path in resource_files(dir)? {
        let text = fs::read_to_string(&path).map_err(|source| EditError::Io {
            path: path.clone(),
            source,
        })?;
        let name = path.display().to_string();
        let format = Format::from_path(&name).unwrap_or(Format::Yaml);
        let places = parse(&name, &text, format)
            .into_iter()
            .filter_map(|d| match d {
                Ok(doc) => Some((doc.resource.key(), doc.span, Some(doc.resource))),
                Err(e) => e.key.clone().map(|k| (k, e.span.clone(), None)),
            })
            .collect();
        files.insert(path, DirFile { text, format, places });
    }
    Ok(files)
}

/// Where `key` is written in the directory; refused when one of its places can't be
/// edited in place.
fn places_of(files: &BTreeMap<PathBuf, DirFile>, key: &ResourceKey) -> Result<Vec<Place>, EditError> {
    let mut out = Vec::new();
    for (path, file) in files {
        for (k, span, resource) in &file.places {
            if k == key {
                out.push(Place {
                    path: path.clone(),
                    span: span.clone(),
                    resource: resource.clone(),
                });
            }
        }
    }
    for p in &out {
        p.editable(files, key)?;
    }
    Ok(out)
}

/// Text changes per file: (span, replacement).
type Splices = BTreeMap<PathBuf, Vec<(Range<usize>, String)>>;

/// Plans `apply` of the documents in `text` (named `name`) to `dir`.
pub fn plan_apply(dir: &Path, name: &str, text: &str, format: Format) -> Result<Edit, EditError> {
    let inputs = read_input(name, text, format, true)?;
    let files = read_dir_files(dir)?;
    let mut splices: Splices = BTreeMap::new();
    let mut new_files: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut edit = Edit::default();
    for input in inputs {
        let places = places_of(&files, &input.key)?;
        let mut places = places.into_iter();
        let outcome = match places.next() {
            Some(first) if first.resource.as_ref() == Some(&input.resource) && places.len() == 0 => {
                Outcome::Unchanged(first.path)
            }
            Some(first) => {
                let file = &files[&first.path];
                let old = &file.text[first.span.clone()];
                let same_format = file.format == format;
                let replacement = if same_format {
                    // The comment block that opens the old document (often what it is for)
                    // stays, unless the new text brings one of its own; comments inside
                    // the old document go with it (docs/api.md).
                    let header = match leading_comments(&input.text) {
                        "" => leading_comments(without_marker_str(old)),
                        _ => "",
                    };
                    format!("{}{header}{}", marker_of(old), input.text)
                } else {
                    String::new()
                };
                splices
                    .entry(first.path.clone())
                    .or_default()
                    .push((first.span, replacement));
                for other in places {
                    splices
                        .entry(other.path)
                        .or_default()
                        .push((other.span, String::new()));
                }
                if same_format {
                    Outcome::Configured(first.path)
                } else {
                    create(dir, &input, format, &files, &mut new_files)
                }
            }
            None => create(dir, &input, format, &files, &mut new_files),
        };
        edit.outcomes.push((input.key, outcome));
    }
    finish(&mut edit, &files, splices, new_files)?;
    Ok(edit)
}

/// Plans `delete` of the resources named by the documents in `text` from `dir`.
pub fn plan_delete(dir: &Path, name: &str, text: &str, format: Format) -> Result<Edit, EditError> {
    let inputs = read_input(name, text, format, false)?;
    let files = read_dir_files(dir)?;
    let mut splices: Splices = BTreeMap::new();
    let mut edit = Edit::default();
    for input in inputs {
        let places = places_of(&files, &input.key)?;
        let outcome = if places.is_empty() {
            Outcome::NotFound
        } else {
            for p in places {
                splices.entry(p.path).or_default().push((p.span, String::new()));
            }
            Outcome::Deleted
        };
        edit.outcomes.push((input.key, outcome));
    }
    finish(&mut edit, &files, splices, BTreeMap::new())?;
    Ok(edit)
}

/// Applies the splices to the texts, checks every result reads back as expected, and
/// records the new contents.
fn finish(
    edit: &mut Edit,
    files: &BTreeMap<PathBuf, DirFile>,
    splices: Splices,
    new_files: BTreeMap<PathBuf, String>,
) -> Result<(), EditError> {
    for (path, mut changes) in splices {
        let file = &files[&path];
        changes.sort_by_key(|(span, _)| std::cmp::Reverse(span.start));
        let mut text = file.text.clone();
        for (span, replacement) in changes {
            text.replace_range(span, &replacement);
        }
        let removed: BTreeSet<&ResourceKey> = edit
            .outcomes
            .iter()
            .filter(|(_, o)| !matches!(o, Outcome::Configured(p) if *p == path))
            .map(|(k, _)| k)
            .collect();
        let expected: BTreeSet<ResourceKey> = file
            .places
            .iter()
            .map(|(k, _, _)| k.clone())
            .filter(|k| !removed.contains(k))
            .collect();
        let name = path.display().to_string();
        let parsed = parse(&name, &text, file.format);
        let got: BTreeSet<ResourceKey> = parsed
            .iter()
            .filter_map(|d| match d {
                Ok(doc) => Some(doc.resource.key()),
                Err(e) => e.key.clone(),
            })
            .collect();
        if got != expected {
            return Err(EditError::Verify {
                path,
                why: format!("expected {expected:?}, read {got:?}"),
            });
        }
        let contents = if parsed.is_empty() { None } else { Some(text) };
        edit.files.insert(path, contents);
    }
    for (path, text) in new_files {
        edit.files.insert(path, Some(text));
    }
    Ok(())
}

/// Plans a new file of its own for `input`.
fn create(
    dir: &Path,
    input: &Input,
    format: Format,
    files: &BTreeMap<PathBuf, DirFile>,
    new_files: &mut BTreeMap<PathBuf, String>,
) -> Outcome {
    let path = new_file_path(dir, &input.key, format, files, new_files);
    new_files.insert(path.clone(), input.text.clone());
    Outcome::Created(path)
}

fn new_file_path(
    dir: &Path,
    key: &ResourceKey,
    format: Format,
    files: &BTreeMap<PathBuf, DirFile>,
    planned: &BTreeMap<PathBuf, String>,
) -> PathBuf {
    let ext = match format {
        Format::Yaml => "yaml",
        Format::Json => "json",
    };
    let base = format!(
        "{}-{}-{}",
        key.kind.as_str().to_ascii_lowercase(),
        key.namespace,
        key.name
    );
    (1..)
        .map(|n| {
            let name = if n == 1 {
                format!("{base}.{ext}")
            } else {
                format!("{base}-{n}.{ext}")
            };
            dir.join(name)
        })
        .find(|p| !files.contains_key(p) && !planned.contains_key(p) && !p.exists())
        .expect("an unused file name")
}

impl Edit {
    /// Writes the planned files: each one atomically (temp file in the same directory,
    /// then rename), and removes files that are left without documents.
    pub fn write(&self) -> Result<(), EditError> {
        for (path, contents) in &self.files {
            let io = |source| EditError::Io {
                path: path.clone(),
                source,
            };
            match contents {
                Some(text) => {
                    let parent = path.parent().unwrap_or(Path::new("."));
                    // The file keeps its mode; a new one gets what the user's umask leaves
                    // of 0666, like a file their editor creates (not the temp file's 0600).
                    let existing = match fs::metadata(path) {
                        Ok(meta) => Some(meta.permissions()),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                        Err(e) => return Err(io(e)),
                    };
                    let mut tmp = tempfile::Builder::new()
                        .prefix(".wasmesh-")
                        .suffix(".tmp")
                        .permissions(fs::Permissions::from_mode(0o666))
                        .tempfile_in(parent)
                        .map_err(io)?;
                    if let Some(permissions) = existing {
                        tmp.as_file().set_permissions(permissions).map_err(io)?;
                    }
                    tmp.write_all(text.as_bytes()).map_err(io)?;
                    tmp.as_file().sync_all().map_err(io)?;
                    tmp.persist(path).map_err(|e| io(e.error))?;
                }
                None => fs::remove_file(path).map_err(io)?,
            }
        }
        Ok(())
    }
}
