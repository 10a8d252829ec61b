//! `wasmesh describe`, run as a user runs it.

use crate::cli_support as support;

use serde_json::json;
use support::{example, fixture, wasmesh};

fn describe(dir: &std::path::Path, extra: &[&str]) -> support::Run {
    let mut args = vec![
        "describe",
        "--config",
        dir.to_str().unwrap(),
        "--workload",
        "apps/web-gateway",
    ];
    args.extend_from_slice(extra);
    wasmesh(&args)
}

#[test]
fn json_is_the_http_chain_in_execution_order() {
    let run = describe(&fixture("mesh"), &["-o", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let got: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON on stdout");
    let wasm = |phase: &str, ns: &str, name: &str, priority: i64, url: &str| json!({"phase": phase, "kind": "wasm", "name": name, "namespace": ns, "priority": priority, "url": url});
    let builtin = |phase: &str, name: &str| json!({"phase": phase, "kind": "builtin", "name": name});
    assert_eq!(
        got,
        json!([
            wasm("AUTHN", "apps", "openid", 0, "file:///plugins/openid.wasm"),
            builtin("AUTHN", "authn"),
            wasm("AUTHZ", "apps", "gateway-authz", 0, "file:///plugins/authz.wasm"),
            builtin("AUTHZ", "authz"),
            wasm(
                "STATS",
                "istio-system",
                "mesh-stats",
                0,
                "https://plugins.test/stats.wasm"
            ),
            wasm(
                "UNSPECIFIED",
                "apps",
                "headers-high",
                10,
                "oci://registry.test/headers:1.0"
            ),
            wasm(
                "UNSPECIFIED",
                "apps",
                "headers-default",
                0,
                "oci://registry.test/headers:1.0"
            ),
            wasm(
                "UNSPECIFIED",
                "apps",
                "headers-low",
                -5,
                "oci://registry.test/headers:1.0"
            ),
            builtin("STATS", "stats"),
            builtin("UNSPECIFIED", "router"),
        ])
    );
}

#[test]
fn json_of_a_tcp_listener_holds_its_network_plugins() {
    let run = describe(&fixture("mesh"), &["-o", "json", "--listener", "tcp"]);
    assert_eq!(run.code, 0, "{run:?}");
    let got: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        got,
        json!([{"phase": "UNSPECIFIED", "kind": "wasm", "name": "tcp-audit", "namespace": "apps", "priority": 0, "url": "file:///plugins/tcp-audit.wasm"}])
    );
    let run = describe(&fixture("mesh"), &["-o", "json", "--listener", "nope"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("has no listener nope"), "{run:?}");
}

#[test]
fn the_table_shows_the_chain_and_why_plugins_were_not_selected() {
    let run = describe(&fixture("mesh"), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let out = &run.stdout;
    let order: Vec<&str> = [
        "apps/openid",
        "authn",
        "apps/gateway-authz",
        "authz",
        "istio-system/mesh-stats",
        "apps/headers-high",
        "apps/headers-default",
        "apps/headers-low",
        "stats",
        "router",
    ]
    .to_vec();
    let http = out.split("Listener tcp").next().unwrap();
    let rows: Vec<&str> = http
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert_eq!(rows.len(), order.len(), "{run:?}");
    for (row, name) in rows.iter().zip(&order) {
        assert!(
            row.split_whitespace().any(|w| w == *name),
            "row `{row}` should be {name}"
        );
    }
    assert!(out.contains("RequestAuthentication istio-system/jwt"), "{run:?}");
    assert!(out.contains("AuthorizationPolicy apps/require-jwt"), "{run:?}");
    for reason in [
        "Selected:\n  apps/openid: selector matches app=web\n  apps/gateway-authz: targetRefs names this workload's Gateway public\n  \
         istio-system/mesh-stats: in the root namespace without selector: applies to every workload\n",
        "apps/for-api-only: selector wants app=api; the workload has app=web",
        "shop/other-team: it is in namespace shop; only plugins in the workload's namespace (apps) or the root namespace (istio-system) apply",
        "apps/outbound-only on listener http: no match[] entry fits this listener (trafficDirection SERVER, port 18080)",
    ] {
        assert!(out.contains(reason), "missing `{reason}` in {run:?}");
    }
}

#[test]
fn a_broken_file_is_reported_and_the_rest_still_applies() {
    let run = describe(&fixture("broken"), &["-o", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let got: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let names: Vec<&str> = got
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["authn", "authz", "also-good", "good", "stats", "router"]);
    assert!(
        run.stderr.contains("warning: ") && run.stderr.contains("spec.priority"),
        "{run:?}"
    );
    assert!(run.stderr.contains("not-yaml.yaml: document 1"), "{run:?}");
}

#[test]
fn the_root_namespace_can_be_changed() {
    let run = describe(&fixture("mesh"), &["-o", "json", "--root-namespace", "shop"]);
    assert_eq!(run.code, 0, "{run:?}");
    let got: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let names: Vec<&str> = got
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"other-team"), "{names:?}");
    assert!(!names.contains(&"mesh-stats"), "{names:?}");
}

#[test]
fn an_unknown_workload_is_an_error_that_lists_the_proxies() {
    let run = wasmesh(&[
        "describe",
        "--config",
        fixture("mesh").to_str().unwrap(),
        "--workload",
        "apps/nope",
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("no Proxy apps/nope") && run.stderr.contains("Proxies found: apps/web-gateway"),
        "{run:?}"
    );
    let run = wasmesh(&[
        "describe",
        "--config",
        fixture("mesh").to_str().unwrap(),
        "--workload",
        "nope",
    ]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("is not NAMESPACE/NAME"), "{run:?}");
}

#[test]
fn the_seed_example_next_to_a_proxy_gives_the_expected_chain() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["plugin.yaml", "plugin-file.yaml", "proxy.yaml"] {
        std::fs::copy(example(f), dir.path().join(f)).unwrap();
    }
    let run = wasmesh(&[
        "describe",
        "--config",
        dir.path().to_str().unwrap(),
        "--workload",
        "istio-system/ingressgateway",
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let got: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(got[0]["name"], "openid-connect");
    assert_eq!(got[0]["namespace"], "istio-system");
    assert_eq!(got[0]["phase"], "AUTHN");
    assert_eq!(got[1]["name"], "authn");
    assert_eq!(got.as_array().unwrap().len(), 5);
}

#[test]
fn a_missing_pull_secret_is_shown_as_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["plugin.yaml", "proxy.yaml"] {
        std::fs::copy(example(f), dir.path().join(f)).unwrap();
    }
    let args = [
        "describe",
        "--config",
        dir.path().to_str().unwrap(),
        "--workload",
        "istio-system/ingressgateway",
    ];
    let run = wasmesh(&args);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains(
            "Problems:\n  istio-system/openid-connect: imagePullSecret private-registry-pull-secret: \
             no Secret istio-system/private-registry-pull-secret in the config directory"
        ),
        "{run:?}"
    );
    std::fs::write(
        dir.path().join("secret.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata: {name: private-registry-pull-secret, namespace: istio-system}\ntype: kubernetes.io/dockerconfigjson\nstringData: {.dockerconfigjson: '{\"auths\": {}}'}\n",
    )
    .unwrap();
    let run = wasmesh(&args);
    assert!(!run.stdout.contains("Problems:"), "{run:?}");
}
