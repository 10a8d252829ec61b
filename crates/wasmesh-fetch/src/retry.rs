//! Exponential backoff, as Istio's fetcher: first wait `initial`, doubling, at most
//! `attempts` tries in all.

use std::{future::Future, time::Duration};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Retry {
    pub attempts: u32,
    pub initial: Duration,
}

impl Retry {
    /// Runs `op` until it succeeds, fails with an error `retryable` refuses, or the attempts
    /// are spent. Returns the last error with the number of attempts made.
    pub(crate) async fn run<T, E, Fut>(
        &self,
        mut op: impl FnMut() -> Fut,
        retryable: impl Fn(&E) -> bool,
    ) -> Result<T, (E, u32)>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        let mut wait = self.initial;
        let mut attempt = 1;
        loop {
            match op().await {
                Ok(value) => return Ok(value),
                Err(e) if attempt < self.attempts.max(1) && retryable(&e) => {
                    tracing::debug!(
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "retrying a module fetch"
                    );
                    tokio::time::sleep(wait).await;
                    wait = wait.saturating_mul(2).min(Duration::from_secs(30));
                    attempt += 1;
                }
                Err(e) => return Err((e, attempt)),
            }
        }
    }
}

/// Istio retries 5xx except 501 (not implemented), 505 (version) and 511 (auth required).
pub(crate) fn is_retryable_status(status: u16) -> bool {
    (500..600).contains(&status) && !matches!(status, 501 | 505 | 511)
}
