//! `path_normalize`: `wasmesh_proxy::normalize::normalize_path` on arbitrary paths. The
//! first byte picks the level (mod 4); the rest is the path.
//!
//! Properties: no panic; normalizing is idempotent (a normalized path normalizes to
//! itself); above `NONE`, a normalized path starts with `/` and has no `.` or `..`
//! segment (spelled with `%2E` or not), no backslash and no lower-case escape; the
//! slash-merging levels leave no `//`, and `DECODE_AND_MERGE_SLASHES` no `%2F` or `%5C`.

use wasmesh_proxy::normalize::{normalize_path, PathNormalization};

const LEVELS: [PathNormalization; 4] = [
    PathNormalization::None,
    PathNormalization::Base,
    PathNormalization::MergeSlashes,
    PathNormalization::DecodeAndMergeSlashes,
];

pub fn check(data: &[u8]) {
    let Some((&level, rest)) = data.split_first() else {
        return;
    };
    let Ok(path) = std::str::from_utf8(rest) else {
        return;
    };
    let level = LEVELS[level as usize % LEVELS.len()];
    let Ok(normalized) = normalize_path(path, level) else {
        return;
    };
    match normalize_path(&normalized, level) {
        Ok(again) => assert_eq!(again, normalized, "not idempotent at {level:?} for {path:?}"),
        Err(e) => panic!("{normalized:?}, normalized from {path:?} at {level:?}, is refused: {e}"),
    }
    if level == PathNormalization::None {
        assert_eq!(normalized, path, "NONE keeps the path as it arrived");
        return;
    }
    let bad = |what: &str| format!("{normalized:?} (from {path:?} at {level:?}) {what}");
    assert!(normalized.starts_with('/'), "{}", bad("does not start with /"));
    assert!(!normalized.contains('\\'), "{}", bad("has a backslash"));
    for segment in normalized.split('/') {
        let plain = segment.replace("%2E", ".");
        assert!(plain != "." && plain != "..", "{}", bad("has a dot segment"));
    }
    let bytes = normalized.as_bytes();
    for (at, _) in normalized.match_indices('%') {
        let escape = &bytes[at + 1..(at + 3).min(bytes.len())];
        assert!(
            escape.len() == 2
                && escape
                    .iter()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()),
            "{}",
            bad("has a malformed or lower-case escape")
        );
    }
    if level != PathNormalization::Base {
        assert!(!normalized.contains("//"), "{}", bad("has //"));
    }
    if level == PathNormalization::DecodeAndMergeSlashes {
        assert!(
            !normalized.contains("%2F") && !normalized.contains("%5C"),
            "{}",
            bad("keeps an encoded slash")
        );
    }
}
