//! `wasmesh push`: a module file → an OCI registry, in any image format wasmesh (and Istio)
//! can pull, with a progress bar.

pub(crate) mod hint;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::{path::PathBuf, process::ExitCode, sync::Arc};
use wasmesh_fetch::{push_module, Credentials, DockerConfigJson, PushFormat, PushOptions};

#[derive(clap::Args)]
pub struct Args {
    /// The module to push (a .wasm file).
    pub module: PathBuf,
    /// Where to push it: [oci://]registry[:port]/repository:tag
    pub reference: String,
    /// The image layout: `wasm` (Istio's two-layer Wasm artifact), `wasm-single-layer`,
    /// `oci-image` or `docker-image` (a tar.gz layer holding plugin.wasm).
    #[arg(long, default_value = "wasm", value_parser = parse_format)]
    pub format: PushFormat,
    #[command(flatten)]
    pub registry: RegistryFlags,
}

fn parse_format(text: &str) -> Result<PushFormat, String> {
    match text {
        "wasm" => Ok(PushFormat::Wasm),
        "wasm-single-layer" => Ok(PushFormat::WasmSingleLayer),
        "oci-image" => Ok(PushFormat::OciImage),
        "docker-image" => Ok(PushFormat::DockerImage),
        other => Err(format!(
            "unknown format {other:?}: use wasm, wasm-single-layer, oci-image or docker-image"
        )),
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Said first, so that it is seen whatever goes wrong next.
    if let Some(note) = hint::default_registry_note(&args.reference) {
        eprintln!("note: {note}");
    }
    let module = std::fs::read(&args.module)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.module.display()))?;
    let opts = PushOptions {
        format: args.format,
        ..args.registry.push_options(&args.reference)?
    };
    // Hidden until the first report, which brings the total to draw against.
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(format!("pushing {}", args.module.display()));
    let progress_bar = bar.clone();
    let progress = Arc::new(move |sent: u64, total: u64| {
        if progress_bar.length() != Some(total) {
            progress_bar.set_length(total);
            progress_bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        progress_bar.set_position(sent);
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(push_module(&args.reference, &module, &opts, progress));
    bar.finish_and_clear();
    let outcome = outcome.map_err(|e| args.registry.with_hint(e))?;
    println!("pushed {}", args.reference);
    println!("digest: {}", outcome.manifest_digest);
    println!("url: oci://{}", outcome.pinned_reference);
    Ok(ExitCode::SUCCESS)
}

// === registry flags, shared with `sign` ===

#[derive(clap::Args)]
pub struct RegistryFlags {
    /// Talk to the registry over plain HTTP (a local registry without TLS).
    #[arg(long)]
    pub plain_http: bool,
    /// Registry user name (the password comes from WASMESH_REGISTRY_PASSWORD).
    #[arg(long)]
    pub username: Option<String>,
    /// Registry password; prefer the environment variable to the command line.
    #[arg(
        long,
        env = "WASMESH_REGISTRY_PASSWORD",
        hide_env_values = true,
        requires = "username"
    )]
    pub password: Option<String>,
    /// A PEM file of CA certificates to trust besides the built-in roots (a registry behind
    /// a private CA).
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// A docker config with credentials (default: $DOCKER_CONFIG/config.json or ~/.docker/config.json).
    #[arg(long, conflicts_with = "username")]
    pub docker_config: Option<PathBuf>,
}

impl RegistryFlags {
    /// `error`, and on a line of its own a hint when it is the usual sign of a flag to add.
    pub fn with_hint(&self, error: wasmesh_fetch::FetchError) -> anyhow::Error {
        match hint::plain_http_hint(&error.to_string(), self.plain_http) {
            Some(hint) => anyhow::anyhow!("{error}\nhint: {hint}"),
            None => anyhow::Error::new(error),
        }
    }

    /// How to reach the registry of `reference` (the format is left at its default).
    pub fn push_options(&self, reference: &str) -> anyhow::Result<PushOptions> {
        let extra_ca_certificates =
            match &self.ca_file {
                Some(path) => vec![std::fs::read(path)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?],
                None => Vec::new(),
            };
        Ok(PushOptions {
            insecure: self.plain_http,
            auth: self.auth(reference)?,
            extra_ca_certificates,
            ..Default::default()
        })
    }

    /// The credentials to use for `reference`; `None` means the default docker config.
    pub fn auth(&self, reference: &str) -> anyhow::Result<Option<DockerConfigJson>> {
        let reference = reference.strip_prefix("oci://").unwrap_or(reference);
        let registry = reference.split('/').next().unwrap_or(reference);
        match (&self.username, &self.password, &self.docker_config) {
            (Some(username), Some(password), _) => Ok(Some(DockerConfigJson::single(
                registry,
                Credentials::Basic {
                    username: username.clone(),
                    password: password.clone(),
                },
            ))),
            (Some(_), None, _) => anyhow::bail!("--username needs a password in WASMESH_REGISTRY_PASSWORD"),
            (None, _, Some(path)) => {
                let json = std::fs::read(path)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
                Ok(Some(DockerConfigJson::from_json(&json)?))
            }
            _ => Ok(None),
        }
    }
}
