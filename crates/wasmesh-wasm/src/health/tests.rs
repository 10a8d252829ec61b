use super::*;

const BACKOFF: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(30));

fn failure(strategy: FailStrategy, reason: FailureReason) -> Failure {
    Failure {
        plugin: "ns.p".into(),
        reason,
        strategy,
    }
}

fn trap() -> FailureReason {
    FailureReason::Trap {
        callback: "proxy_on_request_headers",
        message: "wasm trap: unreachable".into(),
    }
}

#[test]
fn backoff_doubles_up_to_its_cap() {
    let waits: Vec<u64> = (1..=7).map(|a| backoff_for(a, BACKOFF).as_secs()).collect();
    assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
    assert_eq!(backoff_for(u32::MAX, BACKOFF), Duration::from_secs(30));
}

#[test]
fn states_read_as_the_admin_api_says_them() {
    let now = Instant::now();
    let reloading = VmState::Reloading {
        attempt: 2,
        next_at: now + Duration::from_millis(1450),
    };
    assert_eq!(reloading.describe(now), "reloading (attempt 2, next in 1.5s)");
    assert_eq!(
        reloading.describe(now + Duration::from_secs(2)),
        "reloading (attempt 2, due now)"
    );
    assert_eq!(VmState::ConfigureRejected.describe(now), "configure-rejected");
    assert_eq!(reloading.label(), "reloading");
}

#[test]
fn a_rejected_configuration_and_a_trap_are_told_apart_and_counted() {
    let board = HealthBoard::default();
    let a = board.register(0);
    let b = board.register(1);
    board.failed(
        a,
        &failure(
            FailStrategy::FailClose,
            FailureReason::Rejected("proxy_on_configure"),
        ),
        BACKOFF,
    );
    board.failed(b, &failure(FailStrategy::FailOpen, trap()), BACKOFF);
    let all = board.snapshot();
    assert_eq!(all[0].state, VmState::ConfigureRejected);
    assert_eq!(
        all[0].last_error.as_ref().unwrap().message,
        "proxy_on_configure returned false (the plugin rejected its configuration)"
    );
    assert_eq!(
        (all[1].worker, all[1].state, all[1].failures),
        (1, VmState::Failed, 1)
    );
    board.remove(a);
    assert_eq!(board.snapshot().len(), 1);
}

#[test]
fn fail_reload_schedules_each_attempt_later_until_the_vm_runs_again() {
    let board = HealthBoard::default();
    let vm = board.register(0);
    let reload = failure(FailStrategy::FailReload, trap());
    board.failed(vm, &reload, BACKOFF);
    let now = Instant::now();
    assert!(!board.reload_due(vm, now), "not before the backoff");
    assert!(board.reload_due(vm, now + Duration::from_secs(1)));
    // The re-created VM fails too: attempt 2, after twice the wait.
    board.failed(vm, &reload, BACKOFF);
    let VmState::Reloading { attempt, next_at } = board.snapshot()[0].state else {
        panic!("{:?}", board.snapshot())
    };
    assert_eq!(attempt, 2);
    assert!(next_at >= now + Duration::from_millis(1900));
    board.loaded(vm);
    let h = &board.snapshot()[0];
    assert_eq!(
        (h.state, h.failures),
        (VmState::Loaded, 2),
        "failures stay counted"
    );
    board.failed(vm, &reload, BACKOFF);
    assert!(
        matches!(board.snapshot()[0].state, VmState::Reloading { attempt: 1, .. }),
        "a VM that ran starts over at attempt 1"
    );
}
