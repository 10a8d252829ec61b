//! `wasmesh describe (--config DIR | --kubernetes ...) --workload NS/NAME [-o json]
//! [--listener NAME]`: the effective filter chain of each listener of a workload in
//! execution order, why each plugin was or was not selected, and where each resource came
//! from — a file's document, or an API object's kind/namespace/name (docs/api.md).
//!
//! - `source`: the resources, read once from the directory or listed once from the API
//!   server through the Kubernetes source's own path (no watch).
//! - `view`: the table and `-o json`, made from one [`view::View`], so the JSON carries
//!   everything the table shows; `--listener` narrows both to one listener.

mod source;
mod view;

use std::{path::PathBuf, process::ExitCode};
use wasmesh_api::{NamespacedName, DEFAULT_ROOT_NAMESPACE};

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["config", "kubernetes"])))]
pub struct Args {
    /// The config directory.
    #[arg(long, value_name = "DIR", conflicts_with = "kubernetes")]
    pub config: Option<PathBuf>,
    /// Describe from the objects on a Kubernetes API server (one list of each kind, as
    /// `wasmesh proxy --kubernetes` reads them): from --kubeconfig, else KUBECONFIG or
    /// ~/.kube/config, else the pod's service account.
    #[arg(long)]
    pub kubernetes: bool,
    /// With --kubernetes: the kubeconfig to use.
    #[arg(long, value_name = "FILE", conflicts_with = "config")]
    pub kubeconfig: Option<PathBuf>,
    /// With --kubernetes: a context of the kubeconfig other than its current one.
    #[arg(long, value_name = "NAME", conflicts_with = "config")]
    pub context: Option<String>,
    /// With --kubernetes: list only this namespace (repeat for several; default: all). The
    /// root namespace is listed too.
    #[arg(long = "namespace", value_name = "NS", conflicts_with = "config")]
    pub namespaces: Vec<String>,
    /// The pod's labels, as the downward API writes them (key="value" lines): selectors
    /// match these instead of the Proxy resource's labels, as with `wasmesh proxy`.
    #[arg(long, value_name = "FILE")]
    pub labels_file: Option<PathBuf>,
    /// The `Proxy` resource to describe, as NAMESPACE/NAME.
    #[arg(long, value_name = "NS/NAME")]
    pub workload: NamespacedName,
    /// Output format: the table, or the same as one JSON object.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// The mesh's root namespace: plugins there apply to every namespace.
    #[arg(long, value_name = "NS", default_value = DEFAULT_ROOT_NAMESPACE)]
    pub root_namespace: String,
    /// Only this listener (default: every listener of the Proxy).
    #[arg(long, value_name = "NAME")]
    pub listener: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Table,
    Json,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let read = source::read(&args)?;
    for d in &read.snapshot.diagnostics {
        eprintln!("warning: {d}");
    }
    let resources = &read.snapshot.resources;
    let ns = &args.workload.namespace;
    let Some(proxy) = resources.proxy(ns, &args.workload.name) else {
        let found: Vec<String> = resources
            .proxies()
            .map(|p| format!("{}/{}", p.metadata.namespace(), p.metadata.name))
            .collect();
        anyhow::bail!(
            "no Proxy {} in {} (Proxies found: {})",
            args.workload,
            read.described,
            if found.is_empty() {
                "none".to_string()
            } else {
                found.join(", ")
            }
        );
    };
    if let Some(name) = &args.listener {
        if !proxy.spec.listeners.iter().any(|l| &l.name == name) {
            let names: Vec<&str> = proxy.spec.listeners.iter().map(|l| l.name.as_str()).collect();
            anyhow::bail!(
                "{} has no listener {name} (its listeners: {})",
                args.workload,
                names.join(", ")
            );
        }
    }
    // the pod's labels, when given, are what selectors match (as `wasmesh proxy` does)
    let relabelled;
    let proxy = match &args.labels_file {
        Some(path) => {
            let labels = wasmesh_proxy::labels::read(path).map_err(anyhow::Error::msg)?;
            let mut p = proxy.as_ref().clone();
            p.metadata.labels = labels;
            relabelled = p;
            &relabelled
        }
        None => proxy.as_ref(),
    };
    let chains = wasmesh_api::resolve(proxy, resources, &args.root_namespace);
    let view = view::View::new(proxy, &chains, &read, args.listener.as_deref());
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&view.json())?),
        Output::Table => print!("{}", view.table()),
    }
    Ok(ExitCode::SUCCESS)
}
