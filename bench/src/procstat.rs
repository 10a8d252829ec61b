//! What the kernel knows about a process: CPU time spent and peak resident memory.
//! Read from /proc, so the numbers cover every thread of the process.

use anyhow::{Context, Result};

/// Clock ticks per second of `utime`/`stime` in /proc/PID/stat. Linux fixes USER_HZ at 100
/// for every architecture this harness runs on.
const TICKS_PER_SECOND: f64 = 100.0;

/// User + system CPU seconds the process has used so far.
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces; the fields we want follow its ')'.
    let rest = &stat[stat.rfind(')').context("malformed /proc stat")? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is index 0, so utime (field 14) is index 11 and stime index 12.
    let utime: f64 = fields.get(11).context("no utime")?.parse()?;
    let stime: f64 = fields.get(12).context("no stime")?.parse()?;
    Ok((utime + stime) / TICKS_PER_SECOND)
}

/// Peak resident set size (VmHWM) in bytes.
pub fn peak_rss_bytes(pid: u32) -> Result<u64> {
    status_bytes(pid, "VmHWM:")
}

/// Resident set size now (VmRSS) in bytes.
pub fn rss_bytes(pid: u32) -> Result<u64> {
    status_bytes(pid, "VmRSS:")
}

/// A `kB` line of /proc/PID/status, in bytes.
fn status_bytes(pid: u32, key: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with(key))
        .with_context(|| format!("no {key} line"))?;
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .with_context(|| format!("empty {key}"))?
        .parse()?;
    Ok(kib * 1024)
}

/// Starts a new peak: VmHWM becomes the current RSS (`5` to /proc/PID/clear_refs), so
/// that a peak read afterwards covers what follows — the measured load — and not the
/// start-up before it (a first run compiles the plugins' modules, which takes more memory
/// than serving does).
pub fn reset_peak_rss(pid: u32) -> Result<()> {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5")
        .with_context(|| format!("writing /proc/{pid}/clear_refs"))
}

/// The process and all its children's pids (nginx runs a master and workers).
pub fn with_children(pid: u32) -> Vec<u32> {
    let mut pids = vec![pid];
    let mut i = 0;
    while i < pids.len() {
        let p = pids[i];
        if let Ok(children) = std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")) {
            pids.extend(children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
        }
        i += 1;
    }
    pids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        let pid = std::process::id();
        // Burn a little CPU so the counter cannot be zero by luck of timing.
        let mut x = 0u64;
        for i in 0..30_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert_ne!(x, 1);
        assert!(cpu_seconds(pid).unwrap() > 0.0);
        assert!(peak_rss_bytes(pid).unwrap() > 1024 * 1024);
        assert_eq!(with_children(pid)[0], pid);
    }

    #[test]
    fn a_reset_peak_forgets_memory_given_back() {
        let pid = std::process::id();
        // 64 MiB touched, then freed: the peak holds it until it is reset.
        let big = vec![1u8; 64 << 20];
        assert!(big.iter().step_by(4096).all(|b| *b == 1));
        let high = peak_rss_bytes(pid).unwrap();
        drop(big);
        reset_peak_rss(pid).unwrap();
        let after = peak_rss_bytes(pid).unwrap();
        assert!(
            after + (32 << 20) < high,
            "peak {high} then {after} after the reset"
        );
    }
}
