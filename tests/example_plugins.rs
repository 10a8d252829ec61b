//! The unit tests of the example plugins (plugins/openid-connect, add-headers, rate-limit,
//! ext-authz-call) live in the plugins' own workspace, which `cargo test --workspace` does
//! not reach; this runs them on the host target so CI does.

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
