//! Drives `h2load` (nghttp2) for the h2 and h2c scenarios and reads its results as data.
//!
//! h2load prints counts and req/s, and of the latency only min/max/mean/sd; it writes each
//! request's time (start to end of response) to `--log-file`, from which the percentiles
//! the report shows are computed. It exits 0 even when no request succeeded, so its
//! summary is always read and checked.

use crate::{tls, wrk::LoadResult};
use anyhow::{bail, Context, Result};
use std::{
    fmt,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

/// How to load a target.
pub struct Load<'a> {
    pub url: &'a str,
    pub connections: u32,
    /// Concurrent streams per connection (`-m`).
    pub streams: u32,
    pub duration: Duration,
    pub header: Option<&'a str>,
    /// The CPU h2load is pinned to.
    pub cpu: &'a str,
    /// The OpenSSL client configuration of the run, for https URLs.
    pub openssl_conf: Option<&'a Path>,
    /// Where the per-request log goes (removed once read).
    pub log: &'a Path,
}

/// What the connections negotiated, as h2load reports it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Handshake {
    /// `TLSv1.3`; none over plain TCP.
    pub tls: Option<String>,
    pub cipher: Option<String>,
    /// The key exchange group, e.g. `X25519 253 bits`.
    pub temp_key: Option<String>,
    /// `h2`, `http/1.1` (ALPN) or `h2c`.
    pub protocol: Option<String>,
}

impl fmt::Display for Handshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let protocol = self.protocol.as_deref().unwrap_or("?");
        match (&self.tls, &self.cipher) {
            (Some(tls), Some(cipher)) => {
                let group = self
                    .temp_key
                    .as_deref()
                    .and_then(|k| k.split_whitespace().next())
                    .unwrap_or("?");
                write!(f, "{tls} {cipher} {group}, ALPN {protocol}")
            }
            _ => write!(f, "{protocol} (no TLS)"),
        }
    }
}

/// h2load's summary of a run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Summary {
    pub done: u64,
    pub succeeded: u64,
    /// Requests that failed, HTTP-level failures included (`errored` and `timeout` are
    /// kinds of failure).
    pub failed: u64,
    pub rps: f64,
    pub bytes: u64,
    pub status_2xx: u64,
    pub status_other: u64,
    pub handshake: Handshake,
    /// h2load's own `time for request` line (min, max, mean, sd), as printed.
    pub request_time: Option<String>,
}

/// Latency percentiles from the per-request log, in µs.
#[derive(Debug, Clone, PartialEq)]
pub struct Latencies {
    pub count: usize,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

/// h2load, pinned to `cpu` if given.
fn command(cpu: Option<&str>, openssl_conf: Option<&Path>, header: Option<&str>) -> Command {
    let mut cmd = match cpu {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.args(["-c", cpu, "h2load"]);
            c
        }
        None => Command::new("h2load"),
    };
    if let Some(conf) = openssl_conf {
        cmd.env("OPENSSL_CONF", conf);
        cmd.arg(format!("--tls13-ciphers={}", tls::SUITE));
    }
    if let Some(h) = header {
        cmd.args(["-H", h]);
    }
    cmd
}

fn output(mut cmd: Command, url: &str) -> Result<String> {
    let out = cmd
        .output()
        .context("running h2load (is it installed? bench/run.sh installs nghttp2-client)")?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "h2load failed on {url}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(stdout)
}

/// One timed run; the result has the same shape as wrk's.
pub fn run(load: &Load<'_>) -> Result<(LoadResult, Handshake)> {
    // h2load appends to its log file.
    let _ = std::fs::remove_file(load.log);
    let mut cmd = command(Some(load.cpu), load.openssl_conf, load.header);
    cmd.args(["-t1"])
        .arg(format!("-c{}", load.connections))
        .arg(format!("-m{}", load.streams))
        .arg(format!("-D{}", load.duration.as_secs().max(1)))
        .arg(format!("--log-file={}", load.log.display()))
        .arg(load.url);
    let text = output(cmd, load.url)?;
    let summary =
        parse_summary(&text).with_context(|| format!("reading h2load's output for {}", load.url))?;
    let log = std::fs::read_to_string(load.log)
        .with_context(|| format!("reading h2load's log {}", load.log.display()))?;
    let _ = std::fs::remove_file(load.log);
    let lat = latencies(&log).with_context(|| format!("h2load's log for {}", load.url))?;
    if summary.rps <= 0.0 || summary.done == 0 {
        bail!("h2load completed no request on {}:\n{text}", load.url);
    }
    let result = LoadResult {
        requests: summary.done,
        // h2load's req/s is requests done over the main duration; keep it exactly.
        duration_us: (summary.done as f64 / summary.rps * 1e6).round() as u64,
        bytes: summary.bytes,
        errors: summary.failed,
        non_2xx: summary.status_other,
        p50_us: lat.p50,
        p90_us: lat.p90,
        p99_us: lat.p99,
        p999_us: lat.p999,
        max_us: lat.max,
    };
    Ok((result, summary.handshake))
}

/// One request on one connection (`--h1` for HTTP/1.1, by ALPN over TLS); the handshake
/// if it succeeded.
pub fn probe(url: &str, h1: bool, openssl_conf: Option<&Path>) -> Result<Handshake> {
    let mut cmd = command(None, openssl_conf, None);
    cmd.args(["-n1", "-c1"]);
    if h1 {
        cmd.arg("--h1");
    }
    cmd.arg(url);
    let text = output(cmd, url)?;
    let summary = parse_summary(&text)?;
    if summary.status_2xx != 1 {
        bail!("no 200 from {url}: {}", last_lines(&text));
    }
    Ok(summary.handshake)
}

/// Probes until the target answers 200 or `within` passes; `gone` says why to stop early
/// (the process exited).
pub fn wait_ready(
    url: &str,
    h1: bool,
    openssl_conf: Option<&Path>,
    within: Duration,
    mut gone: impl FnMut() -> Option<String>,
) -> Result<Handshake> {
    let start = Instant::now();
    let mut last = String::from("no answer");
    while start.elapsed() < within {
        if let Some(why) = gone() {
            last = why;
            break;
        }
        match probe(url, h1, openssl_conf) {
            Ok(h) => return Ok(h),
            Err(e) => last = format!("{e:#}"),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("{url} gave no 200 to h2load within {within:?} (last: {last})")
}

fn last_lines(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(4)..].join(" / ")
}

/// Reads h2load's printed summary.
pub fn parse_summary(text: &str) -> Result<Summary> {
    let mut s = Summary::default();
    let mut saw_requests = false;
    for line in text.lines() {
        let value = |prefix: &str| line.strip_prefix(prefix).map(|v| v.trim().to_string());
        if let Some(v) = value("TLS Protocol:") {
            s.handshake.tls = Some(v);
        } else if let Some(v) = value("Cipher:") {
            s.handshake.cipher = Some(v);
        } else if let Some(v) = value("Server Temp Key:") {
            s.handshake.temp_key = Some(v);
        } else if let Some(v) = value("Application protocol:") {
            s.handshake.protocol = Some(v);
        } else if let Some(v) = value("finished in") {
            // `finished in 5.00s, 34561.20 req/s, 2.87MB/s`
            let rps = v.split(", ").nth(1).and_then(|r| r.strip_suffix(" req/s"));
            s.rps = rps
                .with_context(|| format!("no req/s in {line:?}"))?
                .parse()
                .with_context(|| format!("bad req/s in {line:?}"))?;
        } else if let Some(v) = value("requests:") {
            // `requests: 10 total, 10 started, 10 done, 9 succeeded, 1 failed, 1 errored, 0 timeout`
            s.done = count(&v, "done", line)?;
            s.succeeded = count(&v, "succeeded", line)?;
            s.failed = count(&v, "failed", line)?;
            saw_requests = true;
        } else if let Some(v) = value("status codes:") {
            // `status codes: 172806 2xx, 0 3xx, 0 4xx, 0 5xx`
            s.status_2xx = count(&v, "2xx", line)?;
            s.status_other = count(&v, "3xx", line)? + count(&v, "4xx", line)? + count(&v, "5xx", line)?;
        } else if let Some(v) = value("traffic:") {
            // `traffic: 14.34MB (15034122) total, ...`: the exact count is in parentheses.
            s.bytes = v
                .split_once('(')
                .and_then(|(_, rest)| rest.split_once(')'))
                .and_then(|(n, _)| n.parse().ok())
                .with_context(|| format!("no byte count in {line:?}"))?;
        } else if let Some(v) = value("time for request:") {
            s.request_time = Some(v.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    if !saw_requests {
        bail!("no `requests:` line in h2load's output: {}", last_lines(text));
    }
    Ok(s)
}

/// The number before `label` in a `N label, M label2` list.
fn count(list: &str, label: &str, line: &str) -> Result<u64> {
    list.split(',')
        .map(str::trim)
        .find_map(|item| item.strip_suffix(label).map(str::trim))
        .with_context(|| format!("no `{label}` count in {line:?}"))?
        .parse()
        .with_context(|| format!("bad `{label}` count in {line:?}"))
}

/// Percentiles (nearest rank) of the durations of the requests that got a status (a failed
/// stream is logged with status -1 and left out).
pub fn latencies(log: &str) -> Result<Latencies> {
    let mut us: Vec<u64> = Vec::with_capacity(log.len() / 24);
    for (i, line) in log.lines().enumerate() {
        let mut cols = line.split('\t');
        let (Some(_start), Some(status), Some(duration)) = (cols.next(), cols.next(), cols.next()) else {
            bail!("line {}: expected start, status and duration: {line:?}", i + 1);
        };
        if status.trim() == "-1" {
            continue;
        }
        us.push(
            duration
                .trim()
                .parse()
                .with_context(|| format!("line {}: bad duration {duration:?}", i + 1))?,
        );
    }
    if us.is_empty() {
        bail!("no completed request in the log");
    }
    us.sort_unstable();
    // Nearest rank, in integers (per mille) so that 99.9 % of 1000 is the 999th.
    let rank = |per_mille: usize| us[(per_mille * us.len()).div_ceil(1000).clamp(1, us.len()) - 1];
    Ok(Latencies {
        count: us.len(),
        p50: rank(500),
        p90: rank(900),
        p99: rank(990),
        p999: rank(999),
        max: us[us.len() - 1],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// h2load 1.52 against nginx 1.22 over TLS (ALPN h2), 10 connections × 5 streams.
    const H2_TLS: &str = include_str!("testdata/h2load-h2-tls.txt");
    /// The same against wasmesh's plain listener (h2c, prior knowledge).
    const H2C: &str = include_str!("testdata/h2load-h2c.txt");
    /// One request with `--h1` to wasmesh's TLS listener (ALPN http/1.1).
    const H1_PROBE: &str = include_str!("testdata/h2load-h1-tls-probe.txt");
    /// Nothing listening: h2load still exits 0.
    const REFUSED: &str = include_str!("testdata/h2load-refused.txt");

    #[test]
    fn reads_a_tls_h2_run() {
        let s = parse_summary(H2_TLS).unwrap();
        assert_eq!(s.done, 172806);
        assert_eq!(s.succeeded, 172806);
        assert_eq!(s.failed, 0);
        assert_eq!(s.rps, 34561.20);
        assert_eq!(s.bytes, 15034122);
        assert_eq!((s.status_2xx, s.status_other), (172806, 0));
        assert_eq!(
            s.request_time.as_deref(),
            Some("329us 6.30ms 1.38ms 345us 75.95%")
        );
        assert_eq!(
            s.handshake.to_string(),
            "TLSv1.3 TLS_AES_128_GCM_SHA256 X25519, ALPN h2"
        );
    }

    #[test]
    fn reads_an_h2c_run() {
        let s = parse_summary(H2C).unwrap();
        assert_eq!((s.done, s.rps, s.bytes), (85051, 42525.50, 3998817));
        assert_eq!(s.handshake.tls, None);
        assert_eq!(s.handshake.to_string(), "h2c (no TLS)");
    }

    #[test]
    fn reads_an_http1_probe_over_tls() {
        let s = parse_summary(H1_PROBE).unwrap();
        assert_eq!((s.done, s.status_2xx), (1, 1));
        assert_eq!(s.handshake.protocol.as_deref(), Some("http/1.1"));
        assert_eq!(s.handshake.cipher.as_deref(), Some(tls::SUITE));
    }

    #[test]
    fn a_refused_connection_is_a_failed_request_not_a_success() {
        let s = parse_summary(REFUSED).unwrap();
        assert_eq!((s.done, s.succeeded, s.failed, s.status_2xx), (0, 0, 1, 0));
        assert_eq!(s.rps, 0.0);
        assert_eq!(s.handshake, Handshake::default());
    }

    #[test]
    fn output_without_a_summary_is_an_error() {
        let e = parse_summary("starting benchmark...\nsomething broke\n").unwrap_err();
        assert!(e.to_string().contains("something broke"), "{e}");
    }

    #[test]
    fn percentiles_come_from_the_log_without_failed_streams() {
        // Durations 1..=1000 µs in reverse order, plus two failed streams.
        let mut log: String = (1..=1000u64)
            .rev()
            .map(|d| format!("1796497846023755\t200\t{d}\n"))
            .collect();
        log += "1796497846023755\t-1\t5000000\n1796497846023755\t-1\t0\n";
        let l = latencies(&log).unwrap();
        assert_eq!(l.count, 1000);
        assert_eq!((l.p50, l.p90, l.p99, l.p999, l.max), (500, 900, 990, 999, 1000));
    }

    #[test]
    fn a_log_line_without_a_duration_is_an_error() {
        let e = latencies("1796497846023755\t200\n").unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        assert!(latencies("").is_err());
    }
}
