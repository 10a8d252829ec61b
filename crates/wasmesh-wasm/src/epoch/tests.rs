use super::*;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

/// A ticker on its own thread counting ticks instead of advancing an engine's epoch.
fn counting(budget_ticks: u64) -> (Arc<EpochClock>, Arc<AtomicU64>) {
    let clock = Arc::new(EpochClock::new(budget_ticks));
    let ticks = Arc::new(AtomicU64::new(0));
    std::thread::spawn({
        let (clock, ticks) = (clock.clone(), ticks.clone());
        move || {
            let _ = clock.thread.set(std::thread::current());
            clock.run(|| {
                ticks.fetch_add(1, Ordering::SeqCst);
                true
            })
        }
    });
    (clock, ticks)
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "timed out waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn the_ticker_sleeps_without_calls_and_a_call_wakes_it() {
    let (clock, ticks) = counting(2);
    wait_until("the ticker sleeps", || clock.is_asleep());
    let slept_at = ticks.load(Ordering::SeqCst);
    // it went to sleep after more idle ticks than a budget
    assert!(slept_at > 2, "slept after {slept_at} ticks");
    std::thread::sleep(EPOCH_TICK * 6);
    assert_eq!(ticks.load(Ordering::SeqCst), slept_at, "an asleep ticker ticked");
    clock.call_starts();
    assert!(!clock.is_asleep());
    wait_until("a tick after the call", || {
        ticks.load(Ordering::SeqCst) > slept_at + 2
    });
    clock.stop();
}

#[test]
fn a_call_gets_more_ticks_than_its_budget_before_the_ticker_sleeps() {
    let budget = 3;
    let (clock, ticks) = counting(budget);
    wait_until("the ticker sleeps", || clock.is_asleep());
    // a call that starts and never returns: the deadline it set is `budget` ticks away
    let started_at = ticks.load(Ordering::SeqCst);
    clock.call_starts();
    wait_until("the ticker sleeps again", || clock.is_asleep());
    let ticked = ticks.load(Ordering::SeqCst) - started_at;
    assert!(ticked > budget, "only {ticked} ticks after the call started");
    clock.stop();
}

#[test]
fn calls_keep_the_ticker_awake() {
    let (clock, ticks) = counting(2);
    let start = Instant::now();
    while start.elapsed() < EPOCH_TICK * 12 {
        clock.call_starts();
        assert!(!clock.is_asleep());
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(
        ticks.load(Ordering::SeqCst) >= 6,
        "{} ticks",
        ticks.load(Ordering::SeqCst)
    );
    clock.stop();
}

#[test]
fn budget_ticks_round_down_and_add_one() {
    assert_eq!(budget_ticks(Duration::from_millis(500)), 101);
    assert_eq!(budget_ticks(Duration::from_millis(7)), 2);
    assert_eq!(budget_ticks(Duration::from_micros(10)), 2);
}
