//! `wasmesh demo`: the example plugins at work on loopback, with nothing else to install.
//!
//! It starts an echo upstream and a small authorization service ([`peers`]), writes the
//! resources of `examples/demo/` into a config folder ([`setup`]), runs the data plane on
//! them in this process, checks that every curl command it is about to print gives what it
//! says ([`tries`]), prints them, and serves until Ctrl-C. If the check fails, the demo says
//! what was missing and exits 1: it never prints commands that would not work.

mod peers;
mod setup;
mod tries;

use anyhow::Context as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use wasmesh_proxy::snapshot::Workload;

#[derive(clap::Args)]
pub struct Args {
    /// Folder of the built example plugins (add_headers.wasm, rate_limit.wasm,
    /// ext_authz_call.wasm). Default: target/wasm-plugins/wasm32-wasip1/release next to the
    /// binary's target folder, where `scripts/demo` builds them.
    #[arg(long, value_name = "DIR")]
    plugins: Option<PathBuf>,
    /// Use free loopback ports picked by the system instead of 18000-18082 and 18090.
    #[arg(long)]
    random_ports: bool,
    /// How long to wait for the proxy to be ready (it compiles the plugins first).
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    ready_timeout: u64,
    #[command(flatten)]
    log: crate::log::LogArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    crate::log::init(&args.log, "warn");
    let plugins = setup::plugins_dir(args.plugins)?;
    let ports = if args.random_ports {
        setup::Ports::random()?
    } else {
        setup::Ports::default()
    };
    let config = setup::write_config(&ports, &plugins)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the demo's runtime")?;
    runtime.block_on(peers::start(ports.echo, ports.authz))?;

    let options = wasmesh_proxy::Options {
        config: wasmesh_proxy::ConfigFrom::Dir(config.path().to_path_buf()),
        labels_file: None,
        workload: Workload {
            namespace: setup::NAMESPACE.into(),
            name: setup::PROXY.into(),
        },
        admin: ports.admin,
        root_namespace: wasmesh_api::DEFAULT_ROOT_NAMESPACE.into(),
        workers: 1,
        drain_timeout: Duration::from_secs(1),
        // The proxy's default cache: a second run of the demo does not compile again.
        cache_dir: Some(super::proxy::cache_dir(None)?),
    };
    let proxy = std::thread::Builder::new()
        .name("proxy".into())
        .spawn(move || wasmesh_proxy::run(options))
        .context("starting the proxy thread")?;

    wait_ready(ports.admin, Duration::from_secs(args.ready_timeout), &proxy)?;
    let list = tries::all(&ports);
    if let Err(failure) = tries::check(&list) {
        let plugins_state = tries::get(ports.admin, "/plugins").unwrap_or_else(|e| e.to_string());
        anyhow::bail!(
            "the proxy is up, but the example plugins did not do their work, so the demo stops here.\n\
             {failure}\n\
             The proxy's /plugins says:\n{plugins_state}"
        );
    }

    println!(
        "wasmesh demo is running: the resources of examples/demo/ in {}",
        config.path().display()
    );
    println!("  echo upstream          http://{}", ports.echo);
    println!(
        "  authorization service  http://{} (knows x-user alice and bob)",
        ports.authz
    );
    println!(
        "  proxy listeners        web {}  api {}  members {}",
        ports.web, ports.api, ports.members
    );
    println!(
        "  admin                  http://{}/plugins  /stats/prometheus  /config_dump",
        ports.admin
    );
    println!(
        "  filter chains          wasmesh describe --config {} --workload {}/{}",
        config.path().display(),
        setup::NAMESPACE,
        setup::PROXY
    );
    println!();
    // The check went through the proxy like any client: say so, so that the counts in
    // /stats/prometheus are not a surprise.
    println!(
        "Try (the demo made each of these requests once to check it: {} requests already in the stats):",
        tries::requests(&list)
    );
    println!();
    for t in &list {
        print!("{}", t.render());
        println!();
    }
    println!("Press Ctrl-C to stop.");
    use std::io::Write as _;
    std::io::stdout().flush().ok();

    match proxy.join() {
        Ok(result) => result.context("the proxy stopped")?,
        Err(_) => anyhow::bail!("the proxy thread panicked"),
    }
    drop(config);
    Ok(ExitCode::SUCCESS)
}

/// Polls `/ready` of the admin endpoint until the proxy serves the demo's config.
fn wait_ready(
    admin: SocketAddr,
    timeout: Duration,
    proxy: &std::thread::JoinHandle<Result<(), wasmesh_proxy::RunError>>,
) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + timeout;
    let mut last = String::from("no answer yet");
    while std::time::Instant::now() < deadline {
        if proxy.is_finished() {
            anyhow::bail!("the proxy stopped during start-up (see the log above)");
        }
        match tries::get(admin, "/ready") {
            Ok(answer) if answer.starts_with("HTTP/1.1 200") => return Ok(()),
            Ok(answer) => {
                last = answer.lines().last().unwrap_or_default().to_string();
                // A listener that cannot bind will not bind by waiting.
                if last.starts_with("NOT READY: listener") {
                    anyhow::bail!("the proxy cannot serve the demo: {last} (try --random-ports)");
                }
            }
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    anyhow::bail!("the proxy was not ready after {}s: {last}", timeout.as_secs())
}
