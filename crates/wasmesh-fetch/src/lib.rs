//! Turns a WasmPlugin url into verified module bytes: file, http(s) and OCI fetchers,
//! sha256 and signature checks, and the on-disk module cache.
