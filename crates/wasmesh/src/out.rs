//! Writing to stdout like a Unix tool: when the reader has gone (`wasmesh describe ... |
//! head -1`), the command stops quietly with status 0 instead of panicking, as Rust's
//! `println!` does on a closed pipe. main.rs points `println!` and `print!` here.

use std::io::Write as _;

/// Writes `args` to stdout. A closed pipe ends the process with status 0: the reader took
/// what it wanted. Another write error ends it with status 1 (see `--help`, exit codes).
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}
