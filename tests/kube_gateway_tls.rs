//! HTTPS listeners of a Gateway end to end (docs/gateway-api.md, "HTTPS listeners"): the
//! real binary follows the API server test double, driven by the real kubectl 1.37. A TLS
//! Secret and a Gateway whose HTTPS listener names it serve the route over TLS (curl
//! verifies the certificate); the Secret replaced with a new certificate is served to new
//! connections (openssl s_client sees it) while a load of new connections has no failure;
//! the Secret is followed with `get` and `watch`, never listed; a listener whose Secret
//! does not exist is not served, and the log says which Secret. A Secret of another
//! namespace is refused (`ResolvedRefs=False RefNotPermitted`, not bound) until a
//! ReferenceGrant there allows it, then followed and served.

use crate::kube_gateway::{gateway_cluster, gateway_proxy, slice, ROUTE_AND_SERVICE};
use crate::proxy_support::echo::Echo;
use crate::proxy_support::{free_addr, self_signed_as, served_subject, tls_secret_yaml};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const HOST: &str = "gw.test";

/// A self-signed certificate for gw.test whose subject is `CN=<cn>`.
fn certificate(dir: &Path, cn: &str) -> (PathBuf, PathBuf) {
    self_signed_as(dir, cn, &format!("DNS:{HOST}"))
}

/// The `kubernetes.io/tls` Secret edge/`name`.
fn tls_secret(name: &str, pair: &(PathBuf, PathBuf)) -> String {
    tls_secret_yaml("edge", name, pair)
}

/// The GatewayClass and Gateway edge/public with one HTTPS listener for gw.test on `port`
/// terminating with Secret `secret`, and one on `broken_port` whose Secret does not exist.
fn https_gateway(port: u16, secret: &str, broken_port: u16) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: wasmesh}}
spec: {{controllerName: wasmesh.io/gateway-controller}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: public, namespace: edge}}
spec:
  gatewayClassName: wasmesh
  listeners:
  - name: https
    port: {port}
    protocol: HTTPS
    hostname: {HOST}
    tls:
      mode: Terminate
      certificateRefs: [{{kind: Secret, name: {secret}}}]
  - name: broken
    port: {broken_port}
    protocol: HTTPS
    tls: {{certificateRefs: [{{name: nope}}]}}
"
    )
}

/// `curl --cacert CA https://gw.test:PORT/` to 127.0.0.1: the status line and headers, or
/// why it failed.
fn curl(listen: SocketAddr, ca: &Path) -> Result<String, String> {
    let out = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "5", "--cacert"])
        .arg(ca)
        .args(["--resolve", &format!("{HOST}:{}:127.0.0.1", listen.port())])
        .arg(format!("https://{HOST}:{}/", listen.port()))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{}{text}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// The subject of the certificate served to a client asking for gw.test.
fn served(listen: SocketAddr) -> String {
    served_subject(listen, HOST)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_listener_serves_its_secret_and_a_rotated_secret_without_a_failed_request() {
    let dir = tempfile::tempdir().unwrap();
    let first = certificate(dir.path(), "gw-first");
    let second = certificate(dir.path(), "gw-second");
    let cluster = gateway_cluster();
    let echo = Echo::start("up");
    let listen = free_addr();
    let broken = free_addr();
    cluster.apply("secret.yaml", &tls_secret("gw-cert", &first));
    cluster.apply(
        "gateway.yaml",
        &https_gateway(listen.port(), "gw-cert", broken.port()),
    );
    cluster.apply("route.yaml", ROUTE_AND_SERVICE);
    cluster.apply("slice.yaml", &slice(echo.addr));
    let proxy = gateway_proxy(&cluster);
    proxy.wait_ready(Duration::from_secs(30));

    // routed over TLS, the certificate verified by curl
    let deadline = Instant::now() + Duration::from_secs(20);
    let answer = loop {
        match curl(listen, &first.0) {
            Ok(answer) if answer.starts_with("HTTP/") && answer.contains(" 200") => break answer,
            other => assert!(Instant::now() < deadline, "{other:?}\n{}", proxy.log()),
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(answer.to_ascii_lowercase().contains("x-upstream: up"), "{answer}");
    assert_eq!(served(listen), "subject=CN=gw-first");
    // the listener whose Secret does not exist is not served, and the log says why
    proxy.wait_log("Secret edge/nope not found", Duration::from_secs(10));
    assert!(
        std::net::TcpStream::connect(broken).is_err(),
        "a listener without a certificate is not bound"
    );

    // a load of new connections (one request each) while the Secret is replaced
    let cas =
        [&first.0, &second.0].map(|f| reqwest::Certificate::from_pem(&std::fs::read(f).unwrap()).unwrap());
    let client = reqwest::Client::builder()
        .add_root_certificate(cas[0].clone())
        .add_root_certificate(cas[1].clone())
        .resolve(HOST, listen)
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
    let load = {
        let (ok, failed, stop, errors) = (ok.clone(), failed.clone(), stop.clone(), errors.clone());
        let url = format!("https://{HOST}:{}/", listen.port());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match client.get(&url).send().await {
                    Ok(r) if r.status() == 200 => ok.fetch_add(1, Ordering::Relaxed),
                    other => {
                        errors.lock().unwrap().push(format!("{other:?}"));
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    cluster.apply("secret.yaml", &tls_secret("gw-cert", &second));
    let deadline = Instant::now() + Duration::from_secs(20);
    while served(listen) != "subject=CN=gw-second" {
        assert!(
            Instant::now() < deadline,
            "the new certificate is never served\n{}",
            proxy.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert_eq!(failed, 0, "{:?}", errors.lock().unwrap());
    assert!(ok > 10, "only {ok} requests during the rotation");
    eprintln!("{ok} requests on new TLS connections during the rotation, none failed");
    assert!(curl(listen, &second.0).is_ok_and(|a| a.contains(" 200")));
    assert!(
        curl(listen, &first.0).is_err(),
        "the old certificate is no longer served"
    );

    // the Secrets were read and watched by name, never listed (deploy/gateway-api/rbac.yaml)
    let server = &cluster.server;
    assert_eq!(
        server.requests_on("list", "secrets"),
        0,
        "a list of Secrets was made"
    );
    assert!(
        server.requests_on("watch", "secrets") >= 2,
        "gw-cert and nope are watched"
    );
}

const SECRET_GRANT: &str = "apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: gateways, namespace: certs}
spec:
  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: edge}]
  to: [{group: \"\", kind: Secret, name: shared}]
";

#[test]
fn a_secret_of_another_namespace_is_served_once_a_reference_grant_allows_it() {
    let dir = tempfile::tempdir().unwrap();
    let pair = certificate(dir.path(), "gw-shared");
    let cluster = gateway_cluster();
    let echo = Echo::start("up");
    let listen = free_addr();
    cluster.apply(
        "ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: certs}\n",
    );
    cluster.apply("secret.yaml", &tls_secret_yaml("certs", "shared", &pair));
    let gateway = https_gateway(listen.port(), "shared", free_addr().port()).replace(
        "{kind: Secret, name: shared}",
        "{kind: Secret, name: shared, namespace: certs}",
    );
    cluster.apply("gateway.yaml", &gateway);
    cluster.apply("route.yaml", ROUTE_AND_SERVICE);
    cluster.apply("slice.yaml", &slice(echo.addr));
    let proxy = gateway_proxy(&cluster);
    proxy.wait_ready(Duration::from_secs(30));

    let resolved = |field: &str| {
        let path =
            format!("jsonpath={{.status.listeners[0].conditions[?(@.type==\"ResolvedRefs\")].{field}}}");
        cluster.kubectl(&["get", "gateway", "public", "-n", "edge", "-o", &path])
    };
    let until = |field: &str, want: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while resolved(field) != want {
            assert!(
                Instant::now() < deadline,
                "ResolvedRefs {field}: {:?}, not {want}\n{}",
                resolved(field),
                proxy.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    // no grant: not used, the listener not bound
    until("reason", "RefNotPermitted");
    assert!(
        std::net::TcpStream::connect(listen).is_err(),
        "a listener without a certificate is not bound"
    );

    // the grant: the Secret is followed and served, ResolvedRefs=True
    cluster.apply("grant.yaml", SECRET_GRANT);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match curl(listen, &pair.0) {
            Ok(answer) if answer.contains(" 200") => break,
            other => assert!(Instant::now() < deadline, "{other:?}\n{}", proxy.log()),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(served(listen), "subject=CN=gw-shared");
    until("status", "True");
    assert_eq!(
        cluster.server.requests_on("list", "secrets"),
        0,
        "a list of Secrets was made"
    );
}
