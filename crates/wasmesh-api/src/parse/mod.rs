//! Parsing multi-document YAML and JSON into typed, validated documents, keeping where
//! each document came from so every error can point at it.
//!
//! Each document goes through three passes over its own text: a check that reads every
//! value (syntax errors, duplicate keys), a lenient read of `apiVersion`/`kind`/`metadata`
//! (to know what it is and which resource it names even when it is broken), and the typed
//! read (unknown fields, wrong types, unknown enum values). Then [`crate::validate`] checks
//! the API's rules.
//!
//! Before any of that, the file and each document are held to [`MAX_FILE_BYTES`] and
//! [`MAX_DEPTH`] (see [`bounds`]): every source (`wasmesh validate`, the config directory,
//! any later one) goes through here, so none can hand the YAML parser a document that
//! costs it seconds.

mod bounds;
mod dupcheck;
mod list;
mod locate;
mod more;
mod split;
#[cfg(test)]
mod tests;

use crate::{
    error::{DocumentError, Error, ErrorKind, Origin},
    meta::{Kind, ResourceKey},
    resource::{Document, Resource},
};
use dupcheck::{DupCheck, Duplicate};
use serde::{de::DeserializeOwned, Deserialize};
use split::Chunk;
use std::sync::{Arc, LazyLock};

/// The text format of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Any number of documents separated by `---`.
    Yaml,
    /// Any number of JSON values one after the other.
    Json,
}

impl Format {
    /// `.yaml`/`.yml` → YAML, `.json` → JSON; other files are not resource files.
    pub fn from_path(path: &str) -> Option<Format> {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".yaml") || lower.ends_with(".yml") {
            Some(Format::Yaml)
        } else if lower.ends_with(".json") {
            Some(Format::Json)
        } else {
            None
        }
    }
}

/// A document of a file: valid, or rejected with its errors.
pub type Parsed = Result<Document, Box<DocumentError>>;

pub use bounds::{MAX_DEPTH, MAX_FILE_BYTES};

/// Parses and validates every document of `text`; `file` is how errors name the file.
/// Empty documents (only comments or blank lines) are skipped and not counted. A file
/// larger than [`MAX_FILE_BYTES`] is one rejected document that names no resource.
pub fn parse(file: &str, text: &str, format: Format) -> Vec<Parsed> {
    if text.len() > MAX_FILE_BYTES {
        return vec![Err(too_large(file, text.len()))];
    }
    split::split(text, format)
        .into_iter()
        .enumerate()
        .flat_map(|(index, chunk)| {
            let origin = Origin::file(file, index + 1, chunk.content_line);
            parse_document(origin, &chunk, format)
        })
        .collect()
}

/// Parses one object as a Kubernetes API server sends it (JSON), through the same reads
/// and validation as a document of a file; its errors name `origin` (an
/// [`Origin::Object`]) instead of a file and line.
pub fn parse_object(origin: Origin, object: &serde_json::Value) -> Parsed {
    let text = object.to_string();
    if text.len() > MAX_FILE_BYTES {
        let mut error = too_large(&origin.to_string(), text.len());
        error.origin = origin.clone();
        error.errors.iter_mut().for_each(|e| e.origin = origin.clone());
        return Err(error);
    }
    let chunk = Chunk {
        span: 0..text.len(),
        first_line: 1,
        content_line: 1,
        text,
    };
    let mut parsed = parse_document(origin.clone(), &chunk, Format::Json);
    match parsed.len() {
        1 => parsed.remove(0),
        // an object that says it is a list
        _ => Err(Box::new(DocumentError {
            origin: origin.clone(),
            key: None,
            span: chunk.span.clone(),
            errors: vec![Error {
                origin,
                line: 1,
                path: "kind".to_string(),
                kind: ErrorKind::Rule("a list is not an object".to_string()),
            }],
        })),
    }
}

/// What a document says it is, read leniently.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Header {
    #[serde(default)]
    api_version: Option<serde_json::Value>,
    #[serde(default)]
    kind: Option<serde_json::Value>,
    #[serde(default)]
    metadata: Option<HeaderMeta>,
}

#[derive(Deserialize, Default)]
struct HeaderMeta {
    #[serde(default)]
    name: Option<serde_json::Value>,
    #[serde(default)]
    namespace: Option<serde_json::Value>,
}

/// The whole file refused: it is not read at all, so it names no resource (the config
/// directory keeps every resource the file held before).
fn too_large(file: &str, size: usize) -> Box<DocumentError> {
    let origin = Origin::file(file, 1, 1);
    let message = format!(
        "the file is {size} bytes, over the limit of {MAX_FILE_BYTES} bytes ({} MiB) per file; \
         split its documents into several files",
        MAX_FILE_BYTES >> 20
    );
    Box::new(DocumentError {
        origin: origin.clone(),
        key: None,
        span: 0..size,
        errors: vec![Error {
            origin,
            line: 1,
            path: String::new(),
            kind: ErrorKind::Rule(message),
        }],
    })
}

fn parse_document(origin: Origin, chunk: &Chunk, format: Format) -> Vec<Parsed> {
    // Before any read: deserialising a deep document is what costs (see `bounds`).
    if let Some(line) = bounds::too_deep(&chunk.text, format, MAX_DEPTH) {
        let message = format!(
            "mappings and sequences nest deeper than the limit of {MAX_DEPTH} levels; \
             flatten the document"
        );
        return vec![Err(Box::new(DocumentError {
            origin: origin.clone(),
            key: None,
            span: chunk.span.clone(),
            errors: vec![Error {
                line: chunk.first_line + line - 1,
                origin,
                path: String::new(),
                kind: ErrorKind::Rule(message),
            }],
        }))];
    }
    if chunk.text.contains("List") {
        if let Some(items) = list::parse_list(&origin, chunk, format) {
            return items;
        }
    }
    vec![parse_single(origin, chunk, format)]
}

fn parse_single(origin: Origin, chunk: &Chunk, format: Format) -> Parsed {
    let reject = |key: Option<ResourceKey>, errors: Vec<Error>| {
        Box::new(DocumentError {
            origin: origin.clone(),
            key,
            span: chunk.span.clone(),
            errors,
        })
    };
    let error_at = |raw: RawError, kind: ErrorKind| Error {
        origin: origin.clone(),
        line: raw.line.map_or(origin.line(), |l| chunk.first_line + l - 1),
        path: raw.path,
        kind,
    };

    let header = read::<Option<Header>>(chunk, format, false)
        .ok()
        .flatten()
        .unwrap_or_default();
    let text = |v: &Option<serde_json::Value>| v.as_ref().and_then(|v| v.as_str()).map(str::to_string);
    let kind_name = text(&header.kind);
    let meta = header.metadata.unwrap_or_default();
    // Which resource the document names, even when it is broken: the store keeps that
    // resource's last good version.
    let key = kind_name.as_deref().and_then(Kind::from_name).and_then(|kind| {
        let namespace = text(&meta.namespace).unwrap_or_else(|| crate::meta::DEFAULT_NAMESPACE.to_string());
        text(&meta.name).map(|name| ResourceKey::new(kind, namespace, name))
    });

    // Every duplicate key; a syntax error ends the reading here.
    let duplicates = match duplicates(chunk, format) {
        Ok(found) => found,
        Err(raw) => {
            let kind = ErrorKind::Syntax(raw.message.clone());
            return Err(reject(key, vec![error_at(raw, kind)]));
        }
    };
    let line_of = |path: &str| match format {
        Format::Yaml => locate::locate(&chunk.text, path).map(|l| chunk.first_line + l - 1),
        Format::Json => None,
    };
    let error_line = |path: &str, kind: &ErrorKind| field_line(path, kind, line_of).unwrap_or(origin.line());
    let mut errors: Vec<Error> = duplicates
        .iter()
        .map(|d| {
            let mapping_line = if d.mapping.is_empty() {
                Some(1)
            } else {
                locate::locate(&chunk.text, &d.mapping)
            };
            let line = duplicate_line(&chunk.text, &d.key, mapping_line);
            Error {
                origin: origin.clone(),
                line: line.map_or(origin.line(), |l| chunk.first_line + l - 1),
                path: d.path(),
                kind: ErrorKind::DuplicateKey(d.key.clone()),
            }
        })
        .collect();

    let simple = |path: &str, kind: ErrorKind| Error {
        origin: origin.clone(),
        line: origin.line(),
        path: path.to_string(),
        kind,
    };
    let kind = match (
        &header.kind,
        kind_name.as_deref().map(|n| (n, Kind::from_name(n))),
    ) {
        (_, Some((_, Some(kind)))) => kind,
        // Without a kind known, nothing else can be checked.
        (_, Some((name, None))) => {
            errors.push(simple("kind", ErrorKind::UnknownKind(name.to_string())));
            return Err(reject(None, errors));
        }
        (None | Some(serde_json::Value::Null), None) => {
            errors.push(simple("kind", ErrorKind::MissingKind));
            return Err(reject(None, errors));
        }
        (Some(other), None) => {
            errors.push(simple("kind", ErrorKind::UnknownKind(other.to_string())));
            return Err(reject(None, errors));
        }
    };

    let api_version = text(&header.api_version).unwrap_or_default();
    if !kind.api_versions().contains(&api_version.as_str()) {
        let shown = header.api_version.as_ref().map_or_else(
            || "(missing)".to_string(),
            |v| v.to_string().trim_matches('"').to_string(),
        );
        errors.push(simple(
            "apiVersion",
            ErrorKind::ApiVersion {
                kind: kind.as_str(),
                value: shown,
                allowed: kind.api_versions().join(", "),
            },
        ));
    }

    let redact = kind == Kind::Secret;
    let typed = typed(
        kind,
        Text {
            chunk,
            format,
            redact,
        },
    );
    let resource = match typed {
        Ok(resource) => resource,
        Err(raw) => {
            // A duplicated field is already reported as a duplicate key.
            let first = raw.path.clone();
            if duplicates.is_empty() || !raw.message.starts_with("duplicate field") {
                let kind = ErrorKind::Schema(raw.message.clone());
                // the parser places a missing field at the end of its mapping: the
                // mapping's own line is the one to show
                let mapping_line = split_missing(&raw.path, &raw.message).and_then(|(m, _)| line_of(m));
                let mut error = error_at(raw, kind);
                if let Some(line) = mapping_line {
                    error.line = line;
                }
                errors.push(error);
            }
            // The errors after the first, and the rules on what is left (see `more`).
            if let Ok(value) = read::<serde_json::Value>(chunk, format, false) {
                let repaired = more::schema_errors(kind, value, &first, redact);
                let rules = repaired.rule_errors().into_iter().map(|p| (p.path, p.kind));
                let schema = repaired
                    .errors
                    .into_iter()
                    .map(|(p, m)| (p, ErrorKind::Schema(m)));
                for (path, kind) in schema.chain(rules) {
                    errors.push(Error {
                        origin: origin.clone(),
                        line: error_line(&path, &kind),
                        path,
                        kind,
                    });
                }
            }
            in_text_order(&mut errors, format);
            return Err(reject(key, errors));
        }
    };

    errors.extend(crate::validate::validate(&resource).into_iter().map(|p| Error {
        origin: origin.clone(),
        line: line_of(&p.path).unwrap_or(origin.line()),
        path: p.path,
        kind: p.kind,
    }));
    if !errors.is_empty() {
        in_text_order(&mut errors, format);
        return Err(reject(key, errors));
    }
    Ok(Document {
        origin,
        span: chunk.span.clone(),
        resource,
    })
}

/// A document's errors in the order of its text: by line (stable, so errors of one line
/// keep the order found). JSON errors after the first know no line: they stay as found.
pub(super) fn in_text_order(errors: &mut [Error], format: Format) {
    if format == Format::Yaml {
        errors.sort_by_key(|e| e.line);
    }
}

/// The line of an error at `path` (`line_of` finds a path's line): a missing field has
/// none, so its mapping's.
pub(super) fn field_line(
    path: &str,
    kind: &ErrorKind,
    line_of: impl Fn(&str) -> Option<usize>,
) -> Option<usize> {
    line_of(path).or_else(|| match kind {
        ErrorKind::Schema(message) => split_missing(path, message).and_then(|(mapping, _)| line_of(mapping)),
        _ => None,
    })
}

/// The parser places a duplicate-key error at the start of the mapping; the line users
/// want is the second occurrence of the key, found from there on.
fn duplicate_line(text: &str, key: &str, mapping_line: Option<usize>) -> Option<usize> {
    let from = mapping_line.unwrap_or(1);
    let is_key_line = |line: &str| {
        let t = line.trim_start().trim_start_matches("- ");
        [format!("{key}:"), format!("\"{key}\":"), format!("'{key}':")]
            .iter()
            .any(|k| t.starts_with(k.as_str()))
    };
    text.lines()
        .enumerate()
        .skip(from - 1)
        .filter(|(_, l)| is_key_line(l))
        .nth(1)
        .map(|(i, _)| i + 1)
}

/// An error of one read, before it is placed in the file.
pub(super) struct RawError {
    path: String,
    message: String,
    /// Line within the chunk's text.
    line: Option<usize>,
}

/// Where a resource is deserialised from: a document's text, or an item of a list.
pub(super) trait Source {
    type Error;
    fn decode<T: DeserializeOwned>(self) -> Result<T, Self::Error>;
}

/// The one table from a kind to its resource type.
pub(super) fn typed<S: Source>(kind: Kind, source: S) -> Result<Resource, S::Error> {
    Ok(match kind {
        Kind::WasmPlugin => Resource::WasmPlugin(Arc::new(source.decode()?)),
        Kind::Secret => Resource::Secret(Arc::new(source.decode()?)),
        Kind::RequestAuthentication => Resource::RequestAuthentication(Arc::new(source.decode()?)),
        Kind::AuthorizationPolicy => Resource::AuthorizationPolicy(Arc::new(source.decode()?)),
        Kind::Proxy => Resource::Proxy(Arc::new(source.decode()?)),
    })
}

/// A document's own text.
struct Text<'a> {
    chunk: &'a Chunk,
    format: Format,
    redact: bool,
}

impl Source for Text<'_> {
    type Error = RawError;
    fn decode<T: DeserializeOwned>(self) -> Result<T, RawError> {
        read(self.chunk, self.format, self.redact)
    }
}

pub(super) fn read<T: DeserializeOwned>(chunk: &Chunk, format: Format, redact: bool) -> Result<T, RawError> {
    let (path, message, line) = match format {
        Format::Yaml => {
            let de = serde_yaml_ng::Deserializer::from_str(&chunk.text);
            match serde_path_to_error::deserialize(de) {
                Ok(value) => return Ok(value),
                Err(e) => {
                    let path = e.path().to_string();
                    let inner = e.into_inner();
                    let line = inner.location().map(|l| l.line());
                    (path, inner.to_string(), line)
                }
            }
        }
        Format::Json => {
            let mut de = serde_json::Deserializer::from_str(&chunk.text);
            match serde_path_to_error::deserialize(&mut de) {
                Ok(value) => match de.end() {
                    Ok(()) => return Ok(value),
                    Err(e) => (String::new(), e.to_string(), Some(e.line())),
                },
                Err(e) => {
                    let path = e.path().to_string();
                    let inner = e.into_inner();
                    let line = (inner.line() > 0).then_some(inner.line());
                    (path, inner.to_string(), line)
                }
            }
        }
    };
    let path = clean_path(&path);
    let message = error_message(&message, &path, redact);
    let (path, message) = place_missing(path, message);
    Err(RawError { path, message, line })
}

/// Every duplicate key of the document; an error only when it is not YAML (or JSON).
pub(super) fn duplicates(chunk: &Chunk, format: Format) -> Result<Vec<Duplicate>, RawError> {
    use serde::de::DeserializeSeed as _;
    let found = std::cell::RefCell::new(Vec::new());
    let seed = DupCheck {
        path: String::new(),
        found: &found,
    };
    let mut track = serde_path_to_error::Track::new();
    let (message, line) = match format {
        Format::Yaml => {
            let de = serde_yaml_ng::Deserializer::from_str(&chunk.text);
            match seed.deserialize(serde_path_to_error::Deserializer::new(de, &mut track)) {
                Ok(()) => return Ok(found.into_inner()),
                Err(e) => (e.to_string(), e.location().map(|l| l.line())),
            }
        }
        Format::Json => {
            let mut de = serde_json::Deserializer::from_str(&chunk.text);
            match seed
                .deserialize(serde_path_to_error::Deserializer::new(&mut de, &mut track))
                .and_then(|()| de.end())
            {
                Ok(()) => return Ok(found.into_inner()),
                Err(e) => (e.to_string(), (e.line() > 0).then_some(e.line())),
            }
        }
    };
    let path = clean_path(&track.path().to_string());
    let message = error_message(&message, &path, false);
    Err(RawError { path, message, line })
}

/// What an error says of a required field that is not there, at the field's own path.
pub const MISSING_REQUIRED: &str = "missing; this field is required";

/// serde reports a missing field at the mapping that lacks it (`spec`: "missing field
/// `url`"); users look for the field: `spec.url: missing; this field is required`.
pub(super) fn place_missing(path: String, message: String) -> (String, String) {
    match missing_field(&message) {
        Some(field) if path.is_empty() => (field, MISSING_REQUIRED.to_string()),
        Some(field) => (format!("{path}.{field}"), MISSING_REQUIRED.to_string()),
        None => (path, message),
    }
}

/// serde's "missing field `name`": the field.
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest[..rest.find('`')?].to_string())
}

/// The mapping and the field of a [`MISSING_REQUIRED`] error at `path` (`spec.url` →
/// `spec`, `url`); `None` for any other error. Required fields are plain names, never
/// dotted keys, so the last dot splits them off.
pub(super) fn split_missing<'a>(path: &'a str, message: &str) -> Option<(&'a str, &'a str)> {
    if message != MISSING_REQUIRED {
        return None;
    }
    Some(path.rsplit_once('.').unwrap_or(("", path)))
}

/// serde_path_to_error's path as we print it: without the `?` it writes for a segment it
/// could not name, and empty for the document itself.
pub(super) fn clean_path(path: &str) -> String {
    let path = path.replace(".?", "");
    if path == "." || path == "?" {
        String::new()
    } else {
        path
    }
}

/// The message of a read error at `path` as users see it ([`plain_message`]); with
/// `redact`, without the document's string values.
pub(super) fn error_message(message: &str, path: &str, redact: bool) -> String {
    let message = plain_message(message, path);
    if redact {
        redact_strings(&message)
    } else {
        message
    }
}

static LOCATION: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r" at line \d+ column \d+").expect("valid regex"));
static QUOTED_STRING: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r#"string "(?:[^"\\]|\\.)*""#).expect("valid regex"));

/// serde's message without the parser's own location and path (we print ours), and with
/// Rust type names put in words.
fn plain_message(message: &str, path: &str) -> String {
    let mut m = LOCATION.replace_all(message, "").into_owned();
    // The YAML parser starts its messages with its own path, which may stop at the parent.
    if let Some((head, rest)) = m.split_once(": ") {
        let is_path = !head.is_empty() && !head.contains(' ');
        if is_path && (head == "." || path.starts_with(head)) {
            m = rest.to_string();
        }
    }
    for (rust, words) in [
        ("expected i64", "expected an integer"),
        ("expected i32", "expected an integer"),
        ("expected u32", "expected an integer"),
        ("expected a boolean", "expected true or false"),
        ("expected a borrowed string", "expected a string"),
        ("expected struct ", "expected a mapping for "),
    ] {
        m = m.replace(rust, words);
    }
    m
}

/// Secret values must not reach logs: string values in messages become `a string`.
fn redact_strings(message: &str) -> String {
    QUOTED_STRING
        .replace_all(message, "a string (value hidden)")
        .into_owned()
}
