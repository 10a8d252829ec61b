//! Drives `wrk` and reads its results as data: a Lua `done` hook prints one JSON line with
//! the request count, errors and latency percentiles (wrk's own text output lacks p99.9).

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::{path::Path, process::Command, time::Duration};

/// The Lua script handed to wrk. Headers for the request come from the environment so the
/// same script serves every scenario.
const SCRIPT: &str = r#"
local hdr = os.getenv("BENCH_HEADER")
if hdr and hdr ~= "" then
  local name, value = hdr:match("^([^:]+):%s*(.*)$")
  wrk.headers[name] = value
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"errors":%d,"non_2xx":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end
"#;

/// One load run's results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadResult {
    pub requests: u64,
    pub duration_us: u64,
    pub bytes: u64,
    pub errors: u64,
    pub non_2xx: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

impl LoadResult {
    pub fn requests_per_second(&self) -> f64 {
        self.requests as f64 / (self.duration_us as f64 / 1e6)
    }
}

/// How to load a target.
pub struct Load<'a> {
    pub url: &'a str,
    pub connections: u32,
    pub duration: Duration,
    pub header: Option<&'a str>,
    /// The CPU the load generator is pinned to.
    pub cpu: &'a str,
    /// For https URLs: the run's OpenSSL client configuration (`OPENSSL_CONF`), which
    /// limits wrk to the pinned TLS version and cipher suite (see `tls.rs`).
    pub openssl_conf: Option<&'a Path>,
}

pub fn run(work: &Path, load: &Load<'_>) -> Result<LoadResult> {
    let script = work.join("report.lua");
    if !script.exists() {
        std::fs::write(&script, SCRIPT).with_context(|| format!("writing {}", script.display()))?;
    }
    let mut cmd = Command::new("taskset");
    if let Some(conf) = load.openssl_conf {
        cmd.env("OPENSSL_CONF", conf);
    }
    let out = cmd
        .args(["-c", load.cpu, "wrk", "-t1"])
        .arg(format!("-c{}", load.connections))
        .arg(format!("-d{}s", load.duration.as_secs().max(1)))
        .arg("-s")
        .arg(&script)
        .arg(load.url)
        .env("BENCH_HEADER", load.header.unwrap_or(""))
        .output()
        .context("running wrk (is it installed? bench/run.sh installs it)")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "wrk failed on {}: {}{}",
            load.url,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let line = stdout
        .lines()
        .find(|l| l.starts_with('{'))
        .with_context(|| format!("wrk printed no result line for {}:\n{stdout}", load.url))?;
    serde_json::from_str(line).with_context(|| format!("parsing wrk result {line}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_scripts_line() {
        let r: LoadResult = serde_json::from_str(
            r#"{"requests":1000,"duration_us":2000000,"bytes":5,"errors":0,"non_2xx":0,"p50_us":100,"p90_us":200,"p99_us":300,"p999_us":400,"max_us":500}"#,
        )
        .unwrap();
        assert_eq!(r.requests_per_second(), 500.0);
        assert_eq!(r.p999_us, 400);
    }
}
