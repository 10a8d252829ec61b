//! `wasmesh proxy` at startup, run as a user runs it: mistakes said at once, and logs that
//! people and machines can read.

use std::time::{Duration, Instant};

use crate::cli_support::{copy_fixture, wasmesh};
use crate::proxy_support::ProxyProcess;

/// Waits until the proxy's log holds `text`; returns the log.
fn wait_for_log(proxy: &ProxyProcess, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = proxy.log();
        if log.contains(text) {
            return log;
        }
        assert!(Instant::now() < deadline, "no `{text}` in the log:\n{log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_bad_config_dir_is_said_first_and_exits_non_zero() {
    let base = tempfile::tempdir().unwrap();
    let missing = base.path().join("missing");
    let file = base.path().join("file.yaml");
    std::fs::write(&file, "").unwrap();
    for (dir, why) in [
        (&missing, "No such file or directory"),
        (&file, "Not a directory"),
    ] {
        let started = Instant::now();
        let run = wasmesh(&[
            "proxy",
            "--config",
            dir.to_str().unwrap(),
            "--workload",
            "apps/web",
            "--admin",
            "127.0.0.1:0",
        ]);
        assert_eq!(run.code, 1, "{run:?}");
        assert!(started.elapsed() < Duration::from_secs(5), "{run:?}");
        let expected = format!("error: cannot read config directory {}: {why}", dir.display());
        assert!(run.stderr.starts_with(&expected), "{run:?}");
        assert_eq!(run.stderr.matches(why).count(), 1, "the cause once: {run:?}");
        for not_started in ["starting", "draining", "stopped"] {
            assert!(!run.stderr.contains(not_started), "{run:?}");
        }
    }
}

#[test]
fn a_missing_workload_says_once_that_it_waits_and_which_proxies_exist() {
    let proxy = ProxyProcess::spawn(copy_fixture("mesh"), "apps/nope", 1);
    let said = "no Proxy apps/nope in";
    let log = wait_for_log(&proxy, said);
    let line = log.lines().find(|l| l.contains(said)).unwrap();
    assert!(line.contains("(Proxies found: apps/web-gateway)"), "{line}");
    assert!(line.contains("waiting for it to appear"), "{line}");
    let (status, body) = proxy.admin_get("/ready");
    assert_eq!(status, 503);
    assert!(body.contains("Proxies found: apps/web-gateway"), "{body}");

    // Another change of the folder that still lacks it is not said again.
    proxy.write_config("extra.yaml", "");
    std::thread::sleep(Duration::from_millis(800));
    let log = proxy.log();
    assert_eq!(log.matches(said).count(), 1, "{log}");
}
