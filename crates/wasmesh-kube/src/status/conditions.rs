//! The `Accepted` and `Ready` conditions of one WasmPlugin, RequestAuthentication or
//! AuthorizationPolicy, from its validation and the gateways' reports (docs/kubernetes.md,
//! "Status"). Pure: the same inputs give the same
//! status, and a condition's `lastTransitionTime` moves only when its `status` does, so a
//! status that is already right is never written again.

use wasmesh_api::crd::status::{Condition, ConditionStatus, ConditionType, ResourceStatus};
use wasmesh_api::timestamp::Timestamp;

use super::report::{GatewayReport, PluginReport, PluginState, PolicyReport};

/// One object (a WasmPlugin or a security policy) as the API server has it.
pub struct Object<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub generation: Option<i64>,
    /// Its validation errors, each `path: what is wrong` as `wasmesh validate` prints it;
    /// empty when it is valid.
    pub invalid: Vec<String>,
}

/// A condition without its time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub kind: ConditionType,
    pub status: ConditionStatus,
    pub reason: String,
    pub message: String,
}

fn wanted(kind: ConditionType, status: ConditionStatus, reason: &str, message: String) -> Wanted {
    Wanted {
        kind,
        status,
        reason: reason.to_string(),
        message,
    }
}

/// `Accepted`: valid, or each error's field path and value.
fn accepted(object: &Object) -> Wanted {
    use ConditionStatus::{False, True};
    if object.invalid.is_empty() {
        wanted(ConditionType::Accepted, True, "Valid", "valid".into())
    } else {
        wanted(
            ConditionType::Accepted,
            False,
            "Invalid",
            object.invalid.join("\n"),
        )
    }
}

/// Each live gateway's entry for the object (`find` picks it from its report), by identity.
fn entries<'a, T>(
    gateways: &'a [(String, GatewayReport)],
    find: impl Fn(&'a GatewayReport) -> Option<&'a T>,
) -> Vec<(&'a str, &'a T)> {
    gateways
        .iter()
        .filter_map(|(id, report)| find(report).map(|entry| (id.as_str(), entry)))
        .collect()
}

/// `selected by 1 gateway of 2`.
fn count(what: &str, n: usize, m: usize) -> String {
    format!("{what} {n} gateway{} of {m}", if n == 1 { "" } else { "s" })
}

/// `Ready` when it cannot be: the object is invalid (this generation is not `done`), or no
/// gateway has it (none matches its `matched_by`). `of` is [`count`]'s.
fn unready(object: &Object, n: usize, of: &str, done: &str, matched_by: &str) -> Option<Wanted> {
    use ConditionStatus::{False, Unknown};
    if !object.invalid.is_empty() {
        let message = format!("{of}; this generation is not {done}: it is invalid (see Accepted)");
        return Some(wanted(ConditionType::Ready, False, "NotAccepted", message));
    }
    if n == 0 {
        let message = format!("{of}: no gateway's workload matches its {matched_by}, or none reports");
        return Some(wanted(ConditionType::Ready, Unknown, "NotSelected", message));
    }
    None
}

/// `Ready` while `lagging` gateways have not caught up (`what` they are doing).
fn loading(of: &str, what: &str, lagging: &[&str]) -> Wanted {
    let message = format!("{of}; {what} on {}: {}", lagging.len(), lagging.join(", "));
    wanted(ConditionType::Ready, ConditionStatus::Unknown, "Loading", message)
}

/// `Accepted` and `Ready` for the RequestAuthentication or AuthorizationPolicy `object`
/// (`kind` names which), given each live gateway's report (by identity): ready when every
/// gateway whose running snapshot applies it applies this generation.
pub fn policy_conditions(object: &Object, kind: &str, gateways: &[(String, GatewayReport)]) -> [Wanted; 2] {
    use ConditionStatus::True;
    use ConditionType::Ready;
    let accepted = accepted(object);
    let applying: Vec<(&str, &PolicyReport)> = entries(gateways, |report| {
        let same =
            |p: &&PolicyReport| p.kind == kind && p.namespace == object.namespace && p.name == object.name;
        report.policies.iter().find(same)
    });
    let of = count("applied by", applying.len(), gateways.len());
    if let Some(ready) = unready(object, applying.len(), &of, "applied", "selector or targetRefs") {
        return [accepted, ready];
    }
    let lagging: Vec<&str> = applying
        .iter()
        .filter(|(_, p)| object.generation.is_some() && p.generation != object.generation)
        .map(|(id, _)| *id)
        .collect();
    if !lagging.is_empty() {
        return [accepted, loading(&of, "an older generation still runs", &lagging)];
    }
    [accepted, wanted(Ready, True, "Applied", of)]
}

/// `Accepted` and `Ready` for `object`, given each live gateway's report (by identity).
pub fn conditions(object: &Object, gateways: &[(String, GatewayReport)]) -> [Wanted; 2] {
    use ConditionStatus::{False, True};
    use ConditionType::Ready;
    let accepted = accepted(object);
    let selecting: Vec<(&str, &PluginReport)> = entries(gateways, |report| {
        let same = |p: &&PluginReport| p.namespace == object.namespace && p.name == object.name;
        report.plugins.iter().find(same)
    });
    let of = count("selected by", selecting.len(), gateways.len());
    if let Some(ready) = unready(object, selecting.len(), &of, "run", "selector") {
        return [accepted, ready];
    }
    // a gateway that runs another generation (or has not tried this one) is catching up
    let current = |p: &PluginReport| object.generation.is_none() || p.generation == object.generation;
    let failed: Vec<(&str, &str, &str)> = selecting
        .iter()
        .filter(|(_, p)| current(p))
        .filter_map(|(id, p)| match &p.state {
            PluginState::Failed { reason, message } => Some((*id, reason.as_str(), message.as_str())),
            _ => None,
        })
        .collect();
    if let Some((_, reason, _)) = failed.first() {
        let each: Vec<String> = failed.iter().map(|(id, _, m)| format!("{id}: {m}")).collect();
        let message = format!("{of}; failed on {}: {}", failed.len(), each.join("; "));
        return [accepted, wanted(Ready, False, reason, message)];
    }
    let lagging: Vec<&str> = selecting
        .iter()
        .filter(|(_, p)| !current(p) || p.state == PluginState::Pending)
        .map(|(id, _)| *id)
        .collect();
    if !lagging.is_empty() {
        return [accepted, loading(&of, "not loaded yet", &lagging)];
    }
    let mut digests: Vec<&str> = selecting
        .iter()
        .filter_map(|(_, p)| match &p.state {
            PluginState::Ready { digest } => Some(digest.as_str()),
            _ => None,
        })
        .collect();
    digests.sort_unstable();
    digests.dedup();
    let message = format!("{of}, running module {}", digests.join(", "));
    [accepted, wanted(Ready, True, "Loaded", message)]
}

/// The status to have: `wanted` at `generation`, each condition keeping `current`'s
/// `lastTransitionTime` while its `status` stays, else `now`.
pub fn status(
    current: &ResourceStatus,
    wanted: [Wanted; 2],
    generation: Option<i64>,
    now: Timestamp,
) -> ResourceStatus {
    let conditions = wanted
        .into_iter()
        .map(|w| {
            let since = current
                .condition(w.kind)
                .filter(|c| c.status == w.status)
                .map_or_else(|| now.clone(), |c| c.last_transition_time.clone());
            Condition {
                kind: w.kind,
                status: w.status,
                reason: w.reason,
                message: w.message,
                last_transition_time: since,
                observed_generation: generation,
            }
        })
        .collect();
    ResourceStatus {
        conditions,
        observed_generation: generation,
    }
}

#[cfg(test)]
mod tests;
