//! Where `describe` reads the resources: the config directory, read once, or the
//! Kubernetes API server, each kind listed once through the Kubernetes source's own path
//! (`wasmesh_kube::list_once`: the proxy's streams, parsing and store; no watch).

use std::sync::Arc;

use anyhow::Context as _;
use wasmesh_config::{DirSource, Snapshot, Store};

use super::Args;

/// The resources read, and where from.
pub struct Read {
    pub snapshot: Arc<Snapshot>,
    /// `the config directory DIR`, `the Kubernetes API server URL`: for the header and
    /// for errors.
    pub described: String,
    /// Where a missing pull Secret was looked for, for the problems.
    pub secrets_from: &'static str,
}

pub fn read(args: &Args) -> anyhow::Result<Read> {
    if let Some(dir) = &args.config {
        let mut store = Store::new();
        let (_, diagnostics) = DirSource::new(dir).sync(&mut store)?;
        return Ok(Read {
            snapshot: store.snapshot(diagnostics),
            described: format!("the config directory {}", dir.display()),
            secrets_from: "in the config directory",
        });
    }
    let options = wasmesh_kube::Options {
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
        namespaces: args.namespaces.clone(),
        root_namespace: args.root_namespace.clone(),
        gateway: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the Kubernetes client's runtime")?;
    let listed = rt.block_on(wasmesh_kube::list_once(&options))?;
    Ok(Read {
        snapshot: listed.snapshot,
        described: format!("the Kubernetes API server {}", listed.url),
        secrets_from: "on the Kubernetes API server",
    })
}
