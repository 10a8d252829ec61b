//! `wasmesh --version` and the top-level `--help`: the version with its commit, the way to
//! the docs, and every environment variable the code reads.

use crate::cli_support::wasmesh;
use std::path::{Path, PathBuf};

#[test]
fn version_names_the_release_and_the_commit() {
    let run = wasmesh(&["--version"]);
    assert_eq!(run.code, 0, "{run:?}");
    let line = run.stdout.trim_end();
    let commit = line
        .strip_prefix(&format!("wasmesh {} (commit ", env!("CARGO_PKG_VERSION")))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("`{line}` is not `wasmesh VERSION (commit HASH)`"));
    assert!(
        commit == "unknown" || (commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{commit}"
    );
    // Built in a git checkout (as the tests are), it is the checkout's HEAD.
    let head = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if let Some(head) = head {
        assert!(head.starts_with(commit), "commit {commit}, HEAD {head}");
    }
    // A subcommand's --version says the same.
    let run = wasmesh(&["validate", "--version"]);
    assert!(run.stdout.contains(&format!("(commit {commit})")), "{run:?}");
}

#[test]
fn help_points_to_the_docs_and_lists_every_environment_variable() {
    let run = wasmesh(&["--help"]);
    assert_eq!(run.code, 0, "{run:?}");
    for doc in ["README.md", "docs/api.md", "docs/proxy.md", "docs/modules.md"] {
        assert!(run.stdout.contains(doc), "{doc} missing from {run:?}");
        assert!(
            root().join(doc).is_file(),
            "--help names {doc}, which is not there"
        );
    }
    let read = variables_read_by_the_code();
    assert!(read.len() >= 10, "the scan found too few: {read:?}");
    let listed = run
        .stdout
        .split("Environment variables:")
        .nth(1)
        .expect("the section");
    for var in &read {
        assert!(
            listed.contains(var.as_str()),
            "{var} is read by the code but not in --help:\n{listed}"
        );
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Names read from the environment in the crates' code: `var("NAME")`, `var_os("NAME")`
/// (std's, or a lookup function passed in its place), clap's `env = "NAME"`, the cache
/// directory's `absolute("NAME")`, and tracing's `from_default_env` (RUST_LOG).
fn variables_read_by_the_code() -> std::collections::BTreeSet<String> {
    let mut found = std::collections::BTreeSet::new();
    let mut files = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path().join("src"))
        .filter(|p| !p.ends_with("wasmesh-testkit/src"))
        .collect();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("tests.rs") {
                files.push(path);
            }
        }
    }
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // Unit tests at the end of a file set variables of their own.
        let text = text.split("#[cfg(test)]").next().unwrap();
        if text.contains("from_default_env") {
            found.insert("RUST_LOG".to_string());
        }
        for pattern in ["var(\"", "var_os(\"", "env = \"", "absolute(\""] {
            for (at, _) in text.match_indices(pattern) {
                let rest = &text[at + pattern.len()..];
                let name: String = rest.chars().take_while(|c| *c != '"').collect();
                if !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                {
                    found.insert(name);
                }
            }
        }
    }
    found
}
