//! Replays the inputs kept for a fuzz target through its check: every file of
//! `fuzz/regressions/TARGET/` (inputs that once failed) and every `seed-*` of
//! `fuzz/corpus/TARGET/`. Included by the crates' regression tests with `#[path]`.

use std::path::{Path, PathBuf};

/// Runs `check` on each kept input of `target`, naming the file before it runs so a
/// failure says which input broke. `fuzz` is the fuzz crate's folder.
pub fn replay(fuzz: &Path, target: &str, check: fn(&[u8])) {
    let mut files = kept(&fuzz.join("regressions").join(target), |_| true);
    files.extend(kept(&fuzz.join("corpus").join(target), |name| {
        name.starts_with("seed-")
    }));
    assert!(
        !files.is_empty(),
        "no seeds or regressions for the fuzz target {target} under {}",
        fuzz.display()
    );
    for file in files {
        let data = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        eprintln!("replaying {}", file.display());
        check(&data);
    }
}

fn kept(dir: &Path, wanted: fn(&str) -> bool) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a readable folder").path())
        .filter(|p| p.is_file())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n != ".gitkeep" && n != "README.md" && wanted(n))
        })
        .collect();
    files.sort();
    files
}
