//! `wasmesh apply` and `wasmesh delete`, run as a user runs them.

use crate::cli_support as support;

use std::fs;
use support::{contents, copy_fixture, wasmesh};

fn apply(cmd: &str, file: &std::path::Path, dir: &std::path::Path) -> support::Run {
    wasmesh(&[
        cmd,
        "-f",
        file.to_str().unwrap(),
        "--config",
        dir.to_str().unwrap(),
    ])
}

const NEW_PLUGIN: &str = "# added by the test\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: added, namespace: apps}\nspec:\n  url: file:///plugins/added.wasm\n  priority: 100\n";

#[test]
fn apply_creates_then_reports_unchanged_then_replaces_in_place() {
    let dir = copy_fixture("mesh");
    let input = tempfile::tempdir().unwrap();
    let file = input.path().join("added.yaml");
    fs::write(&file, NEW_PLUGIN).unwrap();

    let run = apply("apply", &file, dir.path());
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("WasmPlugin apps/added created"), "{run:?}");
    let written = dir.path().join("wasmplugin-apps-added.yaml");
    assert_eq!(fs::read_to_string(&written).unwrap(), NEW_PLUGIN);

    let run = apply("apply", &file, dir.path());
    assert!(run.stdout.contains("WasmPlugin apps/added unchanged"), "{run:?}");

    // Replacing a plugin that lives in a multi-document file keeps its neighbours.
    let before = fs::read_to_string(dir.path().join("plugins.yaml")).unwrap();
    fs::write(
        &file,
        "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: headers-low, namespace: apps}\nspec:\n  url: oci://registry.test/headers:2.0\n  priority: 50\n",
    )
    .unwrap();
    let run = apply("apply", &file, dir.path());
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("WasmPlugin apps/headers-low configured"),
        "{run:?}"
    );
    let after = fs::read_to_string(dir.path().join("plugins.yaml")).unwrap();
    assert!(
        after.contains("headers:2.0") && !after.contains("priority: -5"),
        "{after}"
    );
    assert_eq!(
        after.matches("kind: WasmPlugin").count(),
        before.matches("kind: WasmPlugin").count()
    );
    assert!(after.contains("name: tcp-audit") && after.contains("name: openid"));

    let run = wasmesh(&[
        "describe",
        "--config",
        dir.path().to_str().unwrap(),
        "--workload",
        "apps/web-gateway",
        "-o",
        "json",
    ]);
    let got: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let names: Vec<&str> = got["listeners"][0]["filters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names[5..8], ["added", "headers-low", "headers-high"], "{names:?}");
    assert!(run.stderr.is_empty(), "{run:?}");
    assert!(
        !fs::read_dir(dir.path())
            .unwrap()
            .any(|e| e.unwrap().file_name().to_string_lossy().starts_with('.')),
        "no temp files left"
    );
}

#[test]
fn an_invalid_file_is_refused_and_nothing_changes() {
    let dir = copy_fixture("mesh");
    let before = contents(dir.path());
    let input = tempfile::tempdir().unwrap();
    let file = input.path().join("bad.yaml");
    fs::write(&file, format!("{NEW_PLUGIN}---\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {{name: openid, namespace: apps}}\nspec: {{url: x, phase: FIRST}}\n")).unwrap();
    for cmd in ["apply", "delete"] {
        let run = apply(cmd, &file, dir.path());
        assert_eq!(run.code, 1, "{run:?}");
        assert!(
            run.stderr.contains("bad.yaml: document 2")
                && run.stderr.contains("spec.phase: unknown variant `FIRST`"),
            "{run:?}"
        );
        assert!(run.stderr.contains("was not changed"), "{run:?}");
        assert_eq!(contents(dir.path()), before, "{cmd} must not touch the directory");
    }
}

#[test]
fn delete_removes_documents_and_empty_files() {
    let dir = copy_fixture("mesh");
    let input = tempfile::tempdir().unwrap();
    let file = input.path().join("gone.yaml");
    fs::write(
        &file,
        "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: gateway-authz, namespace: apps}\nspec: {url: x}\n---\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: headers-high, namespace: apps}\nspec: {url: x}\n",
    )
    .unwrap();
    let run = apply("delete", &file, dir.path());
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("WasmPlugin apps/gateway-authz deleted"),
        "{run:?}"
    );
    assert!(
        run.stdout.contains("WasmPlugin apps/headers-high deleted"),
        "{run:?}"
    );
    assert!(
        !dir.path().join("gateway-plugin.json").exists(),
        "a file left without documents is removed"
    );
    let plugins = fs::read_to_string(dir.path().join("plugins.yaml")).unwrap();
    assert!(
        !plugins.contains("headers-high") && plugins.contains("headers-low"),
        "{plugins}"
    );

    let run = apply("delete", &file, dir.path());
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains("WasmPlugin apps/gateway-authz not found"),
        "{run:?}"
    );
    let run = wasmesh(&["validate", "-f", dir.path().to_str().unwrap()]);
    assert_eq!(run.code, 0, "the directory stays valid: {run:?}");
}

#[test]
fn apply_keeps_a_file_s_mode_and_new_files_follow_the_umask() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = copy_fixture("mesh");
    let plugins = dir.path().join("plugins.yaml");
    fs::set_permissions(&plugins, fs::Permissions::from_mode(0o604)).unwrap();
    let input = tempfile::tempdir().unwrap();
    let file = input.path().join("in.yaml");
    fs::write(
        &file,
        format!(
            "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {{name: headers-low, namespace: apps}}\nspec:\n  url: oci://registry.test/headers:2.0\n---\n{}",
            NEW_PLUGIN
        ),
    )
    .unwrap();
    // Through sh, for a umask of the test's choosing.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"umask 027 && exec "$0" apply -f "$1" --config "$2""#)
        .arg(env!("CARGO_BIN_EXE_wasmesh"))
        .arg(&file)
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let mode = |p: &std::path::Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert!(fs::read_to_string(&plugins).unwrap().contains("headers:2.0"));
    assert_eq!(mode(&plugins), 0o604, "the edited file keeps its mode");
    let created = dir.path().join("wasmplugin-apps-added.yaml");
    assert_eq!(mode(&created), 0o640, "a new file gets 0666 less the umask");
}

#[test]
fn apply_keeps_the_comments_that_open_a_replaced_document() {
    let dir = tempfile::tempdir().unwrap();
    let old = "# Adds the x-powered-by header; owned by the platform team.\n\
               apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\n\
               metadata: {name: headers, namespace: apps}\n\
               spec:\n  # pinned until 2.0 is out\n  url: file:///plugins/h1.wasm\n\
               ---\n# the other plugin\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\n\
               metadata: {name: other, namespace: apps}\nspec: {url: file:///plugins/o.wasm}\n";
    fs::write(dir.path().join("plugins.yaml"), old).unwrap();
    let input = tempfile::tempdir().unwrap();
    let file = input.path().join("in.yaml");
    fs::write(
        &file,
        "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: headers, namespace: apps}\nspec: {url: file:///plugins/h2.wasm}\n",
    )
    .unwrap();
    let run = apply("apply", &file, dir.path());
    assert_eq!(run.code, 0, "{run:?}");
    let after = fs::read_to_string(dir.path().join("plugins.yaml")).unwrap();
    assert!(
        after.starts_with("# Adds the x-powered-by header; owned by the platform team.\napiVersion:"),
        "{after}"
    );
    assert!(
        after.contains("h2.wasm") && !after.contains("pinned until"),
        "{after}"
    );
    assert!(after.contains("---\n# the other plugin\n"), "{after}");
}
