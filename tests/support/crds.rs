//! Installing wasmesh's CRDs on the API server double the way a user does on a cluster:
//! `wasmesh crds | kubectl apply -f -`, then `kubectl wait --for=condition=Established`
//! (docs/kubernetes.md). The Kubernetes source's tests start from here too.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use wasmesh_testkit::kubectl::Kubectl;

/// The CRDs `wasmesh crds` prints, by name.
pub const CRD_NAMES: [&str; 4] = [
    "proxies.wasmesh.io",
    "wasmplugins.extensions.istio.io",
    "requestauthentications.security.istio.io",
    "authorizationpolicies.security.istio.io",
];

/// What the real `wasmesh crds ARGS...` prints; panics when it fails.
pub fn wasmesh_crds(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_wasmesh"))
        .arg("crds")
        .args(args)
        .output()
        .expect("running wasmesh crds");
    assert!(
        output.status.success(),
        "wasmesh crds {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

/// `wasmesh crds | kubectl apply -f -` against the server of `kubeconfig`, then waits until
/// each CRD is `Established`; panics (with kubectl's words) when either fails.
pub fn apply_wasmesh_crds(kubeconfig: &Path) {
    let kubectl = Kubectl::new(kubeconfig);
    let applied = kubectl.run_with_input(&["apply", "-f", "-"], wasmesh_crds(&[]).as_bytes());
    for name in CRD_NAMES {
        assert!(
            applied.contains(&format!("customresourcedefinition.apiextensions.k8s.io/{name}")),
            "{name} not applied: {applied}"
        );
    }
    let mut wait = vec!["wait", "--for=condition=Established", "--timeout=20s"];
    let names: Vec<String> = CRD_NAMES.iter().map(|n| format!("crd/{n}")).collect();
    wait.extend(names.iter().map(String::as_str));
    let waited = kubectl.run(&wait);
    assert_eq!(
        waited.lines().filter(|l| l.ends_with("condition met")).count(),
        4,
        "{waited}"
    );
}
