//! How long a change in a large config directory takes to reach a snapshot:
//! `cargo run --release -p wasmesh-config --example reload_speed`.

use std::{fmt::Write as _, time::Instant};

fn plugins(file: usize, priority: i64) -> String {
    let mut text = String::new();
    for i in 0..100 {
        let n = file * 100 + i;
        let _ = write!(
            text,
            "---\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {{name: plugin-{n}, namespace: apps}}\n\
             spec:\n  selector: {{matchLabels: {{app: web}}}}\n  url: oci://registry.test/p{n}:1.0\n  priority: {priority}\n  \
             pluginConfig: {{key: value-{n}}}\n"
        );
    }
    text
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    for f in 0..50 {
        std::fs::write(dir.path().join(format!("p{f:02}.yaml")), plugins(f, 0)).expect("write");
    }
    let started = Instant::now();
    let watcher = wasmesh_config::watch_dir(dir.path()).expect("watch");
    println!("first load of 5000 plugins in 50 files: {:?}", started.elapsed());
    let mut rx = watcher.subscribe();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for round in 1..=3 {
        let started = Instant::now();
        std::fs::write(dir.path().join("p07.yaml"), plugins(7, round)).expect("write");
        runtime.block_on(rx.changed()).expect("a new snapshot");
        println!(
            "change of one file -> new snapshot (generation {}): {:?} (of which debounce {:?})",
            rx.borrow().generation,
            started.elapsed(),
            wasmesh_config::DEBOUNCE
        );
    }
}
