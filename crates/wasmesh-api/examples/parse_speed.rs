//! How fast documents are parsed and validated, and a chain resolved:
//! `cargo run --release -p wasmesh-api --example parse_speed`.

use std::{fmt::Write as _, time::Instant};
use wasmesh_api::{parse, resolve, Format, Resources};

fn main() {
    const PLUGINS: usize = 5000;
    let mut text = String::from(include_str!("../../../examples/proxy.yaml"));
    for n in 0..PLUGINS {
        let ns = if n % 3 == 1 { "other" } else { "istio-system" };
        let phase = ["AUTHN", "AUTHZ", "STATS", "UNSPECIFIED_PHASE"][n % 4];
        let _ = write!(
            text,
            "---\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n  name: plugin-{n}\n  \
             namespace: {ns}\n  creationTimestamp: \"2024-01-{:02}T00:00:00Z\"\nspec:\n  selector:\n    matchLabels:\n      \
             istio: ingressgateway\n  url: oci://registry.test/p{n}:1.0\n  phase: {phase}\n  priority: {}\n  \
             pluginConfig:\n    key: value-{n}\n    nested: {{a: [1, 2, 3]}}\n",
            1 + n % 28,
            n as i64 % 7 - 3
        );
    }
    let started = Instant::now();
    let docs = parse("bench.yaml", &text, Format::Yaml);
    let parsed = started.elapsed();
    let resources: Resources = docs.into_iter().map(|d| d.expect("valid").resource).collect();
    let proxy = resources
        .proxy("istio-system", "ingressgateway")
        .expect("proxy")
        .clone();
    let started = Instant::now();
    let chains = resolve(&proxy, &resources, "istio-system");
    let resolved = started.elapsed();
    println!(
        "parse + validate: {} documents ({} KiB) in {parsed:?} ({:.1} µs/document); resolve: {} plugins in chain in {resolved:?}",
        PLUGINS + 1,
        text.len() / 1024,
        parsed.as_secs_f64() * 1e6 / (PLUGINS + 1) as f64,
        chains.listeners[0].plugins().count()
    );
}
