//! The fetcher and push settings the registry tests share.

use std::{path::Path, sync::Arc, time::Duration};
use wasmesh_fetch::{DockerConfigJson, FetchOptions, ModuleRequest, PushFormat, PushOptions};

pub fn options(cache: &Path) -> FetchOptions {
    let mut opts = FetchOptions::new(cache);
    opts.insecure_registries = vec!["*".into()];
    opts.initial_backoff = Duration::from_millis(20);
    opts.http_attempts = 2;
    // No user docker config leaks into the tests.
    opts.docker_config = Some(cache.join("no-docker-config.json"));
    opts
}

pub fn request(url: String) -> ModuleRequest {
    ModuleRequest {
        url,
        resource_name: "default.plugin".into(),
        resource_version: "1".into(),
        ..Default::default()
    }
}

pub fn push_opts(format: PushFormat) -> PushOptions {
    PushOptions {
        format,
        insecure: true,
        auth: Some(DockerConfigJson::default()),
        ..Default::default()
    }
}

pub fn no_progress() -> Arc<dyn Fn(u64, u64) + Send + Sync> {
    Arc::new(|_, _| {})
}
