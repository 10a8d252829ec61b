//! The `wasmesh` command: argument parsing and printing only. Each subcommand lives in
//! its own file under `cmd/` and calls into the library crates.

mod cmd;
mod log;
mod report;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

// The request path allocates small, short-lived buffers per plugin callback; mimalloc
// serves them with less contention and fragmentation than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs Proxy-Wasm plugins declared by Istio's WasmPlugin resource.
#[derive(Parser)]
#[command(name = "wasmesh", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate every document in the given files or directories.
    Validate(cmd::validate::Args),
    /// Print the effective filter chain of a workload and why each plugin was or was not selected.
    Describe(cmd::describe::Args),
    /// Add or replace the resources of a file in a config directory.
    Apply(cmd::apply::Args),
    /// Remove the resources of a file from a config directory.
    Delete(cmd::apply::DeleteArgs),
    /// Run the data plane for a Proxy resource.
    Proxy(cmd::proxy::Args),
    /// Start an echo upstream, a proxy and the example plugins, and print curl commands to try.
    Demo(cmd::demo::Args),
    /// Push a Wasm module to an OCI registry.
    Push(cmd::push::Args),
    /// Sign a module file (detached signature) or a pushed image (cosign-style).
    Sign(cmd::sign::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(args) => cmd::validate::run(args),
        Command::Describe(args) => cmd::describe::run(args),
        Command::Apply(args) => cmd::apply::run(args),
        Command::Delete(args) => cmd::apply::run_delete(args),
        Command::Proxy(args) => cmd::proxy::run(args),
        Command::Demo(args) => cmd::demo::run(args),
        Command::Push(args) => cmd::push::run(args),
        Command::Sign(args) => cmd::sign::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", report::error_text(err.as_ref()));
            ExitCode::FAILURE
        }
    }
}
