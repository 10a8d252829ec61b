//! What the proxy's end-to-end tests share: an upstream echo server, and the real
//! `wasmesh proxy` binary started on a config directory the test writes.

#![allow(dead_code)]

pub mod echo;
pub mod grpc;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use wasmesh_testkit::free_port;

/// A running `wasmesh proxy`, stopped (SIGKILL) when dropped.
pub struct ProxyProcess {
    pub child: Child,
    pub admin: SocketAddr,
    pub dir: tempfile::TempDir,
    log: PathBuf,
}

/// The module and compiled-code cache of this test process's proxies: apart from the
/// watched config dirs and from other test processes, shared so each plugin compiles once.
fn shared_cache_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("cache dir")).path()
}

/// A loopback address with a free port.
pub fn free_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

impl ProxyProcess {
    /// Writes `files` (name, text) into a fresh config dir, starts the proxy for
    /// `workload` with `workers` workers, and waits for `/ready`.
    pub fn start(workload: &str, files: &[(&str, &str)], workers: usize) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("write config");
        }
        let p = Self::spawn(dir, workload, workers);
        p.wait_ready();
        p
    }

    /// [`ProxyProcess::start`] with these environment variables set for the proxy.
    pub fn start_with_env(workload: &str, files: &[(&str, &str)], env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("write config");
        }
        let p = Self::spawn_full(dir, workload, 1, shared_cache_dir(), env);
        p.wait_ready();
        p
    }

    /// Starts the proxy without waiting for `/ready`.
    pub fn spawn(dir: tempfile::TempDir, workload: &str, workers: usize) -> Self {
        Self::spawn_with_cache(dir, workload, workers, shared_cache_dir())
    }

    /// [`ProxyProcess::spawn`] with a module and compiled-code cache of its own (a test
    /// that needs a module compiled, not found in the cache).
    pub fn spawn_with_cache(dir: tempfile::TempDir, workload: &str, workers: usize, cache: &Path) -> Self {
        Self::spawn_full(dir, workload, workers, cache, &[])
    }

    fn spawn_full(
        dir: tempfile::TempDir,
        workload: &str,
        workers: usize,
        cache: &Path,
        env: &[(&str, &str)],
    ) -> Self {
        let admin = free_addr();
        // The log lives outside the watched config dir.
        let log = shared_cache_dir().join(format!("proxy-{}.log", admin.port()));
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_wasmesh"))
            .args(["proxy", "--config"])
            .arg(dir.path())
            .args(["--workload", workload, "--admin", &admin.to_string()])
            .args(["--workers", &workers.to_string(), "--drain-timeout", "5s"])
            .arg("--cache-dir")
            .arg(cache)
            .env("RUST_LOG", "info,wasmesh_proxy=debug")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("start wasmesh proxy");
        ProxyProcess {
            child,
            admin,
            dir,
            log,
        }
    }

    pub fn config_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Replaces a config file atomically (write then rename), as editors and tools do.
    pub fn write_config(&self, name: &str, text: &str) {
        let tmp = self.dir.path().join(format!(".{name}.tmp"));
        let mut f = std::fs::File::create(&tmp).expect("tmp");
        f.write_all(text.as_bytes()).expect("write");
        f.sync_all().ok();
        std::fs::rename(&tmp, self.dir.path().join(name)).expect("rename");
    }

    /// The proxy's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GETs an admin path; returns status and body.
    pub fn admin_get(&self, path: &str) -> (u16, String) {
        http_get(self.admin, path)
    }

    pub fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let (200, _) = self.admin_get("/ready") {
                return;
            }
            if Instant::now() > deadline {
                panic!("proxy not ready after 20s; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until `/config_dump` reports at least `version`.
    pub fn wait_version(&self, version: u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, body) = self.admin_get("/config_dump");
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            if v["version"].as_u64().unwrap_or(0) >= version {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "config version {version} not applied; dump: {body}\nlog:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends a signal to the proxy (through the shell's `kill` builtin, present everywhere).
    pub fn signal(&self, sig: &str) {
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!("kill -{sig} {}", self.child.id()))
            .status()
            .expect("sh");
        assert!(status.success(), "kill -{sig} failed");
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal blocking HTTP/1.1 GET, for the admin endpoint (no client library needed).
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    use std::io::Read as _;
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return (0, String::new());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let req = format!("GET {path} HTTP/1.1\r\nhost: admin\r\nconnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A `Proxy` resource with one HTTP listener and the given routes and clusters (YAML
/// fragments indented for their place).
pub fn proxy_yaml(listen: SocketAddr, routes: &str, clusters: &str) -> String {
    format!(
        r#"apiVersion: wasmesh.io/v1alpha1
kind: Proxy
metadata:
  name: gw
  namespace: istio-system
  labels: {{istio: ingressgateway}}
spec:
  listeners:
  - name: http
    address: {listen}
    protocol: http
    routes:
{routes}
  clusters:
{clusters}
"#
    )
}

/// The common case of [`proxy_yaml`]: every path routed to one HTTP/1.1 cluster `backend`.
pub fn one_backend_proxy_yaml(listen: SocketAddr, upstream: SocketAddr) -> String {
    proxy_yaml(
        listen,
        &route_yaml("all", "{prefix: /}", "backend"),
        &cluster_yaml("backend", &[upstream], "http1"),
    )
}

/// A cluster entry for [`proxy_yaml`].
pub fn cluster_yaml(name: &str, endpoints: &[SocketAddr], protocol: &str) -> String {
    let eps: Vec<String> = endpoints.iter().map(|e| format!("\"{e}\"")).collect();
    format!(
        "  - name: {name}\n    endpoints: [{}]\n    protocol: {protocol}\n    connectTimeout: 1s\n",
        eps.join(", ")
    )
}

/// A route entry for [`proxy_yaml`].
pub fn route_yaml(name: &str, matcher: &str, cluster: &str) -> String {
    format!("    - name: {name}\n      match: {matcher}\n      cluster: {cluster}\n      timeout: 5s\n")
}

/// A self-signed certificate for `localhost` and 127.0.0.1, and its key, written in `dir`:
/// (certificate file, key file).
pub fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    wasmesh_testkit::certificate::self_signed(&cert, &key, "/CN=localhost", "DNS:localhost,IP:127.0.0.1");
    (cert, key)
}

/// A self-signed ECDSA certificate whose subject is `CN=<cn>` for the names `san`
/// (`DNS:a.test,DNS:b.test`), and its key, written in `dir` as `<cn>.crt` and `<cn>.key`.
pub fn self_signed_as(dir: &Path, cn: &str, san: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join(format!("{cn}.crt")), dir.join(format!("{cn}.key")));
    wasmesh_testkit::certificate::self_signed(&cert, &key, &format!("/CN={cn}"), san);
    (cert, key)
}

/// The subject (RFC 2253) of the certificate served on `addr` to a client asking for
/// `servername`, as `openssl s_client -servername` gets it.
pub fn served_subject(addr: SocketAddr, servername: &str) -> String {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl s_client -connect {addr} -servername {servername} </dev/null 2>/dev/null | openssl x509 -noout -subject -nameopt RFC2253"
        ))
        .output()
        .expect("openssl");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A `kubernetes.io/tls` Secret `namespace/name` holding a certificate file and key file.
pub fn tls_secret_yaml(namespace: &str, name: &str, (cert, key): &(PathBuf, PathBuf)) -> String {
    let indent = |file: &Path| {
        std::fs::read_to_string(file)
            .unwrap()
            .lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    };
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {namespace}}}\ntype: kubernetes.io/tls\nstringData:\n  tls.crt: |\n{}  tls.key: |\n{}",
        indent(cert),
        indent(key)
    )
}

/// An HTTP/2 client connection with prior knowledge (h2c) to `addr`; its connection task
/// runs on the test's runtime.
pub async fn h2c_client<B>(addr: SocketAddr) -> hyper::client::conn::http2::SendRequest<B>
where
    B: hyper::body::Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    send
}

/// `GET {prefix}/3000` (an upstream answering after 3 s) is answered 504 once the 300 ms
/// per-try timeout of `route` passes, well before the route's own timeout; `{prefix}/10`
/// is answered.
pub async fn per_try_timeout_fires(client: &reqwest::Client, prefix: &str, route: &str) {
    let started = Instant::now();
    let resp = client.get(format!("{prefix}/3000")).send().await.unwrap();
    assert_eq!(resp.status(), 504, "per-try timeout");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the per-try timeout fired"
    );
    let body = resp.text().await.unwrap();
    let said = format!("no answer within the per-try timeout of 300ms (route {route})");
    assert!(body.contains(&said), "{body}");
    let resp = client.get(format!("{prefix}/10")).send().await.unwrap();
    assert_eq!(resp.status(), 200, "an answer within it");
}
