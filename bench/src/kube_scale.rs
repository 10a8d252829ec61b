//! Kubernetes at scale (`kube-scale`): the real `wasmesh proxy --kubernetes` against the
//! API server double (the test kit's; no API server runs on these machines) holding 1,000
//! WasmPlugins in 100 namespaces, and how long it takes to be ready, how much memory it then
//! holds, and how long one plugin's change takes to reach the data plane.
//!
//! The mix: the gateway (`istio-system/gateway`, labels `istio: ingressgateway`) lives in
//! the root namespace, where 8 of its 10 plugins select it by labels and 2 select another
//! workload; each of the 99 other namespaces holds 10 plugins for its own workloads (by
//! labels, one by `targetRefs` to a Gateway there), which no plugin of theirs can select the
//! gateway for (a WasmPlugin applies in its own namespace or from the root one). So the proxy
//! follows, parses and validates all 1,000 and runs 8. Every plugin names the same small
//! module (`headers.wasm`) by a `file://` URL, so fetching does not dominate and the module
//! cache serves every plugin after the first.

use crate::peers::{self, Peer};
use crate::procstat;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use wasmesh_testkit::apiserver::ApiServer;

/// The scenario's name for `--only`.
pub const NAME: &str = "kube-scale";
const NAMESPACES: usize = 100;
const PLUGINS_PER_NAMESPACE: usize = 10;
/// Of the root namespace's plugins, how many select the gateway.
const SELECTING_GATEWAY: usize = 8;
const ROOT: &str = "istio-system";
/// Changes timed.
const CHANGES: usize = 5;

#[derive(Debug, Serialize, Deserialize, Clone)]
pub struct KubeScale {
    pub plugins: usize,
    pub namespaces: usize,
    /// Plugins in the gateway's chain.
    pub selected: usize,
    /// Process start → `/ready` 200.
    pub ready_ms: f64,
    /// Process start → the first response through every selected plugin.
    pub first_chain_ms: f64,
    /// Resident memory (VmRSS) once ready and the chain answers.
    pub rss_bytes: u64,
    /// Process start → every WasmPlugin's status written for its generation.
    #[serde(default)]
    pub statuses_ms: Option<f64>,
    /// Resident memory after the changes, with every status written.
    pub rss_settled_bytes: u64,
    /// One plugin's `pluginConfig` changed on the API server → first response showing it.
    pub change_ms: Vec<f64>,
    /// A restart with the compiled-module cache the first start left: start → `/ready` 200,
    /// the Kubernetes part without the compile.
    #[serde(default)]
    pub ready_warm_ms: Option<f64>,
    /// Resident memory once ready after that restart (no module compiled in the process).
    #[serde(default)]
    pub rss_warm_bytes: Option<u64>,
    /// The proxy's CPU time (user + system) from its start to `/ready`, cold and warm: the
    /// rest of the time it waited (on the API server, on the compile's threads).
    #[serde(default)]
    pub cpu_to_ready_ms: Option<f64>,
    #[serde(default)]
    pub cpu_to_ready_warm_ms: Option<f64>,
    /// The proxy's CPU use with nothing changing and no requests, every status written
    /// (% of one core, over [`IDLE`]): what following 1,000 objects costs at rest.
    #[serde(default)]
    pub idle_cpu_percent: Option<f64>,
}

/// How long the proxy's CPU at rest is measured.
const IDLE: Duration = Duration::from_secs(5);

/// Runs the measurement once.
pub fn measure(
    work: &Path,
    plugins: &Path,
    wasmesh: &Path,
    upstream_port: u16,
    cpu: &str,
) -> Result<KubeScale> {
    let server = ApiServer::start().context("starting the API server double")?;
    let module = plugins.join("headers.wasm");
    anyhow::ensure!(module.is_file(), "{} is missing", module.display());
    let listen_port = peers::free_port()?;
    load(&server, wasmesh, &module, listen_port, upstream_port)?;
    let kubeconfig = server.kubeconfig().context("writing the double's kubeconfig")?;
    let cache = work.join("cache-kube-scale");
    if cache.exists() {
        std::fs::remove_dir_all(&cache)?;
    }
    let admin = peers::free_port()?;
    let log = work.join(format!("wasmesh-{NAME}.log"));
    let start = Instant::now();
    let mut peer = peers::wasmesh_kubernetes(
        wasmesh,
        kubeconfig.path(),
        &format!("{ROOT}/gateway"),
        &cache,
        admin,
        cpu,
        &log,
    )?;
    let ready_ms = wait(&mut peer, &log, start, || {
        Ok(peers::get(admin, "/ready", None).is_ok_and(|(status, _)| status == 200))
    })?;
    let cpu_to_ready_ms = procstat::cpu_seconds(peer.pid())? * 1000.0;
    let first_chain_ms = wait(&mut peer, &log, start, || {
        Ok(peers::get(listen_port, "/", None)
            .is_ok_and(|(status, r)| status == 200 && headers(&r) == SELECTING_GATEWAY))
    })?;
    let rss_bytes = procstat::rss_bytes(peer.pid())?;
    let statuses_ms = wait(&mut peer, &log, start, || statuses_written(&server))?;
    let mut change_ms = Vec::new();
    for i in 1..=CHANGES {
        // the previous change (and the status writes after it) settle first
        std::thread::sleep(Duration::from_secs(1));
        let value = format!("changed-{i}");
        let patch = json!({
            "apiVersion": "extensions.istio.io/v1alpha1",
            "kind": "WasmPlugin",
            "metadata": { "name": "plugin-0", "namespace": ROOT },
            "spec": { "pluginConfig": { "value": value } },
        });
        let start = Instant::now();
        server
            .merge_patch(&patch)
            .map_err(|e| anyhow::anyhow!("patching {ROOT}/plugin-0: {e}"))?;
        let wanted = format!("x-wasm-response: {value}");
        loop {
            let (_, response) = peers::get(listen_port, "/", None).context("a request during the change")?;
            if response.to_ascii_lowercase().contains(&wanted) {
                break;
            }
            if start.elapsed() > Duration::from_secs(30) {
                bail!("{value} not served within 30 s; log tail:\n{}", tail(&log));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        change_ms.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    let rss_settled_bytes = procstat::rss_bytes(peer.pid())?;
    // the last change's status written, then nothing moves
    wait(&mut peer, &log, start, || statuses_written(&server))?;
    let before = procstat::cpu_seconds(peer.pid())?;
    std::thread::sleep(IDLE);
    let idle_cpu_percent = (procstat::cpu_seconds(peer.pid())? - before) * 100.0 / IDLE.as_secs_f64();
    drop(peer);
    let start = Instant::now();
    let log = work.join(format!("wasmesh-{NAME}-warm.log"));
    let mut peer = peers::wasmesh_kubernetes(
        wasmesh,
        kubeconfig.path(),
        &format!("{ROOT}/gateway"),
        &cache,
        admin,
        cpu,
        &log,
    )?;
    let ready_warm_ms = wait(&mut peer, &log, start, || {
        Ok(peers::get(admin, "/ready", None).is_ok_and(|(status, _)| status == 200))
    })?;
    let cpu_to_ready_warm_ms = procstat::cpu_seconds(peer.pid())? * 1000.0;
    let rss_warm_bytes = procstat::rss_bytes(peer.pid())?;
    drop(peer);
    Ok(KubeScale {
        plugins: NAMESPACES * PLUGINS_PER_NAMESPACE,
        namespaces: NAMESPACES,
        selected: SELECTING_GATEWAY,
        ready_ms,
        first_chain_ms,
        rss_bytes,
        statuses_ms: Some(statuses_ms),
        rss_settled_bytes,
        change_ms,
        ready_warm_ms: Some(ready_warm_ms),
        rss_warm_bytes: Some(rss_warm_bytes),
        cpu_to_ready_ms: Some(cpu_to_ready_ms),
        cpu_to_ready_warm_ms: Some(cpu_to_ready_warm_ms),
        idle_cpu_percent: Some(idle_cpu_percent),
    })
}

/// Whether every WasmPlugin on the double has a status for its generation (read as a
/// client reads it, one list).
fn statuses_written(server: &ApiServer) -> Result<bool> {
    let (status, response) = peers::get(
        server.addr().port(),
        "/apis/extensions.istio.io/v1alpha1/wasmplugins",
        None,
    )?;
    anyhow::ensure!(status == 200, "listing the WasmPlugins: status {status}");
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let list: Value = serde_json::from_str(body).context("the WasmPlugin list")?;
    let items = list["items"].as_array().context("a list without items")?;
    let written = items
        .iter()
        .filter(|p| p["status"]["observedGeneration"] == p["metadata"]["generation"])
        .count();
    // not every poll: a list of 1,000 is not free for the double either
    std::thread::sleep(Duration::from_millis(100));
    Ok(written == items.len() && !items.is_empty())
}

/// How many `x-wasm-response` headers a response carries: one per header plugin run.
fn headers(response: &str) -> usize {
    response
        .to_ascii_lowercase()
        .matches("\r\nx-wasm-response:")
        .count()
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(15).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// Polls `done` until it holds (→ ms since `start`), the process exits, or 120 s pass.
fn wait(peer: &mut Peer, log: &Path, start: Instant, mut done: impl FnMut() -> Result<bool>) -> Result<f64> {
    while start.elapsed() < Duration::from_secs(120) {
        if let Some(status) = peer.exited() {
            bail!("wasmesh exited ({status}); log tail:\n{}", tail(log));
        }
        if done()? {
            return Ok(start.elapsed().as_secs_f64() * 1000.0);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    bail!("wasmesh not there within 120 s; log tail:\n{}", tail(log))
}

/// The CRDs (`wasmesh crds -o json`), the namespaces, the gateway's `Proxy` and the
/// plugins, straight into the double's store.
fn load(
    server: &ApiServer,
    wasmesh: &Path,
    module: &Path,
    listen_port: u16,
    upstream_port: u16,
) -> Result<()> {
    let create = |object: Value| {
        server
            .create(object)
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!("loading an object into the double: {e}"))
    };
    let output = Command::new(wasmesh)
        .args(["crds", "-o", "json"])
        .output()
        .context("running wasmesh crds")?;
    anyhow::ensure!(output.status.success(), "wasmesh crds failed");
    let crds: Value = serde_json::from_slice(&output.stdout).context("wasmesh crds -o json")?;
    for crd in crds["items"].as_array().context("wasmesh crds: no items")? {
        create(crd.clone())?;
    }
    for ns in namespaces() {
        create(json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": ns } }))?;
    }
    create(proxy(listen_port, upstream_port))?;
    for (n, ns) in namespaces().iter().enumerate() {
        for i in 0..PLUGINS_PER_NAMESPACE {
            create(plugin(n, ns, i, module))?;
        }
    }
    Ok(())
}

fn namespaces() -> Vec<String> {
    std::iter::once(ROOT.to_string())
        .chain((1..NAMESPACES).map(|n| format!("tenant-{n:02}")))
        .collect()
}

fn proxy(listen_port: u16, upstream_port: u16) -> Value {
    json!({
        "apiVersion": "wasmesh.io/v1alpha1",
        "kind": "Proxy",
        "metadata": { "name": "gateway", "namespace": ROOT, "labels": { "istio": "ingressgateway" } },
        "spec": {
            "listeners": [{
                "name": "http",
                "address": format!("127.0.0.1:{listen_port}"),
                "protocol": "http",
                "trafficDirection": "SERVER",
                "routes": [{ "name": "default", "match": { "prefix": "/" }, "cluster": "backend", "timeout": "15s" }],
            }],
            "clusters": [{
                "name": "backend",
                "endpoints": [format!("127.0.0.1:{upstream_port}")],
                "protocol": "http1",
                "connectTimeout": "1s",
            }],
        },
    })
}

/// Plugin `i` of namespace number `n` (0: the root namespace).
fn plugin(n: usize, namespace: &str, i: usize, module: &Path) -> Value {
    const PHASES: [&str; 4] = ["AUTHN", "AUTHZ", "STATS", "UNSPECIFIED_PHASE"];
    let mut spec = json!({
        "url": format!("file://{}", module.display()),
        "phase": PHASES[i % 4],
        "priority": i,
        "pluginConfig": { "value": format!("{namespace}-{i}") },
    });
    if n == 0 && i < SELECTING_GATEWAY {
        spec["selector"] = json!({ "matchLabels": { "istio": "ingressgateway" } });
    } else if n == 0 {
        spec["selector"] = json!({ "matchLabels": { "app": "egress" } });
    } else if i == PLUGINS_PER_NAMESPACE - 1 {
        spec["targetRefs"] =
            json!([{ "kind": "Gateway", "group": "gateway.networking.k8s.io", "name": "tenant-gateway" }]);
    } else {
        spec["selector"] = json!({ "matchLabels": { "app": format!("web-{}", i % 3) } });
    }
    json!({
        "apiVersion": "extensions.istio.io/v1alpha1",
        "kind": "WasmPlugin",
        "metadata": { "name": format!("plugin-{i}"), "namespace": namespace },
        "spec": spec,
    })
}
