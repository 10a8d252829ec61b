//! kube-rs against the double: typed Secrets through every verb, a watcher on a custom
//! resource through changes, a forced 410, a restart and an outage; a raw watch through
//! its selection, bookmarks and an expired version; `watch_object` on one name; discovery.

use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::ByteString;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
    PostParams, WatchEvent, WatchParams,
};
use kube::runtime::watcher;
use kube::{Client, Config};
use serde_json::json;
use wasmesh_testkit::apiserver::{ApiServer, ApiServerConfig};

fn client(server: &ApiServer) -> Client {
    let url = server.url().parse().expect("the server's URL");
    Client::try_from(Config::new(url)).expect("a client of the double")
}

/// The code and reason of a request that must fail with a `Status`.
fn refusal<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> (u16, String) {
    match result {
        Err(kube::Error::Api(status)) => (status.code, status.reason.clone()),
        other => panic!("expected a Status from the server, got {other:?}"),
    }
}

fn secret(name: &str, token: &str) -> Secret {
    serde_json::from_value(json!({
        "metadata": { "name": name, "labels": { "app": "web" } },
        "data": { "token": ByteString(token.as_bytes().to_vec()) },
    }))
    .expect("a Secret")
}

fn token(secret: &Secret) -> String {
    let data = secret.data.as_ref().expect("the secret has data");
    String::from_utf8(data["token"].0.clone()).expect("a text token")
}

#[tokio::test]
async fn secrets_through_every_verb() {
    let server = ApiServer::start().expect("the double starts");
    let secrets: Api<Secret> = Api::namespaced(client(&server), "default");

    let created = secrets
        .create(&PostParams::default(), &secret("pull", "one"))
        .await
        .expect("create");
    let meta = &created.metadata;
    assert!(
        meta.uid.as_deref().is_some_and(|u| u.len() == 36),
        "a uid: {meta:?}"
    );
    assert!(meta.creation_timestamp.is_some() && meta.resource_version.is_some());
    assert_eq!(created.type_.as_deref(), Some("Opaque"));
    assert_eq!(
        refusal(secrets.create(&PostParams::default(), &secret("pull", "x")).await),
        (409, "AlreadyExists".into())
    );
    secrets
        .create(&PostParams::default(), &secret("other", "o"))
        .await
        .expect("a second create");

    let got = secrets.get("pull").await.expect("get");
    assert_eq!(token(&got), "one");
    assert_eq!(refusal(secrets.get("nope").await), (404, "NotFound".into()));

    let listed = secrets
        .list(&ListParams::default().labels("app=web"))
        .await
        .expect("list");
    let names: Vec<_> = listed
        .items
        .iter()
        .filter_map(|s| s.metadata.name.clone())
        .collect();
    assert_eq!(names, ["other", "pull"]);
    let list_rv: u64 = listed
        .metadata
        .resource_version
        .as_deref()
        .expect("a list version")
        .parse()
        .expect("a number");
    assert_eq!(list_rv, server.resource_version());
    let one = secrets
        .list(&ListParams::default().fields("metadata.name=pull"))
        .await
        .expect("list by name");
    assert_eq!(one.items.len(), 1);
    assert!(secrets
        .list(&ListParams::default().labels("app=db"))
        .await
        .expect("list")
        .items
        .is_empty());
    let page = secrets
        .list(&ListParams::default().limit(1))
        .await
        .expect("a page");
    assert_eq!((page.items.len(), page.metadata.continue_.is_some()), (1, true));

    let mut changed = got.clone();
    changed.data = secret("pull", "two").data;
    let replaced = secrets
        .replace("pull", &PostParams::default(), &changed)
        .await
        .expect("replace");
    assert_eq!(token(&replaced), "two");
    assert_ne!(replaced.metadata.resource_version, got.metadata.resource_version);
    assert_eq!(
        refusal(secrets.replace("pull", &PostParams::default(), &changed).await),
        (409, "Conflict".into())
    );

    let merge = Patch::Merge(json!({ "metadata": { "labels": { "patched": "yes" } } }));
    let patched = secrets
        .patch("pull", &PatchParams::default(), &merge)
        .await
        .expect("merge patch");
    let labels = patched.metadata.labels.expect("labels");
    assert_eq!(
        (labels["app"].as_str(), labels["patched"].as_str()),
        ("web", "yes")
    );
    let apply = Patch::Apply(secret("applied", "three"));
    let applied = secrets
        .patch("applied", &PatchParams::apply("wasmesh-test"), &apply)
        .await
        .expect("server-side apply");
    assert_eq!(token(&applied), "three");

    let gone = secrets
        .delete("pull", &DeleteParams::default())
        .await
        .expect("delete");
    let status = gone.right().expect("a Status for a deleted secret");
    assert_eq!(status.details.map(|d| d.name), Some("pull".to_string()));
    assert_eq!(refusal(secrets.get("pull").await), (404, "NotFound".into()));
    assert_eq!(
        refusal(secrets.delete("pull", &DeleteParams::default()).await),
        (404, "NotFound".into())
    );

    assert_eq!((server.requests("create"), server.requests("update")), (3, 2));
    assert_eq!((server.requests("patch"), server.requests("delete")), (2, 2));
    // per resource, with RBAC's verbs: a list by name is still a list
    let lists = server.requests_on("list", "secrets");
    assert_eq!(lists, server.requests("list"));
    assert!(lists >= 3, "{lists}");
    assert!(server.requests_on("get", "secrets") >= 3);
    assert_eq!(server.requests_on("list", "wasmplugins"), 0);
    let watches = server.requests_on("watch", "secrets");
    let mut one = secrets
        .watch(&WatchParams::default().fields("metadata.name=other"), "0")
        .await
        .expect("a watch by name")
        .boxed();
    assert!(matches!(one.next().await, Some(Ok(WatchEvent::Added(_)))));
    assert_eq!(server.requests_on("watch", "secrets"), watches + 1);
    assert_eq!(server.requests_on("list", "secrets"), lists, "a watch is no list");
}

async fn install_wasmplugin_crd(client: &Client) -> Api<DynamicObject> {
    let crd: CustomResourceDefinition =
        serde_yaml_ng::from_str(crate::WASMPLUGIN_CRD).expect("the CRD fixture");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let created = crds
        .create(&PostParams::default(), &crd)
        .await
        .expect("the CRD is created");
    let conditions = created.status.and_then(|s| s.conditions).unwrap_or_default();
    assert!(
        conditions
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True"),
        "{conditions:?}"
    );
    let gvk = GroupVersionKind::gvk("extensions.istio.io", "v1alpha1", "WasmPlugin");
    Api::namespaced_with(
        client.clone(),
        "default",
        &ApiResource::from_gvk_with_plural(&gvk, "wasmplugins"),
    )
}

fn plugin(name: &str, phase: &str) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "extensions.istio.io/v1alpha1",
        "kind": "WasmPlugin",
        "metadata": { "name": name },
        "spec": { "url": "file:///plugins/headers.wasm", "phase": phase },
    }))
    .expect("a WasmPlugin")
}

/// What a watcher event is about, as `kind name [phase]`.
fn describe(event: &watcher::Event<DynamicObject>) -> String {
    let about = |o: &DynamicObject| {
        let phase = o.data["spec"]["phase"].as_str().unwrap_or("-");
        format!("{} {phase}", o.metadata.name.as_deref().unwrap_or("?"))
    };
    match event {
        watcher::Event::Apply(o) => format!("apply {}", about(o)),
        watcher::Event::Delete(o) => format!("delete {}", about(o)),
        watcher::Event::Init => "init".to_string(),
        watcher::Event::InitApply(o) => format!("init-apply {}", about(o)),
        watcher::Event::InitDone => "init-done".to_string(),
    }
}

/// The next `n` events of `stream` (errors included, as `error: …`), within 10 s.
async fn next_events<S>(stream: &mut S, n: usize) -> Vec<String>
where
    S: Stream<Item = Result<watcher::Event<DynamicObject>, watcher::Error>> + Unpin,
{
    let mut seen = Vec::new();
    while seen.len() < n {
        match tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
            Ok(Some(Ok(event))) => seen.push(describe(&event)),
            Ok(Some(Err(error))) => seen.push(format!("error: {error}")),
            Ok(None) => panic!("the watcher ended after {seen:?}"),
            Err(_) => panic!("no event within 10 s after {seen:?}"),
        }
    }
    seen
}

#[tokio::test]
async fn a_watcher_on_a_custom_resource_sees_changes_in_order_and_relists_after_410() {
    let server = ApiServer::start().expect("the double starts");
    let client = client(&server);
    let plugins = install_wasmplugin_crd(&client).await;
    let mut events = watcher(plugins.clone(), watcher::Config::default()).boxed();
    assert_eq!(next_events(&mut events, 2).await, ["init", "init-done"]);

    plugins
        .create(&PostParams::default(), &plugin("p", "AUTHN"))
        .await
        .expect("create");
    let phase = Patch::Merge(json!({ "spec": { "phase": "AUTHZ" } }));
    let patched = plugins
        .patch("p", &PatchParams::default(), &phase)
        .await
        .expect("patch");
    assert_eq!(patched.metadata.generation, Some(2));
    let status = Patch::Merge(json!({ "status": { "ready": true } }));
    let with_status = plugins
        .patch_status("p", &PatchParams::default(), &status)
        .await
        .expect("patch status");
    assert_eq!(
        (with_status.metadata.generation, &with_status.data["status"]),
        (Some(2), &json!({ "ready": true }))
    );
    plugins
        .delete("p", &DeleteParams::default())
        .await
        .expect("delete");
    assert_eq!(
        next_events(&mut events, 4).await,
        [
            "apply p AUTHN",
            "apply p AUTHZ",
            "apply p AUTHZ",
            "delete p AUTHZ"
        ]
    );

    // the history the watcher would resume from is forgotten: 410, then a relist that sees
    // what changed meanwhile
    let lists = server.requests("list");
    plugins
        .create(&PostParams::default(), &plugin("q", "STATS"))
        .await
        .expect("create");
    assert_eq!(next_events(&mut events, 1).await, ["apply q STATS"]);
    server.expire_history();
    let relisted = next_events(&mut events, 4).await;
    assert!(
        relisted[0].starts_with("error: ") && relisted[0].contains("Expired"),
        "{relisted:?}"
    );
    assert_eq!(relisted[1..], ["init", "init-apply q STATS", "init-done"]);
    assert_eq!(server.requests("list"), lists + 1);

    // a restart ends the watch; the watcher watches again from where it was, without a list
    let watches = server.requests("watch");
    server.restart();
    plugins
        .create(&PostParams::default(), &plugin("r", "AUTHN"))
        .await
        .expect("create");
    assert_eq!(next_events(&mut events, 1).await, ["apply r AUTHN"]);
    assert!(server.requests("watch") > watches);
    assert_eq!(server.requests("list"), lists + 1);
}

#[tokio::test]
async fn watches_close_after_their_lifetime_and_clients_are_refused_while_the_server_is_down() {
    let server = ApiServer::start_with(ApiServerConfig {
        watch_lifetime: Some(Duration::from_millis(200)),
        ..ApiServerConfig::default()
    })
    .expect("the double starts");
    let client = client(&server);
    let secrets: Api<Secret> = Api::namespaced(client, "default");
    let mut events = watcher(secrets.clone(), watcher::Config::default()).boxed();
    let first = tokio::time::timeout(Duration::from_secs(10), events.next()).await;
    assert!(matches!(first, Ok(Some(Ok(watcher::Event::Init)))), "{first:?}");
    // a watcher moves only while polled
    let until = tokio::time::Instant::now() + Duration::from_millis(1500);
    while let Ok(event) = tokio::time::timeout_at(until, events.next()).await {
        assert!(
            matches!(event, Some(Ok(_))),
            "a watch that closes is no error: {event:?}"
        );
    }
    assert!(
        server.requests("watch") >= 2,
        "watches of 200 ms renewed: {}",
        server.requests("watch")
    );

    server.go_down(Duration::from_millis(700));
    let refused = secrets.get("nope").await;
    assert!(
        matches!(refused, Err(kube::Error::HyperError(_) | kube::Error::Service(_))),
        "{refused:?}"
    );
    // back after the outage: the same port answers again
    let back = tokio::time::Instant::now() + Duration::from_secs(10);
    let answer = loop {
        match secrets.get("nope").await {
            Err(kube::Error::Api(status)) => break (status.code, status.reason),
            other if tokio::time::Instant::now() > back => {
                panic!("not back 10 s after the outage: {other:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    assert_eq!(answer, (404, "NotFound".to_string()));
}

/// The next `n` events of a raw watch as `type name` (`bookmark VERSION`, `error CODE REASON`).
async fn next_raw<S>(stream: &mut S, n: usize) -> Vec<String>
where
    S: Stream<Item = Result<WatchEvent<Secret>, kube::Error>> + Unpin,
{
    let name = |s: &Secret| s.metadata.name.clone().unwrap_or_default();
    let mut seen = Vec::new();
    while seen.len() < n {
        let event = tokio::time::timeout(Duration::from_secs(10), stream.next()).await;
        let event = event.unwrap_or_else(|_| panic!("no event within 10 s after {seen:?}"));
        seen.push(match event {
            Some(Ok(WatchEvent::Added(s))) => format!("added {}", name(&s)),
            Some(Ok(WatchEvent::Modified(s))) => format!("modified {}", name(&s)),
            Some(Ok(WatchEvent::Deleted(s))) => format!("deleted {}", name(&s)),
            Some(Ok(WatchEvent::Bookmark(b))) => format!("bookmark {}", b.metadata.resource_version),
            Some(Ok(WatchEvent::Error(status))) => format!("error {} {}", status.code, status.reason),
            Some(Err(e)) => panic!("the watch failed after {seen:?}: {e}"),
            None => panic!("the watch ended after {seen:?}"),
        });
    }
    seen
}

#[tokio::test]
async fn a_raw_watch_follows_its_selection_gets_bookmarks_and_410_past_the_history() {
    let server = ApiServer::start_with(ApiServerConfig {
        history_limit: 3,
        bookmark_interval: Duration::from_millis(100),
        ..ApiServerConfig::default()
    })
    .expect("the double starts");
    let secrets: Api<Secret> = Api::namespaced(client(&server), "default");
    let from = server.resource_version().to_string();
    let params = WatchParams::default().labels("app=web").timeout(30);
    let mut web = secrets.watch(&params, &from).await.expect("a watch").boxed();

    let relabel = |app: &str| Patch::Merge(json!({ "metadata": { "labels": { "app": app } } }));
    let pp = PatchParams::default();
    secrets
        .create(&PostParams::default(), &secret("a", "1"))
        .await
        .expect("create a");
    let mut db = secret("b", "2");
    db.metadata.labels = Some([("app".to_string(), "db".to_string())].into());
    secrets
        .create(&PostParams::default(), &db)
        .await
        .expect("create b");
    secrets.patch("b", &pp, &relabel("web")).await.expect("b joins");
    secrets.patch("a", &pp, &relabel("db")).await.expect("a leaves");
    secrets
        .delete("b", &DeleteParams::default())
        .await
        .expect("delete b");
    // bookmarks come every 100 ms, between the changes too
    let mut changes = Vec::new();
    while changes.last().map(String::as_str) != Some("deleted b") {
        let event = next_raw(&mut web, 1).await.remove(0);
        if !event.starts_with("bookmark ") {
            changes.push(event);
        }
    }
    assert_eq!(changes, ["added a", "added b", "deleted a", "deleted b"]);
    let bookmark = format!("bookmark {}", server.resource_version());
    assert_eq!(next_raw(&mut web, 1).await, [bookmark]);

    // five changes since `from`, three kept
    let mut late = secrets.watch(&params, &from).await.expect("a watch").boxed();
    assert_eq!(next_raw(&mut late, 1).await, ["error 410 Expired"]);
}

#[tokio::test]
async fn watch_object_follows_one_secret_by_its_name() {
    let server = ApiServer::start().expect("the double starts");
    let secrets: Api<Secret> = Api::namespaced(client(&server), "default");
    secrets
        .create(&PostParams::default(), &secret("other", "x"))
        .await
        .expect("create other");
    // kube-rs watches one object with fieldSelector=metadata.name=…
    let mut one = kube::runtime::watcher::watch_object(secrets.clone(), "pull").boxed();
    let mut next = async || {
        let event = tokio::time::timeout(Duration::from_secs(10), one.next()).await;
        let event = event.expect("an event within 10 s").expect("the stream goes on");
        event.expect("no watch error").map(|s| token(&s))
    };
    assert_eq!(next().await, None, "no secret named pull yet");
    secrets
        .create(&PostParams::default(), &secret("pull", "one"))
        .await
        .expect("create pull");
    assert_eq!(next().await.as_deref(), Some("one"));
    let change = Patch::Merge(json!({ "data": { "token": ByteString(b"two".to_vec()) } }));
    secrets
        .patch("other", &PatchParams::default(), &change)
        .await
        .expect("patch other");
    secrets
        .patch("pull", &PatchParams::default(), &change)
        .await
        .expect("patch pull");
    assert_eq!(
        next().await.as_deref(),
        Some("two"),
        "the other secret's change is not seen"
    );
    secrets
        .delete("pull", &DeleteParams::default())
        .await
        .expect("delete pull");
    assert_eq!(next().await, None);
}

#[tokio::test]
async fn kube_discovery_finds_a_crd_once_it_is_created_and_loses_it_once_deleted() {
    let server = ApiServer::start().expect("the double starts");
    let client = client(&server);
    let gvk = GroupVersionKind::gvk("extensions.istio.io", "v1alpha1", "WasmPlugin");
    let before = kube::Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    assert!(before.resolve_gvk(&gvk).is_none());
    let secrets = GroupVersionKind::gvk("", "v1", "Secret");
    let (resource, caps) = before.resolve_gvk(&secrets).expect("Secrets are built in");
    assert_eq!(
        (resource.plural.as_str(), &caps.scope),
        ("secrets", &kube::discovery::Scope::Namespaced)
    );

    install_wasmplugin_crd(&client).await;
    let after = kube::Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    let (resource, caps) = after.resolve_gvk(&gvk).expect("the CRD's kind is discovered");
    assert_eq!(
        (resource.plural.as_str(), &caps.scope),
        ("wasmplugins", &kube::discovery::Scope::Namespaced)
    );
    assert!(caps.supports_operation(kube::discovery::verbs::WATCH));

    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.delete("wasmplugins.extensions.istio.io", &DeleteParams::default())
        .await
        .expect("delete the CRD");
    let gone = kube::Discovery::new(client).run().await.expect("discovery");
    assert!(gone.resolve_gvk(&gvk).is_none());
}

#[tokio::test]
async fn a_lease_is_taken_and_a_stale_renewal_conflicts() {
    use k8s_openapi::api::coordination::v1::Lease;
    let server = ApiServer::start().expect("the double starts");
    let leases: Api<Lease> = Api::namespaced(client(&server), "default");
    let lease = |holder: &str| -> Lease {
        serde_json::from_value(json!({
            "metadata": { "name": "wasmesh-status" },
            "spec": { "holderIdentity": holder, "leaseDurationSeconds": 15 },
        }))
        .expect("a Lease")
    };
    let taken = leases
        .create(&PostParams::default(), &lease("a"))
        .await
        .expect("a takes the lease");
    let mut by_b = lease("b");
    by_b.metadata.resource_version = taken.metadata.resource_version.clone();
    let renewed = leases
        .replace("wasmesh-status", &PostParams::default(), &by_b)
        .await
        .expect("b takes over");
    let holder = renewed.spec.and_then(|s| s.holder_identity);
    assert_eq!(holder.as_deref(), Some("b"));
    let mut late = lease("a");
    late.metadata.resource_version = taken.metadata.resource_version;
    let refused = leases
        .replace("wasmesh-status", &PostParams::default(), &late)
        .await;
    assert_eq!(refusal(refused), (409, "Conflict".into()));
}
