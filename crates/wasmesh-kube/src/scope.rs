//! What the source follows for a set of [`Options`]: in which namespaces, and which streams.
//! The proxy's watchers (`source`), the status writer (`status`) and `describe --kubernetes`
//! (`list`) take it from here, so they always read the same objects.

use crate::client::Options;
use crate::kinds::GatewayKind;
use crate::sync::StreamId;

impl Options {
    /// The root namespace: `--root-namespace`, else `istio-system`.
    pub fn root_namespace(&self) -> &str {
        if self.root_namespace.is_empty() {
            wasmesh_api::DEFAULT_ROOT_NAMESPACE
        } else {
            &self.root_namespace
        }
    }

    /// The namespaces followed: `None` for all of them; else each `--namespace` and the root
    /// namespace, because a policy there applies to every workload (docs/api.md, "Which
    /// plugins apply") — leaving it out would drop the mesh-wide plugins without a word.
    pub fn followed_namespaces(&self) -> Vec<Option<String>> {
        if self.namespaces.is_empty() {
            return vec![None];
        }
        let mut namespaces: Vec<String> = Vec::new();
        for ns in self
            .namespaces
            .iter()
            .map(String::as_str)
            .chain([self.root_namespace()])
        {
            if !namespaces.iter().any(|n| n == ns) {
                namespaces.push(ns.to_string());
            }
        }
        namespaces.into_iter().map(Some).collect()
    }
}

/// Every stream the source lists and watches for `options` (the pull Secrets come later,
/// once the plugins that name them are known).
pub fn streams(options: &Options) -> Vec<StreamId> {
    let namespaces = options.followed_namespaces();
    let mut streams = Vec::new();
    for followed in crate::kinds::followed_with(options.gateway.is_some()) {
        for namespace in &namespaces {
            streams.push(StreamId::Kind {
                kind: followed.kind,
                namespace: namespace.clone(),
            });
        }
    }
    if options.gateway.is_some() {
        for kind in GatewayKind::ALL {
            if kind.cluster_scoped() {
                streams.push(StreamId::Gateway {
                    kind,
                    namespace: None,
                });
                continue;
            }
            for namespace in &namespaces {
                streams.push(StreamId::Gateway {
                    kind,
                    namespace: namespace.clone(),
                });
            }
        }
    }
    streams
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmesh_api::Kind;

    fn options(namespaces: &[&str], root: &str) -> Options {
        Options {
            namespaces: namespaces.iter().map(|s| s.to_string()).collect(),
            root_namespace: root.to_string(),
            ..Options::default()
        }
    }

    #[test]
    fn the_root_namespace_is_followed_with_the_namespaces_given() {
        assert_eq!(options(&[], "").followed_namespaces(), [None]);
        let some = |v: &[&str]| v.iter().map(|s| Some(s.to_string())).collect::<Vec<_>>();
        assert_eq!(
            options(&["web"], "").followed_namespaces(),
            some(&["web", "istio-system"])
        );
        assert_eq!(
            options(&["mesh", "web"], "mesh").followed_namespaces(),
            some(&["mesh", "web"]),
            "named once"
        );
        let plugins_in: Vec<Option<String>> = streams(&options(&["web"], "mesh"))
            .into_iter()
            .filter_map(|s| match s {
                StreamId::Kind {
                    kind: Kind::WasmPlugin,
                    namespace,
                } => Some(namespace),
                _ => None,
            })
            .collect();
        assert_eq!(plugins_in, some(&["web", "mesh"]));
    }
}
