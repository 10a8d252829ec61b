//! What the fetch end-to-end tests share: a `wasmesh proxy` with its own module cache,
//! allowed to pull from one plain-HTTP registry, and the config it runs.
#![allow(dead_code)]

use crate::proxy_support::{cluster_yaml, free_addr, http_get, proxy_yaml, route_yaml};
use std::{
    net::SocketAddr,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A `wasmesh proxy` with its own cache directory, allowed to pull from `registry` over
/// plain HTTP.
pub struct Proxy {
    child: Child,
    admin: SocketAddr,
    log: std::path::PathBuf,
}

impl Proxy {
    pub fn start(config: &Path, cache: &Path, registry: &str) -> Proxy {
        let admin = free_addr();
        let log = config.join(format!("proxy-{}.log", admin.port()));
        let child = Command::new(env!("CARGO_BIN_EXE_wasmesh"))
            .args([
                "proxy",
                "--workload",
                "istio-system/gw",
                "--workers",
                "1",
                "--config",
            ])
            .arg(config)
            .arg("--cache-dir")
            .arg(cache)
            .args(["--admin", &admin.to_string()])
            .env("WASM_INSECURE_REGISTRIES", registry)
            .env("DOCKER_CONFIG", "/nonexistent")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start wasmesh proxy");
        let proxy = Proxy { child, admin, log };
        let deadline = Instant::now() + Duration::from_secs(30);
        while http_get(admin, "/ready").0 != 200 {
            assert!(
                Instant::now() < deadline,
                "proxy not ready; log:\n{}",
                proxy.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        proxy
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn admin(&self, path: &str) -> String {
        http_get(self.admin, path).1
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn write_config(dir: &Path, echo: SocketAddr, listen: SocketAddr, plugin: &str) {
    let proxy = proxy_yaml(
        listen,
        &route_yaml("all", "{prefix: /}", "backend"),
        &cluster_yaml("backend", &[echo], "http1"),
    );
    std::fs::write(dir.join("proxy.yaml"), proxy).unwrap();
    std::fs::write(dir.join("plugins.yaml"), plugin).unwrap();
}

pub async fn get(listen: SocketAddr) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("http://{listen}/x"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap()
}
