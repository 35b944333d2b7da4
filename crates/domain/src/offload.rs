//! Where CPU-heavy work runs: rendering channel texts, feeds and large Markdown bodies
//! happens here, on tokio's blocking threads, never on the async runtime's. In `gazette
//! serve` those runtime threads are also the API's, so a worker run that renders for a
//! while does not keep a request waiting for a thread.
//!
//! At most as many renders run at once as the machine has cores (and at least two, so a
//! worker run rendering never keeps a request's render waiting for long): a burst of
//! rendering queues here instead of starting a thread per request.

use std::future::Future;
use std::sync::{Arc, LazyLock};

use tokio::sync::Semaphore;

/// How many renders may run at once.
fn render_slots() -> usize {
    std::thread::available_parallelism().map_or(2, |cores| cores.get().max(2))
}

static SLOTS: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(render_slots())));

/// Runs `work` off the async runtime, once a render slot is free, and returns what it
/// returns. A panic in `work` continues in the caller, as if `work` had run there.
pub async fn render<T, F>(work: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    // The semaphore is never closed, so acquiring fails never; if it did, running without
    // a slot is better than not running. The render holds its slot, not the caller: a caller
    // that gives up (a request timing out) leaves the render running, and counted.
    let slot = SLOTS.clone().acquire_owned().await.ok();
    finish(tokio::task::spawn_blocking(move || {
        let _slot = slot;
        work()
    }))
    .await
}

async fn finish<T>(task: impl Future<Output = Result<T, tokio::task::JoinError>>) -> T {
    match task.await {
        Ok(value) => value,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        // Only a runtime shutting down cancels a blocking task before it starts, and then
        // the task awaiting it is being dropped with the runtime: nothing waits for this.
        Err(_) => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn renders_off_the_runtime_thread() {
        let runtime_thread = std::thread::current().id();
        let render_thread = render(|| std::thread::current().id()).await;
        assert_ne!(render_thread, runtime_thread);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_panic_reaches_the_caller() {
        let caught = tokio::spawn(render(|| -> u8 { panic!("a bug in a renderer") })).await;
        assert!(caught.is_err_and(|error| error.is_panic()));
    }
}
