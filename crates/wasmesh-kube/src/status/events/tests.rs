use super::*;
use wasmesh_api::timestamp::Timestamp;

fn condition(kind: ConditionType, status: ConditionStatus, reason: &str) -> Condition {
    Condition {
        kind,
        status,
        reason: reason.into(),
        message: format!("{reason}: the message"),
        last_transition_time: Timestamp::from_unix_seconds(0),
        observed_generation: Some(1),
    }
}

fn status(conditions: Vec<Condition>) -> ResourceStatus {
    ResourceStatus {
        conditions,
        observed_generation: Some(1),
    }
}

#[test]
fn a_failure_is_reported_when_its_reason_is_new_and_not_while_it_stays() {
    use ConditionStatus::{False, True, Unknown};
    use ConditionType::{Accepted, Ready};
    let fresh = status(vec![]);
    let loaded = status(vec![
        condition(Accepted, True, "Valid"),
        condition(Ready, True, "Loaded"),
    ]);
    let mismatch = status(vec![
        condition(Accepted, True, "Valid"),
        condition(Ready, False, "DigestMismatch"),
    ]);
    let reasons = |from: &ResourceStatus, to: &ResourceStatus| -> Vec<String> {
        new_failures(from, to).iter().map(|c| c.reason.clone()).collect()
    };
    assert_eq!(reasons(&fresh, &mismatch), ["DigestMismatch"]);
    assert_eq!(reasons(&loaded, &mismatch), ["DigestMismatch"]);
    // the same reason again (another message, a later pass, a new writer): nothing
    assert!(reasons(&mismatch, &mismatch).is_empty());
    // another reason: reported
    let fetch = status(vec![
        condition(Accepted, True, "Valid"),
        condition(Ready, False, "FetchFailed"),
    ]);
    assert_eq!(reasons(&mismatch, &fetch), ["FetchFailed"]);
    // recovering is no failure; Unknown is none either
    assert!(reasons(&mismatch, &loaded).is_empty());
    let loading = status(vec![
        condition(Accepted, True, "Valid"),
        condition(Ready, Unknown, "Loading"),
    ]);
    assert!(reasons(&fresh, &loading).is_empty());
    // invalid: Accepted's Event only, Ready=False NotAccepted follows from it
    let invalid = status(vec![
        condition(Accepted, False, "Invalid"),
        condition(Ready, False, "NotAccepted"),
    ]);
    assert_eq!(reasons(&loaded, &invalid), ["Invalid"]);
}

#[test]
fn an_event_regards_the_plugin_as_a_warning_from_the_controller() {
    let mut object = DynamicObject {
        types: None,
        metadata: ObjectMeta {
            name: Some("auth".into()),
            namespace: Some("web".into()),
            uid: Some("u-1".into()),
            resource_version: Some("42".into()),
            ..ObjectMeta::default()
        },
        data: serde_json::Value::Null,
    };
    let mut failed = condition(ConditionType::Ready, ConditionStatus::False, "DigestMismatch");
    failed.message = "é".repeat(600);
    let now = k8s_openapi::jiff::Timestamp::from_second(1_700_000_000).unwrap();
    let made = event(
        &object,
        "extensions.istio.io/v1alpha1",
        &failed,
        &"g".repeat(200),
        now,
    );
    let json = serde_json::to_value(&made).unwrap();
    assert_eq!(json["metadata"]["namespace"], "web");
    assert!(json["metadata"]["name"].as_str().unwrap().starts_with("auth."));
    assert_eq!(
        json["involvedObject"],
        serde_json::json!({
            "apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin", "name": "auth",
            "namespace": "web", "uid": "u-1", "resourceVersion": "42",
        })
    );
    assert_eq!(json["type"], "Warning");
    assert_eq!(json["reason"], "DigestMismatch");
    assert_eq!(json["reportingComponent"], REPORTING_CONTROLLER);
    assert_eq!(json["source"]["component"], REPORTING_CONTROLLER);
    assert_eq!(json["reportingInstance"].as_str().unwrap().len(), 128);
    // cut to the server's limit, at a character boundary
    let message = json["message"].as_str().unwrap();
    assert_eq!(message.len(), 1024);
    assert_eq!(json["lastTimestamp"], "2023-11-14T22:13:20Z");
    object.metadata.name = Some("other".into());
    let later = event(&object, "v", &failed, "g", now);
    assert!(later.metadata.name.unwrap().starts_with("other."));
}
