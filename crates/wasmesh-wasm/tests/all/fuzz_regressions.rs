//! The `abi` fuzz target (docs/fuzzing.md) replayed on the inputs kept for it: every crash
//! the fuzzer found (`fuzz/regressions/abi/`) and the corpus seeds, through the same check
//! the target runs (`fuzz/src/abi.rs`), without nightly flags.

#[path = "../../../../fuzz/src/abi.rs"]
mod abi;
#[path = "../../../../fuzz/src/replay.rs"]
mod replay;

#[test]
fn abi_inputs_replay() {
    let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    replay::replay(&fuzz, "abi", abi::check);
}
