//! Fetching `oci://` modules from a real registry (Debian's `docker-registry`) on loopback:
//! every image format, pushed by `push_module` and independently by `skopeo`, by tag, by
//! digest and through an image index; the pull policy; the cache across a registry
//! shutdown; digest checks; broken blobs.

use crate::support;

use support::{
    fetch::{no_progress, options, push_opts, request},
    module,
    registry::Registry,
    sha256sum,
    skopeo::Layout,
};
use wasmesh_fetch::{push_module, FetchError, Fetcher, ModuleRequest, PullPolicy, PushFormat};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_pushed_by_wasmesh_is_pulled_by_tag_and_by_digest() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(options(dir.path())).unwrap();
    for (i, format) in [
        PushFormat::Wasm,
        PushFormat::WasmSingleLayer,
        PushFormat::OciImage,
        PushFormat::DockerImage,
    ]
    .into_iter()
    .enumerate()
    {
        let m = module(&format!("format-{i}"));
        let url = registry.url(&format!("plugins/f{i}:v1"));
        let pushed = push_module(&url, &m, &push_opts(format), no_progress())
            .await
            .unwrap();
        // The registry agrees on the digest we report.
        let (content_type, _, digest) = registry.raw_manifest(&format!("plugins/f{i}"), "v1", None);
        assert_eq!(pushed.manifest_digest, digest, "{format:?}");
        let expected_type = if format == PushFormat::DockerImage {
            "application/vnd.docker.distribution.manifest.v2+json"
        } else {
            "application/vnd.oci.image.manifest.v1+json"
        };
        assert_eq!(content_type, expected_type);

        let by_tag = fetcher.fetch(&request(url)).await.unwrap();
        assert_eq!(by_tag.bytes[..], m[..], "{format:?}");
        assert_eq!(by_tag.manifest_digest.as_deref(), Some(digest.as_str()));
        let by_digest = fetcher
            .fetch(&request(format!("oci://{}", pushed.pinned_reference)))
            .await
            .unwrap();
        assert_eq!(by_digest.bytes[..], m[..], "{format:?}");
        assert_eq!(by_digest.sha256, sha256sum(&m));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_copied_by_skopeo_is_pulled() {
    let registry = Registry::start();
    let mut layout = Layout::new();
    let (a, b, c, d) = (
        module("two-layers"),
        module("one-layer"),
        module("oci-image"),
        module("docker-image"),
    );
    layout.wasm_artifact("two", &a, true);
    layout.wasm_artifact("one", &b, false);
    layout.image_with_plugin("oci", &c);
    layout.image_with_plugin("docker", &d);
    layout.copy_to("two", &format!("{}/skopeo/two:v1", registry.addr), false, None);
    layout.copy_to("one", &format!("{}/skopeo/one:v1", registry.addr), false, None);
    layout.copy_to("oci", &format!("{}/skopeo/oci:v1", registry.addr), false, None);
    layout.copy_to(
        "docker",
        &format!("{}/skopeo/docker:v1", registry.addr),
        true,
        None,
    );
    let (docker_type, _, _) = registry.raw_manifest("skopeo/docker", "v1", None);
    assert_eq!(
        docker_type,
        "application/vnd.docker.distribution.manifest.v2+json"
    );

    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(options(dir.path())).unwrap();
    for (repo, m) in [("two", &a), ("one", &b), ("oci", &c), ("docker", &d)] {
        let (_, _, digest) = registry.raw_manifest(&format!("skopeo/{repo}"), "v1", None);
        let mut req = request(registry.url(&format!("skopeo/{repo}:v1")));
        req.sha256 = Some(digest.clone());
        let got = fetcher
            .fetch(&req)
            .await
            .unwrap_or_else(|e| panic!("{repo}: {e}"));
        assert_eq!(got.bytes[..], m[..], "{repo}");
        let pinned = registry.url(&format!("skopeo/{repo}@{digest}"));
        assert_eq!(
            fetcher.fetch(&request(pinned)).await.unwrap().bytes[..],
            m[..],
            "{repo}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_index_leads_to_its_module() {
    let registry = Registry::start();
    let mut layout = Layout::new();
    let m = module("indexed");
    layout.wasm_artifact("wasi", &m, true);
    let child = layout.descriptor("wasi");
    layout.index(
        "multi",
        &[(
            "wasi",
            serde_json::json!({"os": "wasip1", "architecture": "wasm"}),
        )],
    );
    layout.copy_with(
        "multi",
        &format!("{}/idx/p:v1", registry.addr),
        false,
        None,
        &["--all"],
    );
    let (content_type, _, _) =
        registry.raw_manifest_accepting("idx/p", "v1", "application/vnd.oci.image.index.v1+json");
    assert_eq!(content_type, "application/vnd.oci.image.index.v1+json");

    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(options(dir.path())).unwrap();
    let got = fetcher.fetch(&request(registry.url("idx/p:v1"))).await.unwrap();
    assert_eq!(got.bytes[..], m[..]);
    assert_eq!(
        got.manifest_digest.as_deref(),
        child["digest"].as_str(),
        "the digest of the module's manifest"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_is_always_pulled_again_when_the_resource_changes() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(options(dir.path())).unwrap();
    let (old, new) = (module("old"), module("new"));
    let opts = push_opts(PushFormat::Wasm);
    push_module(&registry.url("p:latest"), &old, &opts, no_progress())
        .await
        .unwrap();
    push_module(&registry.url("p:v1"), &old, &opts, no_progress())
        .await
        .unwrap();
    let at = |url: String, version: &str, policy| ModuleRequest {
        resource_version: version.into(),
        pull_policy: policy,
        ..request(url)
    };
    assert_eq!(
        fetcher
            .fetch(&at(registry.url("p:latest"), "1", PullPolicy::Unspecified))
            .await
            .unwrap()
            .bytes[..],
        old[..]
    );
    assert_eq!(
        fetcher
            .fetch(&at(registry.url("p:v1"), "1", PullPolicy::Unspecified))
            .await
            .unwrap()
            .bytes[..],
        old[..]
    );

    push_module(&registry.url("p:latest"), &new, &opts, no_progress())
        .await
        .unwrap();
    push_module(&registry.url("p:v1"), &new, &opts, no_progress())
        .await
        .unwrap();
    // Same resource version: the cached module stays, even for :latest (Istio re-pulls on change only).
    let same = fetcher
        .fetch(&at(registry.url("p:latest"), "1", PullPolicy::Unspecified))
        .await
        .unwrap();
    assert!(same.from_cache && same.bytes[..] == old[..]);
    // The plugin changed: :latest (Always by default) is pulled again, v1 (IfNotPresent) is not.
    let latest = fetcher
        .fetch(&at(registry.url("p:latest"), "2", PullPolicy::Unspecified))
        .await
        .unwrap();
    assert!(!latest.from_cache && latest.bytes[..] == new[..]);
    let v1 = fetcher
        .fetch(&at(registry.url("p:v1"), "2", PullPolicy::Unspecified))
        .await
        .unwrap();
    assert!(v1.from_cache && v1.bytes[..] == old[..]);
    // An explicit Always on v1 pulls again on change.
    let v1 = fetcher
        .fetch(&at(registry.url("p:v1"), "3", PullPolicy::Always))
        .await
        .unwrap();
    assert!(!v1.from_cache && v1.bytes[..] == new[..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_outlives_the_registry_and_a_restart() {
    let mut registry = Registry::start();
    let m = module("durable");
    let url = registry.url("p:v1");
    push_module(&url, &m, &push_opts(PushFormat::OciImage), no_progress())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    {
        let fetcher = Fetcher::new(options(dir.path())).unwrap();
        assert!(!fetcher.fetch(&request(url.clone())).await.unwrap().from_cache);
    }
    registry.stop();
    let fetcher = Fetcher::new(options(dir.path())).unwrap();
    let got = fetcher.fetch(&request(url.clone())).await.unwrap();
    assert!(got.from_cache && got.bytes[..] == m[..]);
    let err = fetcher.fetch(&request(registry.url("p:v2"))).await.unwrap_err();
    assert!(matches!(err, FetchError::Registry { .. }), "{err}");
    assert!(err.to_string().contains(&registry.url("p:v2")), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digests_that_disagree_load_nothing_and_say_both() {
    let registry = Registry::start();
    let m = module("pinned");
    let url = registry.url("p:v1");
    let pushed = push_module(&url, &m, &push_opts(PushFormat::Wasm), no_progress())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(options(dir.path())).unwrap();
    let wrong = "e".repeat(64);

    let mut req = request(url.clone());
    req.sha256 = Some(wrong.clone());
    let err = fetcher.fetch(&req).await.unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "module {url}: image manifest digest mismatch: expected sha256:{wrong}, got {}",
            pushed.manifest_digest
        )
    );
    // The sha256 of the module bytes is not the manifest digest (as in Istio).
    req.sha256 = Some(sha256sum(&m));
    assert!(fetcher.fetch(&req).await.is_err());

    let mut req = request(format!("oci://{}", pushed.pinned_reference));
    req.sha256 = Some(wrong.clone());
    let err = fetcher.fetch(&req).await.unwrap_err().to_string();
    assert!(
        err.contains("sha256 field and the url's @sha256 digest mismatch"),
        "{err}"
    );
    assert_eq!(
        fetcher
            .metrics()
            .snapshot()
            .remote_fetches
            .get("checksum_mismatched"),
        Some(&2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_and_non_wasm_blobs_are_refused() {
    let registry = Registry::start();
    let mut layout = Layout::new();
    let m = module("whole-module");
    layout.wasm_artifact("truncated", &m[..m.len() - 3], true);
    layout.wasm_artifact("text", b"#!/bin/sh\necho not a module\n", true);
    layout.copy_to(
        "truncated",
        &format!("{}/bad/truncated:v1", registry.addr),
        false,
        None,
    );
    layout.copy_to("text", &format!("{}/bad/text:v1", registry.addr), false, None);
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(options(dir.path())).unwrap();
    let err = fetcher
        .fetch(&request(registry.url("bad/truncated:v1")))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not a valid Wasm module: truncated: section 0"),
        "{err}"
    );
    let err = fetcher
        .fetch(&request(registry.url("bad/text:v1")))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not start with the Wasm magic"), "{err}");
    assert_eq!(fetcher.metrics().snapshot().cache_entries, 0);
}
