//! Sources of resources (a config directory; the Kubernetes source in `wasmesh-kube`),
//! the store that keeps the last good version of each resource, and snapshots published on
//! a `tokio::sync::watch` channel.
//!
//! The flow: a source turns what it sees into [`Event`]s (`Apply` a valid document,
//! `Delete` a resource); the [`Store`] applies them and counts generations; a
//! [`Snapshot`] (resources + diagnostics + generation) is what readers get. A new source
//! is one more producer of events, behind the [`ConfigSource`] seam the data plane follows.
//!
//! Not here: parsing and validation (`wasmesh-api`), what the data plane does with a
//! snapshot.

mod diagnostic;
mod dir;
mod edit;
mod error;
mod snapshot;
mod source;
mod store;
mod watch;

pub use diagnostic::Diagnostic;
pub use dir::{load_dir, read_file, resource_files, DirSource, Scan};
pub use edit::{plan_apply, plan_delete, Edit, EditError, Outcome};
pub use error::ConfigError;
pub use snapshot::Snapshot;
pub use source::{ConfigSource, SourceHealth};
pub use store::{Event, Store};
pub use watch::{watch_dir, ConfigWatcher, DEBOUNCE};

#[cfg(test)]
mod tests;
