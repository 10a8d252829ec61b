//! The `wasmesh` command: argument parsing and printing only.

fn main() {
    eprintln!("wasmesh: no subcommands yet");
    std::process::exit(2);
}
