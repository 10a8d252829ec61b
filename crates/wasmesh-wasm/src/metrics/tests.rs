use super::*;

#[test]
fn counters_gauges_and_histograms_render_for_prometheus() {
    let metrics = Metrics::default();
    let c = metrics.define(MetricKind::Counter, "my.requests");
    assert_eq!(
        metrics.define(MetricKind::Counter, "my.requests"),
        c,
        "defining twice gives the same id"
    );
    let g = metrics.define(MetricKind::Gauge, "my_gauge");
    let h = metrics.define(MetricKind::Histogram, "my_hist");
    metrics.increment(c, 2).unwrap();
    assert_eq!(metrics.increment(c, -1), Err(Status::BadArgument));
    metrics.record(g, 7).unwrap();
    metrics.increment(g, -2).unwrap();
    metrics.record(h, 3).unwrap();
    metrics.record(h, 40).unwrap();
    assert_eq!(metrics.get(c), Ok(2));
    assert_eq!(metrics.get(g), Ok(5));
    assert_eq!(metrics.get(h), Err(Status::BadArgument));
    assert_eq!(metrics.get(999), Err(Status::NotFound));
    let text = metrics.render_prometheus();
    assert!(
        text.contains(
            "# HELP my_requests Defined by a Proxy-Wasm plugin as \"my.requests\".\n\
             # TYPE my_requests counter\nmy_requests 2\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("# HELP my_gauge Defined by a Proxy-Wasm plugin.\n# TYPE my_gauge gauge\n"),
        "{text}"
    );
    assert!(text.contains("# HELP my_hist "), "{text}");
    assert!(text.contains("my_gauge 5\n"), "{text}");
    assert!(text.contains("my_hist_bucket{le=\"5\"} 1\n"), "{text}");
    assert!(text.contains("my_hist_bucket{le=\"50\"} 2\n"), "{text}");
    assert!(text.contains("my_hist_sum 43\nmy_hist_count 2\n"), "{text}");
}
