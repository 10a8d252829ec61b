//! `wasmesh completions SHELL` and `wasmesh man`: generated from the clap definitions in
//! main.rs, so they never disagree with `--help`.

use std::io::Write as _;
use std::process::ExitCode;

use clap::CommandFactory as _;

#[derive(clap::Args)]
pub struct Args {
    /// The shell to complete for.
    #[arg(value_name = "SHELL")]
    shell: clap_complete::Shell,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut command = crate::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "wasmesh", &mut script);
    write(&script)
}

pub fn run_man() -> anyhow::Result<ExitCode> {
    let mut page = Vec::new();
    clap_mangen::Man::new(crate::Cli::command()).render(&mut page)?;
    write(&page)
}

/// Writes the generated text to stdout, through the same closed-pipe rule as `println!`.
fn write(bytes: &[u8]) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("cannot write to stdout"))
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}
