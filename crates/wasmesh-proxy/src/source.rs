//! Following the config: resources in, snapshots out. On each change the resources are
//! resolved for this workload, the JWKS documents fetched and a new snapshot built, all on
//! the control thread; a change that cannot be applied is reported and the previous
//! snapshot stays in force.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use wasmesh_api::{resolve, Kind, Resource, ResourceKey, Resources, WasmPlugin};

use crate::build::{self, Inputs};
use crate::plugin::load::Loader;
use crate::run::{Options, RunError, Shared};

/// How often the directory is checked for changes.
const POLL: Duration = Duration::from_millis(200);
/// How long a `jwksUri` fetch may take.
const JWKS_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads the config directory and publishes a snapshot for each change, until the proxy
/// stops.
pub async fn follow(options: Options, shared: Arc<Shared>) -> Result<(), RunError> {
    let mut last_seen: Option<Vec<(PathBuf, SystemTime, u64)>> = None;
    let mut version = 0;
    let mut good = Resources::new();
    let cache_dir = options
        .cache_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("wasmesh-cache"));
    let mut loader = Loader::new(&cache_dir).map_err(RunError::Config)?;
    crate::run::lock(&shared.status).extra_metrics = loader.metrics();
    loop {
        let seen = listing(&options.config_dir);
        if last_seen.as_ref() != Some(&seen) {
            last_seen = Some(seen);
            let (resources, errors) = read_dir(&options.config_dir, &good);
            for e in &errors {
                tracing::error!("{e}");
            }
            good = resources;
            version += 1;
            match snapshot(&options, &good, version, &mut loader, &shared).await {
                Ok(s) => {
                    shared.publish(s);
                    if !errors.is_empty() {
                        shared.reject(errors.join("\n"));
                    }
                }
                Err(e) => shared.reject(e),
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn snapshot(
    options: &Options,
    resources: &Resources,
    version: u64,
    loader: &mut Loader,
    shared: &Shared,
) -> Result<crate::snapshot::Snapshot, String> {
    let key = ResourceKey::new(Kind::Proxy, &options.workload.namespace, &options.workload.name);
    let Some(Resource::Proxy(proxy)) = resources.get(&key) else {
        return Err(format!(
            "no Proxy {}/{} in {}",
            options.workload.namespace,
            options.workload.name,
            options.config_dir.display()
        ));
    };
    let chains = resolve(proxy, resources, &options.root_namespace);
    let mut jwks = HashMap::new();
    for ra in &chains.request_authentications {
        for rule in &ra.spec.jwt_rules {
            if let (None, Some(uri)) = (&rule.jwks, &rule.jwks_uri) {
                if !jwks.contains_key(uri) {
                    jwks.insert(
                        uri.clone(),
                        fetch_jwks(uri, rule.timeout.unwrap_or(JWKS_TIMEOUT)).await,
                    );
                }
            }
        }
    }
    let mut plugins: Vec<Arc<WasmPlugin>> = Vec::new();
    for lc in &chains.listeners {
        for p in lc.plugins() {
            if !plugins.iter().any(|q| Arc::ptr_eq(q, p)) {
                plugins.push(p.clone());
            }
        }
    }
    let loaded = loader.load(&plugins, resources).await;
    crate::run::lock(&shared.status).plugins = loader.status(&plugins, &loaded);
    build::snapshot(Inputs {
        version,
        proxy,
        chains: &chains,
        jwks: &jwks,
        plugins: &loaded,
    })
    .map_err(|e| e.to_string())
}

async fn fetch_jwks(uri: &str, timeout: Duration) -> Result<String, String> {
    let fetch = async {
        let resp = reqwest::Client::new()
            .get(uri)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("status {}", resp.status()));
        }
        resp.text().await.map_err(|e| e.to_string())
    };
    fetch.await.map_err(|e| {
        tracing::warn!(uri, error = %e, "cannot fetch JWKS");
        format!("cannot fetch JWKS from {uri}: {e}")
    })
}

/// The resource files of the directory with their modification times and sizes.
fn listing(dir: &Path) -> Vec<(PathBuf, SystemTime, u64)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let path = e.path();
            wasmesh_api::Format::from_path(&path.to_string_lossy())?;
            let meta = e.metadata().ok()?;
            Some((path, meta.modified().ok()?, meta.len()))
        })
        .collect();
    out.sort();
    out
}

/// Reads every document; a document that fails validation keeps the previous good version
/// of the resource it names.
fn read_dir(dir: &Path, previous: &Resources) -> (Resources, Vec<String>) {
    let mut resources = Resources::new();
    let mut errors = Vec::new();
    for (path, _, _) in listing(dir) {
        let name = path.to_string_lossy().to_string();
        let Some(format) = wasmesh_api::Format::from_path(&name) else {
            continue;
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                errors.push(format!("{name}: {e}"));
                continue;
            }
        };
        for parsed in wasmesh_api::parse(&name, &text, format) {
            match parsed {
                Ok(doc) => {
                    resources.insert(doc.resource);
                }
                Err(e) => {
                    if let Some(key) = e.key.as_ref() {
                        if let Some(old) = previous.get(key) {
                            resources.insert(old.clone());
                        }
                    }
                    errors.push(e.to_string());
                }
            }
        }
    }
    (resources, errors)
}
