use super::*;
use PathNormalization::*;

fn n(path: &str, level: PathNormalization) -> String {
    normalize_path(path, level)
        .unwrap_or_else(|e| panic!("{path:?} at {level:?}: {e}"))
        .into_owned()
}

#[test]
fn base_removes_dot_segments_and_decodes_unreserved_characters() {
    let cases = [
        ("/", "/"),
        ("/a/b", "/a/b"),
        ("/a/../b", "/b"),
        ("/a/./b", "/a/b"),
        ("/a/b/..", "/a/"),
        ("/a/b/.", "/a/b/"),
        ("/..", "/"),
        ("/../../etc/passwd", "/etc/passwd"),
        ("/public/./data/abc/../xyz", "/public/data/xyz"),
        ("/a/%2e%2e/b", "/b"),
        ("/a/%2E./b", "/b"),
        ("/a/.%2e/b", "/b"),
        ("/admin%2Fx", "/admin%2Fx"),
        ("/%61%62%63", "/abc"),
        ("/some%2fdata/%61%62%63", "/some%2Fdata/abc"),
        ("/%7e%2D%5f", "/~-_"),
        ("/a%20b", "/a%20b"),
        ("/a%3fb", "/a%3Fb"),
        ("/%252e%252e/", "/%252e%252e/"),
        ("/some\\data", "/some/data"),
        ("/a\\..\\b", "/b"),
        ("/a//b", "/a//b"),
        ("/.well-known/x", "/.well-known/x"),
        ("/a/..b/c", "/a/..b/c"),
        ("/é/../x", "/x"),
    ];
    for (input, want) in cases {
        assert_eq!(n(input, Base), want, "{input}");
    }
}

#[test]
fn the_levels_differ_as_istio_documents() {
    // Istio's examples for each level, and the `/a/%2F..` style inputs of docs/security.md.
    let table = [
        ("/a//b", [("NONE", "/a//b"), ("BASE", "/a//b"), ("MERGE", "/a/b"), ("DECODE", "/a/b")]),
        ("/a%2fb", [("NONE", "/a%2fb"), ("BASE", "/a%2Fb"), ("MERGE", "/a%2Fb"), ("DECODE", "/a/b")]),
        (
            "/a/%2F..",
            [("NONE", "/a/%2F.."), ("BASE", "/a/%2F.."), ("MERGE", "/a/%2F.."), ("DECODE", "/a/")],
        ),
        (
            "/a/%5c../b",
            [("NONE", "/a/%5c../b"), ("BASE", "/a/%5C../b"), ("MERGE", "/a/%5C../b"), ("DECODE", "/a/b")],
        ),
        ("/a/../b", [("NONE", "/a/../b"), ("BASE", "/b"), ("MERGE", "/b"), ("DECODE", "/b")]),
        (
            "/admin//../x",
            [("NONE", "/admin//../x"), ("BASE", "/admin/x"), ("MERGE", "/admin/x"), ("DECODE", "/admin/x")],
        ),
    ];
    for (input, levels) in table {
        for (name, want) in levels {
            let level = match name {
                "NONE" => None,
                "BASE" => Base,
                "MERGE" => MergeSlashes,
                _ => DecodeAndMergeSlashes,
            };
            assert_eq!(n(input, level), want, "{input} at {name}");
        }
    }
}

#[test]
fn unsafe_paths_are_refused_at_every_level() {
    for level in [None, Base, MergeSlashes, DecodeAndMergeSlashes] {
        assert_eq!(normalize_path("/a%00b", level), Err(PathError::EncodedNul { at: 2 }));
        assert_eq!(normalize_path("/a%zzb", level), Err(PathError::BadEscape { at: 2 }));
        assert_eq!(normalize_path("/a%2", level), Err(PathError::BadEscape { at: 2 }));
        assert_eq!(normalize_path("/a#frag", level), Err(PathError::Fragment));
    }
    assert_eq!(normalize_path("a/b", Base), Err(PathError::NotAbsolute));
    assert_eq!(normalize_path("a/b", None).unwrap(), "a/b");
}

#[test]
fn an_unchanged_path_is_borrowed() {
    for p in ["/", "/api/v1/items", "/a/.hidden", "/x-y_z~"] {
        assert!(matches!(normalize_path(p, MergeSlashes).unwrap(), Cow::Borrowed(_)), "{p}");
    }
}

#[test]
fn normalizing_twice_changes_nothing_and_leaves_no_dot_segments() {
    // A small exhaustive walk over paths made of the tricky pieces.
    let pieces = ["/", "a", ".", "..", "%2e", "%2E%2e", "%2f", "%5C", "\\", "%41", "%25", "//"];
    let mut paths = vec![String::from("/")];
    for _ in 0..4 {
        let mut next = Vec::new();
        for p in &paths {
            for piece in pieces {
                next.push(format!("{p}{piece}"));
            }
        }
        paths.extend(next);
        paths.dedup();
    }
    for level in [Base, MergeSlashes, DecodeAndMergeSlashes] {
        for p in &paths {
            let once = n(p, level);
            let twice = n(&once, level);
            assert_eq!(once, twice, "{p} at {level:?}");
            assert!(once.starts_with('/'), "{p} → {once}");
            assert!(
                !once.split('/').any(|s| s == "." || s == ".."),
                "{p} at {level:?} → {once}"
            );
        }
    }
}
