//! The store through a real directory: bad documents are skipped, the last good version
//! stays, removals are removals, and the watcher publishes changes quickly.

use crate::*;
use std::{fs, path::Path, time::Duration};
use wasmesh_api::{Kind, Resource, ResourceKey};

const PROMPTLY: Duration = Duration::from_secs(2);

fn plugin(name: &str, priority: &str) -> String {
    format!(
        "---\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {{name: {name}, namespace: ns}}\nspec: {{url: \"file:///{name}.wasm\", priority: {priority}}}\n"
    )
}

fn key(name: &str) -> ResourceKey {
    ResourceKey::new(Kind::WasmPlugin, "ns", name)
}

fn priority(store: &Store, name: &str) -> Option<i64> {
    match store.resources().get(&key(name))? {
        Resource::WasmPlugin(p) => p.spec.priority,
        _ => None,
    }
}

fn write(dir: &Path, file: &str, text: &str) {
    fs::write(dir.join(file), text).unwrap();
}

#[test]
fn a_bad_document_is_skipped_and_the_rest_applies() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.yaml",
        &format!("{}{}", plugin("a", "1"), plugin("b", "\"high\"")),
    );
    write(dir.path(), "c.json", "{not json");
    write(dir.path(), "notes.txt", "ignored: not a resource file");
    write(dir.path(), ".hidden.yaml", "ignored: hidden");
    let mut store = Store::new();
    let (changed, diagnostics) = DirSource::new(dir.path()).sync(&mut store).unwrap();
    assert!(changed);
    assert_eq!(store.resources().len(), 1);
    assert_eq!(priority(&store, "a"), Some(1));
    let text: Vec<String> = diagnostics.iter().map(|d| d.to_string()).collect();
    assert_eq!(text.len(), 2, "{text:?}");
    assert!(
        text[0].contains("a.yaml: document 2") && text[0].contains("spec.priority"),
        "{}",
        text[0]
    );
    assert!(
        text[1].contains("c.json: document 1") && text[1].contains("syntax error"),
        "{}",
        text[1]
    );
}

#[test]
fn the_last_good_version_stays_when_an_edit_breaks_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut source = DirSource::new(dir.path());
    let mut store = Store::new();
    write(
        dir.path(),
        "p.yaml",
        &format!("{}{}", plugin("a", "1"), plugin("b", "2")),
    );
    source.sync(&mut store).unwrap();
    let generation = store.generation();

    // a breaks (but still says who it is), b changes.
    write(
        dir.path(),
        "p.yaml",
        &format!("{}{}", plugin("a", "\"x\""), plugin("b", "3")),
    );
    let (changed, diagnostics) = source.sync(&mut store).unwrap();
    assert!(changed);
    assert_eq!(priority(&store, "a"), Some(1), "a keeps its last good version");
    assert_eq!(priority(&store, "b"), Some(3));
    assert!(diagnostics[0]
        .to_string()
        .contains("the last good version of WasmPlugin ns/a stays in force"));
    assert!(store.generation() > generation);

    // A document too broken to name itself keeps everything its file held.
    write(
        dir.path(),
        "p.yaml",
        &format!("{}---\nkind: [\n", plugin("b", "3")),
    );
    source.sync(&mut store).unwrap();
    assert_eq!(priority(&store, "a"), Some(1));

    // Fixed: a is back to what the file says; nothing changes when nothing changed.
    write(
        dir.path(),
        "p.yaml",
        &format!("{}{}", plugin("a", "5"), plugin("b", "3")),
    );
    source.sync(&mut store).unwrap();
    assert_eq!(priority(&store, "a"), Some(5));
    let generation = store.generation();
    let (changed, diagnostics) = source.sync(&mut store).unwrap();
    assert!(!changed && diagnostics.is_empty());
    assert_eq!(store.generation(), generation);
}

#[test]
fn removed_documents_and_files_remove_their_resources() {
    let dir = tempfile::tempdir().unwrap();
    let mut source = DirSource::new(dir.path());
    let mut store = Store::new();
    fs::create_dir(dir.path().join("sub")).unwrap();
    write(
        dir.path(),
        "sub/p.yaml",
        &format!("{}{}", plugin("a", "1"), plugin("b", "2")),
    );
    write(dir.path(), "q.yml", &plugin("c", "1"));
    source.sync(&mut store).unwrap();
    assert_eq!(store.resources().len(), 3);
    write(dir.path(), "sub/p.yaml", &plugin("a", "1"));
    fs::remove_file(dir.path().join("q.yml")).unwrap();
    source.sync(&mut store).unwrap();
    let keys: Vec<String> = store.resources().keys().map(|k| k.name.clone()).collect();
    assert_eq!(keys, ["a"]);
}

#[test]
fn the_first_of_two_definitions_wins_whatever_the_order_of_reading() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "b.yaml", &plugin("a", "2"));
    write(dir.path(), "a.yaml", &plugin("a", "1"));
    let mut store = Store::new();
    let (_, diagnostics) = DirSource::new(dir.path()).sync(&mut store).unwrap();
    assert_eq!(priority(&store, "a"), Some(1));
    let text = diagnostics[0].to_string();
    assert!(
        text.contains("b.yaml: document 1") && text.contains("already defined at") && text.contains("a.yaml"),
        "{text}"
    );
}

#[test]
fn a_missing_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_dir(&dir.path().join("nope")).unwrap_err();
    assert!(
        err.to_string().starts_with("cannot read config directory"),
        "{err}"
    );
}

#[tokio::test]
async fn the_watcher_publishes_changes_promptly() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "p.yaml", &plugin("a", "1"));
    let watcher = watch_dir(dir.path()).unwrap();
    let mut rx = watcher.subscribe();
    let first = watcher.current();
    assert_eq!(first.resources.len(), 1);

    let started = std::time::Instant::now();
    write(dir.path(), "q.yaml", &plugin("b", "1"));
    // The target is well under a second (see examples/reload_speed.rs); the bound here leaves
    // room for a loaded CI machine.
    tokio::time::timeout(PROMPTLY, async {
        loop {
            rx.changed().await.unwrap();
            if rx.borrow().resources.len() == 2 {
                break;
            }
        }
    })
    .await
    .expect("a new snapshot promptly");
    let second = watcher.current();
    assert!(second.generation > first.generation);
    eprintln!("change seen after {:?}", started.elapsed());

    // A broken edit: a new snapshot with the diagnostic, and b still in force.
    write(dir.path(), "q.yaml", &plugin("b", "\"x\""));
    tokio::time::timeout(PROMPTLY, async {
        loop {
            rx.changed().await.unwrap();
            if !rx.borrow().diagnostics.is_empty() {
                break;
            }
        }
    })
    .await
    .expect("the diagnostic promptly");
    assert_eq!(watcher.current().resources.len(), 2);
    assert!(watcher.current().resolve("ns", "none", "istio-system").is_none());
}

#[test]
fn the_store_counts_only_real_changes() {
    let docs: Vec<_> = wasmesh_api::parse("p.yaml", &plugin("a", "1"), wasmesh_api::Format::Yaml)
        .into_iter()
        .map(|d| d.unwrap())
        .collect();
    let mut store = Store::new();
    assert!(store.apply(Event::Apply(docs[0].clone())));
    assert_eq!(store.generation(), 1);
    assert!(
        !store.apply(Event::Apply(docs[0].clone())),
        "the same resource again is no change"
    );
    assert_eq!(store.generation(), 1);
    assert_eq!(store.origin(&key("a")).unwrap().file_name(), Some("p.yaml"));
    assert!(store.apply(Event::Delete(key("a"))));
    assert!(
        !store.apply(Event::Delete(key("a"))),
        "deleting what is not there is no change"
    );
    assert_eq!(store.generation(), 2);
    assert!(store.resources().is_empty() && store.origin(&key("a")).is_none());
}

#[test]
fn apply_moves_a_resource_out_of_a_file_of_the_other_format() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.json",
        r#"{"apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin",
 "metadata": {"name": "a", "namespace": "ns"}, "spec": {"url": "file:///a.wasm"}}"#,
    );
    let edit = plan_apply(
        dir.path(),
        "in.yaml",
        &plugin("a", "7"),
        wasmesh_api::Format::Yaml,
    )
    .unwrap();
    edit.write().unwrap();
    assert!(!dir.path().join("a.json").exists(), "the JSON file held only a");
    let mut store = Store::new();
    DirSource::new(dir.path()).sync(&mut store).unwrap();
    assert_eq!(priority(&store, "a"), Some(7));
    assert!(matches!(&edit.outcomes[0].1, Outcome::Created(p) if p.ends_with("wasmplugin-ns-a.yaml")));
}

#[test]
fn items_of_a_list_are_loaded_but_not_edited_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let list = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: extensions.istio.io/v1alpha1, kind: WasmPlugin, metadata: {name: a, namespace: ns}, spec: {url: x}}\n- {apiVersion: extensions.istio.io/v1alpha1, kind: WasmPlugin, metadata: {name: b, namespace: ns}, spec: {url: y}}\n";
    write(dir.path(), "list.yaml", list);
    let mut store = Store::new();
    DirSource::new(dir.path()).sync(&mut store).unwrap();
    assert_eq!(store.resources().len(), 2);

    let err = plan_apply(
        dir.path(),
        "in.yaml",
        &plugin("a", "3"),
        wasmesh_api::Format::Yaml,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("WasmPlugin ns/a is an item of a List in"),
        "{err}"
    );
    let err = plan_delete(
        dir.path(),
        "in.yaml",
        &plugin("b", "3"),
        wasmesh_api::Format::Yaml,
    )
    .unwrap_err();
    assert!(matches!(err, EditError::InList { .. }), "{err}");
    assert_eq!(fs::read_to_string(dir.path().join("list.yaml")).unwrap(), list);

    let err = plan_apply(dir.path(), "in.yaml", list, wasmesh_api::Format::Yaml).unwrap_err();
    assert!(matches!(err, EditError::InputList(_)), "{err}");
    // Deleting by a list only needs the names.
    let other = tempfile::tempdir().unwrap();
    write(
        other.path(),
        "p.yaml",
        &format!("{}{}{}", plugin("a", "1"), plugin("b", "1"), plugin("c", "1")),
    );
    let edit = plan_delete(other.path(), "list.yaml", list, wasmesh_api::Format::Yaml).unwrap();
    edit.write().unwrap();
    assert_eq!(
        edit.outcomes
            .iter()
            .filter(|(_, o)| *o == Outcome::Deleted)
            .count(),
        2
    );
    let mut store = Store::new();
    DirSource::new(other.path()).sync(&mut store).unwrap();
    let left: Vec<&str> = store.resources().keys().map(|k| k.name.as_str()).collect();
    assert_eq!(left, ["c"]);
}

#[test]
fn apply_in_place_says_unchanged_or_configured() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("# kept\n{}{}", plugin("a", "1"), plugin("b", "2"));
    write(dir.path(), "p.yaml", &text);
    let path = dir.path().join("p.yaml");
    let apply = |input: &str| plan_apply(dir.path(), "in.yaml", input, wasmesh_api::Format::Yaml).unwrap();

    let same = apply(&plugin("b", "2"));
    assert_eq!(same.outcomes, [(key("b"), Outcome::Unchanged(path.clone()))]);
    assert!(same.files.is_empty());

    let changed = apply(&plugin("b", "5"));
    assert_eq!(changed.outcomes, [(key("b"), Outcome::Configured(path.clone()))]);
    changed.write().unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        format!("# kept\n{}{}", plugin("a", "1"), plugin("b", "5"))
    );
}
