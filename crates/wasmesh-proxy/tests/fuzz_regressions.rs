//! The fuzz targets of this crate (docs/fuzzing.md) replayed on the inputs kept for them:
//! every crash the fuzzer found (`fuzz/regressions/TARGET/`) and the corpus seeds, through
//! the same checks the targets run (`fuzz/src/TARGET.rs`), without nightly flags.

#[path = "../../../fuzz/src/h1_chunked.rs"]
mod h1_chunked;
#[path = "../../../fuzz/src/h1_request_head.rs"]
mod h1_request_head;
#[path = "../../../fuzz/src/h1_response_head.rs"]
mod h1_response_head;
#[path = "../../../fuzz/src/jwt.rs"]
mod jwt;
#[path = "../../../fuzz/src/path_normalize.rs"]
mod path_normalize;
#[path = "../../../fuzz/src/replay.rs"]
mod replay;

fn replay_kept(target: &str, check: fn(&[u8])) {
    let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    replay::replay(&fuzz, target, check);
}

#[test]
fn h1_request_head_inputs_replay() {
    replay_kept("h1_request_head", h1_request_head::check);
}

#[test]
fn h1_response_head_inputs_replay() {
    replay_kept("h1_response_head", h1_response_head::check);
}

#[test]
fn h1_chunked_inputs_replay() {
    replay_kept("h1_chunked", h1_chunked::check);
}

#[test]
fn jwt_inputs_replay() {
    replay_kept("jwt", jwt::check);
}

#[test]
fn path_normalize_inputs_replay() {
    replay_kept("path_normalize", path_normalize::check);
}
