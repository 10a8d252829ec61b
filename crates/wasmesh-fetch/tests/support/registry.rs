//! Debian's `docker-registry` (distribution 2.x), started per test on a free port with its own
//! storage directory, and killed when dropped.

use std::{
    net::TcpStream,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

pub struct Registry {
    child: Option<Child>,
    /// `127.0.0.1:<port>`
    pub addr: String,
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Registry {
    /// A registry anyone may pull from and push to.
    pub fn start() -> Registry {
        Self::start_inner(None)
    }

    /// A registry that wants HTTP basic auth as `user`/`password` (htpasswd, bcrypt).
    pub fn start_with_auth(user: &str, password: &str) -> Registry {
        Self::start_inner(Some((user, password)))
    }

    /// A registry that wants bearer tokens from the token service at `realm`, signed by the
    /// key of the certificate `cert_pem` (distribution's `auth.token`).
    pub fn start_with_token(realm: &str, cert_pem: &str) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("token-cert.pem");
        std::fs::write(&cert, cert_pem).unwrap();
        let auth = format!(
            "auth:\n  token:\n    realm: {realm}\n    service: wasmesh-test-registry\n    issuer: wasmesh-test-issuer\n    rootcertbundle: {}\n",
            cert.display()
        );
        Self::start_with(dir, Some(auth))
    }

    /// A registry serving HTTPS with the PEM certificate and key given.
    pub fn start_with_tls(cert_pem: &str, key_pem: &str) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
        std::fs::write(&cert, cert_pem).unwrap();
        std::fs::write(&key, key_pem).unwrap();
        let tls = format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            cert.display(),
            key.display()
        );
        Self::start_with(dir, Some(tls))
    }

    fn start_inner(auth: Option<(&str, &str)>) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let auth = auth.map(|(user, password)| {
            super::require_tool("htpasswd", "apache2-utils");
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .unwrap();
            assert!(out.status.success(), "htpasswd failed");
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, out.stdout).unwrap();
            format!(
                "auth:\n  htpasswd:\n    realm: wasmesh-test\n    path: {}\n",
                file.display()
            )
        });
        Self::start_with(dir, auth)
    }

    fn start_with(dir: tempfile::TempDir, auth: Option<String>) -> Registry {
        super::require_tool("docker-registry", "docker-registry");
        let port = wasmesh_testkit::free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
            dir.path().join("storage").display()
        );
        if let Some(auth) = auth {
            config.push_str(&auth);
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let mut registry = Registry {
            child: None,
            addr,
            dir,
            config: config_path,
        };
        registry.spawn();
        registry
    }

    fn spawn(&mut self) {
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start docker-registry");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(&self.addr).is_err() {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                let mut err = String::new();
                use std::io::Read;
                let _ = self
                    .child
                    .as_mut()
                    .unwrap()
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err);
                panic!("docker-registry exited with {status}: {err}");
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not listen on {}",
                self.addr
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the registry (its storage stays, so `restart` serves the same images).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// `oci://127.0.0.1:<port>/<repo_and_tag>`
    pub fn url(&self, repo_and_tag: &str) -> String {
        format!("oci://{}/{repo_and_tag}", self.addr)
    }

    /// A manifest as the registry stores it: (content type, body, digest header).
    pub fn raw_manifest(
        &self,
        repo: &str,
        reference: &str,
        auth: Option<(&str, &str)>,
    ) -> (String, Vec<u8>, String) {
        self.manifest_request(
            repo,
            reference,
            "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
            auth,
        )
    }

    /// [`Registry::raw_manifest`] with the `Accept` header given.
    pub fn raw_manifest_accepting(
        &self,
        repo: &str,
        reference: &str,
        accept: &str,
    ) -> (String, Vec<u8>, String) {
        self.manifest_request(repo, reference, accept, None)
    }

    fn manifest_request(
        &self,
        repo: &str,
        reference: &str,
        accept: &str,
        auth: Option<(&str, &str)>,
    ) -> (String, Vec<u8>, String) {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "-D", "-", "-H"])
            .arg(format!("Accept: {accept}"))
            .arg(format!("http://{}/v2/{repo}/manifests/{reference}", self.addr));
        if let Some((u, p)) = auth {
            cmd.arg("-u").arg(format!("{u}:{p}"));
        }
        let out = cmd.output().expect("curl");
        let text = out.stdout;
        let split = text
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("http response")
            + 4;
        let head = String::from_utf8_lossy(&text[..split]).to_string();
        let header = |name: &str| {
            head.lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                })
                .unwrap_or_default()
        };
        (
            header("content-type"),
            text[split..].to_vec(),
            header("docker-content-digest"),
        )
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}
