//! Where the proxy's CPU goes: `perf record` on the proxy during one extra measured run of a
//! scenario (after the rounds, so the ratios are not disturbed), summarised by part of the
//! program — the guest's compiled code, the Proxy-Wasm host functions, wasmtime, hyper, the
//! kernel — and by symbol, as CPU µs per request.
//!
//! Sampling is on the `cpu-clock` software event, which works in virtual machines without
//! hardware counters. The release binary keeps its symbol table, so Rust functions are
//! named. The plugins' code is compiled by wasmtime and mapped from the module cache, whose
//! files carry the names of the module's name section; code perf finds no name for is
//! counted per part.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

/// Samples per second of CPU time.
const FREQUENCY: &str = "1999";

/// A `perf record` attached to running processes.
pub struct Recording {
    child: Child,
    out: PathBuf,
}

/// Whether `perf` can be run here.
pub fn available() -> bool {
    Command::new("perf")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Starts sampling `pids` into `out`.
pub fn start(pids: &[u32], out: &Path) -> Result<Recording> {
    let list: Vec<String> = pids.iter().map(u32::to_string).collect();
    let child = Command::new("perf")
        .args(["record", "-q", "-e", "cpu-clock", "-F", FREQUENCY, "-p"])
        .arg(list.join(","))
        .arg("-o")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start perf record")?;
    // perf needs a moment to attach before the load starts.
    std::thread::sleep(Duration::from_millis(300));
    Ok(Recording {
        child,
        out: out.to_path_buf(),
    })
}

impl Recording {
    /// Stops sampling (SIGINT, as Ctrl-C would) and waits for perf to write its file.
    pub fn stop(mut self) -> Result<PathBuf> {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .context("cannot signal perf record")?;
        if !status.success() {
            bail!("cannot signal perf record ({status})");
        }
        let output = std::mem::replace(&mut self.child, dummy()?).wait_with_output()?;
        if !self.out.exists() {
            bail!(
                "perf record wrote nothing: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(self.out.clone())
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A finished child to leave in a `Recording` whose perf was taken out of it.
fn dummy() -> Result<Child> {
    let mut child = Command::new("true").spawn().context("cannot run true")?;
    child.wait()?;
    Ok(child)
}

/// One line of the profile: a symbol's share of the samples.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SymbolShare {
    pub dso: String,
    pub symbol: String,
    /// Percent of all samples.
    pub percent: f64,
}

/// The profile of one scenario's proxy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Profile {
    pub scenario: String,
    /// Proxy CPU µs per request during the profiled run (perf itself adds a little).
    pub cpu_us_per_req: f64,
    pub symbols: Vec<SymbolShare>,
}

impl Profile {
    /// CPU µs per request spent in each part (see [`part`]), largest first.
    pub fn parts(&self) -> Vec<(&'static str, f64)> {
        let mut parts: Vec<(&'static str, f64)> = vec![];
        for s in &self.symbols {
            let us = s.percent / 100.0 * self.cpu_us_per_req;
            let p = part(&s.dso, &s.symbol);
            match parts.iter_mut().find(|(name, _)| *name == p) {
                Some((_, total)) => *total += us,
                None => parts.push((p, us)),
            }
        }
        parts.sort_by(|a, b| b.1.total_cmp(&a.1));
        parts
    }

    /// CPU µs per request of one symbol.
    pub fn us(&self, s: &SymbolShare) -> f64 {
        s.percent / 100.0 * self.cpu_us_per_req
    }
}

/// Reads a `perf record` file into symbol shares.
pub fn read(data: &Path) -> Result<Vec<SymbolShare>> {
    let output = Command::new("perf")
        .args([
            "report",
            "--stdio",
            "--no-children",
            "--sort",
            "dso,sym",
            "--field-separator",
            "\t",
            "--percent-limit",
            "0",
            "-i",
        ])
        .arg(data)
        .output()
        .context("cannot run perf report")?;
    if !output.status.success() {
        bail!(
            "perf report failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(parse_report(&String::from_utf8_lossy(&output.stdout)))
}

/// Parses `perf report --field-separator '\t' --sort dso,sym` lines: `12.34%\tdso\t[.] sym`.
/// Code perf has no symbol for gets a row per address: those rows are merged into one per
/// object and part; rows of one object and name are merged too.
fn parse_report(text: &str) -> Vec<SymbolShare> {
    let mut shares: Vec<SymbolShare> = vec![];
    for share in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let percent = fields.next()?.trim().strip_suffix('%')?.parse().ok()?;
            let dso = fields.next()?.trim().to_string();
            let sym = fields.next()?.trim();
            // `[.] name` for user space, `[k] name` for the kernel.
            let name = sym.get(4..).unwrap_or(sym).trim();
            let symbol = if sym.starts_with("[k]") {
                format!("[k] {name}")
            } else {
                name.to_string()
            };
            Some(SymbolShare { dso, symbol, percent })
        })
    {
        // Functions of one name in several copies (generic instances) are one row too.
        let dso = share
            .dso
            .split_once(" tid ")
            .map_or(share.dso.as_str(), |(d, _)| d)
            .to_string();
        let symbol = if share.symbol.starts_with("0x") {
            format!("(no symbol: {})", part(&dso, &share.symbol))
        } else {
            share.symbol
        };
        match shares.iter_mut().find(|s| s.dso == dso && s.symbol == symbol) {
            Some(merged) => merged.percent += share.percent,
            None => shares.push(SymbolShare {
                dso,
                symbol,
                percent: share.percent,
            }),
        }
    }
    shares
}

/// A function's name as a person reads it. wasmtime names the code it compiled from a
/// plugin `wasm[M]::function[N]::NAME`, NAME as the module's name section has it (mangled,
/// for Rust guests): the index prefix is dropped, a legacy Rust mangling
/// (`_ZN10proxy_wasm9hostcalls13add_map_value17h…E`) is turned back into its path, and
/// ` (guest)` is appended. Other names are returned as they are.
pub fn readable(symbol: &str) -> String {
    let name = if let Some(rest) = symbol.strip_prefix("wasm[") {
        match rest
            .split_once("]::function[")
            .and_then(|(_, r)| r.split_once("]::"))
        {
            Some((_, name)) => name,
            None => return symbol.to_string(),
        }
    } else if let Some(name) = symbol.strip_suffix(" (guest)") {
        // Results files written before names were kept raw.
        name
    } else {
        return symbol.to_string();
    };
    format!("{} (guest)", demangle(name).unwrap_or_else(|| name.to_string()))
}

/// Rust's legacy mangling: `_ZN` then length-prefixed parts then `E`; the last part, `h`
/// and 16 hex digits, is a hash and is dropped. perf cuts long names short: a name that
/// ends inside a part ends with `…`. `None` for anything that is not such a name.
fn demangle(name: &str) -> Option<String> {
    let mut rest = name.strip_prefix("_ZN")?;
    let mut parts = vec![];
    let mut cut = false;
    while !rest.is_empty() && !rest.starts_with('E') {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let len: usize = rest[..digits].parse().ok()?;
        let part = match rest.get(digits..digits + len) {
            Some(part) => part,
            None => {
                cut = true;
                &rest[digits..]
            }
        };
        rest = &rest[digits + part.len()..];
        let is_hash = part.starts_with('h')
            && part[1..].bytes().all(|b| b.is_ascii_hexdigit())
            && (part.len() == 17 || cut);
        if is_hash {
            cut = false;
            continue;
        }
        parts.push(
            part.replace("$LT$", "<")
                .replace("$GT$", ">")
                .replace("$u20$", " ")
                .replace("$RF$", "&")
                .replace("$C$", ",")
                .replace("..", "::")
                .trim_start_matches('_')
                .to_string(),
        );
    }
    if parts.is_empty() {
        return None;
    }
    let mut path = parts.join("::");
    if cut {
        path.push('…');
    }
    Some(path)
}

/// The part of the program a sample belongs to, from its object and symbol.
pub fn part(dso: &str, symbol: &str) -> &'static str {
    let has = |needle: &str| symbol.contains(needle);
    let starts = |prefix: &str| symbol.starts_with(prefix);
    if starts("[k]") || dso.starts_with("[kernel") || dso == "[vdso]" {
        "kernel (sockets, scheduling, syscalls)"
    } else if symbol.ends_with(" (guest)") || (starts("wasm[") && has("]::function[")) {
        // Code compiled from the plugins, mapped from the module cache.
        "plugins' compiled code (guest)"
    } else if has("trampoline") || starts("signatures[") || has("wasmtime") || has("cranelift") {
        "wasmtime runtime (entering and leaving the VM)"
    } else if dso.contains("JIT")
        || dso.starts_with("[unknown]")
        || dso.starts_with("perf-")
        || dso.starts_with("//anon")
    {
        "code without symbols (compiled at run time)"
    } else if starts("mi_")
        || starts("_mi_")
        || (dso.starts_with("libc")
            && ["malloc", "free", "realloc", "calloc", "_int_"]
                .iter()
                .any(|m| has(m)))
    {
        "allocator (mimalloc, libc)"
    } else if has("rustls")
        || has("ring::")
        || starts("ring_core_")
        || dso.starts_with("libssl")
        || dso.starts_with("libcrypto")
    {
        "TLS (rustls, ring; OpenSSL for nginx)"
    } else if has("wasmesh_wasm::abi") {
        "Proxy-Wasm host functions (wasmesh_wasm::abi)"
    } else if has("wasmesh_wasm") {
        "Proxy-Wasm host: contexts, calls in, header map"
    } else if has("wasmesh") {
        "proxy: filters, router, streams"
    } else if has("hyper") || has("h2::") || has("http::") || has("httparse") || has("bytes::") {
        "HTTP (hyper, http, bytes)"
    } else if has("tokio") || has("mio::") {
        "async runtime (tokio)"
    } else if dso.starts_with("libc") && has("mem") {
        "memory copies (libc mem*)"
    } else if dso.starts_with("libc") {
        "libc, other"
    } else {
        "other Rust code (core, alloc, std)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perf_report_lines_become_symbol_shares_by_part() {
        let text = "# Samples: 10K of event 'cpu-clock'\n\
                    #\n\
                    12.50%\twasmesh\t[.] wasmesh_wasm::abi::headers::get_header_map_value\n\
                    \x20 3.25%\t[kernel.kallsyms]\t[k] tcp_sendmsg\n\
                    \x20 2.00%\t[JIT] tid 4242\t[.] 0x00007f00deadbeef\n\
                    \x20 0.75%\t[JIT] tid 4242\t[.] 0x00007f00deadbe00\n\
                    \x20 1.00%\tlibc.so.6\t[.] __memmove_avx_unaligned_erms\n\
                    \x20 0.50%\tlibc.so.6\t[.] _int_malloc\n\
                    \x20 0.40%\t2a656001ac70a600\t[.] wasm[0]::function[355]::proxy_on_context_create\n\
                    \x20 0.30%\t2a656001ac70a600\t[.] signatures[9]::wasm_to_array_trampoline\n";
        let shares = parse_report(text);
        let rows: Vec<(&str, &str, f64)> = shares
            .iter()
            .map(|s| (s.symbol.as_str(), part(&s.dso, &s.symbol), s.percent))
            .collect();
        assert_eq!(
            rows,
            [
                (
                    "wasmesh_wasm::abi::headers::get_header_map_value",
                    "Proxy-Wasm host functions (wasmesh_wasm::abi)",
                    12.5
                ),
                ("[k] tcp_sendmsg", "kernel (sockets, scheduling, syscalls)", 3.25),
                (
                    "(no symbol: code without symbols (compiled at run time))",
                    "code without symbols (compiled at run time)",
                    2.75
                ),
                ("__memmove_avx_unaligned_erms", "memory copies (libc mem*)", 1.0),
                ("_int_malloc", "allocator (mimalloc, libc)", 0.5),
                (
                    "wasm[0]::function[355]::proxy_on_context_create",
                    "plugins' compiled code (guest)",
                    0.4
                ),
                (
                    "signatures[9]::wasm_to_array_trampoline",
                    "wasmtime runtime (entering and leaving the VM)",
                    0.3
                ),
            ]
        );
        assert_eq!(shares[2].dso, "[JIT]");
        let profile = Profile {
            scenario: "wasmesh-1".into(),
            cpu_us_per_req: 20.0,
            symbols: shares,
        };
        let parts = profile.parts();
        assert_eq!(parts[0], ("Proxy-Wasm host functions (wasmesh_wasm::abi)", 2.5));
        assert!((parts.iter().map(|p| p.1).sum::<f64>() - 20.0 * 0.207).abs() < 1e-9);
    }

    #[test]
    fn rust_guest_names_are_demangled() {
        assert_eq!(
            readable("wasm[0]::function[56]::_ZN10proxy_wasm9hostcalls13add_map_value17hbb3465dc775715ddE"),
            "proxy_wasm::hostcalls::add_map_value (guest)"
        );
        assert_eq!(
            readable("wasm[0]::function[211]::_ZN68_$LT$headers..Headers$u20$as$u20$proxy_wasm..traits..HttpContext$GT$24on_http_response_headers17h0123456789abcdefE"),
            "<headers::Headers as proxy_wasm::traits::HttpContext>::on_http_response_headers (guest)"
        );
        assert_eq!(readable("wasm[1]::function[7]::dlmalloc"), "dlmalloc (guest)");
        assert_eq!(
            readable("tokio::runtime::task::raw::poll"),
            "tokio::runtime::task::raw::poll"
        );
        assert_eq!(
            readable("wasm[0]::array_to_wasm_trampoline[357]"),
            "wasm[0]::array_to_wasm_trampoline[357]"
        );
        // perf cuts long names short.
        assert_eq!(
            readable("_ZN68_$LT$headers..Headers$u20$as$u20$proxy_wasm..traits..HttpContext$GT$24on_http_response_head (guest)"),
            "<headers::Headers as proxy_wasm::traits::HttpContext>::on_http_response_head… (guest)"
        );
        assert_eq!(readable("_ZN3foo3barE (guest)"), "foo::bar (guest)");
        assert_eq!(demangle("_ZN3foo17h0123456789abcdefE"), Some("foo".into()));
        assert_eq!(demangle("_ZN3foo17h0123"), Some("foo".into()));
        assert_eq!(demangle("_ZNx"), None);
    }
}
