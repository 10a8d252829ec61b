//! `allowedRoutes.namespaces.from: Selector` (docs/gateway-api.md, "Attaching"): a
//! listener takes the routes of the namespaces whose labels its label selector selects.
//! The selector is Kubernetes' own (`matchLabels` and `matchExpressions` with `In`,
//! `NotIn`, `Exists`, `DoesNotExist`, every term required); the labels are the route's
//! `Namespace`'s, with `kubernetes.io/metadata.name`, which the API server puts on every
//! namespace, always there.

use std::collections::BTreeMap;

use super::types::{LabelSelector, LabelSelectorRequirement, Namespace};

/// The label the API server sets on every namespace to its name.
pub const METADATA_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// The labels of namespace `name`; `None` when it is not among `namespaces`.
pub fn labels_of(namespaces: &[Namespace], name: &str) -> Option<BTreeMap<String, String>> {
    let namespace = namespaces.iter().find(|n| n.metadata.name == name)?;
    let mut labels = namespace.metadata.labels.clone();
    labels.insert(METADATA_NAME_LABEL.to_string(), name.to_string());
    Some(labels)
}

/// Does `selector` select `labels`? An empty selector selects every namespace, as in
/// Kubernetes. A requirement the API does not allow (an unknown operator, `In` / `NotIn`
/// without values, `Exists` / `DoesNotExist` with values) is an error naming it.
pub fn selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> Result<bool, String> {
    let mut all = selector
        .match_labels
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v));
    for (i, requirement) in selector.match_expressions.iter().enumerate() {
        let holds = holds(requirement, labels).map_err(|why| format!("matchExpressions[{i}]: {why}"))?;
        all &= holds;
    }
    Ok(all)
}

fn holds(r: &LabelSelectorRequirement, labels: &BTreeMap<String, String>) -> Result<bool, String> {
    let value = labels.get(&r.key);
    match r.operator.as_str() {
        "In" | "NotIn" if r.values.is_empty() => {
            Err(format!("operator {} on key {} needs values", r.operator, r.key))
        }
        "In" => Ok(value.is_some_and(|v| r.values.contains(v))),
        "NotIn" => Ok(value.is_none_or(|v| !r.values.contains(v))),
        "Exists" | "DoesNotExist" if !r.values.is_empty() => Err(format!(
            "operator {} on key {} takes no values",
            r.operator, r.key
        )),
        "Exists" => Ok(value.is_some()),
        "DoesNotExist" => Ok(value.is_none()),
        other => Err(format!(
            "operator {other} on key {} is not one of In, NotIn, Exists, DoesNotExist",
            r.key
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selector(yaml: &str) -> LabelSelector {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn match_labels_and_every_operator_select_as_in_kubernetes() {
        let web = labels(&[("team", "web"), ("env", "prod")]);
        let cases = [
            ("{}", true),
            ("{matchLabels: {team: web}}", true),
            ("{matchLabels: {team: web, env: dev}}", false),
            (
                "{matchExpressions: [{key: env, operator: In, values: [prod, dev]}]}",
                true,
            ),
            (
                "{matchExpressions: [{key: env, operator: In, values: [dev]}]}",
                false,
            ),
            (
                "{matchExpressions: [{key: tier, operator: In, values: [dev]}]}",
                false,
            ),
            (
                "{matchExpressions: [{key: env, operator: NotIn, values: [dev]}]}",
                true,
            ),
            (
                "{matchExpressions: [{key: env, operator: NotIn, values: [prod]}]}",
                false,
            ),
            (
                "{matchExpressions: [{key: tier, operator: NotIn, values: [prod]}]}",
                true,
            ),
            ("{matchExpressions: [{key: team, operator: Exists}]}", true),
            ("{matchExpressions: [{key: tier, operator: Exists}]}", false),
            ("{matchExpressions: [{key: tier, operator: DoesNotExist}]}", true),
            ("{matchExpressions: [{key: team, operator: DoesNotExist}]}", false),
            // every term must hold
            (
                "{matchLabels: {team: web}, matchExpressions: [{key: env, operator: In, values: [dev]}]}",
                false,
            ),
        ];
        for (yaml, want) in cases {
            assert_eq!(selects(&selector(yaml), &web), Ok(want), "{yaml}");
        }
    }

    #[test]
    fn a_requirement_the_api_does_not_allow_is_an_error_naming_it() {
        let cases = [
            (
                "{matchExpressions: [{key: env, operator: In}]}",
                "matchExpressions[0]: operator In on key env needs values",
            ),
            (
                "{matchExpressions: [{key: a, operator: Exists}, {key: env, operator: Exists, values: [x]}]}",
                "matchExpressions[1]: operator Exists on key env takes no values",
            ),
            (
                "{matchExpressions: [{key: env, operator: Gt, values: [\"1\"]}]}",
                "matchExpressions[0]: operator Gt on key env is not one of In, NotIn, Exists, DoesNotExist",
            ),
        ];
        for (yaml, want) in cases {
            assert_eq!(selects(&selector(yaml), &labels(&[])), Err(want.to_string()));
        }
    }

    #[test]
    fn a_namespace_always_carries_its_name_label() {
        let namespaces: Vec<Namespace> =
            vec![serde_yaml_ng::from_str("metadata: {name: web, labels: {team: web}}").unwrap()];
        assert_eq!(
            labels_of(&namespaces, "web"),
            Some(labels(&[("team", "web"), (METADATA_NAME_LABEL, "web")]))
        );
        assert_eq!(labels_of(&namespaces, "edge"), None);
    }
}
