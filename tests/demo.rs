//! `wasmesh demo` end to end: starts the real binary, runs every curl command it prints with
//! a real curl, and checks that each answer holds what the demo says it will.

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The demo process, killed when dropped.
struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A command the demo printed and the texts its output must hold.
#[derive(Debug)]
struct Printed {
    command: String,
    expect: Vec<String>,
}

/// Reads the demo's stdout up to "Press Ctrl-C to stop." and collects the commands.
fn printed_commands(lines: &mpsc::Receiver<String>) -> Result<Vec<Printed>, String> {
    let mut out: Vec<Printed> = Vec::new();
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(300))
            .map_err(|_| "the demo ended or printed nothing for 300s".to_string())?;
        if line.starts_with("Press Ctrl-C") {
            return Ok(out);
        }
        if line.starts_with("curl ") || line.starts_with("for ") {
            out.push(Printed {
                command: line,
                expect: vec![],
            });
        } else if let Some(e) = line.strip_prefix("#   expect: ") {
            out.last_mut()
                .ok_or("an expectation before any command")?
                .expect
                .push(e.to_string());
        }
    }
}

#[test]
fn every_printed_curl_command_gives_what_the_demo_says() {
    let plugins = wasmesh_testkit::plugins_dir();
    // The user's cache (here a fresh one): $XDG_CACHE_HOME/wasmesh, private.
    let xdg_cache = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_wasmesh"))
        .args(["demo", "--random-ports", "--plugins"])
        .arg(plugins)
        .env("XDG_CACHE_HOME", xdg_cache.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting wasmesh demo");
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let demo = Demo(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let commands = match printed_commands(&rx) {
        Ok(c) => c,
        Err(why) => {
            drop(demo);
            let mut log = String::new();
            stderr.read_to_string(&mut log).ok();
            panic!("{why}; the demo's stderr:\n{log}");
        }
    };
    assert!(
        commands.len() >= 4,
        "the demo printed too few commands: {commands:?}"
    );
    for made in ["wasmesh", "wasmesh/compiled", "wasmesh/modules"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(xdg_cache.path().join(made))
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or_else(|e| panic!("the demo's cache {made}: {e}"));
        assert_eq!(mode, 0o700, "{made}");
    }

    for printed in &commands {
        assert!(
            !printed.expect.is_empty(),
            "{} has no expectation",
            printed.command
        );
        let output = Command::new("sh")
            .args(["-c", &printed.command])
            .output()
            .expect("running sh");
        let text = String::from_utf8_lossy(&output.stdout).to_ascii_lowercase();
        for e in &printed.expect {
            assert!(
                text.contains(&e.to_ascii_lowercase()),
                "`{}` should show {e:?}; it printed:\n{text}",
                printed.command
            );
        }
    }
    drop(demo);
}
