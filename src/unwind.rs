//! Panics stay on the server thread. monoio does not catch a panicking task, so one bug in one
//! connection would unwind through the runtime and take every connection with it; each task is
//! wrapped instead, and a panic ends only that task, reported to JS as a server error.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use crate::bridge::Bridge;

pub struct CatchUnwind<F> {
    inner: Pin<Box<F>>,
}

/// `fut`, but a panic while polling it completes it with `Err(message)`.
pub fn catch_unwind_future<F: Future<Output = ()>>(fut: F) -> CatchUnwind<F> {
    CatchUnwind {
        inner: Box::pin(fut),
    }
}

impl<F: Future<Output = ()>> Future for CatchUnwind<F> {
    type Output = Result<(), String>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.get_mut().inner;
        // AssertUnwindSafe: after a panic the inner future is never polled again, only dropped,
        // so no broken invariant inside it can be observed.
        match catch_unwind(AssertUnwindSafe(|| inner.as_mut().poll(cx))) {
            Ok(poll) => poll.map(Ok),
            Err(payload) => Poll::Ready(Err(panic_message(payload.as_ref()))),
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-string payload".to_string())
}

/// Spawns `task` so that a panic in it ends that task alone and is reported to JS as a server
/// error, instead of unwinding through the runtime and every other connection.
pub fn spawn_contained(bridge: &Rc<Bridge>, task: impl std::future::Future<Output = ()> + 'static) {
    let bridge = bridge.clone();
    // Boxed here, outside the spawned block: a future moved in unboxed would be stored twice per
    // task (inline in the task cell, then in CatchUnwind's box), ~1.7 KB per idle connection.
    let task = catch_unwind_future(task);
    monoio::spawn(async move {
        if let Err(message) = task.await {
            bridge.report_error(&format!(
                "internal error, the server keeps serving: {message}"
            ));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_task_becomes_an_error() {
        let ok = catch_unwind_future(async {});
        let boom = catch_unwind_future(async { panic!("boom") });
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(ok), Ok(()));
        assert_eq!(rt.block_on(boom), Err("boom".to_string()));
    }
}
