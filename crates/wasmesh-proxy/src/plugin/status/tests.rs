use super::*;

fn entry(name: &str, tried: bool, record: LoadRecord) -> PluginEntry {
    PluginEntry {
        name: format!("apps.{name}"),
        resource: json!({"name": name, "namespace": "apps"}),
        loaded: None,
        tried,
        record,
        generation: None,
    }
}

fn failed_fetch(retry_in: Option<Duration>) -> LoadRecord {
    let mut record = LoadRecord::default();
    record.failed("module file:///missing.wasm: no such file");
    record.retry = retry_in.map(|d| Retry {
        attempt: 3,
        at: Instant::now() + d,
    });
    record
}

#[test]
fn plugins_not_loaded_say_whether_they_wait_failed_or_retry() {
    let status = PluginStatus {
        entries: vec![
            entry("new", false, LoadRecord::default()),
            entry("broken", true, failed_fetch(None)),
            entry("retrying", true, failed_fetch(Some(Duration::from_secs(4)))),
        ],
        host: None,
    };
    let json = status.to_json();
    let states: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["pending", "failed", "reloading (attempt 3, next in 4.0s)"]
    );
    let broken = &json[1];
    assert_eq!(broken["failures"], 1);
    assert_eq!(broken["lastError"], "module file:///missing.wasm: no such file");
    assert!(broken["lastErrorAt"].as_str().unwrap().ends_with('Z'), "{broken}");
    assert_eq!(broken["nextAttemptAt"], Value::Null);
    assert!(json[2]["nextAttemptAt"].is_string());
    assert_eq!(broken["workers"], json!([]));
}

#[test]
fn metrics_say_the_same_with_help_and_type() {
    let status = PluginStatus {
        entries: vec![entry(
            "retrying",
            true,
            failed_fetch(Some(Duration::from_secs(4))),
        )],
        host: None,
    };
    let mut page = String::new();
    status.write_prometheus(&mut page);
    for line in [
        "# TYPE wasm_plugin_state gauge",
        "wasm_plugin_state{plugin=\"apps.retrying\",state=\"reloading\"} 1",
        "wasm_plugin_state{plugin=\"apps.retrying\",state=\"loaded\"} 0",
        "# TYPE wasm_plugin_load_failures_total counter",
        "wasm_plugin_load_failures_total{plugin=\"apps.retrying\"} 1",
        "# TYPE wasm_plugin_last_failure_timestamp_seconds gauge",
        "# TYPE wasm_plugin_next_attempt_timestamp_seconds gauge",
    ] {
        assert!(page.lines().any(|l| l == line), "{line} missing from:\n{page}");
    }
    for metric in page.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = metric.split(' ').nth(2).unwrap();
        assert!(page.contains(&format!("# HELP {name} ")), "{name} has no HELP");
    }
    let empty = PluginStatus::default();
    let mut none = String::new();
    empty.write_prometheus(&mut none);
    assert!(none.is_empty(), "no plugins, no lines: {none}");
}
