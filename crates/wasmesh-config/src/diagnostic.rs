//! What went wrong while loading, kept in the snapshot so `describe` and the admin API can
//! show it.

use std::fmt;
use wasmesh_api::{DocumentError, Origin, ResourceKey};

/// A problem with one document or file. The rest of the configuration still applies.
#[derive(Debug, Clone, PartialEq)]
pub enum Diagnostic {
    /// A document failed to parse or validate and was skipped. `kept` names the resource
    /// whose last good version stays in force instead.
    Invalid {
        error: DocumentError,
        kept: Option<ResourceKey>,
    },
    /// Two documents define the same resource; the first (in path order) wins.
    Duplicate {
        key: ResourceKey,
        origin: Origin,
        first: Origin,
    },
    /// A file could not be read; what it held before stays in force.
    Unreadable { path: String, message: String },
    /// With `--gateway`: what the Gateway API objects ask for and the Proxy made from them
    /// does not do — not implemented yet, a backend that does not resolve, a route that
    /// does not attach — or why no Proxy is made yet (docs/gateway-api.md).
    Gateway(String),
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Diagnostic::Invalid { error, kept } => {
                write!(f, "{error}")?;
                if let Some(key) = kept {
                    write!(f, "\n  (skipped; the last good version of {key} stays in force)")?;
                } else {
                    write!(f, "\n  (skipped)")?;
                }
                Ok(())
            }
            Diagnostic::Duplicate { key, origin, first } => write!(
                f,
                "{origin}: {key} is already defined at {first}; this document is ignored"
            ),
            Diagnostic::Gateway(note) => f.write_str(note),
            Diagnostic::Unreadable { path, message } => {
                write!(
                    f,
                    "{path}: cannot read: {message} (what it held before stays in force)"
                )
            }
        }
    }
}
