//! Images written by the test as an OCI layout on disk (its own JSON, the system's `tar` and
//! `gzip`) and copied into a registry by `skopeo`: a producer independent of `wasmesh push`.

use std::{path::Path, process::Command};

pub struct Layout {
    pub dir: tempfile::TempDir,
    manifests: Vec<serde_json::Value>,
}

pub const WASM_LAYER: &str = "application/vnd.module.wasm.content.layer.v1+wasm";

fn sha256(bytes: &[u8]) -> String {
    super::sha256sum(bytes)
}

impl Layout {
    pub fn new() -> Layout {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("blobs/sha256")).unwrap();
        std::fs::write(
            dir.path().join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap();
        Layout {
            dir,
            manifests: Vec::new(),
        }
    }

    /// Stores a blob; returns its descriptor.
    pub fn blob(&self, media_type: &str, bytes: &[u8]) -> serde_json::Value {
        let hex = sha256(bytes);
        std::fs::write(self.dir.path().join("blobs/sha256").join(&hex), bytes).unwrap();
        serde_json::json!({"mediaType": media_type, "digest": format!("sha256:{hex}"), "size": bytes.len()})
    }

    /// Stores a manifest under `tag`; returns its digest.
    pub fn manifest(&mut self, tag: &str, manifest: &serde_json::Value) -> String {
        let bytes = serde_json::to_vec(manifest).unwrap();
        let mut desc = self.blob(manifest["mediaType"].as_str().unwrap(), &bytes);
        desc["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": tag});
        self.manifests.push(desc.clone());
        let index = serde_json::json!({"schemaVersion": 2, "manifests": self.manifests});
        std::fs::write(
            self.dir.path().join("index.json"),
            serde_json::to_vec(&index).unwrap(),
        )
        .unwrap();
        desc["digest"].as_str().unwrap().to_owned()
    }

    /// The descriptor of the manifest stored under `tag`.
    pub fn descriptor(&self, tag: &str) -> serde_json::Value {
        let mut desc = self
            .manifests
            .iter()
            .find(|d| d["annotations"]["org.opencontainers.image.ref.name"] == tag)
            .cloned()
            .expect("no such tag in the layout");
        desc.as_object_mut().unwrap().remove("annotations");
        desc
    }

    /// An image index under `tag` listing the manifests of `tags` with `platform`s.
    pub fn index(&mut self, tag: &str, entries: &[(&str, serde_json::Value)]) -> String {
        let manifests: Vec<serde_json::Value> = entries
            .iter()
            .map(|(t, platform)| {
                let mut desc = self.descriptor(t);
                desc["platform"] = platform.clone();
                desc
            })
            .collect();
        self.manifest(
            tag,
            &serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}),
        )
    }

    /// The Wasm artifact: the raw module as a `…module.wasm.content.layer.v1+wasm` layer,
    /// with a second (descriptor) layer when `two_layers`, as Istio expects.
    pub fn wasm_artifact(&mut self, tag: &str, module: &[u8], two_layers: bool) -> String {
        let config = self.blob("application/vnd.module.wasm.config.v1+json", b"{}");
        let mut layers = vec![self.blob(WASM_LAYER, module)];
        if two_layers {
            layers.push(self.blob(
                "application/vnd.module.wasm.runtime.config.v1+json",
                b"{\"abi\":\"v0.2.1\"}",
            ));
        }
        self.manifest(
            tag,
            &serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config, "layers": layers}),
        )
    }

    /// An OCI image whose last layer is `tar czf` of `plugin.wasm` (and a README).
    pub fn image_with_plugin(&mut self, tag: &str, module: &[u8]) -> String {
        let work = tempfile::tempdir().unwrap();
        std::fs::write(work.path().join("plugin.wasm"), module).unwrap();
        std::fs::write(work.path().join("README"), b"a plugin").unwrap();
        run("tar", &["-cf", "layer.tar", "README", "plugin.wasm"], work.path());
        let tar = std::fs::read(work.path().join("layer.tar")).unwrap();
        run("gzip", &["-n", "layer.tar"], work.path());
        let gz = std::fs::read(work.path().join("layer.tar.gz")).unwrap();
        let base = self.blob(
            "application/vnd.oci.image.layer.v1.tar+gzip",
            &gzip_of_empty_tar(work.path()),
        );
        let layer = self.blob("application/vnd.oci.image.layer.v1.tar+gzip", &gz);
        let config = serde_json::json!({
            "architecture": "amd64", "os": "linux", "config": {},
            "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha256(&empty_tar(work.path()))), format!("sha256:{}", sha256(&tar))]},
        });
        let config = self.blob(
            "application/vnd.oci.image.config.v1+json",
            &serde_json::to_vec(&config).unwrap(),
        );
        self.manifest(
            tag,
            &serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config, "layers": [base, layer]}),
        )
    }

    /// A cosign-style signature manifest: the payload as a simple-signing layer with the
    /// base64 signature in its annotation.
    pub fn cosign_signature(&mut self, tag: &str, payload: &[u8], signature_b64: &str) -> String {
        let mut layer = self.blob("application/vnd.dev.cosign.simplesigning.v1+json", payload);
        layer["annotations"] = serde_json::json!({"dev.cosignproject.cosign/signature": signature_b64});
        let config = serde_json::json!({"architecture": "", "os": "", "config": {}, "rootfs": {"type": "layers", "diff_ids": [layer["digest"].clone()]}});
        let config = self.blob(
            "application/vnd.oci.image.config.v1+json",
            &serde_json::to_vec(&config).unwrap(),
        );
        self.manifest(
            tag,
            &serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config, "layers": [layer]}),
        )
    }

    /// `skopeo copy oci:<layout>:<tag> docker://<dest>`; `docker_format` converts to Docker
    /// schema 2 on the way.
    pub fn copy_to(&self, tag: &str, dest: &str, docker_format: bool, creds: Option<(&str, &str)>) {
        self.copy_with(tag, dest, docker_format, creds, &[]);
    }

    /// [`Layout::copy_to`] with more `skopeo copy` flags (`--all` for an index).
    pub fn copy_with(
        &self,
        tag: &str,
        dest: &str,
        docker_format: bool,
        creds: Option<(&str, &str)>,
        flags: &[&str],
    ) {
        super::require_tool("skopeo", "skopeo");
        let mut cmd = Command::new("skopeo");
        cmd.args(["--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false"]);
        cmd.args(flags);
        if docker_format {
            cmd.args(["--format", "v2s2"]);
        }
        if let Some((u, p)) = creds {
            cmd.arg("--dest-creds").arg(format!("{u}:{p}"));
        }
        cmd.arg(format!("oci:{}:{tag}", self.dir.path().display()))
            .arg(format!("docker://{dest}"));
        let out = cmd.output().expect("run skopeo");
        assert!(
            out.status.success(),
            "skopeo copy to {dest}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn empty_tar(dir: &Path) -> Vec<u8> {
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    run(
        "tar",
        &["-cf", "../base.tar", "--files-from", "/dev/null"],
        &empty,
    );
    std::fs::read(dir.join("base.tar")).unwrap()
}

fn gzip_of_empty_tar(dir: &Path) -> Vec<u8> {
    empty_tar(dir);
    run("gzip", &["-n", "-f", "base.tar"], dir);
    std::fs::read(dir.join("base.tar.gz")).unwrap()
}

fn run(program: &str, args: &[&str], dir: &Path) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .expect(program);
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
