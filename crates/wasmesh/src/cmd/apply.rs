//! `wasmesh apply` and `wasmesh delete`.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {}

#[derive(clap::Args)]
pub struct DeleteArgs {}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    super::unimplemented("apply")
}

pub fn run_delete(_args: DeleteArgs) -> anyhow::Result<ExitCode> {
    super::unimplemented("delete")
}
