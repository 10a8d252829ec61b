//! A small SVG chart of throughput and p99 latency against the number of plugins, drawn
//! by hand: two polylines on one plot, each with its own axis.

use crate::measure::Run;
use std::fmt::Write as _;

const W: f64 = 640.0;
const H: f64 = 360.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 70.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

pub fn svg(run: &Run) -> String {
    let mut points: Vec<(f64, f64, f64)> = run
        .scenarios
        .iter()
        .filter_map(|s| Some((s.plugins? as f64, s.median()?)))
        .map(|(n, r)| (n, r.rps, r.load.p99_us as f64 / 1000.0))
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = write!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">wasmesh: throughput and p99 against plugin count</text>"#,
        W / 2.0
    );
    if points.is_empty() {
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">no wasmesh scenario completed</text></svg>"#,
            W / 2.0,
            H / 2.0
        );
        return s;
    }
    let max_n = points.iter().map(|p| p.0).fold(1.0, f64::max);
    let max_rps = points.iter().map(|p| p.1).fold(1.0, f64::max) * 1.1;
    let max_p99 = points.iter().map(|p| p.2).fold(0.001, f64::max) * 1.1;
    let x = |n: f64| LEFT + n / max_n * (W - LEFT - RIGHT);
    let y = |v: f64, max: f64| H - BOTTOM - v / max * (H - TOP - BOTTOM);
    // axes
    let _ = write!(
        s,
        r##"<g stroke="#444"><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{}"/><line x1="{LEFT}" y1="{0}" x2="{1}" y2="{0}"/><line x1="{1}" y1="{TOP}" x2="{1}" y2="{0}"/></g>"##,
        H - BOTTOM,
        W - RIGHT
    );
    for i in 0..=4 {
        let f = i as f64 / 4.0;
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" text-anchor="end" fill="#1f77b4">{:.0}</text>"##,
            LEFT - 6.0,
            y(f * max_rps, max_rps) + 4.0,
            f * max_rps
        );
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" fill="#d62728">{:.2}</text>"##,
            W - RIGHT + 6.0,
            y(f * max_p99, max_p99) + 4.0,
            f * max_p99
        );
    }
    for (n, _, _) in &points {
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{n}</text>"#,
            x(*n),
            H - BOTTOM + 18.0
        );
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">plugins in the chain</text>"#,
        W / 2.0,
        H - 12.0
    );
    let _ = write!(
        s,
        r##"<text x="14" y="{}" fill="#1f77b4" transform="rotate(-90 14 {0})" text-anchor="middle">requests/s</text>"##,
        H / 2.0
    );
    let _ = write!(
        s,
        r##"<text x="{}" y="{}" fill="#d62728" transform="rotate(90 {0} {1})" text-anchor="middle">p99 ms</text>"##,
        W - 14.0,
        H / 2.0
    );
    for (color, pick, max) in [("#1f77b4", 1, max_rps), ("#d62728", 2, max_p99)] {
        let pts: Vec<String> = points
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.0), y(if pick == 1 { p.1 } else { p.2 }, max)))
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            pts.join(" ")
        );
        for p in &pts {
            let (px, py) = p.split_once(',').unwrap_or(("0", "0"));
            let _ = write!(s, r#"<circle cx="{px}" cy="{py}" r="3" fill="{color}"/>"#);
        }
    }
    s += "</svg>";
    s
}
