//! `wasmesh sign`: a detached `<file>.sig` for a module file (verified for file:// and
//! http(s):// urls), or a cosign-style signature pushed next to an image (verified for
//! oci:// urls).

use super::push::RegistryFlags;
use std::{path::PathBuf, process::ExitCode};
use wasmesh_fetch::{detached_signature, sign_image, SigningKey};

#[derive(clap::Args)]
pub struct Args {
    /// A PEM private key: ECDSA P-256 or Ed25519 (PKCS#8, as `openssl genpkey` writes; SEC1 for P-256).
    #[arg(long)]
    pub key: PathBuf,
    /// What to sign: a module file, or oci://registry/repository:tag for a pushed image.
    #[arg(required_unless_present = "print_public_key")]
    pub target: Option<String>,
    /// Where to write a file's signature (default: the file's path with `.sig` added).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Print the public key (the WasmPlugin `verificationKey`) and exit.
    #[arg(long)]
    pub print_public_key: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let pem = std::fs::read_to_string(&args.key)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.key.display()))?;
    let key = SigningKey::from_pem(&pem)?;
    if args.print_public_key {
        print!("{}", key.public_key_pem());
        return Ok(ExitCode::SUCCESS);
    }
    let Some(target) = args.target else {
        anyhow::bail!("nothing to sign: give a module file or an oci:// image reference");
    };
    if let Some(reference) = target.strip_prefix("oci://") {
        let opts = args.registry.push_options(reference)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let digest = runtime.block_on(sign_image(&target, &key, &opts))?;
        println!("signed {target} ({digest})");
        println!(
            "signature tag: sha256-{}.sig",
            digest.trim_start_matches("sha256:")
        );
        return Ok(ExitCode::SUCCESS);
    }
    let module = std::fs::read(&target).map_err(|e| anyhow::anyhow!("cannot read {target}: {e}"))?;
    let output = args
        .output
        .unwrap_or_else(|| PathBuf::from(format!("{target}.sig")));
    std::fs::write(&output, detached_signature(&key, &module))
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", output.display()))?;
    println!("wrote {}", output.display());
    Ok(ExitCode::SUCCESS)
}
