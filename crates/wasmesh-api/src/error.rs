//! Errors of parsing and validation. Each one says where (file, document, line, field
//! path), what was wrong (the bad value) and what is allowed.

use crate::meta::ResourceKey;
use std::{fmt, ops::Range};

/// Where a document came from: a document of a file, or an object an API server sent.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// A document of a file (the config directory, `validate -f`).
    File {
        /// The file, as the caller named it.
        file: String,
        /// 1-based index of the document in the file (empty documents are not counted).
        document: usize,
        /// 1-based line where the document's content starts.
        line: usize,
    },
    /// An object read from a Kubernetes API server (docs/kubernetes-source.md).
    Object {
        /// The object's kind, as its `kind:` says.
        kind: String,
        namespace: String,
        name: String,
        /// The version of the object that was read, when the server sent one.
        resource_version: Option<String>,
    },
}

impl Origin {
    /// A document of a file.
    pub fn file(file: impl Into<String>, document: usize, line: usize) -> Self {
        Origin::File {
            file: file.into(),
            document,
            line,
        }
    }

    /// The file a document came from; `None` for an API object.
    pub fn file_name(&self) -> Option<&str> {
        match self {
            Origin::File { file, .. } => Some(file),
            Origin::Object { .. } => None,
        }
    }

    /// The 1-based line where the document starts; 1 for an API object (its JSON text has
    /// no lines anyone wrote).
    pub fn line(&self) -> usize {
        match self {
            Origin::File { line, .. } => *line,
            Origin::Object { .. } => 1,
        }
    }

    /// The same origin starting at another line (an item of a list).
    pub(crate) fn at_line(&self, at: usize) -> Self {
        match self {
            Origin::File { file, document, .. } => Origin::file(file.clone(), *document, at),
            Origin::Object { .. } => self.clone(),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { file, document, line } => write!(f, "{file}: document {document} (line {line})"),
            Origin::Object {
                kind,
                namespace,
                name,
                resource_version,
            } => {
                write!(f, "{kind} {namespace}/{name}")?;
                if let Some(version) = resource_version {
                    write!(f, " (resourceVersion {version})")?;
                }
                Ok(())
            }
        }
    }
}

/// What is wrong with one field of a document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// The text is not YAML or JSON.
    #[error("syntax error: {0}")]
    Syntax(String),
    /// A mapping has the same key twice.
    #[error("duplicate key `{0}`: each key may appear once")]
    DuplicateKey(String),
    /// The document has no `kind`.
    #[error("missing; allowed: {}", allowed_kinds())]
    MissingKind,
    /// The `kind` is not one wasmesh understands.
    #[error("unknown kind `{0}`; allowed: {allowed}{hint}", allowed = allowed_kinds(), hint = list_hint(.0))]
    UnknownKind(String),
    /// The `apiVersion` does not go with the `kind`.
    #[error("`{value}` is not an apiVersion of {kind}; allowed: {allowed}")]
    ApiVersion {
        kind: &'static str,
        value: String,
        allowed: String,
    },
    /// The document does not fit the schema: an unknown field, a wrong type, a missing
    /// required field or an unknown enum value (serde's message, made plainer).
    #[error("{0}")]
    Schema(String),
    /// A value breaks a rule of the API.
    #[error("{value} is not allowed: {rule}")]
    Invalid { value: String, rule: String },
    /// A rule that involves several fields.
    #[error("{0}")]
    Rule(String),
}

fn list_hint(kind: &str) -> &'static str {
    if kind.ends_with("List") {
        " (lists: `List` of v1, or the list of one of these kinds, like `WasmPluginList`)"
    } else {
        ""
    }
}

fn allowed_kinds() -> String {
    crate::meta::Kind::ALL
        .iter()
        .map(|k| format!("{} ({})", k.as_str(), k.api_versions()[0]))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One error in one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub origin: Origin,
    /// The line of the error itself, when the parser knows it; else the document's line.
    pub line: usize,
    /// Field path like `spec.match[0].ports[1].number`; empty for the whole document.
    pub path: String,
    pub kind: ErrorKind,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Origin::File { file, document, line } => {
                write!(f, "{file}: document {document} ")?;
                if self.line != *line {
                    write!(f, "(line {line}, field at line {})", self.line)?;
                } else {
                    write!(f, "(line {line})")?;
                }
            }
            Origin::Object { .. } => write!(f, "{}", self.origin)?,
        }
        if self.path.is_empty() {
            write!(f, ": {}", self.kind)
        } else {
            write!(f, ": {}: {}", self.path, self.kind)
        }
    }
}

impl std::error::Error for Error {}

/// A document that was rejected, with every error found in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentError {
    pub origin: Origin,
    /// The resource the document meant to be, when its kind, name and namespace could be
    /// read: the store keeps that resource's last good version.
    pub key: Option<ResourceKey>,
    /// Byte range of the document in the file's text (with its `---` line).
    pub span: Range<usize>,
    /// At least one.
    pub errors: Vec<Error>,
}

impl fmt::Display for DocumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DocumentError {}

/// An error found by validation before it knows the document's origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub kind: ErrorKind,
}

impl FieldError {
    /// The text `value` is not allowed at `path`, because of `rule`. The value is shown
    /// quoted (and shortened when long).
    pub fn invalid(path: impl Into<String>, value: &str, rule: impl Into<String>) -> Self {
        Self::invalid_value(path, quote(value), rule)
    }

    /// Like [`FieldError::invalid`] for a value that is not text (a number), shown as is.
    pub fn invalid_value(path: impl Into<String>, value: impl fmt::Display, rule: impl Into<String>) -> Self {
        FieldError {
            path: path.into(),
            kind: ErrorKind::Invalid {
                value: value.to_string(),
                rule: rule.into(),
            },
        }
    }

    /// A rule over several fields is broken at `path`.
    pub fn rule(path: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            path: path.into(),
            kind: ErrorKind::Rule(message.into()),
        }
    }
}

/// Values are shown quoted and shortened, so a huge or multi-line value stays readable.
pub(crate) fn quote(value: &str) -> String {
    const MAX: usize = 80;
    let mut shown: String = value.chars().take(MAX).collect();
    if value.chars().count() > MAX {
        shown.push('…');
    }
    format!("{shown:?}")
}
