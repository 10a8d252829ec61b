//! `ReferenceGrant` (`gateway.networking.k8s.io/v1beta1`): what lets an object refer to one
//! in another namespace. A grant lives in the namespace referred to and says from which
//! kinds and namespaces (`spec.from`) to which kinds, optionally which names
//! (`spec.to`), references are allowed. A reference within one namespace needs none.

use super::types::ReferenceGrant;

/// A kind with its API group (`""` for the core group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupKind<'a> {
    pub group: &'a str,
    pub kind: &'a str,
}

/// `gateway.networking.k8s.io` `HTTPRoute`.
pub const HTTP_ROUTE: GroupKind<'static> = GroupKind {
    group: super::types::GROUP,
    kind: "HTTPRoute",
};
/// `Gateway`, whose `certificateRefs` name Secrets.
pub const GATEWAY: GroupKind<'static> = GroupKind {
    group: super::types::GROUP,
    kind: "Gateway",
};
/// The core `Service`.
pub const SERVICE: GroupKind<'static> = GroupKind {
    group: "",
    kind: "Service",
};
/// The core `Secret`.
pub const SECRET: GroupKind<'static> = GroupKind {
    group: "",
    kind: "Secret",
};

/// May a `from_kind` object of `from_ns` refer to the `to_kind` object `to_ns/to_name`?
/// Yes within one namespace; across namespaces, when a grant in `to_ns` lists
/// (`from_kind`, `from_ns`) in its `from` and `to_kind` (all of its objects, or `to_name`)
/// in its `to`.
pub fn reference_granted(
    grants: &[ReferenceGrant],
    from_kind: GroupKind,
    from_ns: &str,
    to_kind: GroupKind,
    to_ns: &str,
    to_name: &str,
) -> bool {
    if from_ns == to_ns {
        return true;
    }
    grants
        .iter()
        .filter(|g| g.metadata.namespace() == to_ns)
        .any(|g| {
            let from =
                g.spec.from.iter().any(|f| {
                    f.group == from_kind.group && f.kind == from_kind.kind && f.namespace == from_ns
                });
            let to = g.spec.to.iter().any(|t| {
                t.group == to_kind.group
                    && t.kind == to_kind.kind
                    && t.name.as_deref().is_none_or(|n| n == to_name)
            });
            from && to
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(namespace: &str, from_ns: &str, to_name: Option<&str>) -> ReferenceGrant {
        let to = match to_name {
            Some(n) => format!("[{{group: \"\", kind: Service, name: {n}}}]"),
            None => "[{group: \"\", kind: Service}]".to_string(),
        };
        let yaml = format!(
            "metadata: {{name: g, namespace: {namespace}}}
spec:
  from: [{{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: {from_ns}}}]
  to: {to}"
        );
        serde_yaml_ng::from_str(&yaml).unwrap()
    }

    fn granted(grants: &[ReferenceGrant], from_ns: &str, to_ns: &str, name: &str) -> bool {
        reference_granted(grants, HTTP_ROUTE, from_ns, SERVICE, to_ns, name)
    }

    #[test]
    fn a_grant_in_the_target_namespace_allows_its_from_namespace_and_kinds_only() {
        assert!(
            granted(&[], "edge", "edge", "echo"),
            "one namespace needs no grant"
        );
        assert!(!granted(&[], "edge", "web", "echo"));
        let all = [grant("web", "edge", None)];
        assert!(granted(&all, "edge", "web", "echo"));
        assert!(granted(&all, "edge", "web", "other"), "no name: every Service");
        assert!(!granted(&all, "shop", "web", "echo"), "another from namespace");
        assert!(
            !granted(&all, "edge", "db", "echo"),
            "a grant only grants its own namespace"
        );
        let secret = reference_granted(&all, HTTP_ROUTE, "edge", SECRET, "web", "echo");
        assert!(!secret, "another to kind");
        let gateway = reference_granted(&all, GATEWAY, "edge", SERVICE, "web", "echo");
        assert!(!gateway, "another from kind");
        let named = [grant("web", "edge", Some("echo"))];
        assert!(granted(&named, "edge", "web", "echo"));
        assert!(
            !granted(&named, "edge", "web", "other"),
            "a name: that Service only"
        );
    }
}
