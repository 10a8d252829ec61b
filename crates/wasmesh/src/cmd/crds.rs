//! `wasmesh crds`: prints the CustomResourceDefinitions wasmesh needs, generated from the
//! API types (`wasmesh_api::crd`), for `kubectl apply -f -` (docs/kubernetes.md).

use std::process::ExitCode;

/// How the CRDs are printed.
#[derive(Clone, Copy, Debug, Default, clap::ValueEnum)]
pub enum Output {
    /// YAML documents separated by `---`.
    #[default]
    Yaml,
    /// One JSON `v1 List`.
    Json,
}

#[derive(clap::Args)]
pub struct Args {
    /// The format to print.
    #[arg(short, long, value_enum, default_value_t = Output::Yaml)]
    output: Output,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let text = match args.output {
        Output::Yaml => wasmesh_api::crd::to_yaml(),
        Output::Json => wasmesh_api::crd::to_json(),
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}
