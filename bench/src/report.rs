//! The Markdown report: one table of every scenario with ratios against nginx and against
//! wasmesh without plugins, the targets and whether this run met them.

use crate::measure::{median, RoundResult, Run, ScenarioResult};
use crate::profile::{part, readable, Profile};
use std::fmt::Write as _;

const MIB: f64 = 1024.0 * 1024.0;

fn find<'a>(run: &'a Run, name: &str) -> Option<&'a ScenarioResult> {
    run.scenarios
        .iter()
        .find(|s| s.name == name && !s.rounds.is_empty())
}

fn rps(run: &Run, name: &str) -> Option<f64> {
    find(run, name).and_then(|s| s.median()).map(|r| r.rps)
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "–".into(),
    }
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

pub fn table(run: &Run) -> String {
    let nginx = rps(run, "nginx");
    let base = rps(run, "wasmesh-0");
    let mut t = String::from(
        "| scenario | req/s | vs nginx | vs wasmesh-0 | p50 ms | p90 ms | p99 ms | p99.9 ms | proxy CPU s / 1k req | proxy peak RSS MiB |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for s in &run.scenarios {
        let Some(r) = s.median() else {
            let _ = writeln!(
                t,
                "| {} | failed: {} |||||||||",
                s.title,
                s.errors.first().map(|e| first_line(e)).unwrap_or("")
            );
            continue;
        };
        let _ = writeln!(
            t,
            "| {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} |",
            s.title,
            r.rps,
            ratio(Some(r.rps), nginx),
            if s.name.starts_with("wasmesh") {
                ratio(Some(r.rps), base)
            } else {
                "–".into()
            },
            ms(r.load.p50_us),
            ms(r.load.p90_us),
            ms(r.load.p99_us),
            ms(r.load.p999_us),
            r.cpu_s_per_1k.map(|c| format!("{c:.3}")).unwrap_or("–".into()),
            r.peak_rss_bytes
                .map(|b| format!("{:.1}", b as f64 / MIB))
                .unwrap_or("–".into()),
        );
    }
    t
}

/// The scenarios whose proxy CPU is set against wasmesh without plugins, with the plugins
/// in their chain (the gateway's also runs the built-in JWT authn and authz).
const PLUGIN_COST: [(&str, usize); 7] = [
    ("wasmesh-read", 1),
    ("wasmesh-1", 1),
    ("wasmesh-5", 5),
    ("wasmesh-10", 10),
    ("wasmesh-body", 1),
    ("wasmesh-jwt", 0),
    ("wasmesh-gateway", 1),
];

/// Proxy CPU per request, in µs.
fn cpu_us(run: &Run, name: &str) -> Option<f64> {
    find(run, name)
        .and_then(|s| s.median())
        .and_then(|r| r.cpu_s_per_1k)
        .map(|c| c * 1000.0)
}

/// What each scenario's filters add to the proxy's CPU time per request over wasmesh
/// without plugins, in total and per plugin: the steady measure of a plugin's price
/// (req/s also moves with the load generator and the upstream, which share the machine).
pub fn plugin_cost(run: &Run) -> String {
    let Some(base) = cpu_us(run, "wasmesh-0") else {
        return String::new();
    };
    let mut t = format!(
        "Proxy CPU per request without plugins: {base:.1} µs.\n\n\
         | scenario | plugins | proxy CPU µs / req | added µs / req | added µs per plugin |\n\
         |---|---:|---:|---:|---:|\n"
    );
    for (name, plugins) in PLUGIN_COST {
        let Some(us) = cpu_us(run, name) else { continue };
        let title = find(run, name).map_or(name, |s| s.title.as_str());
        let per = if plugins > 0 {
            format!("{:.2}", (us - base) / plugins as f64)
        } else {
            "–".into()
        };
        let _ = writeln!(t, "| {title} | {plugins} | {us:.1} | {:.2} | {per} |", us - base);
    }
    t
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// Each target of the benchmark issue with this run's value and a verdict.
fn targets(run: &Run) -> Vec<(String, String, Option<bool>)> {
    let mut out = vec![];
    let get = |n| find(run, n).and_then(|s| s.median());
    let (nginx, w0, w1, w10) = (
        get("nginx"),
        get("wasmesh-0"),
        get("wasmesh-1"),
        get("wasmesh-10"),
    );
    let mut add = |what: &str, value: Option<String>, ok: Option<bool>| {
        out.push((
            what.to_string(),
            value.unwrap_or_else(|| "not measured".into()),
            ok,
        ));
    };
    let r = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a / b);
    // This machine is shared and noisy: each round's own ratio (the two measured minutes
    // apart, not the whole run apart) shows how far to trust the median's.
    let rounds_rps = per_round(run, "wasmesh-0", "nginx", |x| x.rps);
    let rounds_p99 = per_round(run, "wasmesh-0", "nginx", |x| x.load.p99_us as f64);
    let rr = r(w0.map(|x| x.rps), nginx.map(|x| x.rps));
    add(
        "wasmesh, no plugins: req/s ≥ 1.0× nginx",
        rr.map(|v| format!("{v:.2}×{rounds_rps}")),
        rr.map(|v| v >= 1.0),
    );
    let p = r(
        w0.map(|x| x.load.p99_us as f64),
        nginx.map(|x| x.load.p99_us as f64),
    );
    add(
        "wasmesh, no plugins: p99 ≤ nginx's",
        p.map(|v| format!("{v:.2}× nginx's p99{rounds_p99}")),
        p.map(|v| v <= 1.0),
    );
    let c1 = r(w1.map(|x| x.rps), w0.map(|x| x.rps)).map(|v| 1.0 - v);
    add(
        "1 header plugin costs ≤ 5% of throughput",
        c1.map(|v| format!("{:.1}%", v * 100.0)),
        c1.map(|v| v <= 0.05),
    );
    let c10 = r(w10.map(|x| x.rps), w0.map(|x| x.rps)).map(|v| 1.0 - v);
    add(
        "10 header plugins cost ≤ 30%",
        c10.map(|v| format!("{:.1}%", v * 100.0)),
        c10.map(|v| v <= 0.30),
    );
    let per_plugin = cpu_us(run, "wasmesh-1")
        .zip(cpu_us(run, "wasmesh-0"))
        .map(|(a, b)| a - b);
    add(
        "proxy CPU added by 1 header plugin ≤ 0.5 µs per request",
        per_plugin.map(|v| format!("{v:.2} µs")),
        per_plugin.map(|v| v <= 0.5),
    );
    let rss1 = w1.and_then(|x| x.peak_rss_bytes).map(|b| b as f64 / MIB);
    add(
        "peak RSS with 1 plugin ≤ 40 MiB",
        rss1.map(|v| format!("{v:.1} MiB")),
        rss1.map(|v| v <= 40.0),
    );
    let per = w1
        .and_then(|x| x.peak_rss_bytes)
        .zip(w10.and_then(|x| x.peak_rss_bytes))
        .map(|(a, b)| (b as f64 - a as f64) / 9.0 / MIB);
    add(
        "each additional plugin ≤ 2 MiB (1 worker)",
        per.map(|v| format!("{v:.2} MiB")),
        per.map(|v| v <= 2.0),
    );
    let warm = run.cold_start.as_ref().and_then(|c| median(&c.warm_cache_ms));
    add(
        "cold start to first 200, warm module cache ≤ 200 ms",
        warm.map(|v| format!("{v:.0} ms")),
        warm.map(|v| v <= 200.0),
    );
    let reload = run.reload_ms.as_ref().and_then(|v| median(v));
    add(
        "reload visible ≤ 1 s after the file changes",
        reload.map(|v| format!("{v:.0} ms")),
        reload.map(|v| v <= 1000.0),
    );
    out
}

/// ` (rounds: 0.91× 0.95× 0.93×)`: `a`'s value over `b`'s, round by round, when both
/// have more than one round.
fn per_round(run: &Run, a: &str, b: &str, value: impl Fn(&RoundResult) -> f64) -> String {
    let (Some(a), Some(b)) = (find(run, a), find(run, b)) else {
        return String::new();
    };
    if a.rounds.len() < 2 || b.rounds.len() < 2 {
        return String::new();
    }
    let ratios: Vec<String> = a
        .rounds
        .iter()
        .zip(&b.rounds)
        .map(|(x, y)| format!("{:.2}×", value(x) / value(y)))
        .collect();
    format!(" (rounds: {})", ratios.join(" "))
}

pub fn markdown(run: &Run, mode: &str) -> String {
    let m = &run.machine;
    let mut s = String::new();
    let _ = writeln!(s, "# Benchmarks\n");
    let _ = writeln!(
        s,
        "Produced by `bench/run.sh{}` on {} (wasmesh `{}`). Every scenario ran in the same run, \
         alternating, {} round(s) of {} s at {} connections; the round with the median req/s is shown. \
         The machine: {} CPUs ({}); the load generator (wrk, 1 thread) pinned to CPU {}, the proxy \
         (1 worker) and the upstream (nginx serving a fixed body, 1 worker) pinned to CPU {}. \
         nginx: {}. Proxy CPU and peak RSS cover the measured load only (not start-up, when \
         the plugins' modules may be compiled). Raw data: `bench/results/latest.json`.\n",
        if mode == "short" { " --short" } else { "" },
        m.date,
        m.wasmesh_rev,
        run.rounds,
        run.duration_s,
        run.connections,
        m.cpus,
        m.cpu_model,
        m.load_cpu,
        m.server_cpu,
        m.nginx
    );
    s += &table(run);
    let _ = writeln!(
        s,
        "\n![throughput and p99 against plugin count](bench/results/chart.svg)\n"
    );
    let cost = plugin_cost(run);
    if !cost.is_empty() {
        let _ = writeln!(s, "## What a plugin costs\n\n{cost}");
    }
    let profile = profile_section(run);
    if !profile.is_empty() {
        let _ = writeln!(s, "## Where the proxy's CPU goes\n\n{profile}");
    }
    let _ = writeln!(s, "## Targets\n\n| target | this run | met |\n|---|---|---|");
    for (what, value, ok) in targets(run) {
        let verdict = match ok {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "–",
        };
        let _ = writeln!(s, "| {what} | {value} | {verdict} |");
    }
    if let Some(c) = &run.cold_start {
        let _ = writeln!(
            s,
            "\n## Start and reload\n\nProcess start → first 200 through a one-plugin chain (median of {}): \
             empty compiled-module cache {:.0} ms, warm cache {:.0} ms.",
            c.cold_cache_ms.len(),
            median(&c.cold_cache_ms).unwrap_or(f64::NAN),
            median(&c.warm_cache_ms).unwrap_or(f64::NAN)
        );
    }
    if let Some(r) = &run.reload_ms {
        let _ = writeln!(
            s,
            "\nConfig file rewritten → first response from the new chain (median of {}): {:.0} ms.",
            r.len(),
            median(r).unwrap_or(f64::NAN)
        );
    }
    let failed: Vec<_> = run.scenarios.iter().filter(|x| !x.errors.is_empty()).collect();
    if !run.notes.is_empty() || !failed.is_empty() {
        let _ = writeln!(s, "\n## What did not run\n");
        for n in &run.notes {
            let _ = writeln!(s, "- {}", first_line(n));
        }
        for f in failed {
            let _ = writeln!(s, "- {}: {}", f.name, first_line(&f.errors[0]));
        }
    }
    s
}

/// Functions listed per profiled scenario.
const TOP_FUNCTIONS: usize = 15;

/// The parts of the program that run for a plugin (see `profile::part`).
const PLUGIN_PARTS: [&str; 4] = [
    "plugins' compiled code (guest)",
    "wasmtime runtime (entering and leaving the VM)",
    "Proxy-Wasm host functions (wasmesh_wasm::abi)",
    "Proxy-Wasm host: contexts, calls in, header map",
];

/// The `perf` profiles: CPU µs per request by part of the program for every profiled
/// scenario side by side, with what each plugin adds (the scenario with the most plugins
/// against the one with none); then the functions that cost most with one plugin, and the
/// plugin's own functions — the guest's callbacks, wasmtime's crossings, the host
/// functions — per plugin.
pub fn profile_section(run: &Run) -> String {
    if run.profiles.is_empty() {
        return String::new();
    }
    let title = |name: &str| find(run, name).map_or(name.to_string(), |s| s.title.clone());
    let plugins = |name: &str| find(run, name).and_then(|s| s.plugins).unwrap_or(0);
    let base = run.profiles.iter().find(|p| plugins(&p.scenario) == 0);
    let most = run
        .profiles
        .iter()
        .filter(|p| plugins(&p.scenario) > 0)
        .max_by_key(|p| plugins(&p.scenario));
    let per_plugin = base.zip(most);
    let mut t = String::from(
        "`perf record -e cpu-clock` on the proxy during one more measured run of each scenario \
         below (after the rounds), as proxy CPU µs per request by part of the program. The \
         plugins' code is what wasmtime compiled from them, named from the module's name \
         section. What is left and what it would take: docs/performance.md.\n\n| part |",
    );
    for p in &run.profiles {
        let _ = write!(t, " {} |", title(&p.scenario));
    }
    if let Some((_, most)) = per_plugin {
        let _ = write!(t, " added per plugin ({} plugins) |", plugins(&most.scenario));
    }
    t += "\n|---|";
    t += &"---:|".repeat(run.profiles.len() + usize::from(per_plugin.is_some()));
    t += "\n";
    let mut parts: Vec<&'static str> = vec![];
    for p in &run.profiles {
        for (name, _) in p.parts() {
            if !parts.contains(&name) {
                parts.push(name);
            }
        }
    }
    let us_of = |p: &Profile, part: &str| {
        p.parts()
            .into_iter()
            .find(|(n, _)| *n == part)
            .map_or(0.0, |(_, us)| us)
    };
    for part in &parts {
        let _ = write!(t, "| {part} |");
        for p in &run.profiles {
            let _ = write!(t, " {:.2} |", us_of(p, part));
        }
        if let Some((base, most)) = per_plugin {
            let n = plugins(&most.scenario) as f64;
            let _ = write!(t, " {:.2} |", (us_of(most, part) - us_of(base, part)) / n);
        }
        t += "\n";
    }
    let _ = write!(t, "| **all** |");
    for p in &run.profiles {
        let _ = write!(t, " **{:.2}** |", p.cpu_us_per_req);
    }
    if let Some((base, most)) = per_plugin {
        let n = plugins(&most.scenario) as f64;
        let _ = write!(t, " **{:.2}** |", (most.cpu_us_per_req - base.cpu_us_per_req) / n);
    }
    t += "\n";
    if let Some(p) = run.profiles.iter().find(|p| plugins(&p.scenario) > 0) {
        let _ = writeln!(
            t,
            "\nThe {TOP_FUNCTIONS} functions that cost most in \"{}\" (self time, CPU µs per request):\n\n\
             | function | part | µs / req |\n|---|---|---:|",
            title(&p.scenario)
        );
        let mut symbols: Vec<_> = p.symbols.iter().collect();
        symbols.sort_by(|a, b| b.percent.total_cmp(&a.percent));
        for s in symbols.into_iter().take(TOP_FUNCTIONS) {
            let _ = writeln!(
                t,
                "| `{}` | {} | {:.2} |",
                short_symbol(&s.symbol),
                part(&s.dso, &s.symbol),
                p.us(s)
            );
        }
    }
    if let Some((_, most)) = per_plugin {
        let n = plugins(&most.scenario) as f64;
        let _ = writeln!(
            t,
            "\nA plugin's own functions, per call and per host function, in \"{}\" (self time, CPU µs \
             per request and plugin; the guest's `proxy_on_*` exports are the calls into the VM):\n\n\
             | function | part | µs / req / plugin |\n|---|---|---:|",
            title(&most.scenario)
        );
        let mut symbols: Vec<_> = most
            .symbols
            .iter()
            .filter(|s| PLUGIN_PARTS.contains(&part(&s.dso, &s.symbol)))
            .collect();
        symbols.sort_by(|a, b| b.percent.total_cmp(&a.percent));
        for s in symbols.into_iter().take(2 * TOP_FUNCTIONS) {
            let _ = writeln!(
                t,
                "| `{}` | {} | {:.3} |",
                short_symbol(&readable(&s.symbol)),
                part(&s.dso, &s.symbol),
                most.us(s) / n
            );
        }
    }
    t
}

/// A symbol short enough for a table: generic arguments (`<…>` after a name) dropped, a
/// qualified path (`<Type as Trait>::f`) kept.
fn short_symbol(symbol: &str) -> String {
    let mut out = String::new();
    // Depth of the generic argument list being dropped; 0 when copying.
    let mut dropping = 0usize;
    let mut prev = ' ';
    for c in symbol.chars() {
        if dropping > 0 {
            match c {
                '<' => dropping += 1,
                '>' => dropping -= 1,
                _ => {}
            }
        } else if c == '<' && (prev.is_alphanumeric() || prev == '_') {
            dropping = 1;
            out.push_str("<…>");
        } else {
            out.push(c);
        }
        prev = c;
    }
    let out = out.replace('|', "\\|");
    if out.chars().count() > 100 {
        let head: String = out.chars().take(99).collect();
        format!("{head}…")
    } else {
        out
    }
}

#[cfg(test)]
mod profile_tests {
    use super::short_symbol;

    #[test]
    fn symbols_lose_their_generic_arguments_in_the_table() {
        assert_eq!(
            short_symbol("<wasmtime::Func<T> as core::ops::Drop>::drop"),
            "<wasmtime::Func<…> as core::ops::Drop>::drop"
        );
        assert_eq!(
            short_symbol("hashbrown::map::HashMap<K,V,S>::insert"),
            "hashbrown::map::HashMap<…>::insert"
        );
    }
}
