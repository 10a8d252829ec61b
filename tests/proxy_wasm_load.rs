//! `wasmesh proxy` loading plugins as Envoy and Istio do, and saying where an operator
//! looks when one fails: the root id is `pluginName` or "" (a hand-written guest that
//! registers its root context under ""), a module Envoy would refuse is refused at load
//! with the reason, `/plugins` and the metrics show `on_configure` refusals and traps per
//! worker while a client gets a short 503, a module that could not be fetched is retried
//! until it loads, and SIGTERM stops an idle proxy at once — even one compiling a module.

use crate::fetch_support::http_server;
use crate::proxy_support;

use proxy_support::echo::Echo;
use proxy_support::*;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A WasmPlugin of `istio-system` whose module is at `url`, with `extra` spec lines.
fn plugin_at(name: &str, url: &str, extra: &str) -> String {
    format!(
        "---\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n  name: {name}\n  namespace: istio-system\nspec:\n  url: {url}\n{extra}"
    )
}

/// [`plugin_at`] for a plugin built from `plugins/`.
fn sdk_plugin(name: &str, plugin: &str, extra: &str) -> String {
    plugin_at(
        name,
        &format!("file://{}", wasmesh_testkit::plugin(plugin).display()),
        extra,
    )
}

/// Writes the module of `wat` text into `dir` as `<name>.wasm`; its `file://` url.
fn wat_module(dir: &Path, name: &str, wat: &str) -> String {
    let path = dir.join(format!("{name}.wasm"));
    std::fs::write(&path, wat::parse_str(wat).expect("valid wat")).unwrap();
    format!("file://{}", path.display())
}

fn fixture(name: &str) -> String {
    let path = wasmesh_testkit::repo_root()
        .join("tests/fixtures/wasm")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn start(echo: SocketAddr, plugins: &str, workers: usize) -> (ProxyProcess, SocketAddr) {
    let listen = free_addr();
    let config = one_backend_proxy_yaml(listen, echo);
    let proxy = ProxyProcess::start(
        "istio-system/gw",
        &[("proxy.yaml", &config), ("plugins.yaml", plugins)],
        workers,
    );
    (proxy, listen)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// `/plugins`, parsed.
fn plugins(proxy: &ProxyProcess) -> serde_json::Value {
    let (status, body) = proxy.admin_get("/plugins");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// The object of plugin `istio-system.<name>` in `/plugins`.
fn plugin(proxy: &ProxyProcess, name: &str) -> serde_json::Value {
    plugins(proxy)
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no plugin {name} in /plugins"))
}

fn metrics(proxy: &ProxyProcess) -> String {
    proxy.admin_get("/stats/prometheus").1
}

fn has_line(page: &str, line: &str) -> bool {
    page.lines().any(|l| l == line)
}

/// What a FAIL_CLOSE plugin's client gets: 503 and a body naming the plugin only.
async fn assert_short_503(listen: SocketAddr, plugin: &str) {
    let resp = client().get(format!("http://{listen}/x")).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(
        resp.text().await.unwrap(),
        format!("wasm plugin istio-system.{plugin} failed\n"),
        "no path, digest or error chain reaches the client"
    );
}

#[tokio::test]
async fn the_root_id_is_the_empty_string_without_plugin_name_as_istio_sets_it() {
    let echo = Echo::start("up");
    let modules = tempfile::tempdir().unwrap();
    let url = wat_module(modules.path(), "root_id", &fixture("root_id.wat"));
    let (proxy, listen) = start(echo.addr, &plugin_at("rootid", &url, ""), 1);
    let resp = client().get(format!("http://{listen}/x")).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{}", proxy.log());
    let seen: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        seen["headers"]["x-root-id"], "[]",
        "the guest found its root context under \"\": {seen}"
    );
    assert_eq!(plugin(&proxy, "rootid")["state"], "loaded");

    // With pluginName, the root id is that name: this guest has no root context under it
    // and traps when its root context is created, as the SDKs that register by name fail.
    proxy.write_config(
        "plugins.yaml",
        &plugin_at("rootid", &url, "  pluginName: other\n"),
    );
    proxy.wait_version(2);
    assert_short_503(listen, "rootid").await;
    let p = plugin(&proxy, "rootid");
    assert_eq!(p["state"], "failed", "{p}");
    let error = p["lastError"].as_str().unwrap();
    assert!(error.starts_with("trap in proxy_on_context_create: "), "{p}");
    assert_eq!(p["workers"][0]["state"], "failed", "{p}");
    assert!(
        proxy.log().contains("plugin=istio-system.rootid"),
        "logs name the plugin by <namespace>.<name>, never by its root id:\n{}",
        proxy.log()
    );
}

#[tokio::test]
async fn modules_envoy_refuses_are_refused_at_load_with_the_reason() {
    let echo = Echo::start("up");
    let modules = tempfile::tempdir().unwrap();
    let no_malloc = wat_module(
        modules.path(),
        "no_malloc",
        r#"(module
             (memory (export "memory") 1)
             (func (export "proxy_abi_version_0_2_1"))
             (func (export "proxy_on_context_create") (param i32 i32))
             (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
               (i32.const 0)))"#,
    );
    let future_abi = wat_module(
        modules.path(),
        "future_abi",
        r#"(module
             (memory (export "memory") 1)
             (func (export "proxy_abi_version_0_3_0"))
             (func (export "malloc") (param i32) (result i32) (i32.const 1024))
             (func (export "proxy_on_context_create") (param i32 i32)))"#,
    );
    let plugins = [
        plugin_at("nomalloc", &no_malloc, "  priority: 2\n"),
        plugin_at("future", &future_abi, "  failStrategy: FAIL_OPEN\n"),
    ]
    .concat();
    let (proxy, listen) = start(echo.addr, &plugins, 2);

    // Before any request: /plugins, the log and the metrics say why.
    let nomalloc = plugin(&proxy, "nomalloc");
    assert_eq!(nomalloc["state"], "failed", "{nomalloc}");
    let reason = "cannot run as a Proxy-Wasm plugin: it exports neither proxy_on_memory_allocate \
                  nor malloc, which the host calls to hand the plugin its configuration, headers \
                  and bodies";
    assert!(
        nomalloc["lastError"].as_str().unwrap().contains(reason),
        "{nomalloc}"
    );
    assert!(nomalloc["lastErrorAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(nomalloc["workers"], serde_json::json!([]), "no VM was made");
    let future = plugin(&proxy, "future");
    assert!(
        future["lastError"]
            .as_str()
            .unwrap()
            .contains("it exports proxy_abi_version_0_3_0; supported: proxy_abi_version_0_2_1"),
        "{future}"
    );
    let log = proxy.log();
    assert!(
        log.contains("plugin not loaded") && log.contains(reason),
        "the log says it at load:\n{log}"
    );
    let page = metrics(&proxy);
    assert!(
        has_line(
            &page,
            "wasm_plugin_load_failures_total{plugin=\"istio-system.nomalloc\"} 1"
        ),
        "{page}"
    );
    assert!(has_line(
        &page,
        "wasm_plugin_state{plugin=\"istio-system.nomalloc\",state=\"failed\"} 1"
    ));

    // A request: FAIL_CLOSE answers 503 naming the plugin; FAIL_OPEN skipped the other.
    assert_short_503(listen, "nomalloc").await;
}

#[tokio::test]
async fn a_rejected_configuration_shows_per_worker_in_plugins_and_metrics() {
    let echo = Echo::start("up");
    // The config test plugin refuses a pluginConfig without a string `greeting`.
    let (proxy, listen) = start(
        echo.addr,
        &sdk_plugin("config", "config", "  pluginConfig: {other: 1}\n"),
        2,
    );
    let p = plugin(&proxy, "config");
    assert_eq!(p["state"], "configure-rejected", "{p}");
    assert_eq!(p["abiVersion"], "0.2.1");
    let workers = p["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 2, "one VM per worker: {p}");
    for (i, w) in workers.iter().enumerate() {
        assert_eq!(w["worker"], i);
        assert_eq!(w["state"], "configure-rejected", "{p}");
        assert_eq!(w["failures"], 1);
        assert_eq!(
            w["lastError"],
            "proxy_on_configure returned false (the plugin rejected its configuration)"
        );
        assert!(w["lastErrorAt"].as_str().unwrap().ends_with('Z'));
    }
    assert_eq!(p["failures"], 2, "{p}");
    let page = metrics(&proxy);
    for line in [
        "wasm_plugin_state{plugin=\"istio-system.config\",state=\"configure-rejected\"} 1",
        "wasm_plugin_state{plugin=\"istio-system.config\",state=\"loaded\"} 0",
        "wasm_plugin_worker_state{plugin=\"istio-system.config\",worker=\"1\",state=\"configure-rejected\"} 1",
        "# TYPE wasm_plugin_last_failure_timestamp_seconds gauge",
    ] {
        assert!(has_line(&page, line), "{line} missing:\n{page}");
    }
    assert_short_503(listen, "config").await;
}

#[tokio::test]
async fn a_trap_at_run_time_shows_in_plugins_and_fail_reload_says_when_it_retries() {
    let echo = Echo::start("up");
    let plugins = [
        sdk_plugin("panic", "hostile_panic", "  priority: 2\n"),
        sdk_plugin("reload", "hostile_panic", "  failStrategy: FAIL_RELOAD\n"),
    ]
    .concat();
    let (proxy, listen) = start(echo.addr, &plugins, 1);
    assert_eq!(plugin(&proxy, "panic")["state"], "loaded");

    // The client sees the plugin's name; the panic message is the log's and the admin's.
    assert_short_503(listen, "panic").await;
    let p = plugin(&proxy, "panic");
    assert_eq!(p["state"], "failed", "{p}");
    assert_eq!(p["failures"], 1);
    // A sentence, not wasmtime's error chain with the guest's call stack.
    assert_eq!(
        p["lastError"],
        "trap in proxy_on_request_headers: the plugin aborted (wasm `unreachable` executed; \
         Rust and Go SDKs abort so on a panic, which the plugin's log shows)",
        "{p}"
    );
    // The panic report, two lines, is one event: its second line is indented under it.
    let log = proxy.log();
    assert!(
        log.contains(
            "panicked at hostile_panic/src/lib.rs:18:9:\n    hostile_panic: this plugin always panics on request headers plugin=istio-system.panic"
        ),
        "{log}"
    );
    assert!(!log.contains("wasm backtrace"), "at debug only:\n{log}");

    // The FAIL_RELOAD plugin alone: its VM is re-created after the backoff.
    proxy.write_config(
        "plugins.yaml",
        &sdk_plugin("reload", "hostile_panic", "  failStrategy: FAIL_RELOAD\n"),
    );
    proxy.wait_version(2);
    assert_short_503(listen, "reload").await;
    let p = plugin(&proxy, "reload");
    let state = p["state"].as_str().unwrap();
    assert!(state.starts_with("reloading (attempt 1, next in "), "{p}");
    assert_eq!(p["workers"][0]["state"], state);
    assert!(has_line(
        &metrics(&proxy),
        "wasm_plugin_worker_state{plugin=\"istio-system.reload\",worker=\"0\",state=\"reloading\"} 1"
    ));
    // After the backoff (1 s) the next request re-creates the VM, which traps again.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_short_503(listen, "reload").await;
    let p = plugin(&proxy, "reload");
    assert_eq!(p["workers"][0]["failures"], 2, "{p}");
    assert!(
        p["state"]
            .as_str()
            .unwrap()
            .starts_with("reloading (attempt 1, next in "),
        "the re-created VM ran, so its next failure starts over at attempt 1: {p}"
    );
}

/// Polls `listen` until a request passes the plugin (200 with its response header).
async fn wait_for_plugin(proxy: &ProxyProcess, listen: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let resp = client().get(format!("http://{listen}/x")).send().await.unwrap();
        if resp.status() == 200 {
            assert_eq!(resp.headers()["x-wasm-response"], "retried");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not loaded within 10 s: {}\n{}",
            plugins(proxy),
            proxy.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The first retry is announced in `/plugins`, with when it happens.
fn assert_retry_announced(proxy: &ProxyProcess, name: &str) {
    let p = plugin(proxy, name);
    let state = p["state"].as_str().unwrap();
    assert!(state.starts_with("reloading (attempt "), "{p}");
    assert!(p["nextAttemptAt"].as_str().unwrap().ends_with('Z'), "{p}");
    assert!(p["failures"].as_u64().unwrap() >= 1, "{p}");
}

#[tokio::test]
async fn a_module_file_that_appears_later_is_loaded_without_a_change_of_the_resource() {
    let echo = Echo::start("up");
    let modules = tempfile::tempdir().unwrap();
    let path = modules.path().join("later.wasm");
    let plugin_yaml = plugin_at(
        "later",
        &format!("file://{}", path.display()),
        "  pluginConfig: {value: retried}\n",
    );
    let (proxy, listen) = start(echo.addr, &plugin_yaml, 2);
    assert_retry_announced(&proxy, "later");
    assert_short_503(listen, "later").await;

    // The module appears (written whole, then renamed, as a deployment would).
    let tmp = modules.path().join(".later.tmp");
    std::fs::write(&tmp, wasmesh_testkit::plugin_bytes("headers")).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    wait_for_plugin(&proxy, listen).await;
    let p = plugin(&proxy, "later");
    assert_eq!(p["state"], "loaded", "{p}");
    assert_eq!(p["nextAttemptAt"], serde_json::Value::Null);
    assert!(
        p["lastError"].as_str().unwrap().contains("later.wasm"),
        "the failure before stays on record: {p}"
    );
    let log = proxy.log();
    assert!(log.contains("fetching the module again"), "{log}");
    assert_eq!(
        log.matches("cannot get Wasm module").count(),
        1,
        "the fetch error is logged once, not at every retry:\n{log}"
    );
}

// Two threads: the server answers while this test's thread waits for the proxy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_module_that_was_missing_is_loaded_once_the_server_has_it() {
    let echo = Echo::start("up");
    let module = wasmesh_testkit::plugin_bytes("headers");
    let available = Arc::new(AtomicBool::new(false));
    let serving = available.clone();
    let server = http_server::serve(move |path, _| match path {
        "/later.wasm" if serving.load(Ordering::SeqCst) => http_server::bytes(200, module.clone()),
        _ => http_server::bytes(404, "not here yet"),
    })
    .await;
    let (proxy, listen) = start(
        echo.addr,
        &plugin_at(
            "later",
            &server.url("/later.wasm"),
            "  pluginConfig: {value: retried}\n",
        ),
        1,
    );
    assert_retry_announced(&proxy, "later");
    let before = server.hits();
    available.store(true, Ordering::SeqCst);
    wait_for_plugin(&proxy, listen).await;
    assert!(server.hits() > before, "fetched again");
    assert_eq!(plugin(&proxy, "later")["state"], "loaded");
}

/// Sends SIGTERM and measures how long the process takes to exit.
fn time_to_exit(proxy: &mut ProxyProcess) -> Duration {
    let sent = Instant::now();
    proxy.signal("TERM");
    loop {
        if let Some(status) = proxy.child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}\n{}", proxy.log());
            return sent.elapsed();
        }
        assert!(
            sent.elapsed() < Duration::from_secs(20),
            "no exit 20 s after SIGTERM:\n{}",
            proxy.log()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn sigterm_stops_an_idle_proxy_at_once() {
    let echo = Echo::start("up");
    let (mut proxy, listen) = start(echo.addr, &sdk_plugin("h", "headers", ""), 2);
    assert_eq!(http_get(listen, "/x").0, 200);
    let took = time_to_exit(&mut proxy);
    assert!(took < Duration::from_secs(1), "{took:?}\n{}", proxy.log());
}

#[test]
fn sigterm_while_a_module_compiles_stops_the_proxy_at_once() {
    // A cache of its own, so the module is compiled, not found (openid-connect, the largest
    // plugin, compiles for seconds in a debug build).
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = one_backend_proxy_yaml(free_addr(), free_addr());
    std::fs::write(dir.path().join("proxy.yaml"), config).unwrap();
    std::fs::write(
        dir.path().join("plugin.yaml"),
        sdk_plugin("oidc", "openid-connect", ""),
    )
    .unwrap();
    let mut proxy = ProxyProcess::spawn_with_cache(dir, "istio-system/gw", 1, cache.path());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !proxy.log().contains("wasmesh proxy starting") {
        assert!(Instant::now() < deadline, "{}", proxy.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !proxy.log().contains("plugin loaded"),
        "the module was compiled before SIGTERM; this test needs it to be compiling:\n{}",
        proxy.log()
    );
    let took = time_to_exit(&mut proxy);
    assert!(
        took < Duration::from_secs(1),
        "the compile was waited for: {took:?}\n{}",
        proxy.log()
    );
}
