//! One list of everything the source follows, and no watch: what `wasmesh describe
//! --kubernetes` shows (docs/kubernetes-source.md, "describe"). The objects take the
//! proxy's own path — the same streams ([`crate::scope`]), parsed and validated into the
//! same store by [`Sync`] — so the chain described is the one a proxy started now would
//! serve, and each resource's origin names its kind, namespace, name and resourceVersion.

use std::sync::Arc;

use kube::api::{Api, DynamicObject, ListParams};
use kube::runtime::watcher::Event;
use kube::Client;
use wasmesh_config::Snapshot;

use crate::client::{connect, Options, StartError};
use crate::sync::{StreamId, Sync};

/// A page of a list: the API server may cut a long list into pages of this many objects.
const PAGE: u32 = 500;

/// What the one list found.
pub struct Listed {
    /// The resources in force, their origins, and the objects that were invalid.
    pub snapshot: Arc<Snapshot>,
    /// The API server's URL, for messages.
    pub url: String,
}

/// Why the list could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// No client could be configured.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The API server refused a list or did not answer it.
    #[error("cannot list {what} from the Kubernetes API server {url}: {source}")]
    List {
        /// The stream, in words (`WasmPlugins in namespace web`).
        what: String,
        url: String,
        #[source]
        source: kube::Error,
    },
}

/// Lists every stream of `options` once, then each Secret the objects name (a valid
/// WasmPlugin's pull Secret, a Proxy's or the Gateway's TLS Secrets; by name, as the proxy
/// reads them), and makes the snapshot a proxy would make from them.
pub async fn list_once(options: &Options) -> Result<Listed, ListError> {
    let (client, url) = connect(options).await?;
    let mut sync = match &options.gateway {
        Some(target) => Sync::with_gateway(target.clone()),
        None => Sync::new(),
    };
    let failed = |stream: &StreamId, source| ListError::List {
        what: stream.to_string(),
        url: url.clone(),
        source,
    };
    for stream in crate::scope::streams(options) {
        let objects = list(&client, &stream).await.map_err(|e| failed(&stream, e))?;
        feed(&mut sync, stream, objects);
    }
    for (namespace, name) in sync.wanted_secrets() {
        let stream = StreamId::Secret { namespace, name };
        let objects = list(&client, &stream).await.map_err(|e| failed(&stream, e))?;
        feed(&mut sync, stream, objects);
    }
    let snapshot = sync
        .snapshot()
        .unwrap_or_else(|| wasmesh_config::Store::new().snapshot(Vec::new()));
    Ok(Listed { snapshot, url })
}

/// `stream`'s objects as one whole list, into `sync`.
fn feed(sync: &mut Sync, stream: StreamId, objects: Vec<DynamicObject>) {
    sync.add(stream.clone());
    sync.apply(&stream, Event::Init);
    for object in objects {
        sync.apply(&stream, Event::InitApply(object));
    }
    sync.apply(&stream, Event::InitDone);
}

/// The objects of `stream`, every page of them; a pull Secret is read by its name (`get`,
/// which the gateway's RBAC grants: deploy/rbac.yaml), never listed.
async fn list(client: &Client, stream: &StreamId) -> Result<Vec<DynamicObject>, kube::Error> {
    let resource = stream.resource();
    let api: Api<DynamicObject> = match stream {
        StreamId::Secret { namespace, name } => {
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
            return Ok(api.get_opt(name).await?.into_iter().collect());
        }
        StreamId::Kind { namespace, .. } | StreamId::Gateway { namespace, .. } => match namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
            None => Api::all_with(client.clone(), &resource),
        },
    };
    let mut objects = Vec::new();
    let mut params = ListParams::default().limit(PAGE);
    loop {
        let page = api.list(&params).await?;
        objects.extend(page.items);
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(objects),
        }
    }
}
