//! `wasmesh proxy --kubernetes` end to end: the real binary follows the API server test
//! double (docs/kubernetes-testing.md), driven by the real kubectl 1.37. A WasmPlugin
//! applied is served, a changed `pluginConfig` is live, a deleted one is gone, a bad object
//! is reported while the rest goes on; `/ready` waits for the first lists; an outage of the
//! API server keeps the configuration serving, logged once, with the connected metric
//! going 0 then 1; `410 Gone` relists without a gap; a pull Secret, followed by its name
//! with `get` and `watch` only (never a list), is used once it appears and once it is rotated.

use crate::kube_support::{Cluster, KubeProxy};
use crate::proxy_support::echo::Echo;
use crate::proxy_support::{free_addr, one_backend_proxy_yaml};
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

/// `wasmesh proxy --kubernetes` for `istio-system/gw`, with `extra` flags.
fn spawn(cluster: &Cluster, extra: &[&str]) -> KubeProxy {
    let mut args = vec!["--workload", "istio-system/gw"];
    args.extend_from_slice(extra);
    // the test registry serves plain HTTP
    KubeProxy::spawn(cluster, &args, &[("WASM_INSECURE_REGISTRIES", "*")])
}

/// The value of the `wasmesh_config_source_connected` gauge.
fn connected(proxy: &KubeProxy) -> Option<String> {
    let (_, metrics) = proxy.admin("/stats/prometheus");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("wasmesh_config_source_connected{source=\"kubernetes\"} "))
        .map(str::to_string)
}

/// A WasmPlugin of the test plugin `headers` in istio-system (so for every workload) that
/// adds `x-wasm-request: VALUE` to requests.
fn header_plugin(name: &str, value: &str) -> String {
    format!(
        "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n  name: {name}\n  namespace: istio-system\nspec:\n  url: file://{}\n  pluginConfig: {{value: {value}}}\n",
        wasmesh_testkit::plugin("headers").display()
    )
}

/// What the upstream saw of one request through the proxy: its `x-wasm-request` header
/// (empty when none), or `Err` when the request failed.
async fn through(client: &reqwest::Client, listen: SocketAddr) -> Result<String, String> {
    let resp = client
        .get(format!("http://{listen}/x"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if resp.status() != 200 {
        return Err(format!("status {}", resp.status()));
    }
    let seen: serde_json::Value = resp.json().await.map_err(|e| e.to_string())?;
    Ok(seen["headers"]["x-wasm-request"]
        .as_str()
        .unwrap_or("")
        .to_string())
}

/// Sends requests until the upstream sees `x-wasm-request: want` (`""`: none), within
/// `within`; returns how long it took.
async fn until_seen(client: &reqwest::Client, listen: SocketAddr, want: &str, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let seen = through(client, listen).await;
        if seen.as_deref() == Ok(want) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "upstream did not see x-wasm-request {want:?} within {within:?}; last: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[tokio::test]
async fn kubectl_apply_change_and_delete_reach_the_gateway_and_a_bad_object_is_skipped() {
    let cluster = Cluster::start();
    let echo = Echo::start("up");
    let listen = free_addr();

    // no CRDs yet: the lists fail, nothing is synced, the proxy is not ready and says why
    let proxy = spawn(&cluster, &[]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let why = loop {
        let (status, body) = proxy.admin("/ready");
        if status == 503 && body.contains("(refused: ") {
            break body;
        }
        assert!(Instant::now() < deadline, "{status} {body}\n{}", proxy.log());
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        why.contains("the list of WasmPlugins in all namespaces (refused: 404"),
        "{why}"
    );
    assert!(why.contains("Kubernetes API server http://127.0.0.1:"), "{why}");

    cluster.install_crds("istio-system");
    cluster.apply("proxy.yaml", &one_backend_proxy_yaml(listen, echo.addr));
    proxy.wait_ready(Duration::from_secs(20));
    let client = client();
    assert_eq!(through(&client, listen).await, Ok(String::new()), "no plugin yet");

    // applied: served; the first time includes compiling the module
    cluster.apply("plugin.yaml", &header_plugin("headers", "one"));
    until_seen(&client, listen, "one", Duration::from_secs(20)).await;

    // a changed pluginConfig: live within a second
    cluster.apply("plugin.yaml", &header_plugin("headers", "two"));
    let took = until_seen(&client, listen, "two", Duration::from_secs(5)).await;
    eprintln!("a changed pluginConfig reached the data plane in {took:?}");
    assert!(took <= Duration::from_secs(1), "took {took:?}");

    // a bad object is reported, with its origin and field path, and the rest goes on
    let bad = header_plugin("bad", "x").replace("pluginConfig", "phase: EARLY\n  pluginConfig");
    cluster.apply("bad.yaml", &bad);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !proxy
        .log()
        .contains("WasmPlugin istio-system/bad (resourceVersion")
    {
        assert!(
            Instant::now() < deadline,
            "bad object not reported:\n{}",
            proxy.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = proxy.log();
    let line = log
        .lines()
        .find(|l| l.contains("WasmPlugin istio-system/bad"))
        .unwrap();
    assert!(line.contains("spec.phase: unknown variant `EARLY`"), "{line}");
    assert_eq!(through(&client, listen).await, Ok("two".to_string()));
    let (_, dump) = proxy.admin("/config_dump");
    assert!(dump.contains("istio-system/bad"), "{dump}");

    // deleted: gone
    cluster.kubectl(&["delete", "wasmplugin", "headers", "-n", "istio-system"]);
    let took = until_seen(&client, listen, "", Duration::from_secs(5)).await;
    assert!(took <= Duration::from_secs(1), "took {took:?}");
}

#[tokio::test]
async fn an_outage_keeps_serving_is_logged_once_and_a_410_relists_without_a_gap() {
    let cluster = Cluster::start();
    cluster.install_crds("istio-system");
    let echo = Echo::start("up");
    let listen = free_addr();
    cluster.apply("proxy.yaml", &one_backend_proxy_yaml(listen, echo.addr));
    cluster.apply("plugin.yaml", &header_plugin("headers", "one"));
    let proxy = spawn(&cluster, &[]);
    proxy.wait_ready(Duration::from_secs(30));
    let client = client();
    until_seen(&client, listen, "one", Duration::from_secs(20)).await;
    assert_eq!(connected(&proxy).as_deref(), Some("1"));

    // down for 4 s: every request still served with the plugin; the gauge says 0
    cluster.server.go_down(Duration::from_secs(4));
    let down = Instant::now();
    let (mut served, mut saw_disconnected) = (0, false);
    while down.elapsed() < Duration::from_secs(4) {
        assert_eq!(
            through(&client, listen).await,
            Ok("one".to_string()),
            "during the outage"
        );
        served += 1;
        saw_disconnected |= connected(&proxy).as_deref() == Some("0");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served > 20, "{served}");
    assert!(
        saw_disconnected,
        "the connected gauge never said 0\n{}",
        proxy.log()
    );

    // back: the gauge says 1 again, the outage was logged once and its end once
    let deadline = Instant::now() + Duration::from_secs(15);
    while connected(&proxy).as_deref() != Some("1") {
        assert!(Instant::now() < deadline, "not reconnected:\n{}", proxy.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = proxy.log();
    assert_eq!(
        log.matches("Kubernetes API server unreachable").count(),
        1,
        "{log}"
    );
    assert_eq!(
        log.matches("Kubernetes API server reachable again").count(),
        1,
        "{log}"
    );
    // a change after the outage is followed
    cluster.apply("plugin.yaml", &header_plugin("headers", "two"));
    until_seen(&client, listen, "two", Duration::from_secs(10)).await;

    // 410: the watchers list again; no request in between misses the plugin
    let lists = cluster.server.requests("list");
    cluster.server.expire_history();
    let start = Instant::now();
    while cluster.server.requests("list") < lists + 4 || start.elapsed() < Duration::from_secs(1) {
        assert_eq!(
            through(&client, listen).await,
            Ok("two".to_string()),
            "during the relist"
        );
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no relist:\n{}",
            proxy.log()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        proxy.log().contains("watch expired (410 Gone); listing again"),
        "{}",
        proxy.log()
    );
    cluster.apply("plugin.yaml", &header_plugin("headers", "three"));
    until_seen(&client, listen, "three", Duration::from_secs(5)).await;
}

/// A `kubernetes.io/dockerconfigjson` Secret for `registry` (host:port) as `user:password`.
fn pull_secret(registry: &str, user: &str, password: &str) -> String {
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let config = format!("{{\"auths\":{{\"{registry}\":{{\"auth\":\"{auth}\"}}}}}}");
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: pull, namespace: istio-system}}\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: '{config}'\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_pull_secret_is_used_for_the_next_pull() {
    let registry = crate::fetch_support::registry::Registry::start_with_auth("alice", "pa55word");
    let url = registry.url("private/headers:v1");
    let host = url
        .trim_start_matches("oci://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let work = tempfile::tempdir().unwrap();
    let module = work.path().join("headers.wasm");
    std::fs::write(&module, wasmesh_testkit::plugin_bytes("headers")).unwrap();
    let pushed = Command::new(env!("CARGO_BIN_EXE_wasmesh"))
        .args([
            "push",
            module.to_str().unwrap(),
            &url,
            "--plain-http",
            "--username",
            "alice",
        ])
        .env("WASMESH_REGISTRY_PASSWORD", "pa55word")
        .env("DOCKER_CONFIG", "/nonexistent")
        .output()
        .unwrap();
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );

    let cluster = Cluster::start();
    cluster.install_crds("istio-system");
    let echo = Echo::start("up");
    let listen = free_addr();
    cluster.apply("proxy.yaml", &one_backend_proxy_yaml(listen, echo.addr));
    // the Secret does not exist yet when it is first followed
    let plugin = format!(
        "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {{name: private, namespace: istio-system}}\nspec:\n  url: {url}\n  imagePullSecret: pull\n  failStrategy: FAIL_OPEN\n  pluginConfig: {{value: private}}\n"
    );
    cluster.apply("plugin.yaml", &plugin);
    let proxy = spawn(&cluster, &[]);
    proxy.wait_ready(Duration::from_secs(30));
    let client = client();
    proxy.wait_log(
        "imagePullSecret pull: no Secret istio-system/pull",
        Duration::from_secs(20),
    );
    assert_eq!(through(&client, listen).await, Ok(String::new()));

    // created later, with the wrong password: the pull is refused, FAIL_OPEN skips the plugin
    cluster.apply("secret.yaml", &pull_secret(&host, "alice", "wrong"));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, plugins) = proxy.admin("/plugins");
        if plugins.contains("registry denied access (HTTP 401)") {
            break;
        }
        assert!(Instant::now() < deadline, "{plugins}\n{}", proxy.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(through(&client, listen).await, Ok(String::new()));

    // rotated: the next pull has the right password
    cluster.apply("secret.yaml", &pull_secret(&host, "alice", "pa55word"));
    until_seen(&client, listen, "private", Duration::from_secs(20)).await;
    assert!(!proxy.log().contains("pa55word"), "a password reached the log");
    // followed with `get` and `watch` alone, as deploy/rbac.yaml allows: never a list
    let server = &cluster.server;
    assert_eq!(
        server.requests_on("list", "secrets"),
        0,
        "a list of Secrets was made"
    );
    assert!(server.requests_on("get", "secrets") >= 1);
    assert!(server.requests_on("watch", "secrets") >= 1);
}

#[tokio::test]
async fn selectors_match_the_pods_labels_from_the_labels_file() {
    let cluster = Cluster::start();
    cluster.install_crds("istio-system");
    let echo = Echo::start("up");
    let listen = free_addr();
    // the Proxy's own labels are istio=ingressgateway: this plugin would not select it
    cluster.apply("proxy.yaml", &one_backend_proxy_yaml(listen, echo.addr));
    let selected =
        header_plugin("web-only", "web").replace("spec:\n", "spec:\n  selector: {matchLabels: {app: web}}\n");
    cluster.apply("plugin.yaml", &selected);
    let labels = tempfile::tempdir().unwrap();
    let file = labels.path().join("labels");
    std::fs::write(&file, "app=\"web\"\npod-template-hash=\"6d4cf56db6\"\n").unwrap();
    let proxy = spawn(&cluster, &["--labels-file", file.to_str().unwrap()]);
    proxy.wait_ready(Duration::from_secs(30));
    let client = client();
    until_seen(&client, listen, "web", Duration::from_secs(20)).await;

    // the kubelet rewrites the file when the pod's labels change
    let tmp = labels.path().join("labels.tmp");
    std::fs::write(&tmp, "app=\"api\"\n").unwrap();
    std::fs::rename(&tmp, &file).unwrap();
    until_seen(&client, listen, "", Duration::from_secs(10)).await;
    assert!(
        proxy.log().contains("the pod's labels changed"),
        "{}",
        proxy.log()
    );

    // a malformed file stops the proxy at start, naming the file and line
    std::fs::write(&file, "app=web\n").unwrap();
    let mut bad = spawn(&cluster, &["--labels-file", file.to_str().unwrap()]);
    let status = bad.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{}", bad.log());
    assert!(
        bad.log()
            .contains("line 1: the value of app is not a double-quoted string: web"),
        "{}",
        bad.log()
    );
}

#[test]
fn the_kubernetes_flags_go_with_kubernetes_only() {
    use crate::cli_support::wasmesh;
    let neither = wasmesh(&["proxy", "--workload", "a/b"]);
    assert_eq!(neither.code, 2, "{neither:?}");
    assert!(
        neither.stderr.contains("<--config <DIR>|--kubernetes>"),
        "{neither:?}"
    );
    let both = wasmesh(&["proxy", "--config", "d", "--kubernetes", "--workload", "a/b"]);
    assert_eq!(both.code, 2, "{both:?}");
    for flag in [["--kubeconfig", "k"], ["--context", "c"], ["--namespace", "n"]] {
        let run = wasmesh(&["proxy", "--config", "d", flag[0], flag[1], "--workload", "a/b"]);
        assert_eq!(run.code, 2, "{run:?}");
        assert!(run.stderr.contains("cannot be used with"), "{run:?}");
    }
    let missing = wasmesh(&[
        "proxy",
        "--kubernetes",
        "--kubeconfig",
        "/nonexistent/kubeconfig",
        "--workload",
        "a/b",
    ]);
    assert_eq!(missing.code, 1, "{missing:?}");
    assert!(
        missing
            .stderr
            .contains("cannot read the kubeconfig /nonexistent/kubeconfig"),
        "{missing:?}"
    );
}

#[tokio::test]
async fn with_namespace_the_root_namespace_is_followed_too() {
    let cluster = Cluster::start();
    cluster.install_crds("istio-system");
    cluster.apply(
        "namespace-web.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n",
    );
    let echo = Echo::start("up");
    let listen = free_addr();
    let proxy_yaml =
        one_backend_proxy_yaml(listen, echo.addr).replace("namespace: istio-system", "namespace: web");
    cluster.apply("proxy.yaml", &proxy_yaml);
    // a plugin of the root namespace applies to the workload of `web`, which is the only
    // namespace named
    cluster.apply("plugin.yaml", &header_plugin("mesh-wide", "root"));
    let proxy = KubeProxy::spawn(&cluster, &["--workload", "web/gw", "--namespace", "web"], &[]);
    proxy.wait_ready(Duration::from_secs(20));
    assert!(
        proxy.log().contains("namespaces=web,istio-system"),
        "{}",
        proxy.log()
    );
    until_seen(&client(), listen, "root", Duration::from_secs(20)).await;
}
