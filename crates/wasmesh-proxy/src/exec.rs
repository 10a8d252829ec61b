//! Running hyper's background tasks on the current worker thread.

use std::future::Future;

/// Spawns onto the worker's `LocalSet`, so tasks may hold the worker's `Rc` state.
#[derive(Clone, Copy, Debug, Default)]
pub struct LocalExec;

impl<F> hyper::rt::Executor<F> for LocalExec
where
    F: Future + 'static,
{
    fn execute(&self, fut: F) {
        tokio::task::spawn_local(fut);
    }
}
