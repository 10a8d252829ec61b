//! The processes a benchmark starts: the upstream (nginx serving fixed bodies), nginx as a
//! reverse proxy (the bar), and wasmesh. Each is pinned to a CPU and stopped on drop.

use crate::{h2load, scenario::Protocol, tls};
use anyhow::{bail, Context, Result};
use std::{
    fs,
    io::{Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A started process, killed when dropped.
pub struct Peer {
    child: Child,
}

impl Peer {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, if the process has already ended.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // SIGTERM first, so nginx takes its workers with it and wasmesh drains.
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(name: &str, cpu: &str, program: &Path, args: &[String], log: &Path) -> Result<Peer> {
    let log_file = fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let child = Command::new("taskset")
        .args(["-c", cpu])
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .spawn()
        .with_context(|| format!("starting {name} ({})", program.display()))?;
    Ok(Peer { child })
}

/// Size of the large response body (the body-rewrite scenario).
pub const LARGE_BODY: usize = 64 * 1024;

fn nginx_conf(work: &Path, name: &str, server: &str) -> Result<PathBuf> {
    let dir = work.join(name);
    fs::create_dir_all(dir.join("tmp"))?;
    // Workers drop privileges to `nobody` when started as root; keep them as the caller so
    // they can use the temp dirs we made.
    let user = if is_root() { "user root;" } else { "" };
    let conf = format!(
        "{user}
worker_processes 1;
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}/tmp/body;
  proxy_temp_path {dir}/tmp/proxy;
  fastcgi_temp_path {dir}/tmp/fastcgi;
  uwsgi_temp_path {dir}/tmp/uwsgi;
  scgi_temp_path {dir}/tmp/scgi;
  keepalive_requests 1000000;
  {server}
}}
",
        dir = dir.display()
    );
    let path = dir.join("nginx.conf");
    fs::write(&path, conf)?;
    Ok(path)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The upstream: nginx answering `/` with a short body and `/64k` with a 64 KiB one.
pub fn upstream(work: &Path, port: u16, cpu: &str) -> Result<Peer> {
    let root = work.join("upstream-root");
    fs::create_dir_all(&root)?;
    fs::write(root.join("64k"), vec![b'a'; LARGE_BODY])?;
    let server = format!(
        "server {{
    listen 127.0.0.1:{port} reuseport backlog=4096;
    location = / {{ return 200 \"hello from upstream\\n\"; }}
    location / {{ root {root}; }}
  }}",
        root = root.display()
    );
    let conf = nginx_conf(work, "upstream", &server)?;
    let peer = spawn(
        "upstream",
        cpu,
        Path::new("nginx"),
        &conf_args(&conf),
        &work.join("upstream.log"),
    )?;
    wait_for_http(port, "/", Duration::from_secs(10))?;
    Ok(peer)
}

/// nginx as a reverse proxy with keep-alive to the upstream: the bar wasmesh is measured
/// against. It speaks `protocol` to clients, with the run's certificate when it is TLS;
/// it is ready when it answered one request in that protocol.
pub fn nginx_proxy(
    work: &Path,
    port: u16,
    upstream_port: u16,
    cpu: &str,
    protocol: Protocol,
    tls: Option<&tls::Material>,
) -> Result<Peer> {
    let listen = nginx_listen(port, protocol, tls, nginx_version().as_deref())?;
    let server = format!(
        "upstream backend {{ server 127.0.0.1:{upstream_port}; keepalive 128; }}
  server {{
    {listen}
    location / {{
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_buffering on;
    }}
  }}"
    );
    let conf = nginx_conf(work, "nginx-proxy", &server)?;
    let peer = spawn(
        "nginx",
        cpu,
        Path::new("nginx"),
        &conf_args(&conf),
        &work.join("nginx-proxy.log"),
    )?;
    let within = Duration::from_secs(10);
    match protocol {
        Protocol::Http1 => {
            wait_for_http(port, "/", within)?;
        }
        _ => {
            let url = format!("{}://127.0.0.1:{port}/", protocol.scheme());
            let conf = tls.map(|t| t.client_conf.as_path());
            h2load::wait_ready(&url, !protocol.h2(), conf, within, || None)?;
        }
    }
    Ok(peer)
}

/// nginx's `listen` (and TLS) directives for `protocol`. Like wasmesh's listeners
/// (docs/proxy.md), the TLS one offers h2 and HTTP/1.1 by ALPN and the plain h2c one
/// takes HTTP/2 with prior knowledge. nginx 1.25.1 moved `http2` from `listen` to its own
/// directive.
pub fn nginx_listen(
    port: u16,
    protocol: Protocol,
    tls: Option<&tls::Material>,
    version: Option<&str>,
) -> Result<String> {
    let own_http2_directive = version
        .and_then(|v| {
            let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
            Some((
                parts.next()??,
                parts.next()??,
                parts.next().flatten().unwrap_or(0),
            ))
        })
        .is_some_and(|v| v >= (1, 25, 1));
    let (flags, http2) = match (protocol, own_http2_directive) {
        (Protocol::Http1, _) => ("", false),
        (Protocol::Http1Tls | Protocol::H2Tls, false) => (" ssl http2", false),
        (Protocol::Http1Tls | Protocol::H2Tls, true) => (" ssl", true),
        (Protocol::H2c, false) => (" http2", false),
        (Protocol::H2c, true) => ("", true),
    };
    let mut s = format!("listen 127.0.0.1:{port}{flags} reuseport backlog=4096;");
    if http2 {
        s += "\n    http2 on;";
    }
    if protocol.tls() {
        let tls = tls.context("a TLS scenario without the run's certificate")?;
        s += "\n    ";
        s += &tls::nginx_directives(tls);
    }
    Ok(s)
}

/// `1.22.1` from `nginx -v` (which prints `nginx version: nginx/1.22.1` on stderr).
fn nginx_version() -> Option<String> {
    let out = Command::new("nginx").arg("-v").output().ok()?;
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    let v = text.split("nginx/").nth(1)?;
    Some(v.split_whitespace().next()?.to_string())
}

fn conf_args(conf: &Path) -> Vec<String> {
    vec![
        "-e".into(),
        "stderr".into(),
        "-c".into(),
        conf.display().to_string(),
    ]
}

/// wasmesh serving the Proxy `bench/gateway` from `config`.
pub fn wasmesh(
    binary: &Path,
    config: &Path,
    cache_dir: &Path,
    admin_port: u16,
    cpu: &str,
    log: &Path,
) -> Result<Peer> {
    let args = vec![
        "proxy".to_string(),
        "--config".into(),
        config.display().to_string(),
        "--workload".into(),
        "bench/gateway".into(),
        "--admin".into(),
        format!("127.0.0.1:{admin_port}"),
        "--workers".into(),
        "1".into(),
        "--cache-dir".into(),
        cache_dir.display().to_string(),
    ];
    spawn("wasmesh", cpu, binary, &args, log)
}

/// One HTTP/1.1 GET on a fresh connection; returns the status and the raw response.
/// `wasmesh proxy --kubernetes` following the API server of `kubeconfig`, serving the
/// `Proxy` `workload` (one worker, as the other scenarios).
pub fn wasmesh_kubernetes(
    binary: &Path,
    kubeconfig: &Path,
    workload: &str,
    cache_dir: &Path,
    admin_port: u16,
    cpu: &str,
    log: &Path,
) -> Result<Peer> {
    let args = vec![
        "proxy".to_string(),
        "--kubernetes".into(),
        "--kubeconfig".into(),
        kubeconfig.display().to_string(),
        "--workload".into(),
        workload.into(),
        "--admin".into(),
        format!("127.0.0.1:{admin_port}"),
        "--workers".into(),
        "1".into(),
        "--cache-dir".into(),
        cache_dir.display().to_string(),
    ];
    spawn("wasmesh", cpu, binary, &args, log)
}

pub fn get(port: u16, path: &str, header: Option<&str>) -> Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let extra = header.map(|h| format!("{h}\r\n")).unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n{extra}\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("no status line in {response:?}"))?;
    Ok((status, response))
}

/// Polls until `path` answers 200 (or the deadline passes).
pub fn wait_for_http(port: u16, path: &str, within: Duration) -> Result<Duration> {
    let start = Instant::now();
    let mut last = String::from("no answer");
    while start.elapsed() < within {
        match get(port, path, None) {
            Ok((200, _)) => return Ok(start.elapsed()),
            Ok((status, _)) => last = format!("status {status}"),
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    bail!("127.0.0.1:{port}{path} gave no 200 within {within:?} (last: {last})")
}

/// A free loopback port.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn material() -> tls::Material {
        tls::Material {
            cert: "/w/tls/cert.pem".into(),
            key: "/w/tls/key.pem".into(),
            client_conf: "/w/tls/openssl-client.cnf".into(),
        }
    }

    #[test]
    fn nginx_1_22_takes_http2_on_the_listen_line() {
        let m = material();
        let tls = nginx_listen(8443, Protocol::H2Tls, Some(&m), Some("1.22.1")).unwrap();
        assert!(
            tls.starts_with("listen 127.0.0.1:8443 ssl http2 reuseport"),
            "{tls}"
        );
        assert!(tls.contains("ssl_certificate /w/tls/cert.pem;"), "{tls}");
        assert!(tls.contains("ssl_protocols TLSv1.3;"), "{tls}");
        assert!(
            tls.contains("ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256;"),
            "{tls}"
        );
        assert!(!tls.contains("http2 on"), "{tls}");
        // The HTTP/1.1 scenario's listener is the same: both protocols by ALPN.
        assert_eq!(
            nginx_listen(8443, Protocol::Http1Tls, Some(&m), Some("1.22.1")).unwrap(),
            tls
        );
        let h2c = nginx_listen(8080, Protocol::H2c, None, Some("1.22.1")).unwrap();
        assert_eq!(h2c, "listen 127.0.0.1:8080 http2 reuseport backlog=4096;");
    }

    #[test]
    fn nginx_1_25_1_and_later_take_the_http2_directive() {
        let m = material();
        for v in ["1.25.1", "1.27.0", "2.0"] {
            let tls = nginx_listen(8443, Protocol::H2Tls, Some(&m), Some(v)).unwrap();
            assert!(
                tls.starts_with("listen 127.0.0.1:8443 ssl reuseport"),
                "{v}: {tls}"
            );
            assert!(tls.contains("\n    http2 on;"), "{v}: {tls}");
            let h2c = nginx_listen(8080, Protocol::H2c, None, Some(v)).unwrap();
            assert!(h2c.starts_with("listen 127.0.0.1:8080 reuseport"), "{v}: {h2c}");
            assert!(h2c.contains("http2 on;"), "{v}: {h2c}");
        }
        let old = nginx_listen(8080, Protocol::H2c, None, Some("1.25.0")).unwrap();
        assert!(old.contains(" http2 reuseport"), "{old}");
    }

    #[test]
    fn plain_http1_is_the_plain_listen_line_and_tls_needs_the_certificate() {
        assert_eq!(
            nginx_listen(80, Protocol::Http1, None, Some("1.22.1")).unwrap(),
            "listen 127.0.0.1:80 reuseport backlog=4096;"
        );
        assert!(nginx_listen(443, Protocol::Http1Tls, None, None).is_err());
    }
}
