use super::*;
use std::os::unix::fs::MetadataExt;

fn entry(url: &str, bytes: &[u8], last_used: u64) -> Entry {
    Entry {
        url: url.into(),
        sha256: sha256_hex(bytes),
        manifest_digest: None,
        size: bytes.len() as u64,
        resource: "ns.p@1".into(),
        fetched_at: last_used,
        last_used,
        signature: None,
    }
}

#[test]
fn entries_survive_reopening_and_corruption_is_a_miss() {
    let dir = tempfile::tempdir().unwrap();
    let cache = ModuleCache::open(dir.path(), Duration::from_secs(3600), 1 << 20).unwrap();
    let module = b"\0asm\x01\0\0\0".to_vec();
    cache
        .insert(
            &key_of("http://a/x.wasm"),
            entry("http://a/x.wasm", &module, now_secs()),
            &module,
        )
        .unwrap();
    drop(cache);

    let cache = ModuleCache::open(dir.path(), Duration::from_secs(3600), 1 << 20).unwrap();
    let (found, bytes) = cache.lookup(&key_of("http://a/x.wasm")).unwrap();
    assert_eq!(&bytes[..], &module[..]);
    assert_eq!(found.url, "http://a/x.wasm");
    assert!(cache.lookup(&key_of("http://a/other.wasm")).is_none());

    std::fs::write(
        dir.path()
            .join("modules")
            .join(format!("{}.wasm", sha256_hex(&module))),
        b"garbage",
    )
    .unwrap();
    assert!(cache.lookup(&key_of("http://a/x.wasm")).is_none());
    assert_eq!(cache.len(), 0);
}

#[test]
fn the_size_cap_evicts_least_recently_used_first() {
    let dir = tempfile::tempdir().unwrap();
    let cache = ModuleCache::open(dir.path(), Duration::from_secs(3600), 250).unwrap();
    let (a, b, c) = (vec![1u8; 100], vec![2u8; 100], vec![3u8; 100]);
    let now = now_secs();
    cache.insert("a", entry("a", &a, now - 30), &a).unwrap();
    cache.insert("b", entry("b", &b, now - 20), &b).unwrap();
    assert!(cache.lookup("a").is_some()); // a is now the most recently used
    cache.insert("c", entry("c", &c, now), &c).unwrap();
    assert!(cache.lookup("b").is_none(), "b was least recently used");
    assert!(cache.lookup("a").is_some());
    assert!(cache.lookup("c").is_some());
    assert_eq!(cache.total_bytes(), 200);
    assert!(!dir
        .path()
        .join("modules")
        .join(format!("{}.wasm", sha256_hex(&b)))
        .exists());
}

#[test]
fn two_urls_of_one_module_share_a_file_and_count_once() {
    let dir = tempfile::tempdir().unwrap();
    let cache = ModuleCache::open(dir.path(), Duration::from_secs(3600), 150).unwrap();
    let m = vec![7u8; 100];
    cache.insert("x", entry("x", &m, now_secs()), &m).unwrap();
    cache.insert("y", entry("y", &m, now_secs()), &m).unwrap();
    assert_eq!(cache.len(), 2);
    assert_eq!(cache.total_bytes(), 100);
}

#[test]
fn expired_entries_are_purged_and_a_module_over_the_cap_is_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let cache = ModuleCache::open(dir.path(), Duration::from_secs(60), 50).unwrap();
    let small = vec![1u8; 10];
    cache
        .insert("old", entry("old", &small, now_secs() - 120), &small)
        .unwrap();
    cache
        .insert("big", entry("big", &[0u8; 60], now_secs()), &[0u8; 60])
        .unwrap();
    assert_eq!(cache.len(), 1);
    assert_eq!(cache.purge_expired(), 1);
    assert_eq!(cache.len(), 0);
}

#[test]
fn the_index_holds_no_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let cache = ModuleCache::open(dir.path(), Duration::from_secs(60), 1000).unwrap();
    let m = vec![1u8; 10];
    let url = "http://user:hunter2@h/m.wasm";
    cache
        .insert(
            &key_of(url),
            entry(&crate::source::redact_url(url), &m, now_secs()),
            &m,
        )
        .unwrap();
    let index = std::fs::read_to_string(dir.path().join("index.json")).unwrap();
    assert!(!index.contains("hunter2"), "{index}");
}

#[test]
fn concurrent_writers_never_leave_a_torn_file() {
    let dir = tempfile::tempdir().unwrap();
    let m = vec![5u8; 64 << 10];
    std::thread::scope(|s| {
        for t in 0..4 {
            let (dir, m) = (dir.path(), &m);
            s.spawn(move || {
                let cache = ModuleCache::open(dir, Duration::from_secs(3600), 1 << 30).unwrap();
                for i in 0..20 {
                    let key = format!("{t}-{i}");
                    cache.insert(&key, entry(&key, m, now_secs()), m).unwrap();
                }
            });
        }
    });
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("index.json")).unwrap()).unwrap();
    assert!(index["entries"].as_object().is_some_and(|e| !e.is_empty()));
    let file = std::fs::read(
        dir.path()
            .join("modules")
            .join(format!("{}.wasm", sha256_hex(&m))),
    )
    .unwrap();
    assert_eq!(file, m);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("modules"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_new_module_for_a_url_replaces_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let cache = ModuleCache::open(dir.path(), Duration::from_secs(3600), 1 << 20).unwrap();
    let (old, new) = (vec![1u8; 10], vec![2u8; 10]);
    cache.insert("u", entry("u", &old, now_secs()), &old).unwrap();
    cache.insert("u", entry("u", &new, now_secs()), &new).unwrap();
    let files: Vec<_> = std::fs::read_dir(dir.path().join("modules")).unwrap().collect();
    assert_eq!(files.len(), 1, "the old module file is gone");
    assert_eq!(cache.total_bytes(), 10);
    assert_eq!(&cache.lookup("u").unwrap().1[..], &new[..]);
}

#[test]
fn a_corrupt_file_is_written_again_by_the_next_fetch() {
    let dir = tempfile::tempdir().unwrap();
    let cache = ModuleCache::open(dir.path(), Duration::from_secs(3600), 1 << 20).unwrap();
    let m = vec![3u8; 10];
    cache.insert("u", entry("u", &m, now_secs()), &m).unwrap();
    std::fs::write(
        dir.path()
            .join("modules")
            .join(format!("{}.wasm", sha256_hex(&m))),
        b"xx",
    )
    .unwrap();
    assert!(cache.lookup("u").is_none());
    cache.insert("u", entry("u", &m, now_secs()), &m).unwrap();
    assert_eq!(&cache.lookup("u").unwrap().1[..], &m[..]);
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().mode() & 0o7777
}

fn open(dir: &Path) -> Result<ModuleCache, FetchError> {
    ModuleCache::open(dir, Duration::from_secs(3600), 1 << 20)
}

#[test]
fn the_cache_is_created_private_and_refused_when_others_can_write() {
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("cache/modules");
    open(&dir).unwrap();
    for made in [base.path().join("cache"), dir.clone(), dir.join("modules")] {
        assert_eq!(mode(&made), 0o700, "{}", made.display());
    }
    chmod(&dir, 0o755);
    open(&dir).expect("readable by others is fine");

    chmod(&dir.join("modules"), 0o777);
    let error = open(&dir).unwrap_err().to_string();
    assert!(
        error.contains("modules/modules: mode 0777 lets its group or others write to it")
            && error.contains(&format!("run `chmod 700 {}/modules`", dir.display())),
        "{error}"
    );
}

#[test]
fn a_cache_of_another_user_is_refused() {
    let base = tempfile::tempdir().unwrap();
    // As root a fresh folder given to uid 65534 (nobody); else `/`, which root owns: the
    // owner check is tested either way.
    let foreign = if rustix::process::geteuid().is_root() {
        let dir = base.path().join("foreign");
        std::fs::create_dir(&dir).unwrap();
        chmod(&dir, 0o700);
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
        dir
    } else {
        PathBuf::from("/")
    };
    let owner = std::fs::metadata(&foreign).unwrap().uid();
    let me = rustix::process::geteuid().as_raw();
    assert_ne!(owner, me, "{} must be another user's", foreign.display());
    assert_eq!(
        private_dir(&foreign).unwrap_err().to_string(),
        format!(
            "owned by uid {owner}, not by the proxy's user (uid {me}), who could not trust what it finds \
             there; choose another --cache-dir"
        )
    );
}

#[test]
fn an_index_others_could_have_written_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let module = b"\0asm\x01\0\0\0".to_vec();
    let key = key_of("http://a/x.wasm");
    open(dir.path())
        .unwrap()
        .insert(&key, entry("http://a/x.wasm", &module, now_secs()), &module)
        .unwrap();
    assert!(open(dir.path()).unwrap().lookup(&key).is_some());

    chmod(&dir.path().join("index.json"), 0o666);
    assert!(open(dir.path()).unwrap().lookup(&key).is_none());
}
