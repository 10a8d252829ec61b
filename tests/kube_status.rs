//! Status back on each WasmPlugin (docs/kubernetes.md, "Status"), end to end: the real
//! `wasmesh proxy --kubernetes` against the API server double, the CRDs from `wasmesh crds`,
//! the status read back with the real kubectl 1.37. A valid plugin is Accepted and Ready
//! with its module's digest and observedGeneration; a wrong sha256 is Ready=False naming
//! the mismatch; an invalid object is Accepted=False with its field path; two replicas
//! write each status once, with no conflict loop; a new failure is one Warning Event,
//! listed by `kubectl get events` and `kubectl events`. A RequestAuthentication and an
//! AuthorizationPolicy applied by the gateway are Accepted and Ready (`kubectl get ra,ap`),
//! an invalid AuthorizationPolicy is Accepted=False with its field path.

use crate::kube_support::{Cluster, KubeProxy};
use crate::proxy_support::echo::Echo;
use crate::proxy_support::{free_addr, one_backend_proxy_yaml};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The double with wasmesh's CRDs, the namespace istio-system and the Proxy
/// istio-system/gw listening on `listen`.
struct StatusCluster(Cluster);

impl std::ops::Deref for StatusCluster {
    type Target = Cluster;

    fn deref(&self) -> &Cluster {
        &self.0
    }
}

impl StatusCluster {
    fn start(listen: SocketAddr, upstream: SocketAddr) -> Self {
        let cluster = Cluster::start();
        cluster.install_crds("istio-system");
        cluster.apply("proxy.yaml", &one_backend_proxy_yaml(listen, upstream));
        StatusCluster(cluster)
    }

    /// `kubectl get wasmplugin/NAME -n istio-system -o jsonpath=PATH`; a `name` with a
    /// `/` names another kind (`ap/allow`).
    fn jsonpath(&self, name: &str, path: &str) -> String {
        let jsonpath = format!("jsonpath={path}");
        let object = match name.contains('/') {
            true => name.to_string(),
            false => format!("wasmplugin/{name}"),
        };
        self.kubectl(&["get", &object, "-n", "istio-system", "-o", &jsonpath])
    }

    /// The plugin's conditions, by type, as kubectl prints `{.status.conditions}`.
    fn conditions(&self, name: &str) -> Vec<Value> {
        let text = self.jsonpath(name, "{.status.conditions}");
        if text.trim().is_empty() {
            return Vec::new();
        }
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    /// Waits (up to `within`) until condition `kind` of `name` has `status` and `reason`;
    /// returns it.
    fn wait_condition(
        &self,
        name: &str,
        kind: &str,
        status: &str,
        reason: &str,
        within: Duration,
        log: &dyn Fn() -> String,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let conditions = self.conditions(name);
            if let Some(c) = conditions
                .iter()
                .find(|c| c["type"] == kind && c["status"] == status && c["reason"] == reason)
            {
                return c.clone();
            }
            assert!(
                Instant::now() < deadline,
                "{name}: no {kind}={status} ({reason}) within {within:?}: {conditions:#?}\nlog:\n{}",
                log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// `wasmesh proxy --kubernetes` for `istio-system/gw`, reporting as pod `pod`.
fn gateway(cluster: &Cluster, pod: &str) -> KubeProxy {
    KubeProxy::spawn(cluster, &["--workload", "istio-system/gw"], &[("POD_NAME", pod)])
}

/// An upstream, the double and one gateway `gw-0`, ready.
fn one_gateway() -> (Echo, StatusCluster, KubeProxy) {
    let echo = Echo::start("up");
    let cluster = StatusCluster::start(free_addr(), echo.addr);
    let gateway = gateway(&cluster, "gw-0");
    gateway.wait_ready(Duration::from_secs(30));
    (echo, cluster, gateway)
}

/// A WasmPlugin of the test plugin `headers` in istio-system (so for every workload);
/// `extra` lines go into its spec.
fn plugin(name: &str, value: &str, extra: &str) -> String {
    format!(
        "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n  name: {name}\n  namespace: istio-system\nspec:\n  url: file://{}\n  pluginConfig: {{value: {value}}}\n{extra}",
        wasmesh_testkit::plugin("headers").display()
    )
}

fn headers_digest() -> String {
    let bytes = std::fs::read(wasmesh_testkit::plugin("headers")).expect("the headers plugin");
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn kubectl_shows_accepted_and_ready_with_the_digest_a_mismatch_and_a_field_path() {
    let (_echo, cluster, gateway) = one_gateway();
    let log = || gateway.log();
    let within = Duration::from_secs(30);

    // valid: Accepted and Ready, with the module's digest and the generation observed
    cluster.apply("good.yaml", &plugin("good", "one", ""));
    let ready = cluster.wait_condition("good", "Ready", "True", "Loaded", within, &log);
    let digest = headers_digest();
    assert_eq!(
        ready["message"],
        format!("selected by 1 gateway of 1, running module sha256:{digest}").as_str()
    );
    assert_eq!(ready["observedGeneration"], 1);
    let accepted = cluster.wait_condition("good", "Accepted", "True", "Valid", within, &log);
    assert_eq!(cluster.jsonpath("good", "{.status.observedGeneration}"), "1");
    let since = accepted["lastTransitionTime"].clone();
    assert!(since.as_str().is_some_and(|t| t.ends_with('Z')), "{since}");

    // a new generation: observed, and Accepted's transition time stays (still True)
    cluster.apply("good.yaml", &plugin("good", "two", ""));
    let deadline = Instant::now() + within;
    while cluster.jsonpath("good", "{.status.observedGeneration}") != "2" {
        assert!(
            Instant::now() < deadline,
            "generation 2 not observed:\n{}",
            gateway.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let ready = cluster.wait_condition("good", "Ready", "True", "Loaded", within, &log);
    assert_eq!(ready["observedGeneration"], 2);
    let accepted = cluster.wait_condition("good", "Accepted", "True", "Valid", within, &log);
    assert_eq!(accepted["lastTransitionTime"], since);

    // a wrong sha256: Ready=False naming the mismatch
    let wrong = "0".repeat(64);
    cluster.apply(
        "sum.yaml",
        &plugin("sum", "x", &format!("  sha256: \"{wrong}\"\n")),
    );
    let failed = cluster.wait_condition("sum", "Ready", "False", "DigestMismatch", within, &log);
    let message = failed["message"].as_str().unwrap();
    assert!(
        message.starts_with("selected by 1 gateway of 1; failed on 1: gw-0: module file://"),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "digest mismatch: expected sha256:{wrong}, got sha256:{digest}"
        )),
        "{message}"
    );
    cluster.wait_condition("sum", "Accepted", "True", "Valid", within, &log);

    // invalid: Accepted=False with the field path and value, as `validate` prints them
    let bad = plugin("bad", "x", "").replace("pluginConfig", "phase: EARLY\n  pluginConfig");
    cluster.apply("bad.yaml", &bad);
    let rejected = cluster.wait_condition("bad", "Accepted", "False", "Invalid", within, &log);
    let message = rejected["message"].as_str().unwrap();
    assert!(
        message.starts_with("spec.phase: unknown variant `EARLY`"),
        "{message}"
    );
    cluster.wait_condition("bad", "Ready", "False", "NotAccepted", within, &log);
    assert_eq!(cluster.jsonpath("bad", "{.status.observedGeneration}"), "1");
}

/// A RequestAuthentication with an inline JWKS and an AuthorizationPolicy allowing
/// everything, both in istio-system (so for every workload); `action` is the policy's.
fn policies(action: &str) -> String {
    [
        "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: jwt, namespace: istio-system}\nspec:\n  jwtRules:\n  - issuer: https://issuer.test\n    jwks: '{\"keys\": []}'\n".to_string(),
        format!("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{name: allow, namespace: istio-system}}\nspec:\n  action: {action}\n  rules:\n  - {{}}\n"),
    ]
    .join("---\n")
}

#[test]
fn kubectl_shows_the_security_policies_accepted_and_applied_or_the_field_path() {
    let (_echo, cluster, gateway) = one_gateway();
    let log = || gateway.log();
    let within = Duration::from_secs(30);
    let wait = |name: &str, kind: &str, status: &str, reason: &str| {
        cluster.wait_condition(name, kind, status, reason, within, &log)
    };

    cluster.apply("policies.yaml", &policies("ALLOW"));
    for object in ["ra/jwt", "ap/allow"] {
        let ready = wait(object, "Ready", "True", "Applied");
        assert_eq!(ready["message"], "applied by 1 gateway of 1", "{object}");
        assert_eq!(ready["observedGeneration"], 1, "{object}");
        wait(object, "Accepted", "True", "Valid");
    }
    // the CRDs' printer columns, as `kubectl get ra,ap` shows them: one table per kind
    let shown = cluster.kubectl(&["get", "ra,ap", "-n", "istio-system"]);
    let mut header: Vec<&str> = Vec::new();
    let mut rows = 0;
    for line in shown.lines().filter(|l| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        if cells[0] == "NAME" {
            header = cells;
            continue;
        }
        let column = |name: &str| {
            let i = header.iter().position(|h| *h == name);
            i.and_then(|i| cells.get(i).copied())
        };
        assert_eq!(
            (column("ACCEPTED"), column("READY")),
            (Some("True"), Some("True")),
            "{shown}"
        );
        rows += 1;
    }
    assert_eq!(rows, 2, "{shown}");

    // an invalid AuthorizationPolicy: Accepted=False with the field path and value
    cluster.apply("policies.yaml", &policies("PERMIT"));
    let rejected = wait("ap/allow", "Accepted", "False", "Invalid");
    let message = rejected["message"].as_str().unwrap();
    assert!(
        message.starts_with("spec.action: unknown variant `PERMIT`"),
        "{message}"
    );
    wait("ap/allow", "Ready", "False", "NotAccepted");
    assert_eq!(cluster.jsonpath("ap/allow", "{.status.observedGeneration}"), "2");
    // the RequestAuthentication, unchanged, stays applied
    wait("ra/jwt", "Ready", "True", "Applied");
}

#[test]
fn two_replicas_write_each_status_once_and_do_not_fight() {
    let echo = Echo::start("up");
    let cluster = StatusCluster::start(free_addr(), echo.addr);
    let a = gateway(&cluster, "gw-a");
    let b = gateway(&cluster, "gw-b");
    a.wait_ready(Duration::from_secs(30));
    b.wait_ready(Duration::from_secs(30));
    let log = || format!("gw-a:\n{}\ngw-b:\n{}", a.log(), b.log());
    let within = Duration::from_secs(30);

    let patches_before = cluster.server.requests("patch");
    cluster.apply("good.yaml", &plugin("good", "one", ""));
    // kubectl apply of a new object creates it: no patch of its own
    let ready = cluster.wait_condition("good", "Ready", "True", "Loaded", within, &log);
    let message = ready["message"].as_str().unwrap();
    if !message.starts_with("selected by 2 gateways of 2") {
        // the second report came after the first write: wait for it
        let deadline = Instant::now() + within;
        while !cluster.conditions("good").iter().any(|c| {
            c["type"] == "Ready"
                && c["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("selected by 2 gateways of 2"))
        }) {
            assert!(Instant::now() < deadline, "not 2 of 2: {message}\n{}", log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    // settled: nothing more is written, by either replica
    std::thread::sleep(Duration::from_secs(2));
    let (patches, updates) = (
        cluster.server.requests("patch"),
        cluster.server.requests("update"),
    );
    let written = patches - patches_before;
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(
        cluster.server.requests("patch"),
        patches,
        "status written again with nothing changed:\n{}",
        log()
    );
    // each replica renews its report every 5 s, the writer its Lease: no more
    let renewals = cluster.server.requests("update") - updates;
    assert!(renewals <= 8, "{renewals} Lease writes in 6 s:\n{}", log());
    // each distinct status once: Accepted+Ready as first seen (at most Loading, 1 of 2, 2 of 2)
    assert!((1..=4).contains(&written), "{written} status writes:\n{}", log());
    eprintln!("two replicas: {written} status write(s), {renewals} Lease write(s) in 6 s");

    // one writer
    let writers = [a.log(), b.log()]
        .iter()
        .filter(|l| l.contains("this gateway now writes the WasmPlugins' status"))
        .count();
    assert_eq!(writers, 1, "{}", log());
    let holder = cluster.kubectl.run(&[
        "get",
        "lease",
        "wasmesh-status",
        "-n",
        "istio-system",
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ]);
    assert!(holder == "gw-a" || holder == "gw-b", "{holder}");
}

#[test]
fn the_report_of_a_gateway_gone_five_minutes_is_deleted_and_a_recent_one_is_kept() {
    let echo = Echo::start("up");
    let cluster = StatusCluster::start(free_addr(), echo.addr);
    let report = |name: &str, renewed: &str| {
        format!(
            "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: {name}\n  namespace: istio-system\n  labels: {{wasmesh.io/gateway-report: \"true\"}}\n  annotations: {{wasmesh.io/plugins: '{{\"plugins\":[]}}'}}\nspec:\n  holderIdentity: {name}\n  leaseDurationSeconds: 15\n  renewTime: \"{renewed}\"\n"
        )
    };
    // one stopped renewing long ago, one a minute ago (expired, but not gone five minutes)
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // a MicroTime, as Leases carry: `…T12:00:00.000000Z`
    let a_minute_ago = wasmesh_api::timestamp::Timestamp::from_unix_seconds(now - 60)
        .to_string()
        .replace('Z', ".000000Z");
    cluster.apply(
        "gone.yaml",
        &report("wasmesh-gateway-gone", "2020-01-01T00:00:00.000000Z"),
    );
    cluster.apply("recent.yaml", &report("wasmesh-gateway-recent", &a_minute_ago));
    let gw = gateway(&cluster, "gw-0");
    gw.wait_ready(Duration::from_secs(30));
    let leases = || cluster.kubectl(&["get", "leases", "-n", "istio-system", "-o", "name"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    // its own report comes within a second of the first snapshot; the old one goes
    while leases().contains("wasmesh-gateway-gone") || !leases().contains("wasmesh-gateway-gw-0") {
        assert!(Instant::now() < deadline, "{}\nlog:\n{}", leases(), gw.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let left = leases();
    assert!(left.contains("wasmesh-gateway-recent"), "{left}");
    assert!(gw.log().contains("its Lease is deleted"), "{}", gw.log());
}

/// The Events regarding the WasmPlugin `name`, as `kubectl get events --field-selector`
/// lists them.
fn events_of(cluster: &Cluster, name: &str) -> Vec<Value> {
    let selector = format!("involvedObject.name={name}");
    let text = cluster.kubectl(&[
        "get",
        "events",
        "-n",
        "istio-system",
        "--field-selector",
        &selector,
        "-o",
        "json",
    ]);
    let list: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    list["items"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_new_failure_is_one_warning_event_from_the_status_writer_alone() {
    let echo = Echo::start("up");
    let cluster = StatusCluster::start(free_addr(), echo.addr);
    let a = gateway(&cluster, "gw-a");
    let b = gateway(&cluster, "gw-b");
    a.wait_ready(Duration::from_secs(30));
    b.wait_ready(Duration::from_secs(30));
    let log = || format!("gw-a:\n{}\ngw-b:\n{}", a.log(), b.log());
    let within = Duration::from_secs(30);

    let wrong = format!("  sha256: \"{}\"\n", "0".repeat(64));
    cluster.apply("sum.yaml", &plugin("sum", "x", &wrong));
    cluster.wait_condition("sum", "Ready", "False", "DigestMismatch", within, &log);
    let deadline = Instant::now() + within;
    while events_of(&cluster, "sum").is_empty() {
        assert!(Instant::now() < deadline, "no Event for sum:\n{}", log());
        std::thread::sleep(Duration::from_millis(100));
    }
    // several passes of the writer later, with the reason unchanged: still one, from one replica
    std::thread::sleep(Duration::from_secs(4));
    let events = events_of(&cluster, "sum");
    assert_eq!(events.len(), 1, "{events:#?}\n{}", log());
    let event = &events[0];
    assert_eq!(event["type"], "Warning");
    assert_eq!(event["reason"], "DigestMismatch");
    assert_eq!(event["involvedObject"]["kind"], "WasmPlugin");
    assert_eq!(
        event["involvedObject"]["apiVersion"],
        "extensions.istio.io/v1alpha1"
    );
    assert_eq!(event["reportingComponent"], "wasmesh.io/gateway-controller");
    let instance = event["reportingInstance"].as_str().unwrap();
    assert!(instance == "gw-a" || instance == "gw-b", "{instance}");
    let message = event["message"].as_str().unwrap();
    assert!(
        message.contains("digest mismatch: expected sha256:0000"),
        "{message}"
    );
    // kubectl's own view of the object's events names the reason too
    let shown = cluster.kubectl(&["events", "-n", "istio-system", "--for", "wasmplugin/sum"]);
    assert!(shown.contains("DigestMismatch"), "{shown}");

    // fixed: no Event; broken again: a new one, the reason being new after Loaded
    cluster.apply("sum.yaml", &plugin("sum", "x", ""));
    cluster.wait_condition("sum", "Ready", "True", "Loaded", within, &log);
    assert_eq!(events_of(&cluster, "sum").len(), 1, "{}", log());
    cluster.apply("sum.yaml", &plugin("sum", "y", &wrong));
    let deadline = Instant::now() + within;
    while events_of(&cluster, "sum").len() < 2 {
        assert!(Instant::now() < deadline, "no second Event for sum:\n{}", log());
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(events_of(&cluster, "sum").len(), 2, "{}", log());
}
