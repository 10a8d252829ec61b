//! Building the AssemblyScript plugin of `plugins/assemblyscript` (a second, independent
//! Proxy-Wasm SDK: `@solo-io/proxy-runtime`) with npm, once per test process.
//!
//! The sources are copied to a private folder under `target/wasm-plugins/` first, so
//! `node_modules` never lands in the source tree and concurrent test processes do not
//! share an npm install.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::repo_root;

/// The built AssemblyScript plugin, or `Err(reason)` when it cannot be built here because
/// `npm` is not installed (callers fail, saying so). Any other build
/// failure panics with npm's output.
pub fn assemblyscript_plugin() -> Result<PathBuf, String> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT.get_or_init(build).clone()
}

fn build() -> Result<PathBuf, String> {
    if Command::new("npm").arg("--version").output().is_err() {
        return Err("npm is not installed (scripts/setup installs it)".to_owned());
    }
    let root = repo_root();
    let source = root.join("plugins").join("assemblyscript");
    let out_dir = root.join("target").join("wasm-plugins").join("assemblyscript");
    let work = out_dir.join(format!("build-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    copy_tree(&source, &work).unwrap_or_else(|e| panic!("copying {}: {e}", source.display()));
    npm(&work, &["ci", "--no-audit", "--no-fund"]);
    npm(&work, &["run", "build"]);
    let built = work.join("build").join("headers.wasm");
    let target = out_dir.join(format!("headers-{}.wasm", std::process::id()));
    std::fs::rename(&built, &target)
        .unwrap_or_else(|e| panic!("npm run build made no {}: {e}", built.display()));
    let _ = std::fs::remove_dir_all(&work);
    Ok(target)
}

fn npm(dir: &Path, args: &[&str]) {
    let output = Command::new("npm")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("running npm {args:?}: {e}"));
    assert!(
        output.status.success(),
        "npm {args:?} in {} failed:\n{}\n{}",
        dir.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "node_modules" || name == "build" {
            continue;
        }
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            copy_tree(&path, &to.join(&name))?;
        } else {
            std::fs::copy(&path, to.join(&name))?;
        }
    }
    Ok(())
}
