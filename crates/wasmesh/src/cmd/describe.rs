//! `wasmesh describe --config DIR --workload NS/NAME [-o json]`: the effective filter
//! chain of a workload in execution order, and why each plugin was or was not selected.
//!
//! `-o json` prints one listener's chain (the first http listener, or `--listener`) as the
//! JSON array that docs/api.md describes.

use anyhow::Context as _;
use serde_json::json;
use std::{fmt::Write as _, path::PathBuf, process::ExitCode};
use wasmesh_api::{
    Filter, ListenerChain, ListenerProtocol, NamespacedName, Proxy, TrafficDirection, WorkloadChains,
    DEFAULT_ROOT_NAMESPACE,
};
use wasmesh_config::{DirSource, Store};

#[derive(clap::Args)]
pub struct Args {
    /// The config directory.
    #[arg(long, value_name = "DIR")]
    pub config: PathBuf,
    /// The `Proxy` resource to describe, as NAMESPACE/NAME.
    #[arg(long, value_name = "NS/NAME")]
    pub workload: NamespacedName,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// The mesh's root namespace: plugins there apply to every namespace.
    #[arg(long, value_name = "NS", default_value = DEFAULT_ROOT_NAMESPACE)]
    pub root_namespace: String,
    /// With `-o json`: the listener whose chain to print (default: the first http listener).
    #[arg(long, value_name = "NAME")]
    pub listener: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Table,
    Json,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut store = Store::new();
    let (_, diagnostics) = DirSource::new(&args.config).sync(&mut store)?;
    for d in &diagnostics {
        eprintln!("warning: {d}");
    }
    let resources = store.resources();
    let ns = &args.workload.namespace;
    let Some(proxy) = resources.proxy(ns, &args.workload.name) else {
        let found: Vec<String> = resources
            .proxies()
            .map(|p| format!("{}/{}", p.metadata.namespace(), p.metadata.name))
            .collect();
        anyhow::bail!(
            "no Proxy {} in {} (Proxies found: {})",
            args.workload,
            args.config.display(),
            if found.is_empty() {
                "none".to_string()
            } else {
                found.join(", ")
            }
        );
    };
    let chains = wasmesh_api::resolve(proxy, resources, &args.root_namespace);
    match args.output {
        Output::Json => {
            let chain = match &args.listener {
                Some(name) => chains
                    .listener(name)
                    .with_context(|| format!("{} has no listener {name}", args.workload))?,
                None => chains
                    .listeners
                    .iter()
                    .find(|l| l.protocol == ListenerProtocol::Http)
                    .or(chains.listeners.first())
                    .context("the Proxy has no listener")?,
            };
            println!("{}", serde_json::to_string_pretty(&chain_json(chain))?);
        }
        Output::Table => print!("{}{}", table(proxy, &chains), problems(&chains, resources)),
    }
    Ok(ExitCode::SUCCESS)
}

fn chain_json(chain: &ListenerChain) -> serde_json::Value {
    chain
        .filters
        .iter()
        .map(|f| match f {
            Filter::Wasm(p) => json!({
                "phase": f.phase().describe_name(),
                "kind": "wasm",
                "name": p.metadata.name,
                "namespace": p.metadata.namespace(),
                "priority": p.effective_priority(),
                "url": p.spec.url,
            }),
            Filter::Builtin(b) => json!({
                "phase": f.phase().describe_name(),
                "kind": "builtin",
                "name": b.name(),
            }),
        })
        .collect()
}

fn table(proxy: &Proxy, chains: &WorkloadChains) -> String {
    let mut out = String::new();
    let labels: Vec<String> = proxy
        .metadata
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let _ = writeln!(
        out,
        "Workload {} (labels: {}), root namespace {}",
        chains.workload,
        if labels.is_empty() {
            "none".to_string()
        } else {
            labels.join(", ")
        },
        chains.root_namespace
    );
    for (listener, chain) in proxy.spec.listeners.iter().zip(&chains.listeners) {
        let (protocol, kind) = match listener.protocol {
            ListenerProtocol::Http => ("http", "HTTP filter chain"),
            ListenerProtocol::Tcp => ("tcp", "network filter chain"),
        };
        let direction = match listener.traffic_direction {
            TrafficDirection::Server => "SERVER",
            TrafficDirection::Client => "CLIENT",
        };
        let _ = writeln!(
            out,
            "\nListener {} ({protocol}, {}, {direction}): {kind}, in request order",
            listener.name, listener.address
        );
        let mut rows = vec![["#", "PHASE", "KIND", "NAME", "PRIORITY", "DETAIL"]
            .map(String::from)
            .to_vec()];
        for (i, f) in chain.filters.iter().enumerate() {
            let (kind, name, priority, detail) = match f {
                Filter::Wasm(p) => (
                    "wasm",
                    format!("{}/{}", p.metadata.namespace(), p.metadata.name),
                    p.effective_priority().to_string()
                        + if p.spec.priority.is_none() { " (unset)" } else { "" },
                    p.spec.url.clone(),
                ),
                Filter::Builtin(b) => (
                    "builtin",
                    b.name().to_string(),
                    "-".to_string(),
                    builtin_detail(*b, chains, listener),
                ),
            };
            rows.push(vec![
                (i + 1).to_string(),
                f.phase().describe_name().to_string(),
                kind.to_string(),
                name,
                priority,
                detail,
            ]);
        }
        if chain.filters.is_empty() {
            let _ = writeln!(
                out,
                "  (no NETWORK plugins apply; bytes go straight to the cluster)"
            );
        } else {
            out.push_str(&columns(&rows));
        }
    }
    let _ = writeln!(out, "\nSelected:");
    if chains.selected.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for s in &chains.selected {
        let _ = writeln!(out, "  {}/{}: {}", s.plugin.namespace, s.plugin.name, s.why);
    }
    let _ = writeln!(out, "\nNot selected:");
    if chains.not_selected.is_empty() {
        let _ = writeln!(out, "  (none: every WasmPlugin applies)");
    }
    // A plugin that runs on some listener is not listed for listeners of the other
    // protocol: that it is HTTP and the listener tcp (or the reverse) says nothing new.
    let runs_somewhere = |key: &wasmesh_api::ResourceKey| {
        chains.listeners.iter().any(|l| {
            l.plugins()
                .any(|p| p.metadata.name == key.name && p.metadata.namespace() == key.namespace)
        })
    };
    let shown = chains.not_selected.iter().filter(|n| {
        n.listener.is_none()
            || !matches!(n.reason, wasmesh_api::Reason::TypeMismatch { .. })
            || !runs_somewhere(&n.plugin)
    });
    for n in shown {
        let on = n
            .listener
            .as_ref()
            .map(|l| format!(" on listener {l}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {}/{}{on}: {}",
            n.plugin.namespace, n.plugin.name, n.reason
        );
    }
    out
}

fn builtin_detail(
    b: wasmesh_api::Builtin,
    chains: &WorkloadChains,
    listener: &wasmesh_api::Listener,
) -> String {
    let names = |it: &mut dyn Iterator<Item = &wasmesh_api::ObjectMeta>| {
        let v: Vec<String> = it.map(|m| format!("{}/{}", m.namespace(), m.name)).collect();
        v.join(", ")
    };
    match b {
        wasmesh_api::Builtin::Authn => match chains.request_authentications.len() {
            0 => "no RequestAuthentication applies".to_string(),
            _ => format!(
                "RequestAuthentication {}",
                names(&mut chains.request_authentications.iter().map(|r| &r.metadata))
            ),
        },
        wasmesh_api::Builtin::Authz => match chains.authorization_policies.len() {
            0 => "no AuthorizationPolicy applies".to_string(),
            _ => format!(
                "AuthorizationPolicy {}",
                names(&mut chains.authorization_policies.iter().map(|r| &r.metadata))
            ),
        },
        wasmesh_api::Builtin::Stats => "request metrics".to_string(),
        wasmesh_api::Builtin::Router => {
            let n = listener.routes.len();
            format!("{n} route{}", if n == 1 { "" } else { "s" })
        }
    }
}

/// What will go wrong when the proxy loads these plugins, found from the configuration
/// alone: a pull secret that is not there.
fn problems(chains: &WorkloadChains, resources: &wasmesh_api::Resources) -> String {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = String::new();
    for plugin in chains.listeners.iter().flat_map(|l| l.plugins()) {
        let ns = plugin.metadata.namespace();
        if !seen.insert((ns.to_string(), plugin.metadata.name.clone())) {
            continue;
        }
        if let Some(secret) = &plugin.spec.image_pull_secret {
            if resources.secret(ns, secret).is_none() {
                let _ = writeln!(
                    out,
                    "  {ns}/{}: imagePullSecret {secret}: no Secret {ns}/{secret} in the config directory",
                    plugin.metadata.name
                );
            }
        }
    }
    if out.is_empty() {
        out
    } else {
        format!("\nProblems:\n{out}")
    }
}

/// Left-aligned columns, two spaces apart, indented by two.
fn columns(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let _ = writeln!(out, "  {}", line.join("  ").trim_end());
    }
    out
}
