//! One module per subcommand.

pub mod apply;
pub mod demo;
pub mod describe;
pub mod proxy;
pub mod push;
pub mod sign;
pub mod validate;

/// The error every subcommand that is not built yet returns, so that nobody mistakes it for a
/// working command.
pub fn unimplemented(what: &str) -> anyhow::Result<std::process::ExitCode> {
    anyhow::bail!("Unimplemented: `wasmesh {what}` is not built yet")
}
