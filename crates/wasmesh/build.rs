//! Gives `wasmesh --version` the git commit it was built from: `WASMESH_GIT_COMMIT` is the
//! short hash of HEAD when this crate is built inside its own git checkout, and `unknown`
//! otherwise (a source tarball, no `git` installed, or a checkout of another project that
//! happens to contain this folder).

use std::{
    path::{Path, PathBuf},
    process::Command,
};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=WASMESH_GIT_COMMIT");
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    // A packager may pass the commit from outside (a tarball made from a known commit).
    let commit = std::env::var("WASMESH_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| git_commit(&manifest_dir))
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=WASMESH_GIT_COMMIT={}", commit.trim());
}

/// The short hash of HEAD, when `dir` is this project's folder in a git work tree; also
/// asks cargo to build again when HEAD moves.
fn git_commit(dir: &Path) -> Option<String> {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
    };
    // Only our own repository: its top level holds this crate at crates/wasmesh.
    let top = PathBuf::from(git(&["rev-parse", "--show-toplevel"])?);
    let ours = top.join("crates").join("wasmesh").canonicalize().ok()? == dir.canonicalize().ok()?;
    if !ours {
        return None;
    }
    let commit = git(&["rev-parse", "--short", "HEAD"])?;
    // HEAD, the branch it names and packed refs: a commit or a checkout changes one of them.
    let absolute = |p: String| {
        let p = PathBuf::from(p);
        if p.is_absolute() {
            p
        } else {
            dir.join(p)
        }
    };
    let mut watched = Vec::new();
    if let Some(git_dir) = git(&["rev-parse", "--git-dir"]).map(absolute) {
        watched.push(git_dir.join("HEAD"));
    }
    if let Some(common) = git(&["rev-parse", "--git-common-dir"]).map(absolute) {
        watched.push(common.join("packed-refs"));
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watched.push(common.join(branch));
        }
    }
    // A path that does not exist would make cargo run this script on every build.
    for path in watched.iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    Some(commit)
}
