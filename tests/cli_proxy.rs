//! `wasmesh proxy` at startup, run as a user runs it: mistakes said at once, and logs that
//! people and machines can read.

use std::time::{Duration, Instant};

use crate::cli_support::{copy_fixture, wasmesh};
use crate::proxy_support::ProxyProcess;

/// A WasmPlugin `name` in istio-system running the test plugin `plugin`, with `extra` YAML
/// lines under `spec`.
fn plugin_yaml(name: &str, plugin: &str, extra: &str) -> String {
    format!(
        "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\n\
         metadata: {{name: {name}, namespace: istio-system}}\n\
         spec:\n  url: file://{}\n{extra}",
        wasmesh_testkit::plugin(plugin).display()
    )
}

/// Waits until the proxy's log holds `text`; returns the log.
fn wait_for_log(proxy: &ProxyProcess, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = proxy.log();
        if log.contains(text) {
            return log;
        }
        assert!(Instant::now() < deadline, "no `{text}` in the log:\n{log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_bad_config_dir_is_said_first_and_exits_non_zero() {
    let base = tempfile::tempdir().unwrap();
    let missing = base.path().join("missing");
    let file = base.path().join("file.yaml");
    std::fs::write(&file, "").unwrap();
    for (dir, why) in [
        (&missing, "No such file or directory"),
        (&file, "Not a directory"),
    ] {
        let started = Instant::now();
        let run = wasmesh(&[
            "proxy",
            "--config",
            dir.to_str().unwrap(),
            "--workload",
            "apps/web",
            "--admin",
            "127.0.0.1:0",
        ]);
        assert_eq!(run.code, 1, "{run:?}");
        assert!(started.elapsed() < Duration::from_secs(5), "{run:?}");
        let expected = format!("error: cannot read config directory {}: {why}", dir.display());
        assert!(run.stderr.starts_with(&expected), "{run:?}");
        assert_eq!(run.stderr.matches(why).count(), 1, "the cause once: {run:?}");
        for not_started in ["starting", "draining", "stopped"] {
            assert!(!run.stderr.contains(not_started), "{run:?}");
        }
    }
}

#[test]
fn a_missing_workload_says_once_that_it_waits_and_which_proxies_exist() {
    let proxy = ProxyProcess::spawn(copy_fixture("mesh"), "apps/nope", 1);
    let said = "no Proxy apps/nope in";
    let log = wait_for_log(&proxy, said);
    let line = log.lines().find(|l| l.contains(said)).unwrap();
    assert!(line.contains("(Proxies found: apps/web-gateway)"), "{line}");
    assert!(line.contains("waiting for it to appear"), "{line}");
    let (status, body) = proxy.admin_get("/ready");
    assert_eq!(status, 503);
    assert!(body.contains("Proxies found: apps/web-gateway"), "{body}");

    // Another change of the folder that still lacks it is not said again.
    proxy.write_config("extra.yaml", "");
    std::thread::sleep(Duration::from_millis(800));
    let log = proxy.log();
    assert_eq!(log.matches(said).count(), 1, "{log}");
}

/// Starts `wasmesh proxy` on the `mesh` fixture with stderr piped, stops it after its first
/// lines, and returns what it logged.
fn piped_log(extra: &[&str]) -> String {
    use std::io::Read as _;
    let dir = copy_fixture("mesh");
    let cache = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wasmesh"))
        .args(["proxy", "--config"])
        .arg(dir.path())
        .args(["--workload", "apps/nope", "--admin", "127.0.0.1:0"])
        .arg("--cache-dir")
        .arg(cache.path())
        .args(extra)
        .env_remove("NO_COLOR")
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });
    // The proxy says it waits for its Proxy right after it starts.
    std::thread::sleep(Duration::from_millis(1500));
    let status = std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    child.wait().unwrap();
    reader.join().unwrap()
}

#[test]
fn a_piped_log_has_no_escape_codes() {
    let log = piped_log(&[]);
    assert!(log.contains("waiting for it to appear"), "{log}");
    assert!(!log.contains('\x1b'), "escape codes in a piped log:\n{log:?}");
}

#[test]
fn json_log_lines_parse_as_json() {
    let log = piped_log(&["--log-format", "json"]);
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let waiting = lines
        .iter()
        .find(|l| {
            l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("waiting"))
        })
        .unwrap_or_else(|| panic!("no waiting line in {log}"));
    assert_eq!(waiting["level"], "WARN");
    assert!(lines.iter().any(|l| l["fields"]["message"] == "stopped"), "{log}");
}

#[test]
fn plugins_are_shown_in_the_api_spelling() {
    let dir = tempfile::tempdir().unwrap();
    let free = crate::proxy_support::free_addr;
    let proxy = crate::proxy_support::one_backend_proxy_yaml(free(), free());
    let plugin = "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\n\
                  metadata: {name: gone, namespace: istio-system}\n\
                  spec: {url: \"file:///nonexistent/gone.wasm\", phase: UNSPECIFIED, failStrategy: FAIL_OPEN}\n";
    std::fs::write(dir.path().join("proxy.yaml"), proxy).unwrap();
    std::fs::write(dir.path().join("plugin.yaml"), plugin).unwrap();
    let proxy = ProxyProcess::spawn(dir, "istio-system/gw", 2);
    proxy.wait_ready();
    let (_, body) = proxy.admin_get("/plugins");
    let plugins: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(plugins[0]["failStrategy"], "FAIL_OPEN", "{body}");
    assert_eq!(plugins[0]["phase"], "UNSPECIFIED", "{body}");
    let error = plugins[0]["lastError"].as_str().unwrap();
    assert_eq!(
        error.matches("file:///nonexistent/gone.wasm").count(),
        1,
        "{error}"
    );
    let log = proxy.log();
    assert_eq!(
        log.matches("cannot read /nonexistent/gone.wasm").count(),
        1,
        "once:\n{log}"
    );
}

#[test]
fn every_metric_has_help_and_type() {
    use crate::proxy_support::{echo::Echo, free_addr, http_get, one_backend_proxy_yaml};
    let echo = Echo::start("a");
    let listen = free_addr();
    let config = one_backend_proxy_yaml(listen, echo.addr);
    // A plugin that defines a counter, a gauge and a histogram of its own.
    let metrics = plugin_yaml("metrics", "metrics", "");
    let proxy = ProxyProcess::start(
        "istio-system/gw",
        &[("proxy.yaml", &config), ("plugin.yaml", &metrics)],
        1,
    );
    assert_eq!(http_get(listen, "/hello").0, 200);
    let (status, page) = proxy.admin_get("/stats/prometheus");
    assert_eq!(status, 200);
    let said = |what: &str, family: &str| {
        page.lines().any(|l| {
            l.strip_prefix(what)
                .is_some_and(|rest| rest.split(' ').next() == Some(family))
        })
    };
    let mut families = std::collections::BTreeSet::new();
    for sample in page.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let name = sample.split(['{', ' ']).next().unwrap();
        // A histogram's samples are NAME_bucket, NAME_sum and NAME_count of family NAME.
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                name.strip_suffix(suffix)
                    .filter(|base| page.contains(&format!("# TYPE {base} histogram\n")))
            })
            .unwrap_or(name);
        families.insert(family.to_string());
    }
    for must in [
        "istio_requests_total",
        "istio_request_duration_milliseconds",
        "wasm_cache_entries",
        "wasm_vm_starts_total",
        "wasmesh_test_requests_total",
        "wasmesh_test_path_length",
    ] {
        assert!(families.contains(must), "no {must} in:\n{page}");
    }
    for family in &families {
        assert!(said("# HELP ", family), "no HELP for {family}:\n{page}");
        assert!(said("# TYPE ", family), "no TYPE for {family}:\n{page}");
    }
}

#[test]
fn a_plugin_that_fails_on_every_worker_is_logged_once() {
    use crate::proxy_support::{free_addr, one_backend_proxy_yaml};
    let config = one_backend_proxy_yaml(free_addr(), free_addr());
    // The config test plugin refuses a pluginConfig without a string `greeting`.
    let plugin = plugin_yaml("config", "config", "  pluginConfig: {other: 1}\n");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("proxy.yaml"), config).unwrap();
    std::fs::write(dir.path().join("plugin.yaml"), plugin).unwrap();
    let proxy = ProxyProcess::spawn(dir, "istio-system/gw", 3);
    proxy.wait_ready();
    let said = "proxy_on_configure returned false";
    wait_for_log(&proxy, said);
    // Every worker has started its VM once ready; give the log a moment to settle.
    std::thread::sleep(Duration::from_millis(500));
    let log = proxy.log();
    // (The test proxies log wasmesh_proxy at debug level, where each worker notes it.)
    let errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" ERROR ") && l.contains(said))
        .collect();
    assert_eq!(errors.len(), 1, "once, not per worker:\n{log}");
    let line = errors[0];
    assert!(line.contains("strategy=FAIL_CLOSE"), "{line}");
    assert!(!log.contains("Failure {"), "no Debug structs:\n{log}");
    let (_, body) = proxy.admin_get("/plugins");
    let plugins: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(plugins[0]["abiVersion"], "0.2.1", "{body}");
    assert_eq!(plugins[0]["failStrategy"], "FAIL_CLOSE", "{body}");
}
