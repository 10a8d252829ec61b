//! The demo's config folder: the resources of `examples/demo/`, with the ports and the
//! plugins' folder of this run filled in.

use anyhow::Context as _;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

/// The Proxy resource the demo serves (examples/demo/proxy.yaml).
pub const NAMESPACE: &str = "demo";
pub const PROXY: &str = "demo";

/// The files of `examples/demo/`, built into the binary so the demo runs from anywhere.
const FILES: [(&str, &str); 4] = [
    (
        "proxy.yaml",
        include_str!("../../../../../examples/demo/proxy.yaml"),
    ),
    (
        "add-headers.yaml",
        include_str!("../../../../../examples/demo/add-headers.yaml"),
    ),
    (
        "rate-limit.yaml",
        include_str!("../../../../../examples/demo/rate-limit.yaml"),
    ),
    (
        "ext-authz-call.yaml",
        include_str!("../../../../../examples/demo/ext-authz-call.yaml"),
    ),
];

/// The plugins the demo needs, as the build names them.
pub const PLUGINS: [&str; 3] = ["add_headers.wasm", "rate_limit.wasm", "ext_authz_call.wasm"];

/// Where everything listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub echo: SocketAddr,
    pub authz: SocketAddr,
    pub web: SocketAddr,
    pub api: SocketAddr,
    pub members: SocketAddr,
    pub admin: SocketAddr,
}

impl Default for Ports {
    /// The ports written in `examples/demo/`.
    fn default() -> Self {
        let at = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
        Ports {
            echo: at(18000),
            authz: at(18001),
            web: at(18080),
            api: at(18081),
            members: at(18082),
            admin: at(18090),
        }
    }
}

impl Ports {
    /// Ports the system says are free now.
    pub fn random() -> anyhow::Result<Ports> {
        let mut held = Vec::new();
        let mut next = || -> anyhow::Result<SocketAddr> {
            let l = TcpListener::bind("127.0.0.1:0").context("asking for a free loopback port")?;
            let addr = l.local_addr()?;
            held.push(l); // held until all are picked, so no port is handed out twice
            Ok(addr)
        };
        Ok(Ports {
            echo: next()?,
            authz: next()?,
            web: next()?,
            api: next()?,
            members: next()?,
            admin: next()?,
        })
    }
}

/// Fills in a file of `examples/demo/` for this run.
pub fn render(yaml: &str, ports: &Ports, plugins: &Path) -> String {
    let defaults = Ports::default();
    let mut out = yaml.replace("file:///opt/filters/", &format!("file://{}/", plugins.display()));
    for (from, to) in [
        (defaults.echo, ports.echo),
        (defaults.authz, ports.authz),
        (defaults.web, ports.web),
        (defaults.api, ports.api),
        (defaults.members, ports.members),
    ] {
        out = out.replace(&from.to_string(), &to.to_string());
        out = out.replace(
            &format!("number: {}", from.port()),
            &format!("number: {}", to.port()),
        );
    }
    out
}

/// Writes the demo's config folder (removed when the returned value is dropped).
pub fn write_config(ports: &Ports, plugins: &Path) -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix("wasmesh-demo-")
        .tempdir()
        .context("creating the config folder")?;
    for (name, yaml) in FILES {
        let path = dir.path().join(name);
        std::fs::write(&path, render(yaml, ports, plugins))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(dir)
}

/// The folder of the built plugins: `--plugins`, or where `scripts/demo` builds them.
pub fn plugins_dir(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let candidates: Vec<PathBuf> = match given {
        Some(dir) => vec![dir],
        None => {
            let near_binary = std::env::current_exe()
                .ok()
                .and_then(|exe| exe.parent()?.parent().map(Path::to_path_buf))
                .map(|target| target.join("wasm-plugins/wasm32-wasip1/release"));
            near_binary
                .into_iter()
                .chain([PathBuf::from("target/wasm-plugins/wasm32-wasip1/release")])
                .collect()
        }
    };
    for dir in &candidates {
        if PLUGINS.iter().all(|p| dir.join(p).is_file()) {
            return dir
                .canonicalize()
                .with_context(|| format!("resolving {}", dir.display()));
        }
    }
    let looked: Vec<String> = candidates.iter().map(|d| d.display().to_string()).collect();
    anyhow::bail!(
        "the example plugins are not built: looked for {} in {}.\n\
         Build them with `scripts/demo` (which then starts the demo), or with\n  \
         cargo build --release --target wasm32-wasip1 --manifest-path plugins/Cargo.toml --target-dir target/wasm-plugins\n\
         and pass the folder with --plugins",
        PLUGINS.join(", "),
        looked.join(" and ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ports_leave_the_examples_as_they_are_but_the_plugin_folder() {
        let out = render(FILES[0].1, &Ports::default(), Path::new("/x"));
        assert_eq!(out, FILES[0].1);
        let out = render(FILES[1].1, &Ports::default(), Path::new("/built/plugins"));
        assert!(
            out.contains("url: file:///built/plugins/add_headers.wasm"),
            "{out}"
        );
    }

    #[test]
    fn random_ports_move_addresses_and_port_matches() {
        let ports = Ports::random().unwrap();
        let proxy = render(FILES[0].1, &ports, Path::new("/p"));
        for port in ["18000", "18001", "18080", "18081", "18082"] {
            assert!(!proxy.contains(port), "{port} left in:\n{proxy}");
        }
        assert!(proxy.contains(&format!("address: {}", ports.api)));
        assert!(proxy.contains(&format!("endpoints: [\"{}\"]", ports.authz)));
        let rate = render(FILES[2].1, &ports, Path::new("/p"));
        assert!(rate.contains(&format!("number: {}", ports.api.port())), "{rate}");
    }

    #[test]
    fn every_example_file_is_a_valid_resource() {
        let dir = write_config(&Ports::default(), Path::new("/opt/filters")).unwrap();
        for (name, _) in FILES {
            let text = std::fs::read_to_string(dir.path().join(name)).unwrap();
            let docs = wasmesh_api::parse(name, &text, wasmesh_api::Format::Yaml);
            assert_eq!(docs.len(), 1, "{name}");
            assert!(docs[0].is_ok(), "{name}: {:?}", docs[0]);
        }
    }
}
