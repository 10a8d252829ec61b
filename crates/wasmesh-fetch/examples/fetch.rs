//! Fetches one module the way the proxy does and prints what came back and how long it took.
//!
//! cargo run -p wasmesh-fetch --example fetch -- URL [--cache DIR] [--sha256 HEX] [--key PUBLIC.pem] [--repeat N]
//!
//! Options come from Istio's environment variables as in the proxy (`WASM_INSECURE_REGISTRIES`,
//! `WASM_HTTP_REQUEST_TIMEOUT`, ...). `--repeat` fetches again to time the cache.

use std::time::Instant;
use wasmesh_fetch::{FetchOptions, Fetcher, ModuleRequest};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut request = ModuleRequest {
        resource_name: "example.fetch".into(),
        resource_version: "1".into(),
        ..Default::default()
    };
    let mut cache = std::env::temp_dir().join("wasmesh-fetch-example");
    let mut repeat = 1;
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--cache" => cache = value()?.into(),
            "--sha256" => request.sha256 = Some(value()?),
            "--key" => request.verification_key = Some(std::fs::read_to_string(value()?)?),
            "--repeat" => repeat = value()?.parse()?,
            url if request.url.is_empty() && !url.starts_with("--") => request.url = url.to_owned(),
            other => return Err(format!("unexpected argument {other:?}").into()),
        }
    }
    if request.url.is_empty() {
        return Err("usage: fetch URL [--cache DIR] [--sha256 HEX] [--key PUBLIC.pem] [--repeat N]".into());
    }
    let fetcher = Fetcher::new(FetchOptions::from_env(cache)?)?;
    for _ in 0..repeat {
        let started = Instant::now();
        let module = fetcher.fetch(&request).await?;
        println!(
            "{} bytes  sha256:{}  manifest {}  {}  signature {}  {:.2?}",
            module.bytes.len(),
            module.sha256,
            module.manifest_digest.as_deref().unwrap_or("-"),
            if module.from_cache { "cache" } else { "remote" },
            if module.signature_verified {
                "verified"
            } else {
                "not checked"
            },
            started.elapsed()
        );
    }
    let mut metrics = String::new();
    fetcher.metrics().write_prometheus(&mut metrics);
    print!("{metrics}");
    Ok(())
}
