//! deploy/, the kustomize base (docs/kubernetes.md): `kubectl kustomize deploy/` renders
//! it; the CRDs in it are `wasmesh crds`; the Deployment runs flags `wasmesh proxy` takes,
//! with the probes, volumes and security settings the docs promise; the RBAC is the least
//! privilege docs/kubernetes.md explains; the Proxy it serves validates and applies; its
//! Component `gateway-api` serves a Gateway with the OIDC plugin attached by targetRefs.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::cli_support::wasmesh;
use crate::crds_support::{apply_wasmesh_crds, wasmesh_crds};
use wasmesh_testkit::apiserver::ApiServer;
use wasmesh_testkit::kubectl::{kubectl_binary, Kubectl};

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

/// `kubectl kustomize deploy/`, as objects.
fn rendered() -> Vec<Value> {
    let output = std::process::Command::new(kubectl_binary())
        .arg("kustomize")
        .arg(deploy())
        .output()
        .expect("running kubectl kustomize");
    assert!(
        output.status.success(),
        "kubectl kustomize deploy/ failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    text.split("\n---\n")
        .map(|doc| serde_yaml_ng::from_str::<Value>(doc).expect("kustomize's YAML"))
        .collect()
}

fn one<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = objects.iter().filter(|o| o["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "one {kind} expected");
    found[0]
}

#[test]
fn kustomize_renders_every_part_of_the_base() {
    let objects = rendered();
    let mut kinds: Vec<&str> = objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap_or_default())
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "CustomResourceDefinition",
            "CustomResourceDefinition",
            "CustomResourceDefinition",
            "CustomResourceDefinition",
            "Deployment",
            "Namespace",
            "PodDisruptionBudget",
            "Proxy",
            "Role",
            "RoleBinding",
            "Service",
            "ServiceAccount",
        ]
    );
    for object in &objects {
        let cluster_scoped = [
            "Namespace",
            "ClusterRole",
            "ClusterRoleBinding",
            "CustomResourceDefinition",
        ];
        if !cluster_scoped.contains(&object["kind"].as_str().unwrap_or_default()) {
            assert_eq!(object["metadata"]["namespace"], "wasmesh-system", "{object}");
        }
    }
    for binding in ["ClusterRoleBinding", "RoleBinding"] {
        let subject = &one(&objects, binding)["subjects"][0];
        assert_eq!(
            (&subject["name"], &subject["namespace"]),
            (&Value::from("wasmesh-gateway"), &Value::from("wasmesh-system"))
        );
    }
    let pdb = one(&objects, "PodDisruptionBudget");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    let service = one(&objects, "Service");
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "http");
    assert!(
        service["spec"]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["port"] != 15000),
        "the admin port stays inside the pods"
    );
}

#[test]
fn the_crds_of_the_base_are_what_wasmesh_crds_prints() {
    let file = std::fs::read_to_string(deploy().join("crds.yaml")).expect("deploy/crds.yaml");
    assert!(
        file == wasmesh_crds(&[]),
        "deploy/crds.yaml is not `wasmesh crds`: run `wasmesh crds > deploy/crds.yaml`"
    );
}

#[test]
fn the_deployment_runs_flags_the_proxy_takes_with_its_probes_volumes_and_limits() {
    let objects = rendered();
    let deployment = one(&objects, "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(pod["serviceAccountName"], "wasmesh-gateway");
    let container = &pod["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args[0], "proxy");
    let value_of = |flag: &str| args.iter().position(|a| *a == flag).map(|i| args[i + 1]);
    assert_eq!(value_of("--workload"), Some("$(POD_NAMESPACE)/gateway"));
    assert_eq!(value_of("--admin"), Some("0.0.0.0:15000"));

    // every flag is one `wasmesh proxy` takes
    let help = wasmesh(&["proxy", "--help"]);
    assert_eq!(help.code, 0, "{help:?}");
    let takes = |flag: &str| {
        help.stdout
            .lines()
            .any(|l| l.trim_start().starts_with(&format!("{flag} ")) || l.trim() == flag)
    };
    for flag in args.iter().filter(|a| a.starts_with("--")) {
        assert!(
            takes(flag),
            "deploy/ runs `wasmesh proxy {flag}`, which --help does not list:\n{}",
            help.stdout
        );
    }
    for flag in ["--kubernetes", "--labels-file"] {
        assert!(args.contains(&flag), "{flag} is expected in deploy/'s args");
    }

    // the paths of the flags are the volumes' paths
    let mounts = container["volumeMounts"].as_array().unwrap();
    let mount_of = |name: &str| -> String {
        let mount = mounts
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("mount {name}"));
        mount["mountPath"].as_str().unwrap().to_string()
    };
    let volume_of = |name: &str| {
        pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        value_of("--labels-file").map(str::to_string),
        Some(format!("{}/labels", mount_of("podinfo")))
    );
    assert_eq!(
        volume_of("podinfo")["downwardAPI"]["items"][0],
        serde_json::json!({"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}})
    );
    let cache = value_of("--cache-dir").unwrap();
    // below the volume: the proxy makes its own 0700 directory there (docs/security.md)
    assert!(
        cache.starts_with(&format!("{}/", mount_of("module-cache"))),
        "{cache}"
    );
    assert!(volume_of("module-cache")["emptyDir"].is_object());
    let env = &container["env"][0];
    assert_eq!(env["name"], "POD_NAMESPACE");
    assert_eq!(env["valueFrom"]["fieldRef"]["fieldPath"], "metadata.namespace");
    // the status report's identity (docs/kubernetes.md, "Status")
    let env = &container["env"][1];
    assert_eq!(env["name"], "POD_NAME");
    assert_eq!(env["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name");

    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/ready");
    assert_eq!(container["readinessProbe"]["httpGet"]["port"], "admin");
    let liveness = &container["livenessProbe"]["httpGet"];
    assert!(
        liveness["path"].is_string() && liveness["path"] != "/ready",
        "{liveness}"
    );
    assert!(container["resources"]["requests"]["cpu"].is_string());
    assert!(container["resources"]["requests"]["memory"].is_string());
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert!(pod["securityContext"]["runAsUser"]
        .as_i64()
        .is_some_and(|u| u != 0));
    // the pods carry the labels the examples' selectors match
    assert_eq!(
        deployment["spec"]["template"]["metadata"]["labels"]["istio"],
        "ingressgateway"
    );
}

#[test]
fn the_rbac_grants_only_what_docs_kubernetes_md_explains() {
    let objects = rendered();
    let rules = |kind: &str| -> Vec<(String, String, Vec<String>)> {
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect()
        };
        let mut out = Vec::new();
        for rule in one(&objects, kind)["rules"].as_array().unwrap() {
            for group in strings(&rule["apiGroups"]) {
                for resource in strings(&rule["resources"]) {
                    out.push((group.clone(), resource, strings(&rule["verbs"])));
                }
            }
        }
        out.sort();
        out
    };
    let grant = |group: &str, resource: &str, verbs: &[&str]| {
        (
            group.to_string(),
            resource.to_string(),
            verbs.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        rules("ClusterRole"),
        [
            grant("", "events", &["create"]),
            grant("", "secrets", &["get", "watch"]),
            grant("extensions.istio.io", "wasmplugins", &["list", "watch"]),
            grant("extensions.istio.io", "wasmplugins/status", &["patch"]),
            grant("security.istio.io", "authorizationpolicies", &["list", "watch"]),
            grant("security.istio.io", "authorizationpolicies/status", &["patch"]),
            grant("security.istio.io", "requestauthentications", &["list", "watch"]),
            grant("security.istio.io", "requestauthentications/status", &["patch"]),
            grant("wasmesh.io", "proxies", &["list", "watch"]),
        ]
    );
    assert_eq!(
        rules("Role"),
        [grant(
            "coordination.k8s.io",
            "leases",
            &["get", "list", "create", "update", "delete"]
        )]
    );
}

#[test]
fn the_proxy_of_the_base_validates_and_applies() {
    let gateway = deploy().join("gateway.yaml");
    let run = wasmesh(&["validate", "-f", gateway.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");

    let server = ApiServer::start().expect("the double starts");
    let kubeconfig = server.kubeconfig().expect("a kubeconfig");
    let kubectl = Kubectl::new(kubeconfig.path());
    apply_wasmesh_crds(kubeconfig.path());
    // the double takes JSON only, so the base's own Namespace file rather than `kubectl create ns`
    kubectl.run(&["apply", "-f", deploy().join("namespace.yaml").to_str().unwrap()]);
    let applied = kubectl.run(&["apply", "-n", "wasmesh-system", "-f", gateway.to_str().unwrap()]);
    assert_eq!(applied.trim(), "proxy.wasmesh.io/gateway created");
    let address = kubectl.run(&[
        "get",
        "proxy",
        "gateway",
        "-n",
        "wasmesh-system",
        "-o",
        "jsonpath={.spec.listeners[0].address}",
    ]);
    assert_eq!(address, "0.0.0.0:8080");
}

/// deploy/ with its Component `gateway-api` turned on (as `kustomize edit add component
/// gateway-api` does), rendered from an overlay in a temporary directory.
fn rendered_with_gateway_api() -> Vec<Value> {
    let dir = tempfile::tempdir().expect("temp dir");
    let deploy = deploy().canonicalize().expect("deploy/");
    // kustomize takes relative paths only
    let up = dir.path().components().count() - 1;
    let rel = format!(
        "{}{}",
        "../".repeat(up),
        deploy.to_string_lossy().trim_start_matches('/')
    );
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        format!("namespace: wasmesh-system\nresources: [{rel}]\ncomponents: [{rel}/gateway-api]\n"),
    )
    .unwrap();
    let output = std::process::Command::new(kubectl_binary())
        .arg("kustomize")
        .arg(dir.path())
        .output()
        .expect("running kubectl kustomize");
    assert!(
        output.status.success(),
        "kubectl kustomize failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    text.split("\n---\n")
        .map(|doc| serde_yaml_ng::from_str::<Value>(doc).expect("kustomize's YAML"))
        .collect()
}

#[test]
fn the_gateway_api_component_serves_the_gateway_with_the_oidc_plugin_attached_by_target_refs() {
    let objects = rendered_with_gateway_api();
    let kinds: Vec<&str> = objects.iter().map(|o| o["kind"].as_str().unwrap()).collect();
    assert!(
        !kinds.contains(&"Proxy"),
        "the pods serve the Gateway, not the Proxy: {kinds:?}"
    );
    let class = one(&objects, "GatewayClass");
    assert_eq!(class["spec"]["controllerName"], "wasmesh.io/gateway-controller");
    let gateway = one(&objects, "Gateway");
    assert_eq!(gateway["spec"]["gatewayClassName"], class["metadata"]["name"]);
    assert_eq!(gateway["metadata"]["namespace"], "wasmesh-system");
    let route = one(&objects, "HTTPRoute");
    assert_eq!(
        route["spec"]["parentRefs"][0]["name"],
        gateway["metadata"]["name"]
    );
    // the listener's port is the pods' traffic port, which the base's Service targets
    let deployment = one(&objects, "Deployment");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let http_port = container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "http")
        .unwrap()["containerPort"]
        .clone();
    assert_eq!(gateway["spec"]["listeners"][0]["port"], http_port);
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let at = args.iter().position(|a| *a == "--gateway").expect("--gateway");
    assert_eq!(args[at + 1], "$(POD_NAMESPACE)/public");
    let help = wasmesh(&["proxy", "--help"]);
    for flag in args.iter().filter(|a| a.starts_with("--")) {
        let takes = help
            .stdout
            .lines()
            .any(|l| l.trim_start().starts_with(&format!("{flag} ")) || l.trim() == *flag);
        assert!(takes, "{flag} is not a flag of wasmesh proxy");
    }

    // the OIDC plugin attaches by targetRefs to this Gateway, and validates
    let plugin = one(&objects, "WasmPlugin");
    assert_eq!(
        plugin["spec"]["targetRefs"][0],
        serde_json::json!({"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "public"})
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), serde_json::to_string(plugin).unwrap()).unwrap();
    let run = wasmesh(&["validate", "-f", file.path().to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");

    // the RBAC the gateway mode reads with (docs/gateway-api.md), bound to the pods' account
    let roles: Vec<&Value> = objects.iter().filter(|o| o["kind"] == "ClusterRole").collect();
    let grants: Vec<(String, String, Value)> = roles
        .iter()
        .filter(|r| r["metadata"]["name"] == "wasmesh-gateway-api")
        .flat_map(|r| r["rules"].as_array().unwrap().clone())
        .flat_map(|rule| {
            let groups = rule["apiGroups"].as_array().unwrap().clone();
            groups.into_iter().flat_map(move |g| {
                let rule = rule.clone();
                rule["resources"]
                    .as_array()
                    .unwrap()
                    .clone()
                    .into_iter()
                    .map(move |r| {
                        (
                            g.as_str().unwrap().to_string(),
                            r.as_str().unwrap().to_string(),
                            rule["verbs"].clone(),
                        )
                    })
            })
        })
        .collect();
    let list_watch = serde_json::json!(["list", "watch"]);
    for (group, resource) in [
        ("gateway.networking.k8s.io", "gatewayclasses"),
        ("gateway.networking.k8s.io", "gateways"),
        ("gateway.networking.k8s.io", "httproutes"),
        ("gateway.networking.k8s.io", "referencegrants"),
        ("", "services"),
        ("", "namespaces"),
        ("discovery.k8s.io", "endpointslices"),
    ] {
        assert!(
            grants.contains(&(group.into(), resource.into(), list_watch.clone())),
            "{group}/{resource}: {grants:?}"
        );
    }
    // the status it writes back (one replica: the holder of the Gateway's election Lease)
    for resource in ["gatewayclasses/status", "gateways/status", "httproutes/status"] {
        let patch = (
            "gateway.networking.k8s.io".to_string(),
            resource.to_string(),
            serde_json::json!(["patch"]),
        );
        assert!(grants.contains(&patch), "{resource}: {grants:?}");
    }
    // the certificateRefs' Secrets: by name only, never a list
    let get_watch = serde_json::json!(["get", "watch"]);
    assert!(
        grants.contains(&("".into(), "secrets".into(), get_watch)),
        "secrets: {grants:?}"
    );
    assert_eq!(grants.len(), 11, "nothing more: {grants:?}");
    let secret_rules = objects
        .iter()
        .filter(|o| o["kind"] == "ClusterRole" || o["kind"] == "Role")
        .flat_map(|r| r["rules"].as_array().unwrap().clone())
        .filter(|rule| {
            rule["resources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == "secrets")
        });
    for rule in secret_rules {
        let verbs = rule["verbs"].as_array().unwrap();
        assert!(
            !verbs.iter().any(|v| v == "list" || v == "*"),
            "no role may list Secrets: {rule}"
        );
    }
    let binding = objects
        .iter()
        .find(|o| o["kind"] == "ClusterRoleBinding" && o["roleRef"]["name"] == "wasmesh-gateway-api")
        .expect("its binding");
    assert_eq!(binding["subjects"][0]["name"], "wasmesh-gateway");
}
