//! Following the config: resources in, snapshots out. The resources come from a
//! `ConfigSource` (a folder or a Kubernetes API server: the same snapshots either way). On each change the resources are
//! resolved for this workload, the JWKS documents fetched and a new snapshot built, all on
//! the control thread; a change that cannot be applied is reported and the previous
//! snapshot stays in force.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmesh_api::{resolve, Kind, Resource, ResourceKey, Resources, WasmPlugin};

use crate::build::{self, Inputs};
use crate::plugin::load::Loader;
use crate::run::{lock, Options, RunError, Shared};

/// How often the labels file (`--labels-file`) is read again: the kubelet rewrites it when
/// the pod's labels change.
const LABELS_POLL: Duration = Duration::from_secs(2);
/// How long a `jwksUri` fetch may take.
const JWKS_TIMEOUT: Duration = Duration::from_secs(5);
/// How often `jwksUri` documents are fetched again (Istio's JWKS resolver: 20 minutes).
const JWKS_REFRESH: Duration = Duration::from_secs(20 * 60);
/// How soon a failed `jwksUri` fetch is tried again.
const JWKS_RETRY: Duration = Duration::from_secs(5);

/// Follows the config source and publishes a snapshot for each change, until the proxy
/// stops.
pub async fn follow(
    options: Options,
    source: Arc<dyn wasmesh_config::ConfigSource>,
    shared: Arc<Shared>,
) -> Result<(), RunError> {
    let mut changes = source.subscribe();
    let described = source.description();
    let cache_dir = options
        .cache_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("wasmesh-cache"));
    let mut loader = Loader::new(&cache_dir).map_err(RunError::Config)?;
    crate::run::lock(&shared.status)
        .extra_metrics
        .extend(loader.metrics());
    let mut version = 0;
    // The Proxies found when the proxy last said it waits for its own: said again only when
    // that list changes, not on every change of the folder.
    let mut waiting_said: Option<String> = None;
    // True when this pass only retries failed module fetches (nothing else changed).
    let mut retry_only = false;
    // When the JWKS documents are to be fetched again (a deadline, so that retries of
    // module fetches in between do not put it off).
    let mut jwks_at: Option<Instant> = None;
    let mut labels = match &options.labels_file {
        Some(path) => Some(crate::labels::read(path).map_err(RunError::Config)?),
        None => None,
    };
    loop {
        let config = changes.borrow_and_update().clone();
        let health = source.health();
        if !health.synced {
            // Not everything is read yet (a Kubernetes source's first lists): a partial
            // snapshot would drop plugins that are only not listed yet.
            shared.note_problems(format!(
                "waiting for {} from the {described}",
                health.pending.join(", ")
            ));
            // what is awaited changes without a snapshot (a list refused, then in): said
            // again every half second
            tokio::select! {
                changed = changes.changed() => if changed.is_err() {
                    return Err(RunError::Config("the config source stopped".into()));
                },
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
            continue;
        }
        let problems: Vec<String> = config.diagnostics.iter().map(|d| d.to_string()).collect();
        if let Some(found) = missing_proxy(&options, &config.resources) {
            // The folder is watched, so the Proxy may be added later (`wasmesh apply`): wait
            // for it rather than exit, and say plainly that the proxy waits.
            let message = format!(
                "no Proxy {}/{} in the {described} (Proxies found: {found})",
                options.workload.namespace, options.workload.name,
            );
            if waiting_said.as_deref() != Some(found.as_str()) {
                if shared.snapshots.borrow().version == 0 {
                    tracing::warn!("{message}; waiting for it to appear there (not ready until then)");
                } else {
                    tracing::warn!("{message}; the previous config stays in force until it is back");
                }
                waiting_said = Some(found);
            }
            shared.note_problems(message);
            jwks_at = None;
        } else {
            waiting_said = None;
            let pass = Pass {
                version: version + 1,
                retry_only,
            };
            let mut jwks: Option<bool> = None;
            let mut applied = Vec::new();
            let built = snapshot(
                &options,
                labels.as_ref(),
                &described,
                &config.resources,
                pass,
                &mut loader,
                &shared,
                &mut jwks,
                &mut applied,
            )
            .await;
            if !matches!(built, Ok(None)) {
                // Build again when the JWKS documents are due (once-failed fetches soon;
                // keys rotate, so also now and then).
                jwks_at = jwks.map(|failed| Instant::now() + if failed { JWKS_RETRY } else { JWKS_REFRESH });
            }
            match built {
                Ok(Some(s)) => {
                    version += 1;
                    let workload = &options.workload;
                    let generation = config
                        .resources
                        .proxy(&workload.namespace, &workload.name)
                        .and_then(|p| p.metadata.generation);
                    shared.publish(s);
                    let mut status = lock(&shared.status);
                    status.proxy_generation = generation;
                    status.policies = applied;
                    drop(status);
                    if !problems.is_empty() {
                        // wasmesh-config has logged each one; keep them for the admin API.
                        shared.note_problems(problems.join("\n"));
                    }
                }
                // A retried fetch failed again: the chains stay as they are.
                Ok(None) => {}
                Err(e) => shared.reject(e),
            }
        }
        // Build again on a config change, or when the JWKS documents are due again.
        let due = async {
            match jwks_at {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        // A module that could not be fetched is tried again with backoff until it loads or
        // its resource changes (docs/modules.md).
        let retry = loader.next_retry();
        let retry_due = async {
            match retry {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        retry_only = false;
        // the labels file, when there is one, is read again now and then
        let labels_changed = async {
            let Some(path) = &options.labels_file else {
                return std::future::pending().await;
            };
            loop {
                tokio::time::sleep(LABELS_POLL).await;
                match crate::labels::read(path) {
                    Ok(now) if Some(&now) != labels.as_ref() => return now,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "labels file unreadable; the labels read before stay")
                    }
                }
            }
        };
        tokio::select! {
            changed = changes.changed() => if changed.is_err() {
                return Err(RunError::Config("the config source stopped".into()));
            },
            _ = due => tracing::debug!("fetching JWKS documents again"),
            _ = retry_due => retry_only = true,
            now = labels_changed => {
                tracing::info!(labels = ?now, "the pod's labels changed");
                labels = Some(now);
            }
        }
    }
}

/// `None` when the config holds this proxy's Proxy resource; else the Proxies it does hold,
/// as `NS/NAME, ...` (or `none`), so that a mistyped `--workload` is plain to see.
fn missing_proxy(options: &Options, resources: &Resources) -> Option<String> {
    let workload = &options.workload;
    if resources.proxy(&workload.namespace, &workload.name).is_some() {
        return None;
    }
    let found: Vec<String> = resources
        .proxies()
        .map(|p| format!("{}/{}", p.metadata.namespace(), p.metadata.name))
        .collect();
    Some(if found.is_empty() {
        "none".to_string()
    } else {
        found.join(", ")
    })
}

/// What a pass of the config loop is for.
#[derive(Clone, Copy)]
struct Pass {
    /// The version the snapshot gets if one is published.
    version: u64,
    /// Nothing changed but a failed module fetch being due again: when it fails again,
    /// no snapshot is made (`Ok(None)`).
    retry_only: bool,
}

#[allow(clippy::too_many_arguments)]
async fn snapshot(
    options: &Options,
    labels: Option<&std::collections::BTreeMap<String, String>>,
    described: &str,
    resources: &Resources,
    pass: Pass,
    loader: &mut Loader,
    shared: &Shared,
    jwks_state: &mut Option<bool>,
    applied: &mut Vec<crate::run::AppliedPolicy>,
) -> Result<Option<crate::snapshot::Snapshot>, String> {
    let key = ResourceKey::new(Kind::Proxy, &options.workload.namespace, &options.workload.name);
    let Some(Resource::Proxy(proxy)) = resources.get(&key) else {
        return Err(format!(
            "no Proxy {}/{} in the {described}",
            options.workload.namespace, options.workload.name,
        ));
    };
    // The pod's labels, when given, are what selectors match (as Istio matches
    // `selector.matchLabels` against the pod's labels), instead of the Proxy's own.
    let relabelled;
    let proxy = match labels {
        Some(labels) => {
            let mut p = (**proxy).clone();
            p.metadata.labels = labels.clone();
            relabelled = Arc::new(p);
            &relabelled
        }
        None => proxy,
    };
    let chains = resolve(proxy, resources, &options.root_namespace);
    // the policies the chains enforce, for their status once this snapshot is in force
    let ras = chains
        .request_authentications
        .iter()
        .map(|p| (Kind::RequestAuthentication, &p.metadata));
    let aps = chains
        .authorization_policies
        .iter()
        .map(|p| (Kind::AuthorizationPolicy, &p.metadata));
    *applied = ras
        .chain(aps)
        .map(|(kind, meta)| crate::run::AppliedPolicy {
            kind,
            namespace: meta.namespace().to_string(),
            name: meta.name.clone(),
            generation: meta.generation,
        })
        .collect();
    let mut plugins: Vec<Arc<WasmPlugin>> = Vec::new();
    for lc in &chains.listeners {
        for p in lc.plugins() {
            if !plugins.iter().any(|q| Arc::ptr_eq(q, p)) {
                plugins.push(p.clone());
            }
        }
    }
    let loaded = loader.load(&plugins, resources).await;
    crate::run::lock(&shared.status).plugins = Arc::new(loader.status(&plugins));
    if pass.retry_only && !loader.changed() {
        return Ok(None);
    }
    let mut jwks = HashMap::new();
    for ra in &chains.request_authentications {
        for rule in &ra.spec.jwt_rules {
            if let (None, Some(uri)) = (&rule.jwks, &rule.jwks_uri) {
                if !jwks.contains_key(uri) {
                    jwks.insert(
                        uri.clone(),
                        crate::jwks::fetch(uri, rule.timeout.unwrap_or(JWKS_TIMEOUT), &proxy.spec.clusters)
                            .await,
                    );
                }
            }
        }
    }
    // None: no jwksUri; Some(true): one could not be fetched.
    *jwks_state = (!jwks.is_empty()).then(|| jwks.values().any(Result::is_err));
    build::snapshot(Inputs {
        version: pass.version,
        proxy,
        chains: &chains,
        jwks: &jwks,
        plugins: &loaded,
        resources,
    })
    .map(Some)
    .map_err(|e| e.to_string())
}
