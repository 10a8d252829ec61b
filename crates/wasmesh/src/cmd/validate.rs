//! `wasmesh validate -f PATH...`: checks every document of the files (or of the resource
//! files under the directories) given. Exit 0 when all are valid, 1 otherwise.

use anyhow::Context as _;
use std::{collections::BTreeMap, path::PathBuf, process::ExitCode};
use wasmesh_api::{Format, Origin, ResourceKey};

#[derive(clap::Args)]
pub struct Args {
    /// Files or directories to validate (directories: every .yaml, .yml and .json file
    /// under them; `-`: standard input).
    #[arg(short = 'f', long = "filename", value_name = "PATH", required = true, num_args = 1..)]
    pub paths: Vec<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut files = Vec::new();
    for path in &args.paths {
        if path.as_os_str() == "-" {
            files.push(path.clone());
            continue;
        }
        let meta = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?;
        if meta.is_dir() {
            let found = wasmesh_config::resource_files(path)?;
            if found.is_empty() {
                anyhow::bail!(
                    "{}: no .yaml, .yml or .json files in this directory",
                    path.display()
                );
            }
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }

    let (mut valid, mut invalid) = (0usize, 0usize);
    let mut seen: BTreeMap<ResourceKey, Origin> = BTreeMap::new();
    for file in &files {
        let parsed = if file.as_os_str() == "-" {
            let text = std::io::read_to_string(std::io::stdin()).context("reading standard input")?;
            let format = if text.trim_start().starts_with('{') {
                Format::Json
            } else {
                Format::Yaml
            };
            wasmesh_api::parse("<stdin>", &text, format)
        } else {
            wasmesh_config::read_file(file).with_context(|| format!("{}", file.display()))?
        };
        for doc in parsed {
            match doc {
                Ok(doc) => {
                    let key = doc.resource.key();
                    valid += 1;
                    println!("valid: {}: {key}", doc.origin);
                    // Each document is valid on its own; loaded together as one config
                    // directory, only the first would be used.
                    if let Some(first) = seen.get(&key) {
                        eprintln!(
                            "warning: {}: {key} is also defined at {first}; in one config directory \
                             the first (in path order) is used",
                            doc.origin
                        );
                    } else {
                        seen.insert(key, doc.origin);
                    }
                }
                Err(e) => {
                    invalid += 1;
                    for error in &e.errors {
                        eprintln!("error: {error}");
                    }
                }
            }
        }
    }
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    println!(
        "{valid} valid document{}, {invalid} invalid, in {} file{}",
        plural(valid),
        files.len(),
        plural(files.len())
    );
    Ok(if invalid == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
