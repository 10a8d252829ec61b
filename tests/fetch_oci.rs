//! `wasmesh proxy` running a plugin from an OCI registry, end to end: the module is pushed
//! and signed with `wasmesh push` / `wasmesh sign` into Debian's `docker-registry`, named by
//! a WasmPlugin with `sha256` and `verificationKey`, pulled and verified by the proxy, and
//! served again from the cache after the registry is gone. A module without a valid
//! signature is not loaded, and failStrategy decides.

use crate::fetch_proxy;
use crate::fetch_support as support;
use crate::proxy_support;

use fetch_proxy::{get, write_config, Proxy};
use proxy_support::{echo::Echo, free_addr};
use std::{path::Path, process::Command};
use support::{openssl::KeyPair, registry::Registry};

fn wasmesh(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_wasmesh"))
        .args(args)
        .env("DOCKER_CONFIG", "/nonexistent")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "wasmesh {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Pushes the `headers` test plugin; returns its manifest digest.
fn push_headers_plugin(url: &str, dir: &Path) -> String {
    let file = dir.join("headers.wasm");
    std::fs::write(&file, wasmesh_testkit::plugin_bytes("headers")).unwrap();
    let out = wasmesh(&["push", file.to_str().unwrap(), url, "--plain-http"]);
    out.lines()
        .find_map(|l| l.strip_prefix("digest: "))
        .expect("push prints the digest")
        .to_owned()
}

fn plugin_yaml(url: &str, sha256_hex: &str, public_pem: &str, fail: &str) -> String {
    let key: String = public_pem.lines().map(|l| format!("    {l}\n")).collect();
    format!(
        "---\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n  name: from-oci\n  namespace: istio-system\nspec:\n  url: {url}\n  sha256: {sha256_hex}\n  failStrategy: {fail}\n  pluginConfig: {{value: from-oci}}\n  verificationKey: |\n{key}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_oci_plugin_runs_and_a_restart_needs_no_registry() {
    let mut registry = Registry::start();
    let key = KeyPair::generate(false);
    let work = tempfile::tempdir().unwrap();
    let url = registry.url("plugins/headers:v1");
    let digest = push_headers_plugin(&url, work.path());
    wasmesh(&[
        "sign",
        "--key",
        key.private_key_path().to_str().unwrap(),
        &url,
        "--plain-http",
    ]);

    let echo = Echo::start("up");
    let listen = free_addr();
    let config = work.path().join("config");
    std::fs::create_dir(&config).unwrap();
    write_config(
        &config,
        echo.addr,
        listen,
        &plugin_yaml(&url, &digest[7..], &key.public_pem, "FAIL_CLOSE"),
    );
    let cache = work.path().join("cache");
    {
        let proxy = Proxy::start(&config, &cache, &registry.addr);
        let resp = get(listen).await;
        assert_eq!(resp.status(), 200, "{}", proxy.log());
        assert_eq!(resp.headers()["x-wasm-response"], "from-oci");
        let stats = proxy.admin("/stats/prometheus");
        assert!(
            stats.contains("wasm_remote_fetch_count{result=\"success\"} 1"),
            "{stats}"
        );
    }

    registry.stop();
    let proxy = Proxy::start(&config, &cache, &registry.addr);
    let resp = get(listen).await;
    assert_eq!(resp.status(), 200, "{}", proxy.log());
    assert_eq!(resp.headers()["x-wasm-response"], "from-oci");
    let stats = proxy.admin("/stats/prometheus");
    assert!(
        stats.contains("wasm_cache_lookup_count{hit=\"true\"} 1"),
        "{stats}"
    );
    assert!(
        !stats.contains("wasm_remote_fetch_count{result="),
        "no remote fetch: {stats}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsigned_oci_plugin_is_not_loaded() {
    let registry = Registry::start();
    let key = KeyPair::generate(true);
    let work = tempfile::tempdir().unwrap();
    let url = registry.url("plugins/unsigned:v1");
    let digest = push_headers_plugin(&url, work.path());

    let echo = Echo::start("up");
    let listen = free_addr();
    let config = work.path().join("config");
    std::fs::create_dir(&config).unwrap();
    write_config(
        &config,
        echo.addr,
        listen,
        &plugin_yaml(&url, &digest[7..], &key.public_pem, "FAIL_CLOSE"),
    );
    let proxy = Proxy::start(&config, &work.path().join("cache"), &registry.addr);
    let resp = get(listen).await;
    assert_eq!(resp.status(), 503, "{}", proxy.log());
    let plugins = proxy.admin("/plugins");
    assert!(
        plugins.contains("signature check failed: no signature found"),
        "{plugins}"
    );
    let stats = proxy.admin("/stats/prometheus");
    assert!(
        stats.contains("wasm_remote_fetch_count{result=\"signature_failure\"} 1"),
        "{stats}"
    );
}
