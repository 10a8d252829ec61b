//! `http://` and `https://` modules (and detached `<url>.sig` files): a rustls client with a
//! per-request timeout, retries with backoff on network errors and retryable 5xx, a size
//! limit enforced while reading, and the SSRF guard in its resolver and redirects.

use crate::{
    error::FetchError,
    oci::describe_request_error,
    options::FetchOptions,
    retry::{is_retryable_status, Retry},
    ssrf::AddressGuard,
};
use futures::StreamExt;
use reqwest::{redirect, Url};
use std::{net::IpAddr, time::Duration};

pub(crate) struct HttpFetcher {
    client: reqwest::Client,
    retry: Retry,
    timeout: Duration,
    max_bytes: u64,
    guard: AddressGuard,
}

enum AttemptError {
    Network { reason: String, timeout: bool },
    Status(u16),
    TooLarge(u64),
}

impl HttpFetcher {
    pub(crate) fn new(opts: &FetchOptions, guard: AddressGuard) -> Result<Self, FetchError> {
        let redirect_guard = guard.clone();
        let policy = redirect::Policy::custom(move |attempt| {
            let blocked = attempt
                .url()
                .host_str()
                .and_then(|h| {
                    h.trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse::<IpAddr>()
                        .ok()
                })
                .is_some_and(|ip| redirect_guard.is_blocked(ip));
            if blocked {
                attempt.error("redirect to a blocked address")
            } else if attempt.previous().len() >= 10 {
                attempt.error("too many redirects")
            } else {
                attempt.follow()
            }
        });
        let mut builder = reqwest::Client::builder();
        for pem in &opts.extra_ca_certificates {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| FetchError::Options {
                reason: format!("extra CA certificates: {e}"),
            })?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder
            .timeout(opts.http_timeout)
            .connect_timeout(opts.http_timeout)
            .redirect(policy)
            .dns_resolver(std::sync::Arc::new(guard.clone()))
            .no_proxy()
            .build()
            .map_err(|e| FetchError::Options {
                reason: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(HttpFetcher {
            client,
            retry: Retry {
                attempts: opts.http_attempts,
                initial: opts.initial_backoff,
            },
            timeout: opts.http_timeout,
            max_bytes: opts.max_module_bytes,
            guard,
        })
    }

    /// GETs `url` with retries; `shown` is the redacted url for errors.
    pub(crate) async fn get(&self, url: &Url, shown: &str) -> Result<Vec<u8>, FetchError> {
        self.get_inner(url, shown, self.max_bytes).await
    }

    /// GETs a small companion file (a `.sig`); a 404 gives `None`.
    pub(crate) async fn get_optional(&self, url: &Url, shown: &str) -> Result<Option<Vec<u8>>, FetchError> {
        match self.get_inner(url, shown, 64 << 10).await {
            Ok(body) => Ok(Some(body)),
            Err(FetchError::HttpStatus { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Istio's check of bearer-token realms (`ssrf.go`): a registry may send us (with the
    /// pull secret) to its token service, so the realm it names must not be a blocked address
    /// either. Asks the registry's `/v2/` once; any failure there is left for the registry
    /// client to report.
    pub(crate) async fn check_token_realm(&self, base: &str, shown: &str) -> Result<(), FetchError> {
        let Ok(response) = self.client.get(format!("{base}/v2/")).send().await else {
            return Ok(());
        };
        let Some(challenge) = response.headers().get(reqwest::header::WWW_AUTHENTICATE) else {
            return Ok(());
        };
        let Some(realm) = challenge.to_str().ok().and_then(realm_of) else {
            return Ok(());
        };
        let invalid = |reason: String| FetchError::Registry {
            url: shown.to_owned(),
            reason,
        };
        let realm_url =
            Url::parse(&realm).map_err(|_| invalid(format!("the token realm {realm:?} is not a url")))?;
        if !matches!(realm_url.scheme(), "http" | "https") {
            return Err(invalid(format!("the token realm {realm:?} is not http(s)")));
        }
        if let Some(host) = realm_url.host_str() {
            let port = realm_url.port_or_known_default().unwrap_or(443);
            self.guard.check(host, port, shown).await?;
        }
        Ok(())
    }

    async fn get_inner(&self, url: &Url, shown: &str, limit: u64) -> Result<Vec<u8>, FetchError> {
        if let Some(host) = url.host_str() {
            let port = url.port_or_known_default().unwrap_or(80);
            self.guard.check(host, port, shown).await?;
        }
        let result = self
            .retry
            .run(
                || self.attempt(url, limit),
                |e| match e {
                    // A refused certificate will be refused again; anything else on the
                    // network may pass next time.
                    AttemptError::Network { reason, .. } => !reason.contains("certificate"),
                    AttemptError::Status(status) => is_retryable_status(*status),
                    AttemptError::TooLarge(_) => false,
                },
            )
            .await;
        result.map_err(|(e, attempts)| match e {
            AttemptError::Network { timeout: true, .. } => FetchError::Timeout {
                url: shown.to_owned(),
                timeout: self.timeout,
                attempts,
            },
            AttemptError::Network { reason, .. } => FetchError::Http {
                url: shown.to_owned(),
                attempts,
                reason,
            },
            AttemptError::Status(status) => FetchError::HttpStatus {
                url: shown.to_owned(),
                status,
                attempts,
            },
            AttemptError::TooLarge(size) => FetchError::TooLarge {
                url: shown.to_owned(),
                size,
                limit,
            },
        })
    }

    async fn attempt(&self, url: &Url, limit: u64) -> Result<Vec<u8>, AttemptError> {
        let network = |e: reqwest::Error| AttemptError::Network {
            timeout: e.is_timeout(),
            reason: describe_request_error(&e),
        };
        let response = self.client.get(url.clone()).send().await.map_err(network)?;
        let status = response.status();
        if !status.is_success() {
            return Err(AttemptError::Status(status.as_u16()));
        }
        if let Some(length) = response.content_length() {
            if length > limit {
                return Err(AttemptError::TooLarge(length));
            }
        }
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(network)?;
            body.extend_from_slice(&chunk);
            if body.len() as u64 > limit {
                return Err(AttemptError::TooLarge(body.len() as u64));
            }
        }
        Ok(body)
    }
}

/// The `realm` of a `Bearer realm="…",service="…"` challenge.
pub(crate) fn realm_of(challenge: &str) -> Option<String> {
    let rest = challenge.trim().strip_prefix("Bearer")?.trim_start();
    rest.split(',').find_map(|part| {
        let (name, value) = part.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("realm")
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

#[cfg(test)]
mod tests;
