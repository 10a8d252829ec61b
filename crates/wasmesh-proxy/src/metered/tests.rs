use super::*;
use crate::stats::{Labels, Stats, WorkerStats};
use http_body_util::BodyExt;

fn series() -> (Arc<Stats>, Arc<Series>) {
    let stats = Arc::new(Stats::default());
    let labels = Labels {
        reporter: "destination",
        destination_workload: "gw".into(),
        destination_workload_namespace: "ns".into(),
        destination_service: "backend".into(),
        request_protocol: "http",
        response_code: 200,
        response_flags: "-",
    };
    let s = WorkerStats::new(stats.clone()).series(&labels);
    (stats, s)
}

fn rendered(stats: &Stats) -> String {
    let mut out = String::new();
    stats.render(&mut out);
    out
}

fn record(series: &Arc<Series>, request_bytes: Option<u64>) -> Record {
    Record {
        series: series.clone(),
        start: Instant::now(),
        request_bytes: request_bytes.map(|n| Arc::new(AtomicU64::new(n))),
    }
}

#[tokio::test]
async fn counts_the_bytes_that_pass_and_records_once_when_the_body_ends() {
    let (stats, series) = series();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    for chunk in ["abc", "defgh"] {
        tx.send(Ok(Frame::data(Bytes::from(chunk)))).await.unwrap();
    }
    drop(tx);
    let body = Metered::new(ProxyBody::Channel(rx), record(&series, Some(7)));
    assert_eq!(stats.requests_with_code(200), 0, "not before the end");
    let collected = body.collect().await.unwrap().to_bytes();
    assert_eq!(&collected[..], b"abcdefgh");
    assert_eq!(stats.requests_with_code(200), 1);
    let out = rendered(&stats);
    let sum = |name: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("{name}_sum{{")))
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_owned)
    };
    assert_eq!(sum("istio_response_bytes").as_deref(), Some("8"), "{out}");
    assert_eq!(sum("istio_request_bytes").as_deref(), Some("7"), "{out}");
}

#[test]
fn a_body_already_at_its_end_is_recorded_at_once_and_a_dropped_one_on_drop() {
    let (stats, series) = series();
    let empty = Metered::new(ProxyBody::Empty, record(&series, None));
    assert_eq!(stats.requests_with_code(200), 1);
    drop(empty);
    assert_eq!(stats.requests_with_code(200), 1, "recorded once");

    let (_tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BodyError>>(1);
    let reset = Metered::new(ProxyBody::Channel(rx), record(&series, None));
    assert_eq!(stats.requests_with_code(200), 1);
    drop(reset);
    assert_eq!(stats.requests_with_code(200), 2);
}
