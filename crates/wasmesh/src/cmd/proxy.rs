//! `wasmesh proxy`: runs the data plane for one `Proxy` resource of a config directory.

use anyhow::Context as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use wasmesh_proxy::snapshot::Workload;

#[derive(clap::Args)]
pub struct Args {
    /// The config directory: every .yaml/.yml/.json file in it; watched for changes.
    #[arg(long, value_name = "DIR")]
    config: PathBuf,
    /// The Proxy resource to serve, as NAMESPACE/NAME.
    #[arg(long, value_name = "NS/NAME")]
    workload: String,
    /// The admin endpoint: /ready, /stats/prometheus, /config_dump, /plugins.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:15000")]
    admin: SocketAddr,
    /// Plugins and policies in this namespace apply to every workload.
    #[arg(long, value_name = "NS", default_value = wasmesh_api::DEFAULT_ROOT_NAMESPACE)]
    root_namespace: String,
    /// Worker threads (0: one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    workers: usize,
    /// How long in-flight requests may take to finish after SIGTERM/SIGINT, like `10s`.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    drain_timeout: Duration,
    /// Where fetched modules and compiled code are cached.
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    wasmesh_api::duration::parse(s).map_err(|e| e.to_string())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (namespace, name) = args
        .workload
        .split_once('/')
        .filter(|(ns, n)| !ns.is_empty() && !n.is_empty() && !n.contains('/'))
        .with_context(|| format!("--workload {:?}: expected NAMESPACE/NAME", args.workload))?;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    wasmesh_proxy::run(wasmesh_proxy::Options {
        config_dir: args.config,
        workload: Workload {
            namespace: namespace.to_string(),
            name: name.to_string(),
        },
        admin: args.admin,
        root_namespace: args.root_namespace,
        workers: args.workers,
        drain_timeout: args.drain_timeout,
        cache_dir: args.cache_dir,
    })?;
    Ok(ExitCode::SUCCESS)
}
