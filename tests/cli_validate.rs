//! `wasmesh validate`, run as a user runs it.

use crate::cli_support as support;

use support::{example, fixture, wasmesh};

#[test]
fn a_valid_directory_passes() {
    let run = wasmesh(&["validate", "-f", fixture("mesh").to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("14 valid documents, 0 invalid, in 4 files"),
        "{run:?}"
    );
    assert!(
        run.stdout
            .contains("gateway-plugin.json: document 1 (line 1): WasmPlugin apps/gateway-authz"),
        "{run:?}"
    );
    assert!(run.stderr.is_empty(), "{run:?}");
}

#[test]
fn the_api_reference_examples_validate() {
    let run = wasmesh(&[
        "validate",
        "-f",
        example("plugin.yaml").to_str().unwrap(),
        example("plugin-file.yaml").to_str().unwrap(),
        example("proxy.yaml").to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("3 valid documents, 0 invalid, in 3 files"),
        "{run:?}"
    );
}

#[test]
fn a_broken_file_among_good_ones_fails_with_precise_errors() {
    let run = wasmesh(&["validate", "-f", fixture("broken").to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains("3 valid documents, 3 invalid, in 4 files"),
        "{run:?}"
    );
    // Good documents are still reported as valid.
    assert!(
        run.stdout
            .contains("plugins.yaml: document 1 (line 1): WasmPlugin apps/good"),
        "{run:?}"
    );
    assert!(
        run.stdout
            .contains("also-good.yaml: document 1 (line 1): WasmPlugin apps/also-good"),
        "{run:?}"
    );
    // Each error: file, document, line, field path, bad value, what is allowed.
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert!(
        lines.iter().any(|l| l.ends_with(
            "broken/plugins.yaml: document 2 (line 8, field at line 13): spec.priority: invalid type: string \"10\", expected an integer"
        )),
        "{run:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("broken/plugins.yaml: document 3 (line 15")
            && l.contains("spec.phase: unknown variant `LATE`, expected one of `AUTHN`, `AUTHZ`, `STATS`, `UNSPECIFIED`, `UNSPECIFIED_PHASE`")),
        "{run:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("broken/not-yaml.yaml: document 1") && l.contains("syntax error")),
        "{run:?}"
    );
}

#[test]
fn every_rule_broken_in_one_document_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.yaml");
    std::fs::write(
        &file,
        "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: p, namespace: ns}\nspec:\n  url: ftp://x/y.wasm\n  sha256: ABC\n  priority: 3000000000\n  vmConfig: {env: [{name: A, valueFrom: HOST, value: x}]}\n",
    )
    .unwrap();
    let run = wasmesh(&["validate", "-f", file.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:?}");
    for expected in [
        "(line 1, field at line 5): spec.url: \"ftp://x/y.wasm\" is not allowed: unsupported scheme `ftp`; allowed: oci:// (the default), file://, http://, https://",
        "(line 1, field at line 6): spec.sha256: \"ABC\" is not allowed: must be 64 lower-case hex digits",
        "(line 1, field at line 7): spec.priority: 3000000000 is not allowed: must be a 32-bit integer (-2147483648 to 2147483647)",
        "(line 1, field at line 8): spec.vmConfig.env[0].value: value is not allowed when valueFrom is HOST",
    ] {
        assert!(run.stderr.contains(expected), "missing `{expected}` in {run:?}");
    }
}

#[test]
fn unknown_kinds_fields_and_duplicate_keys_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.yaml");
    std::fs::write(
        &file,
        "apiVersion: networking.istio.io/v1\nkind: EnvoyFilter\nmetadata: {name: e}\n---\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: p}\nspec:\n  url: x\n  pluginConfg: {}\n---\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: q}\nspec:\n  url: x\n  phase: AUTHN\n  phase: AUTHZ\n",
    )
    .unwrap();
    let run = wasmesh(&["validate", "-f", file.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("document 1 (line 1): kind: unknown kind `EnvoyFilter`; allowed: WasmPlugin"),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("document 2 (line 5, field at line 10): spec.pluginConfg: unknown field `pluginConfg`"),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("document 3 (line 12, field at line 18): spec.phase: duplicate key `phase`"),
        "{run:?}"
    );
}

#[test]
fn deep_and_large_files_are_refused_with_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("deep.yaml");
    std::fs::write(
        &deep,
        format!("kind: WasmPlugin\nspec:\n  pluginConfig: {}", "[".repeat(100_000)),
    )
    .unwrap();
    let large = dir.path().join("large.json");
    std::fs::write(&large, format!("{{}}{}", " ".repeat(4 << 20))).unwrap();
    let started = std::time::Instant::now();
    let run = wasmesh(&["validate", "-f", dir.path().to_str().unwrap()]);
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{run:?}");
    assert_eq!(run.code, 1, "{run:?}");
    for expected in [
        "deep.yaml: document 1 (line 1, field at line 3): mappings and sequences nest deeper than the limit of 64 levels",
        "large.json: document 1 (line 1): the file is 4194306 bytes, over the limit of 4194304 bytes (4 MiB) per file",
    ] {
        assert!(run.stderr.contains(expected), "missing `{expected}` in {run:?}");
    }
    assert!(
        run.stdout.contains("0 valid documents, 2 invalid, in 2 files"),
        "{run:?}"
    );
}

#[test]
fn the_same_resource_twice_is_a_warning() {
    let run = wasmesh(&[
        "validate",
        "-f",
        example("plugin.yaml").to_str().unwrap(),
        example("plugin.yaml").to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "each document is valid: {run:?}");
    assert!(
        run.stdout.contains("2 valid documents, 0 invalid, in 2 files"),
        "{run:?}"
    );
    assert!(
        run.stderr.contains("warning: ")
            && run
                .stderr
                .contains("WasmPlugin istio-system/openid-connect is also defined at")
            && run.stderr.contains("the first (in path order) is used"),
        "{run:?}"
    );
}

#[test]
fn a_missing_path_is_an_error() {
    let run = wasmesh(&["validate", "-f", "/nonexistent/plugin.yaml"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("/nonexistent/plugin.yaml"), "{run:?}");
    let run = wasmesh(&["validate"]);
    assert_eq!(run.code, 2, "clap's usage error: {run:?}");
}

#[test]
fn standard_input_is_read_with_a_dash() {
    use std::{
        io::Write,
        process::{Command, Stdio},
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_wasmesh"))
        .args(["validate", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: p}\nspec: {url: x, phase: NOW}\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("<stdin>: document 1 (line 1, field at line 4): spec.phase: unknown variant `NOW`"),
        "{stderr}"
    );
}

#[test]
fn several_errors_of_one_document_are_all_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.yaml");
    std::fs::write(
        &file,
        "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: p, namespace: ns}\nspec:\n  url: ftp://x/y.wasm\n  priority: \"10\"\n  phase: LATE\n  pluginConfg: {}\n  type: HTTP\n  type: NETWORK\n",
    )
    .unwrap();
    let run = wasmesh(&["validate", "-f", file.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:?}");
    let expected = [
        "(line 1, field at line 5): spec.url: \"ftp://x/y.wasm\" is not allowed: unsupported scheme `ftp`",
        "(line 1, field at line 6): spec.priority: invalid type: string \"10\", expected an integer",
        "(line 1, field at line 7): spec.phase: unknown variant `LATE`",
        "(line 1, field at line 8): spec.pluginConfg: unknown field `pluginConfg`",
        "(line 1, field at line 10): spec.type: duplicate key `type`",
    ];
    let errors: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), expected.len(), "{run:?}");
    for (line, expected) in errors.iter().zip(expected) {
        assert!(line.contains(expected), "`{line}` should hold `{expected}`");
    }
    assert!(
        run.stdout.contains("0 valid documents, 1 invalid, in 1 file"),
        "{run:?}"
    );
}

#[test]
fn objects_read_back_with_kubectl_get_are_valid() {
    // What `kubectl get -o yaml` prints: every metadata field an API server sets, a status,
    // a List of two kinds at two served versions.
    let run = wasmesh(&["validate", "-f", fixture("kubectl-get").to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("4 valid documents, 0 invalid, in 3 files"),
        "{run:?}"
    );
    for shown in [
        "WasmPlugin istio-system/openid-connect",
        "Proxy istio-system/ingressgateway-x7k2p",
        "RequestAuthentication istio-ingress/openid-connect",
        "AuthorizationPolicy istio-ingress/require-login",
    ] {
        assert!(run.stdout.contains(shown), "{shown}: {run:?}");
    }
    assert!(run.stderr.is_empty(), "{run:?}");
}

#[test]
fn a_misspelled_spec_field_of_an_exported_object_is_still_refused() {
    let exported = std::fs::read_to_string(fixture("kubectl-get").join("wasmplugin.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.yaml");
    std::fs::write(
        &file,
        exported.replace("  imagePullSecret:", "  imagePullSecrets:"),
    )
    .unwrap();
    let run = wasmesh(&["validate", "-f", file.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("spec.imagePullSecrets: unknown field `imagePullSecrets`"),
        "{run:?}"
    );
}

#[test]
fn a_missing_required_field_is_named_by_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.yaml");
    std::fs::write(
        &file,
        "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: p}\nspec:\n  phase: AUTHN\n---\napiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: r}\nspec:\n  jwtRules:\n  - jwksUri: https://issuer.test/keys\n",
    )
    .unwrap();
    let run = wasmesh(&["validate", "-f", file.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("document 1 (line 1, field at line 4): spec.url: missing; this field is required"),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("spec.jwtRules[0].issuer: missing; this field is required"),
        "{run:?}"
    );
    assert!(!run.stderr.contains("missing field"), "{run:?}");
}
