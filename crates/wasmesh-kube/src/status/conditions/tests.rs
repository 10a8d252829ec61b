use super::*;
use crate::status::report::{GatewayReport, PluginReport, PluginState};

fn object(invalid: &[&str]) -> Object<'static> {
    Object {
        namespace: "web",
        name: "auth",
        generation: Some(3),
        invalid: invalid.iter().map(|s| s.to_string()).collect(),
    }
}

fn gateway(id: &str, generation: i64, state: Option<PluginState>) -> (String, GatewayReport) {
    let plugins = state
        .map(|state| PluginReport {
            namespace: "web".into(),
            name: "auth".into(),
            generation: Some(generation),
            state,
        })
        .into_iter()
        .collect();
    (
        id.to_string(),
        GatewayReport {
            plugins,
            policies: Vec::new(),
            gateway: None,
        },
    )
}

fn ready(digest: &str) -> Option<PluginState> {
    Some(PluginState::Ready {
        digest: digest.into(),
    })
}

#[test]
fn ready_counts_the_gateways_that_select_it_and_names_the_digest() {
    let gateways = [
        gateway("a", 3, ready("sha256:11")),
        gateway("b", 3, ready("sha256:11")),
        gateway("c", 3, None),
    ];
    let [accepted, ready] = conditions(&object(&[]), &gateways);
    assert_eq!(
        (accepted.status, accepted.reason.as_str()),
        (ConditionStatus::True, "Valid")
    );
    assert_eq!(
        (ready.status, ready.reason.as_str()),
        (ConditionStatus::True, "Loaded")
    );
    assert_eq!(
        ready.message,
        "selected by 2 gateways of 3, running module sha256:11"
    );
}

#[test]
fn a_failure_on_one_gateway_is_ready_false_with_its_reason_and_a_laggard_is_loading() {
    let failed = Some(PluginState::Failed {
        reason: "DigestMismatch".into(),
        message: "module file:///m.wasm: module digest mismatch".into(),
    });
    let gateways = [gateway("a", 3, ready("sha256:11")), gateway("b", 3, failed)];
    let [_, ready_cond] = conditions(&object(&[]), &gateways);
    assert_eq!(ready_cond.status, ConditionStatus::False);
    assert_eq!(ready_cond.reason, "DigestMismatch");
    assert_eq!(
        ready_cond.message,
        "selected by 2 gateways of 2; failed on 1: b: module file:///m.wasm: module digest mismatch"
    );

    let gateways = [
        gateway("a", 3, ready("sha256:11")),
        gateway("b", 2, ready("sha256:00")),
    ];
    let [_, loading] = conditions(&object(&[]), &gateways);
    assert_eq!(
        (loading.status, loading.reason.as_str()),
        (ConditionStatus::Unknown, "Loading")
    );
    assert!(
        loading.message.ends_with("not loaded yet on 1: b"),
        "{}",
        loading.message
    );

    let [_, none] = conditions(&object(&[]), &[gateway("a", 3, None)]);
    assert_eq!(
        (none.status, none.reason.as_str()),
        (ConditionStatus::Unknown, "NotSelected")
    );
    assert!(
        none.message.starts_with("selected by 0 gateways of 1"),
        "{}",
        none.message
    );
}

#[test]
fn an_invalid_object_is_not_accepted_with_its_field_path() {
    let [accepted, ready] = conditions(
        &object(&["spec.phase: unknown variant `EARLY`"]),
        &[gateway("a", 2, ready("sha256:11"))],
    );
    assert_eq!(
        (accepted.status, accepted.reason.as_str()),
        (ConditionStatus::False, "Invalid")
    );
    assert_eq!(accepted.message, "spec.phase: unknown variant `EARLY`");
    assert_eq!(
        (ready.status, ready.reason.as_str()),
        (ConditionStatus::False, "NotAccepted")
    );
}

#[test]
fn the_transition_time_moves_only_when_the_status_does() {
    let t0 = Timestamp::from_unix_seconds(1_000);
    let t1 = Timestamp::from_unix_seconds(2_000);
    let gateways = [gateway("a", 3, ready("sha256:11"))];
    let first = status(
        &ResourceStatus::default(),
        conditions(&object(&[]), &gateways),
        Some(3),
        t0.clone(),
    );
    assert_eq!(first.observed_generation, Some(3));
    assert!(first.conditions.iter().all(|c| c.last_transition_time == t0));
    let again = status(&first, conditions(&object(&[]), &gateways), Some(3), t1.clone());
    assert_eq!(again, first, "nothing changed: nothing to write");

    let gateways = [
        gateway("a", 3, ready("sha256:11")),
        gateway("b", 3, ready("sha256:11")),
    ];
    let more = status(&first, conditions(&object(&[]), &gateways), Some(3), t1.clone());
    let ready_cond = more.condition(ConditionType::Ready).unwrap();
    assert_eq!(ready_cond.last_transition_time, t0, "still True: the time stays");
    assert_ne!(more, first, "the message changed");

    let invalid = status(
        &more,
        conditions(&object(&["spec.url: missing"]), &gateways),
        Some(4),
        t1.clone(),
    );
    assert_eq!(
        invalid
            .condition(ConditionType::Accepted)
            .unwrap()
            .last_transition_time,
        t1
    );
    assert_eq!(
        invalid
            .condition(ConditionType::Ready)
            .unwrap()
            .observed_generation,
        Some(4)
    );
}

fn applying(id: &str, kind: &str, generation: i64) -> (String, GatewayReport) {
    (
        id.to_string(),
        GatewayReport {
            plugins: Vec::new(),
            policies: vec![crate::status::report::PolicyReport {
                kind: kind.into(),
                namespace: "web".into(),
                name: "auth".into(),
                generation: Some(generation),
            }],
            gateway: None,
        },
    )
}

#[test]
fn a_policy_is_ready_when_every_gateway_applying_it_runs_its_generation() {
    const AP: &str = "AuthorizationPolicy";
    let gateways = [
        applying("a", AP, 3),
        applying("b", AP, 3),
        // selects a RequestAuthentication of the same name: not this one
        applying("c", "RequestAuthentication", 3),
    ];
    let [accepted, ready] = policy_conditions(&object(&[]), AP, &gateways);
    assert_eq!(
        (accepted.status, accepted.reason.as_str()),
        (ConditionStatus::True, "Valid")
    );
    assert_eq!(
        (ready.status, ready.reason.as_str(), ready.message.as_str()),
        (ConditionStatus::True, "Applied", "applied by 2 gateways of 3")
    );

    let gateways = [applying("a", AP, 3), applying("b", AP, 2)];
    let [_, loading] = policy_conditions(&object(&[]), AP, &gateways);
    let shown = |w: &Wanted| (w.status, w.reason.clone(), w.message.clone());
    let loading_message = "applied by 2 gateways of 2; an older generation still runs on 1: b";
    assert_eq!(
        shown(&loading),
        (ConditionStatus::Unknown, "Loading".into(), loading_message.into())
    );

    let [_, none] = policy_conditions(&object(&[]), "RequestAuthentication", &[applying("a", AP, 3)]);
    let why = "applied by 0 gateways of 1: no gateway's workload matches its selector or targetRefs, \
               or none reports";
    assert_eq!(
        shown(&none),
        (ConditionStatus::Unknown, "NotSelected".into(), why.into())
    );
}

#[test]
fn an_invalid_policy_is_not_accepted_with_its_field_path() {
    let bad = "spec.action: unknown variant `PERMIT`, expected one of `ALLOW`, `DENY`";
    let [accepted, ready] = policy_conditions(
        &object(&[bad]),
        "AuthorizationPolicy",
        &[applying("a", "AuthorizationPolicy", 2)],
    );
    assert_eq!(
        (
            accepted.status,
            accepted.reason.as_str(),
            accepted.message.as_str()
        ),
        (ConditionStatus::False, "Invalid", bad)
    );
    assert_eq!(
        (ready.status, ready.reason.as_str()),
        (ConditionStatus::False, "NotAccepted")
    );
    // the status made of it is the WasmPlugin's, at the object's generation
    let t0 = Timestamp::from_unix_seconds(1_000);
    let made = status(&ResourceStatus::default(), [accepted, ready], Some(3), t0);
    assert_eq!(made.observed_generation, Some(3));
    assert_eq!(made.conditions.len(), 2);
}
