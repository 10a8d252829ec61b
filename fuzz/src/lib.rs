//! The checks of the fuzz targets (docs/fuzzing.md), one module per target: each `check`
//! feeds one input to the code under test and panics when a property breaks. The targets in
//! `fuzz_targets/` call them; the regression tests of the crates under test include the
//! same files (`#[path]`) and replay `regressions/TARGET/` and the seeds of
//! `corpus/TARGET/` through them, so a normal `cargo test` checks every crash found.

pub mod abi;
pub mod h1_chunked;
pub mod h1_request_head;
pub mod h1_response_head;
pub mod jwt;
pub mod path_normalize;
pub mod replay;
pub mod resources;
