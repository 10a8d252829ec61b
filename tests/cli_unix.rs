//! `wasmesh` as a Unix tool: quiet on a closed pipe, documented exit codes, completions
//! and a man page generated from its flags.

use crate::cli_support::{fixture, wasmesh};

/// Runs `script` with bash (for `set -o pipefail`, which POSIX sh lacks); `$WASMESH` is the
/// binary and `$MESH` the `mesh` fixture.
fn bash(script: &str) -> std::process::Output {
    std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("set -o pipefail; {script}"))
        .env("WASMESH", env!("CARGO_BIN_EXE_wasmesh"))
        .env("MESH", fixture("mesh"))
        .output()
        .expect("running bash")
}

#[test]
fn a_closed_pipe_ends_describe_quietly_with_status_zero() {
    let describe = r#""$WASMESH" describe --config "$MESH" --workload apps/web-gateway"#;
    let out = bash(&format!("{describe} | head -1"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(stdout.starts_with("Workload apps/web-gateway"), "{stdout}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    // A reader that closes the pipe before describe writes anything: the write fails
    // with EPIPE every time, not only when the output outgrows the pipe's buffer.
    let out = bash(&format!("{describe} | {{ exec 0<&-; }}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert_eq!(stderr, "", "quietly");
}

#[test]
fn exit_codes_are_documented_and_kept() {
    let help = wasmesh(&["--help"]);
    assert_eq!(help.code, 0, "{help:?}");
    assert!(help.stdout.contains("Exit status:\n  0  success"), "{help:?}");
    assert!(help.stdout.contains("\n  1  invalid input"), "{help:?}");
    assert!(help.stdout.contains("\n  2  usage error"), "{help:?}");
    let usage = wasmesh(&["describe", "--no-such-flag"]);
    assert_eq!(usage.code, 2, "{usage:?}");
    let mesh = fixture("mesh");
    let invalid = wasmesh(&[
        "describe",
        "--config",
        mesh.to_str().unwrap(),
        "--workload",
        "apps/nope",
    ]);
    assert_eq!(invalid.code, 1, "{invalid:?}");
}

#[test]
fn completions_and_the_man_page_are_generated_from_the_flags() {
    for (shell, marker) in [
        ("bash", "_wasmesh()"),
        ("zsh", "#compdef wasmesh"),
        ("fish", "complete -c wasmesh"),
    ] {
        let run = wasmesh(&["completions", shell]);
        assert_eq!(run.code, 0, "{shell}: {run:?}");
        assert!(run.stdout.contains(marker), "{shell}: {run:?}");
        for flag in ["describe", "workload", "log-format"] {
            assert!(run.stdout.contains(flag), "{shell} completes {flag}: {run:?}");
        }
    }
    let man = wasmesh(&["man"]);
    assert_eq!(man.code, 0, "{man:?}");
    assert!(man.stdout.contains(".TH wasmesh 1"), "{man:?}");
    assert!(man.stdout.contains("describe"), "{man:?}");
    assert_eq!(wasmesh(&["completions", "tcsh"]).code, 2);
}
