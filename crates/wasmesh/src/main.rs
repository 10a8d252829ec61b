//! The `wasmesh` command: argument parsing and printing only. Each subcommand lives in
//! its own file under `cmd/` and calls into the library crates.

// Every `println!`/`print!` of the subcommands writes through `out`: a closed pipe
// (`wasmesh describe ... | head -1`) ends the command quietly with status 0, where std's
// macros would panic. Defined before `mod cmd` so that they are the ones in scope there.
macro_rules! println {
    () => {
        $crate::out::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::out::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::out::write_stdout(format_args!($($arg)*))
    };
}

mod cmd;
mod help;
mod log;
mod out;
mod report;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

// The request path allocates small, short-lived buffers per plugin callback; mimalloc
// serves them with less contention and fragmentation than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs Proxy-Wasm plugins declared by Istio's WasmPlugin resource.
#[derive(Parser)]
#[command(name = "wasmesh", version = help::VERSION, about, after_help = help::AFTER_HELP, propagate_version = true)]
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
    /// Print the CustomResourceDefinitions of Proxy and of Istio's WasmPlugin, RequestAuthentication and AuthorizationPolicy.
    Crds(cmd::crds::Args),
    /// Print a shell completion script for bash, zsh, fish, elvish or powershell.
    Completions(cmd::completions::Args),
    /// Print the manual page (roff), for `man -l -` or a man directory.
    Man,
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
        Command::Crds(args) => cmd::crds::run(args),
        Command::Completions(args) => cmd::completions::run(args),
        Command::Man => cmd::completions::run_man(),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", report::error_text(err.as_ref()));
            ExitCode::FAILURE
        }
    }
}
