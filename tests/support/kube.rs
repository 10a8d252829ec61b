//! What the `kube_*` tests share: the API server double with the real kubectl pointed at
//! it, and the real `wasmesh proxy --kubernetes` run against it, killed when dropped
//! (docs/kubernetes-testing.md says what the double covers).

use crate::proxy_support::{free_addr, http_get};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use wasmesh_testkit::apiserver::{ApiServer, Kubeconfig};
use wasmesh_testkit::kubectl::Kubectl;

/// The double, its kubeconfig, and kubectl pointed at it.
pub struct Cluster {
    pub server: ApiServer,
    pub kubeconfig: Kubeconfig,
    pub kubectl: Kubectl,
    manifests: tempfile::TempDir,
}

impl Cluster {
    pub fn start() -> Self {
        let server = ApiServer::start().expect("the API server double starts");
        let kubeconfig = server.kubeconfig().expect("its kubeconfig");
        Cluster {
            server,
            kubectl: Kubectl::new(kubeconfig.path()),
            kubeconfig,
            manifests: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Runs kubectl with `args`; panics with its output when it fails.
    pub fn kubectl(&self, args: &[&str]) -> String {
        self.kubectl.run(args)
    }

    /// `kubectl apply -f` of `yaml`, written to a file named `name`.
    pub fn apply(&self, name: &str, yaml: &str) {
        let path = self.manifests.path().join(name);
        std::fs::write(&path, yaml).expect("write manifest");
        self.kubectl(&["apply", "-f", &path.to_string_lossy()]);
    }

    /// `wasmesh crds | kubectl apply -f -` (the four kinds the source follows), and the
    /// namespace `namespace`.
    pub fn install_crds(&self, namespace: &str) {
        crate::crds_support::apply_wasmesh_crds(self.kubeconfig.path());
        let yaml = format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {namespace}}}\n");
        self.apply(&format!("namespace-{namespace}.yaml"), &yaml);
    }
}

/// `wasmesh proxy --kubernetes` following `cluster`, with one worker, its own admin port,
/// cache directory and log file; killed when dropped.
pub struct KubeProxy {
    child: Child,
    pub admin: SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl KubeProxy {
    /// Runs it with `args` after the common ones (which workload or Gateway, labels, …) and
    /// `env` beside `RUST_LOG=info` and `NO_COLOR`; the test's own `KUBECONFIG`,
    /// `POD_NAME` and `POD_NAMESPACE` are not passed on.
    pub fn spawn(cluster: &Cluster, args: &[&str], env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let admin = free_addr();
        let log = dir.path().join("proxy.log");
        let child = Command::new(env!("CARGO_BIN_EXE_wasmesh"))
            .args(["proxy", "--kubernetes", "--kubeconfig"])
            .arg(cluster.kubeconfig.path())
            .args(["--admin", &admin.to_string()])
            .args(["--workers", "1", "--drain-timeout", "1s", "--cache-dir"])
            .arg(dir.path().join("cache"))
            .args(args)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env_remove("KUBECONFIG")
            .env_remove("POD_NAME")
            .env_remove("POD_NAMESPACE")
            .envs(env.iter().copied())
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

    /// Waits for the process to exit by itself.
    pub fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        self.child.wait()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET `path` on the admin port: status and body.
    pub fn admin(&self, path: &str) -> (u16, String) {
        http_get(self.admin, path)
    }

    /// Waits (up to `within`) until `/ready` says 200.
    pub fn wait_ready(&self, within: Duration) {
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

    /// Waits (up to `within`) until the log holds `text`.
    pub fn wait_log(&self, text: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.log().contains(text) {
            assert!(
                Instant::now() < deadline,
                "the log never said {text:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for KubeProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
