use super::*;

fn labels(code: u16) -> Labels {
    Labels {
        reporter: "destination",
        destination_workload: "gw".into(),
        destination_workload_namespace: "istio-system".into(),
        destination_service: "backend".into(),
        request_protocol: "http",
        response_code: code,
        response_flags: "-",
    }
}

#[test]
fn records_count_and_histograms_per_label_set() {
    let stats = Arc::new(Stats::default());
    let w = WorkerStats::new(stats.clone());
    for code in [200, 200, 404] {
        w.series(&labels(code))
            .observe(Duration::from_millis(3), 10, 2000);
    }
    assert_eq!(stats.requests_with_code(200), 2);
    assert_eq!(stats.requests_with_code(404), 1);
    let mut out = String::new();
    stats.render(&mut out);
    assert!(
        out.contains("istio_requests_total{reporter=\"destination\""),
        "{out}"
    );
    assert!(
        out.contains("response_code=\"200\",response_flags=\"-\",connection_security_policy=\"none\"} 2"),
        "{out}"
    );
    // 3 ms falls in the 5 ms bucket, not the 1 ms one.
    assert!(
        out.contains(
            "response_code=\"200\",response_flags=\"-\",connection_security_policy=\"none\",le=\"1\"} 0"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "response_code=\"200\",response_flags=\"-\",connection_security_policy=\"none\",le=\"5\"} 2"
        ),
        "{out}"
    );
    assert!(out.contains("istio_response_bytes_sum{"), "{out}");
}

#[test]
fn workers_series_are_summed() {
    let stats = Arc::new(Stats::default());
    let (w1, w2) = (WorkerStats::new(stats.clone()), WorkerStats::new(stats.clone()));
    for w in [&w1, &w2, &w2] {
        w.series(&labels(200)).observe(Duration::from_millis(1), 0, 0);
    }
    assert_eq!(stats.requests_with_code(200), 3);
    let mut out = String::new();
    stats.render(&mut out);
    let totals: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("istio_requests_total{"))
        .collect();
    assert_eq!(totals.len(), 1, "one line per label set: {out}");
    assert!(totals[0].ends_with("} 3"), "{out}");
}

#[test]
fn mirror_outcomes_are_counted_per_cluster() {
    let stats = Stats::default();
    let mut out = String::new();
    stats.render(&mut out);
    assert!(!out.contains("wasmesh_mirror_requests_total"), "none yet: {out}");
    let shadow: Arc<str> = "shadow".into();
    stats.mirrored(&shadow, MirrorOutcome::Sent);
    stats.mirrored(&shadow, MirrorOutcome::Sent);
    stats.mirrored(&shadow, MirrorOutcome::Failed);
    stats.mirrored(&"other".into(), MirrorOutcome::Skipped);
    assert_eq!(stats.mirror_count("shadow", MirrorOutcome::Sent), 2);
    assert_eq!(stats.mirror_count("shadow", MirrorOutcome::Skipped), 0);
    let mut out = String::new();
    stats.render(&mut out);
    for line in [
        "# TYPE wasmesh_mirror_requests_total counter",
        "wasmesh_mirror_requests_total{cluster=\"other\",outcome=\"skipped\"} 1",
        "wasmesh_mirror_requests_total{cluster=\"shadow\",outcome=\"sent\"} 2",
        "wasmesh_mirror_requests_total{cluster=\"shadow\",outcome=\"failed\"} 1",
    ] {
        assert!(out.lines().any(|l| l == line), "{line} in\n{out}");
    }
}
