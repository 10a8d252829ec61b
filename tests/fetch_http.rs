//! `wasmesh proxy` running plugins served over HTTP, end to end: a server that fails twice
//! before answering (the proxy retries), a detached `<url>.sig` made by openssl (verified),
//! and a tampered module next to it (not loaded; FAIL_OPEN skips it, `/plugins` says why).

use crate::fetch_proxy;
use crate::fetch_support as support;
use crate::proxy_support;

use fetch_proxy::{get, write_config, Proxy};
use proxy_support::{echo::Echo, free_addr};
use support::{http_server, openssl::KeyPair};

fn plugin_yaml(name: &str, url: &str, public_pem: &str, priority: i32) -> String {
    let key: String = public_pem.lines().map(|l| format!("    {l}\n")).collect();
    format!(
        "---\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n  name: {name}\n  namespace: istio-system\nspec:\n  url: {url}\n  priority: {priority}\n  failStrategy: FAIL_OPEN\n  pluginConfig: {{value: {name}}}\n  verificationKey: |\n{key}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_plugins_are_retried_verified_and_refused_when_tampered() {
    let key = KeyPair::generate(true);
    let module = wasmesh_testkit::plugin_bytes("headers");
    let mut tampered = module.clone();
    // Flip a byte in the last section: still a well-formed module, no longer the signed one.
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    let signature = key.sign_base64(&module);
    let (good, bad) = (module.clone(), tampered);
    let failures = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let failed = failures.clone();
    let server = http_server::serve(move |path, _| match path {
        "/good.wasm" if failed.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 => {
            http_server::bytes(503, "warming up")
        }
        "/good.wasm" => http_server::bytes(200, good.clone()),
        "/bad.wasm" => http_server::bytes(200, bad.clone()),
        "/good.wasm.sig" | "/bad.wasm.sig" => http_server::bytes(200, signature.clone()),
        _ => http_server::bytes(404, ""),
    })
    .await;

    let echo = Echo::start("up");
    let listen = free_addr();
    let work = tempfile::tempdir().unwrap();
    let plugins = [
        plugin_yaml("good", &server.url("/good.wasm"), &key.public_pem, 2),
        plugin_yaml("bad", &server.url("/bad.wasm"), &key.public_pem, 1),
    ]
    .concat();
    write_config(work.path(), echo.addr, listen, &plugins);
    let proxy = Proxy::start(work.path(), &work.path().join("cache"), "");

    let resp = get(listen).await;
    assert_eq!(resp.status(), 200, "{}", proxy.log());
    let values: Vec<_> = resp
        .headers()
        .get_all("x-wasm-response")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        values,
        ["good"],
        "the tampered plugin is skipped (FAIL_OPEN): {}",
        proxy.log()
    );
    assert_eq!(
        failures.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "two 503s, then the module"
    );

    let plugins = proxy.admin("/plugins");
    assert!(plugins.contains("signature check failed"), "{plugins}");
    assert!(
        plugins.contains("Ed25519 signature does not match the key and content"),
        "{plugins}"
    );
    let stats = proxy.admin("/stats/prometheus");
    assert!(
        stats.contains("wasm_remote_fetch_count{result=\"success\"} 1"),
        "{stats}"
    );
    assert!(
        stats.contains("wasm_remote_fetch_count{result=\"signature_failure\"} 1"),
        "{stats}"
    );
}
