//! `wasmesh crds` on the Kubernetes API server double, with the real kubectl 1.37
//! (docs/kubernetes-testing.md): the CRDs apply and become Established, the examples apply
//! as WasmPlugins, Proxies and Istio's security kinds and read back at every served
//! version, the status subresource takes a status, and the object read back validates.

use std::path::{Path, PathBuf};

use crate::cli_support::wasmesh;
use crate::crds_support::{apply_wasmesh_crds, wasmesh_crds, CRD_NAMES};
use wasmesh_testkit::apiserver::ApiServer;
use wasmesh_testkit::kubectl::Kubectl;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// `(kind, namespace, name)` of an object.
type ObjectId = (String, String, String);

/// Every example YAML file, and the [`ObjectId`] of each object in it.
fn example_files() -> Vec<(PathBuf, Vec<ObjectId>)> {
    let mut files = Vec::new();
    let mut dirs = vec![examples()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("examples/") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                let text = std::fs::read_to_string(&path).expect("an example");
                let objects = text
                    .split("\n---")
                    .filter_map(|doc| serde_yaml_ng::from_str::<serde_json::Value>(doc).ok())
                    .filter(|v| v.is_object())
                    .map(|v| {
                        let field = |v: &serde_json::Value| v.as_str().unwrap_or("default").to_string();
                        (
                            field(&v["kind"]),
                            field(&v["metadata"]["namespace"]),
                            field(&v["metadata"]["name"]),
                        )
                    })
                    .collect();
                files.push((path, objects));
            }
        }
    }
    files.sort();
    files
}

fn namespaces(kubectl: &Kubectl, names: &[&str]) {
    let text: String = names
        .iter()
        .map(|n| format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {n}\n---\n"))
        .collect();
    kubectl.run_with_input(&["apply", "-f", "-"], text.as_bytes());
}

#[test]
fn the_crds_are_established_and_every_example_applies_and_reads_back() {
    let server = ApiServer::start().expect("the double starts");
    let kubeconfig = server.kubeconfig().expect("a kubeconfig");
    let kubectl = Kubectl::new(kubeconfig.path());
    apply_wasmesh_crds(kubeconfig.path());

    let crds = kubectl.run(&["get", "crds", "-o", "name"]);
    for name in CRD_NAMES {
        assert!(
            crds.contains(&format!("customresourcedefinition.apiextensions.k8s.io/{name}")),
            "{crds}"
        );
    }
    // the names and short names the CRDs define, as kubectl resolves them from discovery
    let resources = kubectl.run(&["api-resources", "--api-group=security.istio.io", "-o", "wide"]);
    assert!(
        resources.contains("authorizationpolicies") && resources.contains(" ap "),
        "{resources}"
    );
    assert!(
        resources.contains("requestauthentications") && resources.contains(" ra "),
        "{resources}"
    );

    namespaces(&kubectl, &["istio-system", "istio-ingress", "demo"]);
    let mut expected = Vec::new();
    for (file, objects) in example_files() {
        let applied = kubectl.run(&["apply", "-f", file.to_str().expect("a UTF-8 path")]);
        assert_eq!(
            applied.lines().count(),
            objects.len(),
            "{}: {applied}",
            file.display()
        );
        expected.extend(objects);
    }
    let listed = |kind: &str, resource: &str| -> Vec<String> {
        let out = kubectl.run(&[
            "get",
            resource,
            "-A",
            "-o",
            "jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{\"\\n\"}{end}",
        ]);
        let mut got: Vec<String> = out.lines().map(str::to_string).collect();
        got.sort();
        let mut want: Vec<String> = expected
            .iter()
            .filter(|(k, _, _)| k == kind)
            .map(|(_, ns, name)| format!("{ns}/{name}"))
            .collect();
        want.sort();
        want.dedup();
        assert_eq!(got, want, "{resource}");
        got
    };
    assert!(listed("WasmPlugin", "wasmplugins").len() >= 5);
    assert_eq!(listed("Proxy", "proxies.wasmesh.io").len(), 3);
    assert_eq!(listed("RequestAuthentication", "ra").len(), 1);
    assert_eq!(
        listed(
            "AuthorizationPolicy",
            "authorizationpolicies.v1beta1.security.istio.io"
        )
        .len(),
        1
    );

    // `kubectl get wasmplugin`, as a user types it: no status written yet, so ACCEPTED and
    // READY are blank (kubectl prints a missing cell as nothing)
    let table = kubectl.run(&["get", "wasmplugin", "openid-connect", "-n", "istio-system"]);
    let row: Vec<&str> = table
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert!(
        table.starts_with("NAME")
            && row.len() == 3
            && row[..2] == ["openid-connect", "AUTHN"]
            && row[2].ends_with('s'),
        "{table}"
    );
    let proxies = kubectl.run(&["get", "proxies", "-n", "istio-system"]);
    assert!(
        proxies.starts_with("NAME") && proxies.contains("LISTENERS") && proxies.contains("127.0.0.1:8080"),
        "{proxies}"
    );
}

#[test]
fn the_json_list_applies_too() {
    let server = ApiServer::start().expect("the double starts");
    let kubeconfig = server.kubeconfig().expect("a kubeconfig");
    let kubectl = Kubectl::new(kubeconfig.path());
    let applied = kubectl.run_with_input(&["apply", "-f", "-"], wasmesh_crds(&["-o", "json"]).as_bytes());
    assert_eq!(applied.lines().count(), 4, "{applied}");
    let waited = kubectl.run(&[
        "wait",
        "--for=condition=Established",
        "crd/wasmplugins.extensions.istio.io",
        "--timeout=20s",
    ]);
    assert!(waited.contains("condition met"), "{waited}");
}

#[test]
fn a_status_written_through_the_subresource_reads_back_and_validates() {
    let server = ApiServer::start().expect("the double starts");
    let kubeconfig = server.kubeconfig().expect("a kubeconfig");
    let kubectl = Kubectl::new(kubeconfig.path());
    apply_wasmesh_crds(kubeconfig.path());
    namespaces(&kubectl, &["istio-system"]);
    let plugin = examples().join("plugin.yaml");
    kubectl.run(&["apply", "-f", plugin.to_str().expect("a UTF-8 path")]);

    // what the status writer will send: docs/kubernetes.md's conditions
    let status = r#"{"status": {"observedGeneration": 1, "conditions": [
        {"type": "Accepted", "status": "True", "reason": "Valid", "message": "", "lastTransitionTime": "2026-12-01T09:14:05Z", "observedGeneration": 1},
        {"type": "Ready", "status": "False", "reason": "FetchFailed", "message": "401 Unauthorized", "lastTransitionTime": "2026-12-01T09:14:05Z", "observedGeneration": 1}]}}"#;
    let patched = kubectl.run(&[
        "patch",
        "wasmplugin",
        "openid-connect",
        "-n",
        "istio-system",
        "--subresource=status",
        "--type=merge",
        "-p",
        status,
    ]);
    assert!(
        patched.contains("wasmplugin.extensions.istio.io/openid-connect patched"),
        "{patched}"
    );
    let ready = kubectl.run(&[
        "get",
        "wasmplugin",
        "openid-connect",
        "-n",
        "istio-system",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Ready\")].reason}",
    ]);
    assert_eq!(ready, "FetchFailed");
    // the printer columns, as the server renders them into a Table for kubectl
    let table = kubectl.run(&["get", "wasmplugin", "openid-connect", "-n", "istio-system"]);
    let rows: Vec<Vec<&str>> = table.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["NAME", "PHASE", "ACCEPTED", "READY", "AGE"], "{table}");
    assert_eq!(
        rows[1][..4],
        ["openid-connect", "AUTHN", "True", "False"],
        "{table}"
    );
    assert!(rows[1][4].ends_with('s'), "an age in seconds: {table}");
    let wide = kubectl.run(&["get", "wasmplugins", "-A", "-o", "wide"]);
    assert!(
        wide.lines().next().is_some_and(|h| h.contains("PRIORITY")),
        "{wide}"
    );
    // a later apply of the spec leaves the status alone (the main path keeps it)
    kubectl.run(&["apply", "-f", plugin.to_str().expect("a UTF-8 path")]);

    let exported = kubectl.run(&[
        "get",
        "wasmplugin",
        "openid-connect",
        "-n",
        "istio-system",
        "-o",
        "yaml",
    ]);
    assert!(
        exported.contains("FetchFailed") && exported.contains("uid:"),
        "{exported}"
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("exported.yaml");
    std::fs::write(&file, &exported).expect("written");
    let run = wasmesh(&["validate", "-f", file.to_str().expect("a UTF-8 path")]);
    assert_eq!(run.code, 0, "{run:?}\n{exported}");
    assert!(
        run.stdout.contains("WasmPlugin istio-system/openid-connect"),
        "{run:?}"
    );
}
