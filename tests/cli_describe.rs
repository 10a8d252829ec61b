//! `wasmesh describe`, run as a user runs it.

use crate::cli_support as support;

use serde_json::json;
use support::{example, fixture, wasmesh};

/// The documented fields of each filter of `listener`'s chain in `describe -o json`.
fn chain(got: &serde_json::Value, listener: &str) -> serde_json::Value {
    let listener = got["listeners"]
        .as_array()
        .expect("listeners")
        .iter()
        .find(|l| l["name"] == listener)
        .unwrap_or_else(|| panic!("no listener {listener} in {got:#}"));
    let documented = ["phase", "kind", "name", "namespace", "priority", "url"];
    listener["filters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let f = f.as_object().unwrap();
            documented
                .iter()
                .filter_map(|k| f.get(*k).map(|v| (k.to_string(), v.clone())))
                .collect::<serde_json::Map<_, _>>()
                .into()
        })
        .collect::<Vec<serde_json::Value>>()
        .into()
}

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
    let got = chain(&got, "http");
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
    assert_eq!(got["listeners"].as_array().unwrap().len(), 1, "only tcp: {got:#}");
    assert_eq!(
        chain(&got, "tcp"),
        json!([{"phase": "UNSPECIFIED", "kind": "wasm", "name": "tcp-audit", "namespace": "apps", "priority": 0, "url": "file:///plugins/tcp-audit.wasm"}])
    );
    let run = describe(&fixture("mesh"), &["-o", "json", "--listener", "nope"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("has no listener nope (its listeners: http, tcp)"),
        "{run:?}"
    );
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
    let got = &got["listeners"][0]["filters"];
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
    let got = &got["listeners"][0]["filters"];
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
    let got = &got["listeners"][0]["filters"];
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

#[test]
fn json_carries_what_the_table_shows() {
    let run = describe(&fixture("mesh"), &["-o", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let got: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(got["workload"], "apps/web-gateway");
    assert_eq!(got["rootNamespace"], "istio-system");
    assert_eq!(got["labels"]["app"], "web");
    // Every listener, as the table has them.
    let listeners: Vec<(&str, &str, &str, &str)> = got["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["name"].as_str().unwrap(),
                l["protocol"].as_str().unwrap(),
                l["address"].as_str().unwrap(),
                l["trafficDirection"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listeners,
        [
            ("http", "http", "127.0.0.1:18080", "SERVER"),
            ("tcp", "tcp", "127.0.0.1:19090", "SERVER")
        ]
    );
    // The built-ins' details.
    let http = &got["listeners"][0]["filters"];
    let builtin = |name: &str| {
        http.as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        builtin("authn")["requestAuthentications"],
        json!(["istio-system/jwt"])
    );
    assert_eq!(
        builtin("authn")["detail"],
        "RequestAuthentication istio-system/jwt"
    );
    assert_eq!(
        builtin("authz")["authorizationPolicies"],
        json!(["apps/require-jwt"])
    );
    assert_eq!(builtin("router")["routes"], 2);
    assert_eq!(builtin("stats")["detail"], "request metrics");
    assert_eq!(http[0]["priorityUnset"], true);
    assert_eq!(http[5]["priorityUnset"], false);
    // Why each plugin was or was not selected.
    assert!(
        got["selected"]
            .as_array()
            .unwrap()
            .contains(&json!({"namespace": "apps", "name": "openid", "why": "selector matches app=web"})),
        "{got:#}"
    );
    let not_selected = got["notSelected"].as_array().unwrap();
    for expected in [
        json!({"namespace": "apps", "name": "for-api-only", "listener": null,
               "reason": "selector wants app=api; the workload has app=web"}),
        json!({"namespace": "apps", "name": "outbound-only", "listener": "http",
               "reason": "no match[] entry fits this listener (trafficDirection SERVER, port 18080)"}),
        json!({"namespace": "shop", "name": "other-team", "listener": null,
               "reason": "it is in namespace shop; only plugins in the workload's namespace (apps) or the root namespace (istio-system) apply"}),
    ] {
        assert!(not_selected.contains(&expected), "missing {expected} in {got:#}");
    }
    // The table lists the same, line for line.
    let table = describe(&fixture("mesh"), &[]).stdout;
    for n in not_selected {
        let on = n["listener"]
            .as_str()
            .map(|l| format!(" on listener {l}"))
            .unwrap_or_default();
        let line = format!(
            "  {}/{}{on}: {}",
            n["namespace"].as_str().unwrap(),
            n["name"].as_str().unwrap(),
            n["reason"].as_str().unwrap()
        );
        assert!(table.contains(&line), "`{line}` not in the table:\n{table}");
    }
    let reasons = table
        .split("\nSelected:")
        .nth(1)
        .and_then(|rest| rest.split("\nOrigins:").next())
        .expect("Selected: before Origins:");
    assert_eq!(
        reasons
            .lines()
            .filter(|l| l.contains(": ") && l.starts_with("  "))
            .count(),
        got["selected"].as_array().unwrap().len() + not_selected.len(),
        "{table}"
    );
    // Where each came from: a file's document, in both.
    let policies = fixture("mesh").join("policies.yaml");
    let line = format!(
        "  AuthorizationPolicy apps/require-jwt from {}: document 2 (line 9)\n",
        policies.display()
    );
    assert!(table.contains(&line), "`{line}` not in the table:\n{table}");
    assert!(
        got["origins"].as_array().unwrap().contains(&json!({
            "kind": "AuthorizationPolicy", "namespace": "apps", "name": "require-jwt",
            "origin": {"file": policies.to_string_lossy(), "document": 2, "line": 9}
        })),
        "{got:#}"
    );
    assert!(
        got["source"]
            .as_str()
            .is_some_and(|s| s.starts_with("the config directory ")),
        "{got:#}"
    );
}

#[test]
fn the_table_shows_one_listener_with_listener() {
    let run = describe(&fixture("mesh"), &["--listener", "tcp"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("Listener tcp (tcp, 127.0.0.1:19090, SERVER)"),
        "{run:?}"
    );
    assert!(!run.stdout.contains("Listener http"), "{run:?}");
    // Reasons about the other listener are left out, those about the workload stay.
    assert!(!run.stdout.contains("on listener http"), "{run:?}");
    assert!(
        run.stdout.contains("apps/for-api-only: selector wants app=api"),
        "{run:?}"
    );
    let run = describe(&fixture("mesh"), &["--listener", "nope"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("has no listener nope"), "{run:?}");
}

#[test]
fn json_carries_the_problems_too() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["plugin.yaml", "proxy.yaml"] {
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
    assert_eq!(
        got["problems"],
        json!([{"namespace": "istio-system", "name": "openid-connect",
                "problem": "imagePullSecret private-registry-pull-secret: no Secret istio-system/private-registry-pull-secret in the config directory"}])
    );
}
