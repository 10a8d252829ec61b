use serde_json::{json, Value};

use super::kinds::{Registry, ResourceKind};
use super::meta::rfc3339;
use super::patch::{merge, PatchType};
use super::query::Query;
use super::router::{route, Route};
use super::selector::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::store::{Change, Part, Store};

fn labeled(labels: Value) -> Value {
    json!({ "metadata": { "name": "a", "namespace": "ns", "labels": labels } })
}

#[test]
fn label_selectors_follow_the_servers_syntax() {
    let object = labeled(json!({ "app": "web", "tier": "front" }));
    let cases = [
        ("", true),
        ("app=web", true),
        ("app==web", true),
        ("app=db", false),
        ("app!=db", true),
        ("app=web,tier", true),
        ("app=web,missing", false),
        ("!missing", true),
        ("!app", false),
        ("tier in (front, back)", true),
        ("tier in (back)", false),
        ("tier notin (back),app in (web)", true),
        ("missing notin (x)", true),
    ];
    for (selector, expected) in cases {
        let parsed = LabelSelector::parse(selector).unwrap_or_else(|e| panic!("{selector}: {e}"));
        assert_eq!(parsed.matches(&object), expected, "{selector}");
    }
    assert!(LabelSelector::parse("tier in front").is_err());
}

#[test]
fn field_selectors_take_the_name_and_namespace_only() {
    let object = labeled(json!({}));
    assert!(FieldSelector::parse("metadata.name=a", &[])
        .unwrap()
        .matches(&object));
    assert!(!FieldSelector::parse("metadata.name=b", &[])
        .unwrap()
        .matches(&object));
    assert!(
        FieldSelector::parse("metadata.name!=b,metadata.namespace==ns", &[])
            .unwrap()
            .matches(&object)
    );
    let refused = FieldSelector::parse("spec.phase=AUTHN", &[]).unwrap_err();
    assert_eq!(
        refused,
        ApiError::BadRequest("field label not supported: spec.phase".to_string())
    );
}

#[test]
fn events_are_selected_by_the_object_they_regard() {
    let store = Store::new(10);
    let events = kind(&store, "", "v1", "events");
    let fields = events.selectable_fields();
    let event = json!({
        "metadata": { "name": "plugin.1", "namespace": "ns" },
        "involvedObject": { "kind": "WasmPlugin", "name": "plugin" },
        "reason": "DigestMismatch",
        "source": { "component": "wasmesh" },
    });
    let select = |s: &str| FieldSelector::parse(s, &fields).unwrap().matches(&event);
    assert!(select(
        "involvedObject.name=plugin,involvedObject.kind=WasmPlugin"
    ));
    assert!(!select("involvedObject.name=other"));
    assert!(select("reason=DigestMismatch,source=wasmesh"));
    // a WasmPlugin indexes none of these
    let plugins = Registry::default();
    assert!(plugins
        .find("", "v1", "secrets")
        .unwrap()
        .selectable_fields()
        .is_empty());
}

#[test]
fn objects_load_and_change_without_http() {
    let mut store = Store::new(10);
    let created = super::load::create(
        &mut store,
        json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "s", "namespace": "default" } }),
    )
    .unwrap();
    assert_eq!(created["metadata"]["resourceVersion"], "4");
    let patched = super::load::merge_patch(
        &mut store,
        &json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "s", "namespace": "default", "resourceVersion": "1" }, "data": { "k": "dg==" } }),
    )
    .unwrap();
    assert_eq!(patched["data"]["k"], "dg==");
    assert_eq!(patched["metadata"]["resourceVersion"], "5");
    let unknown = super::load::create(&mut store, json!({ "apiVersion": "x.io/v1", "kind": "Nope" }));
    assert!(matches!(unknown, Err(ApiError::BadRequest(_))), "{unknown:?}");
}

#[test]
fn a_merge_patch_merges_maps_removes_nulls_and_replaces_the_rest() {
    let mut target = json!({ "a": { "b": 1, "c": 2 }, "list": [1, 2], "keep": true });
    merge(&mut target, &json!({ "a": { "b": null, "d": 3 }, "list": [3] }));
    assert_eq!(
        target,
        json!({ "a": { "c": 2, "d": 3 }, "list": [3], "keep": true })
    );
    assert_eq!(
        PatchType::from_content_type("application/merge-patch+json; charset=utf-8"),
        Ok(PatchType::Merge)
    );
    assert_eq!(
        PatchType::from_content_type("application/json-patch+json"),
        Err(ApiError::UnsupportedMediaType)
    );
}

#[test]
fn queries_are_percent_decoded() {
    let q = Query::parse(Some("labelSelector=app%3Dweb%2Ctier&watch=1&empty="));
    assert_eq!(q.get("labelSelector"), Some("app=web,tier"));
    assert!(q.flag("watch"));
    assert_eq!(q.get("empty"), None);
}

#[test]
fn timestamps_are_rfc3339_in_utc() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(1_798_761_599), "2026-12-31T23:59:59Z");
}

fn crd() -> Value {
    json!({
        "metadata": { "name": "wasmplugins.extensions.istio.io" },
        "spec": {
            "group": "extensions.istio.io",
            "scope": "Namespaced",
            "names": { "plural": "wasmplugins", "kind": "WasmPlugin" },
            "versions": [{ "name": "v1alpha1", "served": true, "storage": true, "subresources": { "status": {} } }],
        },
    })
}

fn kind(store: &Store, group: &str, version: &str, plural: &str) -> ResourceKind {
    store
        .registry()
        .find(group, version, plural)
        .cloned()
        .unwrap_or_else(|| panic!("{group}/{version} {plural} served"))
}

#[test]
fn routes_name_namespaced_and_cluster_scoped_paths() {
    let registry = Registry::default();
    let Route::Resource(t) = route(&registry, "/api/v1/namespaces/default/secrets/s") else {
        panic!("a secret")
    };
    assert_eq!(
        (t.kind.plural.as_str(), t.namespace.as_deref(), t.name.as_deref()),
        ("secrets", Some("default"), Some("s"))
    );
    let Route::Resource(t) = route(&registry, "/api/v1/secrets") else {
        panic!("all secrets")
    };
    assert_eq!((t.namespace, t.name), (None, None));
    let Route::Resource(t) = route(&registry, "/api/v1/namespaces/default/status") else {
        panic!("a status")
    };
    assert_eq!(
        (t.kind.plural.as_str(), t.name.as_deref(), t.part),
        ("namespaces", Some("default"), Part::Status)
    );
    assert_eq!(
        route(&registry, "/api/v1/secrets/s"),
        Route::NotFound,
        "a namespaced object needs its namespace"
    );
    assert_eq!(
        route(&registry, "/api/v1/namespaces/default/secrets/s/status"),
        Route::NotFound
    );
    assert_eq!(
        route(&registry, "/apis/extensions.istio.io/v1alpha1/wasmplugins"),
        Route::NotFound
    );
    assert_eq!(
        route(&registry, "/apis/apiextensions.k8s.io"),
        Route::Group("apiextensions.k8s.io".to_string())
    );
}

#[test]
fn a_crd_serves_its_kind_until_it_is_deleted_with_its_objects() {
    let mut store = Store::new(100);
    let crds = kind(&store, "apiextensions.k8s.io", "v1", "customresourcedefinitions");
    let created = store.create(&crds, "", crd()).unwrap();
    assert_eq!(created["status"]["conditions"][1]["type"], "Established");
    let plugins = kind(&store, "extensions.istio.io", "v1alpha1", "wasmplugins");
    assert!(plugins.namespaced && plugins.status_subresource);
    store
        .create(
            &plugins,
            "default",
            json!({ "metadata": { "name": "p" }, "spec": {} }),
        )
        .unwrap();
    let mut renamed = store.get(&crds, "", "wasmplugins.extensions.istio.io").unwrap();
    renamed["spec"]["group"] = json!("other.io");
    let refused = store
        .update(&crds, "", "wasmplugins.extensions.istio.io", renamed, Part::Main)
        .unwrap_err();
    assert_eq!(refused.code_and_reason(), (422, "Invalid"));
    store
        .delete(&crds, "", "wasmplugins.extensions.istio.io")
        .unwrap();
    assert!(store
        .registry()
        .find("extensions.istio.io", "v1alpha1", "wasmplugins")
        .is_none());
    let after = store.events_after(0).unwrap();
    let deleted: Vec<&str> = after
        .iter()
        .filter(|e| e.change == Change::Deleted)
        .map(|e| e.object["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(deleted, ["p", "wasmplugins.extensions.istio.io"]);
}

#[test]
fn writes_follow_the_servers_rules() {
    let mut store = Store::new(100);
    let crds = kind(&store, "apiextensions.k8s.io", "v1", "customresourcedefinitions");
    store.create(&crds, "", crd()).unwrap();
    let plugins = kind(&store, "extensions.istio.io", "v1alpha1", "wasmplugins");
    let object = json!({ "metadata": { "name": "p" }, "spec": { "phase": "AUTHN" }, "status": { "x": 1 } });

    let created = store.create(&plugins, "default", object.clone()).unwrap();
    assert_eq!(created["metadata"]["generation"], 1);
    assert!(
        created.get("status").is_none(),
        "a create sets no status of a kind with the subresource"
    );
    assert!(matches!(
        store.create(&plugins, "default", object.clone()),
        Err(ApiError::AlreadyExists { .. })
    ));
    assert!(matches!(
        store.create(&plugins, "nowhere", object.clone()),
        Err(ApiError::NotFound { .. })
    ));
    let nameless = store
        .create(&plugins, "default", json!({ "metadata": {} }))
        .unwrap_err();
    assert_eq!(nameless.code_and_reason(), (422, "Invalid"));

    // a status write changes only status, and not the generation
    let mut with_status = created.clone();
    with_status["status"] = json!({ "ready": true });
    with_status["spec"] = json!({ "phase": "AUTHZ" });
    let status = store
        .update(&plugins, "default", "p", with_status, Part::Status)
        .unwrap();
    assert_eq!(
        (
            status["spec"]["phase"].as_str(),
            status["metadata"]["generation"].as_i64()
        ),
        (Some("AUTHN"), Some(1))
    );
    assert_eq!(status["status"], json!({ "ready": true }));

    // a stale resourceVersion conflicts
    let stale = store
        .update(&plugins, "default", "p", created.clone(), Part::Main)
        .unwrap_err();
    assert_eq!(stale.code_and_reason(), (409, "Conflict"));

    // the main path keeps the status and bumps the generation for a spec change only
    let mut changed = status.clone();
    changed["spec"]["phase"] = json!("STATS");
    changed["status"] = json!({ "ready": false });
    let updated = store
        .update(&plugins, "default", "p", changed, Part::Main)
        .unwrap();
    assert_eq!(
        (updated["metadata"]["generation"].as_i64(), &updated["status"]),
        (Some(2), &json!({ "ready": true }))
    );
    let mut labeled = updated.clone();
    labeled["metadata"]["labels"] = json!({ "a": "b" });
    let relabeled = store
        .update(&plugins, "default", "p", labeled, Part::Main)
        .unwrap();
    assert_eq!(relabeled["metadata"]["generation"], 2);

    // an update that changes nothing makes no version and no event
    let rv = store.resource_version();
    let same = store
        .update(&plugins, "default", "p", relabeled.clone(), Part::Main)
        .unwrap();
    assert_eq!((same, store.resource_version()), (relabeled, rv));
}

#[test]
fn a_secrets_string_data_becomes_data() {
    let mut store = Store::new(100);
    let secrets = kind(&store, "", "v1", "secrets");
    let secret =
        json!({ "metadata": { "name": "s" }, "stringData": { "token": "one" }, "data": { "old": "eA==" } });
    let created = store.create(&secrets, "default", secret).unwrap();
    assert_eq!(created["data"], json!({ "old": "eA==", "token": "b25l" }));
    assert_eq!(
        (created.get("stringData"), created["type"].as_str()),
        (None, Some("Opaque"))
    );
}

#[test]
fn a_namespace_always_carries_its_name_label() {
    let mut store = Store::new(100);
    let namespaces = kind(&store, "", "v1", "namespaces");
    let created = store
        .create(
            &namespaces,
            "",
            json!({ "metadata": { "name": "web", "labels": { "team": "a" } } }),
        )
        .unwrap();
    let want = json!({ "team": "a", "kubernetes.io/metadata.name": "web" });
    assert_eq!(created["metadata"]["labels"], want);
    let unlabelled = json!({ "metadata": { "name": "web" } });
    let updated = store
        .update(&namespaces, "", "web", unlabelled, Part::Main)
        .unwrap();
    assert_eq!(
        updated["metadata"]["labels"],
        json!({ "kubernetes.io/metadata.name": "web" })
    );
}

#[test]
fn history_past_its_limit_expires_old_versions() {
    let mut store = Store::new(2);
    let secrets = kind(&store, "", "v1", "secrets");
    let start = store.resource_version();
    for name in ["a", "b", "c"] {
        store
            .create(&secrets, "default", json!({ "metadata": { "name": name } }))
            .unwrap();
    }
    assert_eq!(
        store.events_after(start).unwrap_err().code_and_reason(),
        (410, "Expired")
    );
    assert_eq!(store.events_after(start + 1).unwrap().len(), 2);
    store.expire_history();
    let now = store.resource_version();
    assert!(store.events_after(now - 1).is_err());
    assert!(store.events_after(now).unwrap().is_empty());
}

#[test]
fn a_dry_run_answers_as_the_write_would_and_leaves_everything_as_it_was() {
    let mut store = Store::new(100);
    let secrets = kind(&store, "", "v1", "secrets");
    let changes = store.subscribe();
    let rv = store.resource_version();
    let created = store.dry_run(|s| s.create(&secrets, "default", json!({ "metadata": { "name": "s" } })));
    assert_eq!(created.unwrap()["metadata"]["name"], "s");
    assert!(store.get(&secrets, "default", "s").is_err());
    assert_eq!(store.resource_version(), rv);
    assert!(store.events_after(rv).unwrap().is_empty());
    assert!(!changes.has_changed().unwrap(), "no watch is told of a dry run");
}
