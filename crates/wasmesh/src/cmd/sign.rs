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
    let bytes =
        std::fs::read(&args.key).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.key.display()))?;
    let key = signing_key(&args.key, &bytes)?;
    if args.print_public_key {
        print!("{}", key.public_key_pem());
        return Ok(ExitCode::SUCCESS);
    }
    let Some(target) = args.target else {
        anyhow::bail!("nothing to sign: give a module file or an oci:// image reference");
    };
    if let Some(reference) = target.strip_prefix("oci://") {
        let opts = args.registry.push_options(reference)?;
        if let Some(note) = super::push::hint::default_registry_note(&target) {
            eprintln!("note: {note}");
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let digest = runtime
            .block_on(sign_image(&target, &key, &opts))
            .map_err(|e| args.registry.with_hint(e))?;
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

/// The signing key in `bytes`, read from `path`; a file that is not PEM at all (a DER key,
/// say), or that holds the public half, is said as such, with what `--key` takes.
fn signing_key(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<SigningKey> {
    const TAKES: &str = "--key takes a PEM private key, ECDSA P-256 or Ed25519, like \
                         `openssl genpkey -algorithm ed25519` writes (a DER key becomes PEM \
                         with `openssl pkey -inform DER`)";
    let pem = match std::str::from_utf8(bytes) {
        Ok(text) if text.contains("-----BEGIN ") => text,
        _ => anyhow::bail!("{}: not a PEM key (no -----BEGIN line); {TAKES}", path.display()),
    };
    if pem.contains("-----BEGIN PUBLIC KEY-----") && !pem.contains("PRIVATE KEY-----") {
        anyhow::bail!(
            "{}: a public key; signing needs the private key it belongs to",
            path.display()
        );
    }
    SigningKey::from_pem(pem).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}
