//! Sources of resources (a config directory today; a control plane and Kubernetes later),
//! the store that keeps the last good version of each resource, and per-workload snapshots.
