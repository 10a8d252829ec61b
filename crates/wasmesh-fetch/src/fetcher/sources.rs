//! The sources behind [`Fetcher`]: `file://` (read, not cached), `http(s)://` and `oci://`
//! (fetched, then cached by the caller), each checked the same way.

use super::*;

impl Fetcher {
    // === file:// ===

    pub(super) async fn fetch_file(
        &self,
        path: &Path,
        shown: &str,
        expected: Option<&str>,
        key: Option<&PublicKey>,
    ) -> Result<Module, FetchError> {
        let file_err = |source| FetchError::File {
            url: shown.to_owned(),
            path: path.to_path_buf(),
            source,
        };
        let size = tokio::fs::metadata(path).await.map_err(file_err)?.len();
        let limit = self.inner.opts.max_module_bytes;
        if size > limit {
            return Err(FetchError::TooLarge {
                url: shown.to_owned(),
                size,
                limit,
            });
        }
        let raw = tokio::fs::read(path).await.map_err(file_err)?;
        let bytes = self.unwrap_and_check(raw, shown, expected)?;
        if let Some(key) = key {
            let mut sig_path = path.as_os_str().to_owned();
            sig_path.push(".sig");
            let sig_path = PathBuf::from(sig_path);
            let sig = match tokio::fs::read(&sig_path).await {
                Ok(content) => decode_signature_file(&content),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(FetchError::Signature {
                        url: shown.to_owned(),
                        reason: format!("no signature file {}", sig_path.display()),
                    })
                }
                Err(source) => return Err(file_err(source)),
            };
            key.verify(&bytes, &sig).map_err(|reason| FetchError::Signature {
                url: shown.to_owned(),
                reason,
            })?;
        }
        Ok(Module {
            sha256: sha256_hex(&bytes),
            bytes: Bytes::from(bytes),
            manifest_digest: None,
            from_cache: false,
            signature_verified: key.is_some(),
        })
    }

    /// Unwraps gz/tar, then checks the module's sha256 (when given) and shape.
    fn unwrap_and_check(
        &self,
        raw: Vec<u8>,
        shown: &str,
        expected: Option<&str>,
    ) -> Result<Vec<u8>, FetchError> {
        let limit = self.inner.opts.max_module_bytes;
        let bytes = unwrap_archive(raw, limit).map_err(|e| match e {
            UnwrapError::TooLarge(size) => FetchError::TooLarge {
                url: shown.to_owned(),
                size,
                limit,
            },
            UnwrapError::Invalid(reason) => FetchError::Unpack {
                url: shown.to_owned(),
                reason,
            },
        })?;
        if let Some(expected) = expected {
            let actual = sha256_hex(&bytes);
            if actual != expected {
                return Err(FetchError::DigestMismatch {
                    url: shown.to_owned(),
                    what: "module",
                    expected: expected.to_owned(),
                    actual,
                });
            }
        }
        check_module(&bytes).map_err(|reason| FetchError::NotWasm {
            url: shown.to_owned(),
            reason,
        })?;
        Ok(bytes)
    }

    pub(super) async fn fetch_http(
        &self,
        url: &Url,
        shown: &str,
        expected: Option<&str>,
        key: Option<&PublicKey>,
    ) -> Result<Fetched, FetchError> {
        let raw = self.inner.http.get(url, shown).await?;
        let bytes = self.unwrap_and_check(raw, shown, expected)?;
        let signature = match key {
            None => None,
            Some(key) => {
                let mut sig_url = url.clone();
                sig_url.set_path(&format!("{}.sig", url.path()));
                let sig_shown = redact_url(sig_url.as_str());
                let content = self.inner.http.get_optional(&sig_url, &sig_shown).await?;
                let Some(content) = content else {
                    return Err(FetchError::Signature {
                        url: shown.to_owned(),
                        reason: format!("no signature at {sig_shown} (HTTP 404)"),
                    });
                };
                let sig = decode_signature_file(&content);
                key.verify(&bytes, &sig).map_err(|reason| FetchError::Signature {
                    url: shown.to_owned(),
                    reason,
                })?;
                Some(SignatureMaterial::Detached(sig))
            }
        };
        Ok(Fetched {
            bytes,
            manifest_digest: None,
            signature,
        })
    }

    pub(super) async fn fetch_oci(
        &self,
        req: &ModuleRequest,
        image: &Reference,
        shown: &str,
        expected: Option<&str>,
        key: Option<&PublicKey>,
    ) -> Result<Fetched, FetchError> {
        let opts = &self.inner.opts;
        let registry = registry_of(image);
        let (host, port) = split_host_port(registry);
        self.inner.guard.check(host, port.unwrap_or(443), shown).await?;
        let insecure = opts.is_insecure(registry);
        let base = format!("{}://{registry}", if insecure { "http" } else { "https" });
        self.inner.http.check_token_realm(&base, shown).await?;
        let auth = self.auth_for(image, req.pull_secret.as_ref());
        let client = oci::client(insecure, opts.http_timeout, &opts.extra_ca_certificates);
        let retry = Retry {
            attempts: opts.http_attempts,
            initial: opts.initial_backoff,
        };
        let (bytes, manifest_digest) =
            oci::fetch(&client, image, &auth, opts.max_module_bytes, retry, shown)
                .await
                .map_err(|e| match e {
                    // A TLS handshake answered in plain text: the usual local-registry mistake.
                    FetchError::Registry { url, reason } if !insecure && reason.contains("InvalidContentType") => {
                        FetchError::Registry {
                            url,
                            reason: format!(
                                "{reason} (if this registry serves plain HTTP, list it in WASM_INSECURE_REGISTRIES)"
                            ),
                        }
                    }
                    other => other,
                })?;
        if let Some(expected) = expected {
            let actual = digest_hex(&manifest_digest);
            if actual != expected {
                return Err(FetchError::DigestMismatch {
                    url: shown.to_owned(),
                    what: "image manifest",
                    expected: expected.to_owned(),
                    actual: actual.to_owned(),
                });
            }
        }
        check_module(&bytes).map_err(|reason| FetchError::NotWasm {
            url: shown.to_owned(),
            reason,
        })?;
        let signature = match key {
            None => None,
            Some(key) => {
                let sigs = cosign::fetch_signatures(&client, image, &auth, &manifest_digest, shown).await?;
                cosign::verify_signatures(key, &sigs, &manifest_digest).map_err(|reason| {
                    FetchError::Signature {
                        url: shown.to_owned(),
                        reason,
                    }
                })?;
                Some(SignatureMaterial::Cosign(sigs))
            }
        };
        Ok(Fetched {
            bytes,
            manifest_digest: Some(manifest_digest),
            signature,
        })
    }

    /// The plugin's pull secret for this registry, else the docker config's, else anonymous.
    pub(super) fn auth_for(&self, image: &Reference, secret: Option<&DockerConfigJson>) -> RegistryAuth {
        let registry = registry_of(image);
        secret
            .and_then(|s| s.credentials_for(registry))
            .or_else(|| self.inner.keychain.credentials_for(registry))
            .map(|c| c.to_registry_auth())
            .unwrap_or(RegistryAuth::Anonymous)
    }
}
