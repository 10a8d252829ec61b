//! One benchmark run: every scenario once per round, in the same order each round, each
//! target started fresh (so peak RSS is its own), then cold start and reload latency.

use crate::{
    h2load,
    kube_scale::{self, KubeScale},
    peers::{self, Peer},
    procstat,
    profile::{self, Profile},
    scenario::{self, Chain, Env, Protocol, Scenario, Target},
    tls, wrk,
};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

pub struct Plan {
    pub duration: Duration,
    pub warmup: Duration,
    pub rounds: u32,
    pub connections: u32,
    /// h2load's connections and streams per connection in the h2 and h2c scenarios.
    pub h2_connections: u32,
    pub h2_streams: u32,
    /// Scenarios to profile with `perf` after the rounds (see `profile.rs`).
    pub profile: Vec<String>,
    /// Measure Kubernetes at scale (`kube_scale.rs`) after the rounds.
    pub kube_scale: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Run {
    pub machine: Machine,
    pub connections: u32,
    /// h2load's connections × streams per connection (h2 and h2c scenarios).
    #[serde(default)]
    pub h2_connections: Option<u32>,
    #[serde(default)]
    pub h2_streams: Option<u32>,
    pub duration_s: u64,
    pub rounds: u32,
    pub scenarios: Vec<ScenarioResult>,
    pub cold_start: Option<ColdStart>,
    pub reload_ms: Option<Vec<f64>>,
    pub notes: Vec<String>,
    /// Where the proxy's CPU went, per profiled scenario.
    #[serde(default)]
    pub profiles: Vec<Profile>,
    /// Kubernetes at scale, when measured.
    #[serde(default)]
    pub kube_scale: Option<KubeScale>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Machine {
    pub date: String,
    pub cpus: usize,
    pub cpu_model: String,
    pub nginx: String,
    pub wasmesh_rev: String,
    pub load_cpu: String,
    pub server_cpu: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ScenarioResult {
    pub name: String,
    pub title: String,
    pub plugins: Option<usize>,
    /// One entry per round that completed.
    pub rounds: Vec<RoundResult>,
    /// Why a round failed, if one did.
    pub errors: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, Clone)]
pub struct RoundResult {
    pub load: wrk::LoadResult,
    pub rps: f64,
    /// CPU seconds the proxy (all its processes) spent per 1000 requests; none for `direct`.
    pub cpu_s_per_1k: Option<f64>,
    pub peak_rss_bytes: Option<u64>,
    /// What the load generator negotiated (TLS version, cipher suite, group, ALPN; or h2c),
    /// in the TLS and HTTP/2 scenarios.
    #[serde(default)]
    pub negotiated: Option<String>,
}

impl ScenarioResult {
    /// The round with the median requests/s (the one reported).
    pub fn median(&self) -> Option<&RoundResult> {
        let mut v: Vec<&RoundResult> = self.rounds.iter().collect();
        v.sort_by(|a, b| a.rps.total_cmp(&b.rps));
        v.get(v.len() / 2).copied()
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ColdStart {
    /// Process start → first 200 through a one-plugin chain, empty compiled-module cache.
    pub cold_cache_ms: Vec<f64>,
    /// The same with the cache the previous start left.
    pub warm_cache_ms: Vec<f64>,
}

pub fn median(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

fn cmd_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| {
            let s = if o.stdout.is_empty() { o.stderr } else { o.stdout };
            String::from_utf8_lossy(&s).trim().to_string()
        })
        .unwrap_or_else(|_| "unknown".into())
}

fn machine(load_cpu: &str, server_cpu: &str) -> Machine {
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    Machine {
        date: cmd_line("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
        cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        cpu_model,
        nginx: cmd_line("nginx", &["-v"]),
        wasmesh_rev: cmd_line("git", &["rev-parse", "--short", "HEAD"]),
        load_cpu: load_cpu.into(),
        server_cpu: server_cpu.into(),
    }
}

pub fn run(plan: &Plan, scenarios: &[Scenario], work: &Path, plugins: &Path, wasmesh: &Path) -> Result<Run> {
    // Two cores: the load generator on one, proxy and upstream on the other — the same
    // layout for every scenario, so nginx and wasmesh meet the same contention.
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let (load_cpu, server_cpu) = if cpus >= 2 { ("0", "1") } else { ("0", "0") };
    let upstream_port = peers::free_port()?;
    let _upstream = peers::upstream(work, upstream_port, server_cpu)?;
    let tls = scenarios
        .iter()
        .any(|s| s.protocol.tls())
        .then(|| tls::Material::create(work))
        .transpose()?;
    let tls = tls.as_ref();
    let mut results: Vec<ScenarioResult> = scenarios
        .iter()
        .map(|s| ScenarioResult {
            name: s.name.into(),
            title: s.title.into(),
            plugins: s.plugins,
            rounds: vec![],
            errors: vec![],
        })
        .collect();

    for round in 1..=plan.rounds {
        for (scenario, result) in scenarios.iter().zip(results.iter_mut()) {
            eprint!("round {round}/{}: {:<14} ", plan.rounds, scenario.name);
            match one(
                plan,
                scenario,
                work,
                plugins,
                wasmesh,
                upstream_port,
                server_cpu,
                load_cpu,
                tls,
                None,
            ) {
                Ok((r, _)) => {
                    eprintln!(
                        "{:>9.0} req/s  p99 {:>6} µs  errors {}",
                        r.rps,
                        r.load.p99_us,
                        r.load.errors + r.load.non_2xx
                    );
                    result.rounds.push(r);
                }
                Err(e) => {
                    eprintln!("failed: {e:#}");
                    result.errors.push(format!("{e:#}"));
                }
            }
        }
    }

    let mut notes = vec![];
    let mut profiles = vec![];
    for scenario in scenarios
        .iter()
        .filter(|s| plan.profile.iter().any(|p| p == s.name))
    {
        eprint!("profile: {:<14} ", scenario.name);
        let data = work.join(format!("perf-{}.data", scenario.name));
        let taken = one(
            plan,
            scenario,
            work,
            plugins,
            wasmesh,
            upstream_port,
            server_cpu,
            load_cpu,
            tls,
            Some(&data),
        )
        .and_then(|(r, data)| {
            let data = data.context("the scenario has no proxy process to profile")?;
            Ok(Profile {
                scenario: scenario.name.into(),
                cpu_us_per_req: r.cpu_s_per_1k.unwrap_or(f64::NAN) * 1000.0,
                symbols: profile::read(&data)?,
            })
        });
        match taken {
            Ok(p) => {
                eprintln!(
                    "{:.1} µs proxy CPU per request, {} symbols",
                    p.cpu_us_per_req,
                    p.symbols.len()
                );
                profiles.push(p);
            }
            Err(e) => {
                eprintln!("failed: {e:#}");
                notes.push(format!("profile of {} not taken: {e:#}", scenario.name));
            }
        }
    }
    let cold_start = cold_start(work, plugins, wasmesh, upstream_port, server_cpu)
        .map_err(|e| notes.push(format!("cold start not measured: {e:#}")))
        .ok();
    let reload_ms = reload(work, plugins, wasmesh, upstream_port, server_cpu)
        .map_err(|e| notes.push(format!("reload latency not measured: {e:#}")))
        .ok();
    let kube_scale = if plan.kube_scale {
        eprint!("{}: ", kube_scale::NAME);
        match kube_scale::measure(work, plugins, wasmesh, upstream_port, server_cpu) {
            Ok(k) => {
                eprintln!(
                    "ready in {:.0} ms, {:.1} MiB, a change served in {:.0} ms (median)",
                    k.ready_ms,
                    k.rss_bytes as f64 / 1024.0 / 1024.0,
                    median(&k.change_ms).unwrap_or(f64::NAN)
                );
                Some(k)
            }
            Err(e) => {
                eprintln!("failed: {e:#}");
                notes.push(format!("Kubernetes at scale not measured: {e:#}"));
                None
            }
        }
    } else {
        None
    };
    Ok(Run {
        machine: machine(load_cpu, server_cpu),
        connections: plan.connections,
        h2_connections: scenarios
            .iter()
            .any(|s| s.protocol.h2())
            .then_some(plan.h2_connections),
        h2_streams: scenarios
            .iter()
            .any(|s| s.protocol.h2())
            .then_some(plan.h2_streams),
        duration_s: plan.duration.as_secs(),
        rounds: plan.rounds,
        scenarios: results,
        cold_start,
        reload_ms,
        notes,
        profiles,
        kube_scale,
    })
}

#[allow(clippy::too_many_arguments)]
fn one(
    plan: &Plan,
    scenario: &Scenario,
    work: &Path,
    plugins: &Path,
    wasmesh: &Path,
    upstream_port: u16,
    server_cpu: &str,
    load_cpu: &str,
    tls: Option<&tls::Material>,
    perf_out: Option<&Path>,
) -> Result<(RoundResult, Option<PathBuf>)> {
    let header = scenario::request_header(scenario)?;
    let protocol = scenario.protocol;
    let tls = if protocol.tls() {
        Some(tls.context("a TLS scenario without the run's certificate")?)
    } else {
        None
    };
    let openssl_conf = tls.map(|t| t.client_conf.as_path());
    let url_of = |port: u16| format!("{}://127.0.0.1:{port}{}", protocol.scheme(), scenario.path);
    // What the first request negotiated (TLS and HTTP/2 scenarios).
    let mut negotiated: Option<h2load::Handshake> = None;
    let (port, proxy): (u16, Option<Peer>) = match &scenario.target {
        Target::Direct => (upstream_port, None),
        Target::Nginx => {
            let port = peers::free_port()?;
            let peer = peers::nginx_proxy(work, port, upstream_port, server_cpu, protocol, tls)?;
            if protocol != Protocol::Http1 {
                negotiated = Some(h2load::probe(&url_of(port), !protocol.h2(), openssl_conf)?);
            }
            (port, Some(peer))
        }
        Target::Wasmesh(chain) => {
            let port = peers::free_port()?;
            let env = Env {
                plugins,
                listen_port: port,
                upstream_port,
                tls,
            };
            let config = work.join(format!("config-{}", scenario.name));
            scenario::write_config(&config, chain, &env)?;
            let mut peer = start_wasmesh(
                work,
                wasmesh,
                &config,
                &work.join("cache"),
                server_cpu,
                scenario.name,
            )?;
            if protocol == Protocol::Http1 {
                wait_ready(
                    port,
                    scenario.path,
                    header.as_deref(),
                    &mut peer,
                    work,
                    scenario.name,
                )?;
                let (_, response) = peers::get(port, scenario.path, header.as_deref())?;
                scenario::check_chain(chain, &response)?;
            } else {
                // The chain check reads a plain HTTP/1.1 response; these scenarios run none.
                anyhow::ensure!(
                    *chain == Chain::Headers(0),
                    "{}: TLS and HTTP/2 scenarios run wasmesh without plugins",
                    scenario.name
                );
                let ready = h2load::wait_ready(
                    &url_of(port),
                    !protocol.h2(),
                    openssl_conf,
                    Duration::from_secs(30),
                    || peer.exited().map(|s| format!("wasmesh exited ({s})")),
                );
                match ready {
                    Ok(h) => negotiated = Some(h),
                    Err(e) => bail!("{e:#}; log tail:\n{}", log_tail(work, scenario.name)),
                }
            }
            (port, Some(peer))
        }
    };
    if let Some(h) = &negotiated {
        check_negotiated(protocol, h)?;
    }
    let url = url_of(port);
    let h2_log = work.join("h2load.log");
    let load = |duration| -> Result<wrk::LoadResult> {
        if protocol.h2() {
            let (result, handshake) = h2load::run(&h2load::Load {
                url: &url,
                connections: plan.h2_connections,
                streams: plan.h2_streams,
                duration,
                header: header.as_deref(),
                cpu: load_cpu,
                openssl_conf,
                log: &h2_log,
            })?;
            check_negotiated(protocol, &handshake)?;
            Ok(result)
        } else {
            wrk::run(
                work,
                &wrk::Load {
                    url: &url,
                    connections: plan.connections,
                    duration,
                    header: header.as_deref(),
                    cpu: load_cpu,
                    openssl_conf,
                },
            )
        }
    };
    load(plan.warmup)?;
    let pids = proxy
        .as_ref()
        .map(|p| procstat::with_children(p.pid()))
        .unwrap_or_default();
    for pid in &pids {
        if let Err(e) = procstat::reset_peak_rss(*pid) {
            eprintln!("bench: peak RSS includes start-up: {e:#}");
        }
    }
    let recording = match perf_out {
        Some(out) if !pids.is_empty() => Some(profile::start(&pids, out)?),
        _ => None,
    };
    let cpu_before: f64 = pids.iter().filter_map(|p| procstat::cpu_seconds(*p).ok()).sum();
    let result = load(plan.duration)?;
    let cpu_after: f64 = pids.iter().filter_map(|p| procstat::cpu_seconds(*p).ok()).sum();
    let perf_data = recording.map(profile::Recording::stop).transpose()?;
    let peak_rss_bytes = if pids.is_empty() {
        None
    } else {
        Some(
            pids.iter()
                .filter_map(|p| procstat::peak_rss_bytes(*p).ok())
                .sum(),
        )
    };
    if result.requests == 0 {
        bail!("no request completed");
    }
    let bad = result.errors + result.non_2xx;
    if bad * 100 > result.requests {
        bail!("{bad} of {} requests failed or were not 2xx", result.requests);
    }
    drop(proxy);
    let round = RoundResult {
        rps: result.requests_per_second(),
        cpu_s_per_1k: (!pids.is_empty()).then(|| (cpu_after - cpu_before) * 1000.0 / result.requests as f64),
        peak_rss_bytes,
        load: result,
        negotiated: negotiated.map(|h| h.to_string()),
    };
    Ok((round, perf_data))
}

/// The handshake must be the pinned TLS version and suite (see `tls.rs`) and the
/// scenario's protocol, or the scenario would measure something else than it says.
fn check_negotiated(protocol: Protocol, h: &h2load::Handshake) -> Result<()> {
    let want_protocol = protocol.application_protocol();
    let tls_ok = if protocol.tls() {
        h.tls.as_deref() == Some(tls::VERSION) && h.cipher.as_deref() == Some(tls::SUITE)
    } else {
        h.tls.is_none()
    };
    anyhow::ensure!(
        tls_ok && h.protocol.as_deref() == Some(want_protocol),
        "negotiated {h}, expected {} {want_protocol}",
        if protocol.tls() {
            format!("{} {}, ALPN", tls::VERSION, tls::SUITE)
        } else {
            "no TLS,".to_string()
        }
    );
    Ok(())
}

fn log_tail(work: &Path, name: &str) -> String {
    let log = std::fs::read_to_string(work.join(format!("wasmesh-{name}.log"))).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(15).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
}

fn start_wasmesh(
    work: &Path,
    binary: &Path,
    config: &Path,
    cache: &Path,
    cpu: &str,
    name: &str,
) -> Result<Peer> {
    let admin = peers::free_port()?;
    peers::wasmesh(
        binary,
        config,
        cache,
        admin,
        cpu,
        &work.join(format!("wasmesh-{name}.log")),
    )
}

fn wait_ready(
    port: u16,
    path: &str,
    header: Option<&str>,
    peer: &mut Peer,
    work: &Path,
    name: &str,
) -> Result<Duration> {
    let start = Instant::now();
    let mut last = String::from("no answer");
    while start.elapsed() < Duration::from_secs(30) {
        if let Some(status) = peer.exited() {
            last = format!("wasmesh exited ({status})");
            break;
        }
        match peers::get(port, path, header) {
            Ok((200, _)) => return Ok(start.elapsed()),
            Ok((status, _)) => last = format!("status {status}"),
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    bail!(
        "wasmesh gave no 200 (last: {last}); log tail:\n{}",
        log_tail(work, name)
    )
}

fn cold_start(
    work: &Path,
    plugins: &Path,
    wasmesh: &Path,
    upstream_port: u16,
    cpu: &str,
) -> Result<ColdStart> {
    let mut cold = vec![];
    let mut warm = vec![];
    for i in 0..3 {
        let cache = work.join(format!("cold-cache-{i}"));
        if cache.exists() {
            std::fs::remove_dir_all(&cache)?;
        }
        for (label, into) in [("cold", &mut cold), ("warm", &mut warm)] {
            let port = peers::free_port()?;
            let env = Env {
                plugins,
                listen_port: port,
                upstream_port,
                tls: None,
            };
            let config = work.join("config-cold-start");
            scenario::write_config(&config, &scenario::Chain::Headers(1), &env)?;
            let start = Instant::now();
            let mut peer = start_wasmesh(
                work,
                wasmesh,
                &config,
                &cache,
                cpu,
                &format!("cold-start-{label}"),
            )?;
            wait_ready(port, "/", None, &mut peer, work, &format!("cold-start-{label}"))?;
            into.push(start.elapsed().as_secs_f64() * 1000.0);
        }
    }
    Ok(ColdStart {
        cold_cache_ms: cold,
        warm_cache_ms: warm,
    })
}

/// File change → first response carrying the new plugin configuration.
fn reload(work: &Path, plugins: &Path, wasmesh: &Path, upstream_port: u16, cpu: &str) -> Result<Vec<f64>> {
    let port = peers::free_port()?;
    let env = Env {
        plugins,
        listen_port: port,
        upstream_port,
        tls: None,
    };
    let config = work.join("config-reload");
    scenario::write_config(&config, &scenario::Chain::Headers(0), &env)?;
    scenario::write_header_plugin(&config, &env, "v0")?;
    let mut peer = start_wasmesh(work, wasmesh, &config, &work.join("cache"), cpu, "reload")?;
    wait_ready(port, "/", None, &mut peer, work, "reload")?;
    // Time each change from a state where the previous value is known to be in force.
    let (_, first) = peers::get(port, "/", None)?;
    scenario::check_chain(&scenario::Chain::Headers(1), &first)?;
    let mut times = vec![];
    for i in 1..=5 {
        let value = format!("v{i}");
        let start = Instant::now();
        scenario::write_header_plugin(&config, &env, &value)?;
        let wanted = format!("x-wasm-response: {value}");
        loop {
            let (_, response) = peers::get(port, "/", None).context("request during reload")?;
            if response.to_ascii_lowercase().contains(&wanted) {
                break;
            }
            if start.elapsed() > Duration::from_secs(10) {
                bail!("the new configuration ({value}) was not visible within 10s");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    drop(peer);
    Ok(times)
}
