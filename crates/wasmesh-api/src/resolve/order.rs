//! The order of plugins within the chain (docs/api.md, "Which plugins apply"): phase, then priority
//! descending (unset = 0, as the API reference says), then older `creationTimestamp`
//! first, then name, then namespace.

use crate::wasm_plugin::WasmPlugin;
use std::cmp::Ordering;

/// Execution order of two plugins: `Less` runs first.
///
/// The API says ties are broken by `creationTimestamp` "when both have one". Taken
/// literally that is not a total order (a plugin without a timestamp compared by name
/// could sit between two that are compared by time), so a plugin without a timestamp
/// counts as newer than every plugin with one — as if it had just been created, which is
/// what Kubernetes would stamp on it. Between plugins that both have or both lack one, the
/// rule is exactly the API's.
pub fn execution_order(a: &WasmPlugin, b: &WasmPlugin) -> Ordering {
    a.phase()
        .cmp(&b.phase())
        .then_with(|| b.effective_priority().cmp(&a.effective_priority()))
        .then_with(
            || match (&a.metadata.creation_timestamp, &b.metadata.creation_timestamp) {
                (Some(x), Some(y)) => x.cmp(y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            },
        )
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
        .then_with(|| a.metadata.namespace().cmp(b.metadata.namespace()))
}
