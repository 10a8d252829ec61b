//! A kubeconfig for the double: one cluster at `http://127.0.0.1:PORT`, no credentials, one
//! context made current, so that kubectl and kube-rs's `Config::infer` find it through
//! `KUBECONFIG` or `--kubeconfig`.

use std::io;
use std::path::{Path, PathBuf};

/// The kubeconfig of a server at `url`, with `namespace` as the context's default.
pub fn render(url: &str, namespace: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: wasmesh-double
  cluster:
    server: {url}
users:
- name: wasmesh-double
  user: {{}}
contexts:
- name: wasmesh-double
  context:
    cluster: wasmesh-double
    user: wasmesh-double
    namespace: {namespace}
current-context: wasmesh-double
preferences: {{}}
"
    )
}

/// Writes the kubeconfig of a server at `url` as `dir/kubeconfig`.
pub fn write(dir: &Path, url: &str) -> io::Result<PathBuf> {
    let path = dir.join("kubeconfig");
    std::fs::write(&path, render(url, "default"))
        .map_err(|e| io::Error::new(e.kind(), format!("writing {}: {e}", path.display())))?;
    Ok(path)
}

/// A kubeconfig in a temporary directory, removed when dropped.
#[derive(Debug)]
pub struct Kubeconfig {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Kubeconfig {
    /// Writes the kubeconfig of a server at `url` in a new temporary directory.
    pub fn new(url: &str) -> io::Result<Self> {
        let dir = tempfile::tempdir()?;
        let path = write(dir.path(), url)?;
        Ok(Kubeconfig { _dir: dir, path })
    }

    /// The file, for `KUBECONFIG` or `--kubeconfig`.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
