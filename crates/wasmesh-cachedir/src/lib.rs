//! A cache directory the proxy can trust. The module cache (`wasmesh-fetch`) and the
//! compiled-code cache (`wasmesh-wasm`) keep bytes the proxy runs, so both read only from a
//! directory, and only files, that belong to the proxy's own user and that no one else can
//! write (docs/security.md). Nothing else lives here; both caches' tests exercise it.

use std::fs::{DirBuilder, Metadata};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::Path;

/// Creates `dir` (and missing parents) with mode 0700, and refuses it unless it is
/// private: owned by this process's effective user and not writable by group or others.
/// The error says what is wrong and how to fix it.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let meta = std::fs::metadata(dir)?;
    if !meta.is_dir() {
        return Err(refused("not a directory; choose another --cache-dir".into()));
    }
    let me = euid();
    if meta.uid() != me {
        return Err(refused(format!(
            "owned by uid {}, not by the proxy's user (uid {me}), who could not trust what it finds \
             there; choose another --cache-dir",
            meta.uid()
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(refused(format!(
            "mode {:04o} lets its group or others write to it, and put modules or compiled code \
             there that the proxy would run; run `chmod 700 {}` or choose another --cache-dir",
            meta.mode() & 0o7777,
            dir.display()
        )));
    }
    Ok(())
}

/// A cache file the proxy may trust: a plain file of its own user that group and others
/// cannot write. `Err` says why not.
pub fn private_file(meta: &Metadata) -> Result<(), String> {
    let me = euid();
    if !meta.is_file() {
        Err("not a plain file".into())
    } else if meta.uid() != me {
        Err(format!(
            "owned by uid {}, not by the proxy's user (uid {me})",
            meta.uid()
        ))
    } else if meta.mode() & 0o022 != 0 {
        Err(format!(
            "mode {:04o} lets group or others write to it",
            meta.mode() & 0o7777
        ))
    } else {
        Ok(())
    }
}

/// The proxy's effective user id.
pub fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

fn refused(why: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::PermissionDenied, why)
}
