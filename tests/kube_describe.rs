//! `wasmesh describe --kubernetes` end to end: objects applied with the real kubectl 1.37 to
//! the API server double (docs/kubernetes-testing.md), described by the real binary from
//! one list of each kind — the chain in execution order, why a plugin is not selected,
//! each resource's origin as its kind/namespace/name and resourceVersion, and with
//! `--namespace` the root namespace listed too.

use crate::cli_support::wasmesh;
use crate::kube_support::Cluster;
use serde_json::{json, Value};

/// The workload `web/gw` (labels app=web), plugins around it in `web`, the root namespace
/// and `shop`, a RequestAuthentication, and one invalid plugin.
fn mesh(cluster: &Cluster) {
    cluster.install_crds("istio-system");
    for ns in ["web", "shop"] {
        let yaml = format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n");
        cluster.apply(&format!("namespace-{ns}.yaml"), &yaml);
    }
    let plugin = |ns: &str, name: &str, spec: &str| {
        format!(
            "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  url: oci://registry.test/{name}:1\n{spec}"
        )
    };
    let yaml = [
        "apiVersion: wasmesh.io/v1alpha1\nkind: Proxy\nmetadata:\n  name: gw\n  namespace: web\n  labels: {app: web}\nspec:\n  listeners:\n  - name: http\n    address: 127.0.0.1:18080\n    protocol: http\n    routes:\n    - name: all\n      match: {prefix: /}\n      cluster: backend\n  clusters:\n  - name: backend\n    endpoints: [\"127.0.0.1:9\"]\n".to_string(),
        plugin("web", "auth", "  phase: AUTHN\n  priority: 5\n  selector: {matchLabels: {app: web}}\n"),
        plugin("web", "auth-low", "  phase: AUTHN\n  priority: 1\n  imagePullSecret: pull\n"),
        plugin("web", "api-only", "  selector: {matchLabels: {app: api}}\n"),
        plugin("istio-system", "mesh-stats", "  phase: STATS\n"),
        plugin("shop", "other", ""),
        plugin("web", "bad", "  phase: EARLY\n"),
        "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: jwt, namespace: web}\nspec:\n  jwtRules:\n  - issuer: https://issuer.test\n    jwks: '{\"keys\": []}'\n".to_string(),
    ]
    .join("---\n");
    cluster.apply("mesh.yaml", &yaml);
}

/// `wasmesh describe --kubernetes --kubeconfig … --workload WORKLOAD` and `extra`.
fn describe(cluster: &Cluster, workload: &str, extra: &[&str]) -> crate::cli_support::Run {
    let kubeconfig = cluster.kubeconfig.path().to_string_lossy().into_owned();
    let mut args = vec![
        "describe",
        "--kubernetes",
        "--kubeconfig",
        &kubeconfig,
        "--workload",
        workload,
    ];
    args.extend_from_slice(extra);
    wasmesh(&args)
}

fn resource_version(cluster: &Cluster, kind: &str, ns: &str, name: &str) -> String {
    cluster.kubectl(&[
        "get",
        kind,
        name,
        "-n",
        ns,
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    ])
}

#[test]
fn describe_kubernetes_shows_the_chain_the_reasons_and_the_origins_of_the_cluster() {
    let cluster = Cluster::start();
    mesh(&cluster);

    let run = describe(&cluster, "web/gw", &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let out = &run.stdout;
    assert!(
        out.contains("Read from the Kubernetes API server http://127.0.0.1:"),
        "{run:?}"
    );
    let rows: Vec<&str> = out
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    let order = [
        "web/auth",
        "web/auth-low",
        "authn",
        "authz",
        "istio-system/mesh-stats",
        "stats",
        "router",
    ];
    assert_eq!(rows.len(), order.len(), "{run:?}");
    for (row, name) in rows.iter().zip(order) {
        assert!(
            row.split_whitespace().any(|w| w == name),
            "row `{row}` should be {name}"
        );
    }
    assert!(out.contains("RequestAuthentication web/jwt"), "{run:?}");
    for line in [
        "  web/api-only: selector wants app=api; the workload has app=web\n",
        "  shop/other: it is in namespace shop; only plugins in the workload's namespace (web) or the root namespace (istio-system) apply\n",
        "  web/auth-low: imagePullSecret pull: no Secret web/pull on the Kubernetes API server\n",
    ] {
        assert!(out.contains(line), "missing `{line}` in {run:?}");
    }
    let auth = resource_version(&cluster, "wasmplugin", "web", "auth");
    let proxy = resource_version(&cluster, "proxies.wasmesh.io", "web", "gw");
    for line in [
        format!("  Proxy web/gw from Proxy web/gw (resourceVersion {proxy})\n"),
        format!("  WasmPlugin web/auth from WasmPlugin web/auth (resourceVersion {auth})\n"),
        "  RequestAuthentication web/jwt from RequestAuthentication web/jwt (resourceVersion ".into(),
    ] {
        assert!(out.contains(&line), "missing `{line}` in {run:?}");
    }
    // an invalid object is reported with its origin and field path; the rest is described
    assert!(
        run.stderr
            .contains("warning: WasmPlugin web/bad (resourceVersion ")
            && run.stderr.contains("spec.phase: unknown variant `EARLY`"),
        "{run:?}"
    );

    // -o json: the same, for programs
    let run = describe(&cluster, "web/gw", &["-o", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let got: Value = serde_json::from_str(&run.stdout).expect("JSON on stdout");
    let names: Vec<&str> = got["listeners"][0]["filters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "auth",
            "auth-low",
            "authn",
            "authz",
            "mesh-stats",
            "stats",
            "router"
        ]
    );
    assert!(
        got["notSelected"].as_array().unwrap().contains(&json!({
            "namespace": "web", "name": "api-only", "listener": null,
            "reason": "selector wants app=api; the workload has app=web"
        })),
        "{got:#}"
    );
    assert!(
        got["origins"].as_array().unwrap().contains(&json!({
            "kind": "WasmPlugin", "namespace": "web", "name": "auth",
            "origin": {"kind": "WasmPlugin", "namespace": "web", "name": "auth", "resourceVersion": auth}
        })),
        "{got:#}"
    );
    assert!(
        got["source"]
            .as_str()
            .is_some_and(|s| s.starts_with("the Kubernetes API server http://127.0.0.1:")),
        "{got:#}"
    );

    // the pull Secret applied: no problem any more (read by its name, as the proxy does)
    cluster.apply(
        "pull.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: pull, namespace: web}\ntype: kubernetes.io/dockerconfigjson\nstringData: {.dockerconfigjson: '{\"auths\": {}}'}\n",
    );
    let run = describe(&cluster, "web/gw", &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!run.stdout.contains("Problems:"), "{run:?}");

    // an unknown workload names the Proxies there are
    let run = describe(&cluster, "web/nope", &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("no Proxy web/nope in the Kubernetes API server http://127.0.0.1:")
            && run.stderr.contains("(Proxies found: web/gw)"),
        "{run:?}"
    );
}

#[test]
fn with_namespace_the_root_namespace_is_listed_too() {
    let cluster = Cluster::start();
    mesh(&cluster);
    let run = describe(&cluster, "web/gw", &["--namespace", "web", "-o", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let got: Value = serde_json::from_str(&run.stdout).unwrap();
    let selected: Vec<String> = got["selected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{}/{}",
                s["namespace"].as_str().unwrap(),
                s["name"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        selected.contains(&"istio-system/mesh-stats".to_string()),
        "{got:#}"
    );
    // shop is not listed: its plugin is not even a reason
    let text = run.stdout;
    assert!(!text.contains("shop"), "{text}");

    // another root namespace: shop's plugin applies, istio-system is not listed
    let run = describe(
        &cluster,
        "web/gw",
        &["--namespace", "web", "--root-namespace", "shop", "-o", "json"],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let got: Value = serde_json::from_str(&run.stdout).unwrap();
    let names: Vec<&str> = got["listeners"][0]["filters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"other") && !names.contains(&"mesh-stats"),
        "{names:?}"
    );
}
