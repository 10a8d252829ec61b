use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, PostParams};
use kube::{Client, Config};
use serde_json::json;
use wasmesh_testkit::apiserver::ApiServer;

use super::*;

/// What the sync would hear, in words: `init`, `object pull`, `done`, `apply pull`, …
async fn heard(rx: &mut mpsc::UnboundedReceiver<Seen>, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    while out.len() < n {
        let seen = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap_or_else(|_| panic!("only {out:?} within 10 s"))
            .expect("the follower runs");
        let name = |o: &DynamicObject| o.metadata.name.clone().unwrap_or_default();
        out.push(match seen.item {
            Ok(Event::Init) => "init".to_string(),
            Ok(Event::InitApply(o)) => format!("object {}", name(&o)),
            Ok(Event::InitDone) => "done".to_string(),
            Ok(Event::Apply(o)) => format!("apply {}", name(&o)),
            Ok(Event::Delete(o)) => format!("delete {}", name(&o)),
            Err(e) => format!("error {e}"),
        });
    }
    out
}

fn secret(name: &str) -> Secret {
    serde_json::from_value(json!({"metadata": {"name": name}, "stringData": {"k": "v"}})).unwrap()
}

#[tokio::test]
async fn a_secret_is_followed_by_name_through_creation_a_closed_watch_and_deletion_without_a_list() {
    let server = ApiServer::start().unwrap();
    let client = Client::try_from(Config::new(server.url().parse().unwrap())).unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    let stream = StreamId::Secret {
        namespace: "default".into(),
        name: "pull".into(),
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _following = crate::follow::watch(&client, stream, tx);

    // not there yet: an empty "list", then it appears through the watch
    assert_eq!(heard(&mut rx, 2).await, ["init", "done"]);
    secrets
        .create(&PostParams::default(), &secret("other"))
        .await
        .unwrap();
    secrets
        .create(&PostParams::default(), &secret("pull"))
        .await
        .unwrap();
    assert_eq!(heard(&mut rx, 1).await, ["apply pull"], "only the named Secret");

    // the server ends every watch: the Secret is read again, then watched again
    server.restart();
    assert_eq!(heard(&mut rx, 3).await, ["init", "object pull", "done"]);
    secrets.delete("pull", &DeleteParams::default()).await.unwrap();
    assert_eq!(heard(&mut rx, 1).await, ["delete pull"]);

    assert_eq!(server.requests_on("list", "secrets"), 0, "a Secret was listed");
    assert!(server.requests_on("get", "secrets") >= 2);
    assert!(server.requests_on("watch", "secrets") >= 2);
}
