//! The benchmark harness: runs wasmesh, nginx and the bare upstream side by side in one run,
//! alternating scenarios round by round so that the ratios hold on a noisy shared machine,
//! and writes `bench/results/*.json`, `BENCHMARKS.md` and a chart.
//!
//! Run it through `bench/run.sh` (it builds the release binary and the plugins first).

mod chart;
mod h2load;
mod jwt;
mod kube_scale;
mod measure;
mod oidc;
mod peers;
mod procstat;
mod profile;
mod report;
mod scenario;
mod tls;
mod wrk;

use anyhow::{Context, Result};
use clap::Parser;
use std::{path::PathBuf, time::Duration};

#[derive(Parser, Debug)]
#[command(about = "wasmesh benchmark harness")]
pub struct Args {
    /// Quick mode: one round of short runs (under two minutes in all).
    #[arg(long)]
    pub short: bool,
    /// The wasmesh binary to measure (bench/run.sh builds it with the `dist` profile).
    #[arg(long, default_value = "target/dist/wasmesh")]
    pub wasmesh: PathBuf,
    /// Directory holding the plugin modules (headers.wasm, body.wasm).
    #[arg(long, default_value = "target/wasm-plugins/wasm32-wasip1/release")]
    pub plugins: PathBuf,
    /// Scratch directory for configs, logs and caches.
    #[arg(long, default_value = "bench/work")]
    pub work: PathBuf,
    /// Where the JSON results go.
    #[arg(long, default_value = "bench/results")]
    pub results: PathBuf,
    /// The Markdown report to write.
    #[arg(long, default_value = "BENCHMARKS.md")]
    pub report: PathBuf,
    /// Open connections of the load generator.
    #[arg(long, default_value_t = 50)]
    pub connections: u32,
    /// h2load's connections in the h2 and h2c scenarios.
    #[arg(long, default_value_t = 10)]
    pub h2_connections: u32,
    /// h2load's concurrent streams per connection in the h2 and h2c scenarios (with the
    /// default 10 connections, 50 requests in flight: as many as wrk's 50 connections).
    #[arg(long, default_value_t = 5)]
    pub h2_streams: u32,
    /// Seconds per measured run (default: 3 short, 10 full).
    #[arg(long)]
    pub duration: Option<u64>,
    /// Rounds over all scenarios (default: 1 short, 3 full).
    #[arg(long)]
    pub rounds: Option<u32>,
    /// Only these scenarios (comma-separated names, e.g. nginx,wasmesh-0; `kube-scale`:
    /// Kubernetes at scale, the proxy following 1,000 WasmPlugins on the API server double).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Profile these scenarios with `perf` after the rounds: one more measured run each,
    /// summarised in the report as CPU µs per request by part and by function (default in
    /// full mode: wasmesh-0,wasmesh-1,wasmesh-10,wasmesh-body; none in short mode).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub profile: Option<Vec<String>>,
    /// Take no profile.
    #[arg(long, conflicts_with = "profile")]
    pub no_profile: bool,
    /// Measure nothing: write the report and chart again from a results file (e.g.
    /// bench/results/latest.json), for a report whose layout changed.
    #[arg(long, value_name = "JSON")]
    pub report_from: Option<PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(path) = &args.report_from {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let run: measure::Run = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a results file", path.display()))?;
        let mode = if run.rounds > 1 { "full" } else { "short" };
        std::fs::write(args.results.join("chart.svg"), chart::svg(&run))?;
        std::fs::write(&args.report, report::markdown(&run, mode))?;
        println!("wrote {} from {}", args.report.display(), path.display());
        return Ok(());
    }
    let plan = measure::Plan {
        duration: Duration::from_secs(args.duration.unwrap_or(if args.short { 3 } else { 10 })),
        warmup: Duration::from_secs(1),
        rounds: args.rounds.unwrap_or(if args.short { 1 } else { 3 }),
        connections: args.connections,
        h2_connections: args.h2_connections,
        h2_streams: args.h2_streams,
        profile: match (&args.profile, args.no_profile || args.short) {
            (Some(names), _) => names.clone(),
            (None, true) => vec![],
            (None, false) => ["wasmesh-0", "wasmesh-1", "wasmesh-10", "wasmesh-body"]
                .map(String::from)
                .to_vec(),
        },
        kube_scale: args.only.is_empty() || args.only.iter().any(|o| o == kube_scale::NAME),
    };
    if !plan.profile.is_empty() && !profile::available() {
        anyhow::bail!("--profile needs perf (Debian package linux-perf); or pass --no-profile");
    }
    std::fs::create_dir_all(&args.work)?;
    std::fs::create_dir_all(&args.results)?;
    let work = std::fs::canonicalize(&args.work)?;
    let plugins = std::fs::canonicalize(&args.plugins)
        .with_context(|| format!("plugin modules not found in {}", args.plugins.display()))?;
    let wasmesh = std::fs::canonicalize(&args.wasmesh)
        .with_context(|| format!("wasmesh binary not found at {}", args.wasmesh.display()))?;
    let scenarios: Vec<_> = scenario::all()
        .into_iter()
        .filter(|s| args.only.is_empty() || args.only.iter().any(|o| o == s.name))
        .collect();

    let run = measure::run(&plan, &scenarios, &work, &plugins, &wasmesh)?;
    let stamp = run.machine.date.replace([':', '-'], "");
    let json = serde_json::to_string_pretty(&run)?;
    let mode = if args.short { "short" } else { "full" };
    std::fs::write(args.results.join(format!("{stamp}-{mode}.json")), &json)?;
    std::fs::write(args.results.join("latest.json"), &json)?;
    std::fs::write(args.results.join("chart.svg"), chart::svg(&run))?;
    std::fs::write(&args.report, report::markdown(&run, mode))?;
    println!("\n{}", report::table(&run));
    println!(
        "wrote {}, {} and {}",
        args.report.display(),
        args.results.join("latest.json").display(),
        args.results.join("chart.svg").display()
    );
    Ok(())
}
