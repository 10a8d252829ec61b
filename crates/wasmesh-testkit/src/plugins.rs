//! Building the guest plugins of `plugins/` once per test process.
//!
//! The plugins are a separate cargo workspace built into `target/wasm-plugins`, a target
//! directory of their own: the outer `cargo test` holds the lock of `target/`, so building
//! into it from a test would wait forever. Concurrent test processes are serialised by
//! cargo's own lock on `target/wasm-plugins`; within a process a `OnceLock` builds once.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The root of the wasmesh repository (the folder holding `plugins/` and `crates/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("wasmesh-testkit lives in <repo>/crates/wasmesh-testkit")
        .to_path_buf()
}

/// The folder where the built `.wasm` files land (builds them first if needed).
pub fn plugins_dir() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(build_plugins)
}

/// The path of the built plugin `name` (a member of `plugins/`, e.g. `"headers"` or
/// `"hostile_panic"`; `-` and `_` are the same). Builds all plugins on first use.
///
/// Panics with a clear message when the build fails or `name` is not a plugin.
pub fn plugin(name: &str) -> PathBuf {
    let file = format!("{}.wasm", name.replace('-', "_"));
    let path = plugins_dir().join(&file);
    assert!(
        path.is_file(),
        "no plugin named {name:?}: {} does not exist (the plugins are the members of plugins/Cargo.toml)",
        path.display()
    );
    path
}

/// The bytes of the built plugin `name` (see [`plugin`]).
pub fn plugin_bytes(name: &str) -> Vec<u8> {
    let path = plugin(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn build_plugins() -> PathBuf {
    let root = repo_root();
    let target_dir = root.join("target").join("wasm-plugins");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip1",
            "--manifest-path",
        ])
        .arg(root.join("plugins").join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        // The outer cargo's settings (e.g. RUSTFLAGS for the host) must not leak into the
        // guest build.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap_or_else(|e| panic!("could not run cargo to build plugins/: {e}"));
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint = if stderr.contains("wasm32-wasip1") && stderr.contains("target") {
            "\nhint: the wasm32-wasip1 target may be missing: run `rustup target add wasm32-wasip1` (scripts/setup does)"
        } else {
            ""
        };
        panic!("building plugins/ for wasm32-wasip1 failed:\n{stderr}{hint}");
    }
    target_dir.join("wasm32-wasip1").join("release")
}
