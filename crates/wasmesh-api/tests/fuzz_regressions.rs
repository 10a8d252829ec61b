//! The `resources` fuzz target (docs/fuzzing.md) replayed on the inputs kept for it: every
//! crash the fuzzer found (`fuzz/regressions/resources/`) and the corpus seeds, through the
//! same check the target runs (`fuzz/src/resources.rs`), without nightly flags.

#[path = "../../../fuzz/src/replay.rs"]
mod replay;
#[path = "../../../fuzz/src/resources.rs"]
mod resources;

#[test]
fn resources_inputs_replay() {
    let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    replay::replay(&fuzz, "resources", resources::check);
}
