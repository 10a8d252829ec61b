//! `wasmesh apply -f FILE --config DIR` and `wasmesh delete -f FILE --config DIR`: add,
//! replace or remove the resources of FILE in a config directory. FILE is validated first;
//! an invalid FILE changes nothing. Files are written atomically.

use anyhow::Context as _;
use std::{path::PathBuf, process::ExitCode};
use wasmesh_api::Format;
use wasmesh_config::{EditError, Outcome};

#[derive(clap::Args)]
pub struct Args {
    /// The file whose resources to add or replace.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub file: PathBuf,
    /// The config directory to change.
    #[arg(long, value_name = "DIR")]
    pub config: PathBuf,
}

#[derive(clap::Args)]
pub struct DeleteArgs {
    /// The file naming the resources to remove.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub file: PathBuf,
    /// The config directory to change.
    #[arg(long, value_name = "DIR")]
    pub config: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    edit(&args.file, &args.config, wasmesh_config::plan_apply)
}

pub fn run_delete(args: DeleteArgs) -> anyhow::Result<ExitCode> {
    edit(&args.file, &args.config, wasmesh_config::plan_delete)
}

type Plan = fn(&std::path::Path, &str, &str, Format) -> Result<wasmesh_config::Edit, EditError>;

fn edit(file: &std::path::Path, config: &std::path::Path, plan: Plan) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(file).with_context(|| format!("{}", file.display()))?;
    let name = file.display().to_string();
    let format = Format::from_path(&name).unwrap_or(Format::Yaml);
    if !config.is_dir() {
        anyhow::bail!(
            "{}: not a directory (--config names the config directory)",
            config.display()
        );
    }
    let edit = match plan(config, &name, &text, format) {
        Ok(edit) => edit,
        Err(EditError::Invalid(errors)) => {
            for doc in &errors {
                for e in &doc.errors {
                    eprintln!("error: {e}");
                }
            }
            eprintln!(
                "{name}: {} invalid document(s); {} was not changed",
                errors.len(),
                config.display()
            );
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e.into()),
    };
    edit.write()?;
    let mut missing = false;
    for (key, outcome) in &edit.outcomes {
        missing |= *outcome == Outcome::NotFound;
        println!("{key} {outcome}");
    }
    Ok(if missing {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
