//! The example plugins beyond the demo: their unit tests, which live in the plugins' own
//! workspace (`cargo test --workspace` does not reach it), run on the host target so CI runs
//! them; and rate-limit's shared bucket across workers through the real proxy.

use std::process::Command;

#[test]
fn example_plugins_pass_their_unit_tests_on_the_host() {
    let root = wasmesh_testkit::repo_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["test", "--locked", "--manifest-path"])
        .arg(root.join("plugins/Cargo.toml"))
        .args([
            "-p",
            "openid-connect",
            "-p",
            "add-headers",
            "-p",
            "rate-limit",
            "-p",
            "ext-authz-call",
        ])
        // A target folder of its own: the outer cargo holds the lock of target/.
        .arg("--target-dir")
        .arg(root.join("target/plugins-host"))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("running cargo test on plugins/");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the example plugins' unit tests failed:\n{stdout}\n{stderr}"
    );
    let passed: usize = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test result: ok. "))
        .filter_map(|l| l.split(' ').next()?.parse::<usize>().ok())
        .sum();
    assert!(passed >= 50, "only {passed} unit tests ran:\n{stdout}");
}

/// rate-limit through the real proxy with two workers: requests on both workers' VMs draw
/// from one bucket in shared data, and compare-and-swap loses no update, so exactly `burst`
/// requests pass (plus what refills while the test runs) however the connections spread.
#[test]
fn rate_limit_counts_across_workers_with_cas() {
    use std::io::{Read as _, Write as _};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    let at = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let backend = TcpListener::bind("127.0.0.1:0").unwrap();
    let backend_addr = backend.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in backend.incoming().map_while(Result::ok) {
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0
                        || stream
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                            .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    let listen = at(wasmesh_testkit::free_port());
    let admin = at(wasmesh_testkit::free_port());
    let wasm = wasmesh_testkit::plugin("rate-limit");
    let config = format!(
        "apiVersion: wasmesh.io/v1alpha1\nkind: Proxy\nmetadata: {{name: gw, namespace: ns, labels: {{app: gw}}}}\n\
         spec:\n  listeners:\n  - name: http\n    address: {listen}\n    routes:\n    - name: all\n      match: {{prefix: /}}\n      cluster: backend\n\
         \x20 clusters:\n  - name: backend\n    endpoints: [\"{backend_addr}\"]\n---\n\
         apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {{name: limit, namespace: ns}}\n\
         spec:\n  url: file://{}\n  pluginConfig: {{requests_per_second: 1, burst: 20}}\n",
        wasm.display()
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.yaml"), config).unwrap();
    // Not the user's own cache: a test leaves nothing behind.
    let cache = tempfile::tempdir().unwrap();
    /// The proxy process, killed when dropped.
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _proxy = Kill(
        std::process::Command::new(env!("CARGO_BIN_EXE_wasmesh"))
            .args(["proxy", "--config"])
            .arg(dir.path())
            .args([
                "--workload",
                "ns/gw",
                "--admin",
                &admin.to_string(),
                "--workers",
                "2",
                "--cache-dir",
            ])
            .arg(cache.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );

    let status = |addr: SocketAddr, path: &str| -> Option<u16> {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        write!(s, "GET {path} HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n").ok()?;
        let mut answer = String::new();
        s.read_to_string(&mut answer).ok()?;
        answer.split(' ').nth(1)?.parse().ok()
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while status(admin, "/ready") != Some(200) {
        assert!(Instant::now() < deadline, "the proxy was not ready");
        std::thread::sleep(Duration::from_millis(200));
    }

    let started = Instant::now();
    let threads: Vec<_> = (0..10)
        .map(|_| std::thread::spawn(move || (0..6).map(|_| status(listen, "/")).collect::<Vec<_>>()))
        .collect();
    let codes: Vec<Option<u16>> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    let elapsed = started.elapsed().as_secs();
    let allowed = codes.iter().filter(|c| **c == Some(200)).count();
    let limited = codes.iter().filter(|c| **c == Some(429)).count();
    assert_eq!(
        allowed + limited,
        60,
        "every request is answered 200 or 429: {codes:?}"
    );
    assert!(
        (20..=20 + elapsed as usize + 1).contains(&allowed),
        "{allowed} requests passed in {elapsed}s; a bucket of 20 refilled at 1/s allows 20 + refill"
    );
}
