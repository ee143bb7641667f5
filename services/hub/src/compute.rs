//! Where CPU-heavy request work (checking the issuer's signature, translating, attesting) runs:
//! on the runtime worker that handles the request when the input is small, on tokio's blocking
//! pool when it is large.
//!
//! A submission of an ordinary certificate (a few KiB) takes a few hundred microseconds to
//! prepare. Handing that to another thread and back cost more than the work: in the load test
//! the hub spent about 12% less machine CPU per submission with it done in place (two wakeups
//! and context switches fewer per request, and memory allocated and freed on the same two
//! threads instead of on dozens of pool threads). The work grows with the document, and a
//! document near the size limit would hold up every connection queued on that worker for as
//! long, so above [`IN_PLACE_BYTES`] the work still goes to the blocking pool.

use crate::error::ApiError;

/// Inputs up to this size are worked on in place.
pub const IN_PLACE_BYTES: usize = 64 * 1024;

/// Runs `work`, whose input is `input_bytes` long: in place when that is at most
/// [`IN_PLACE_BYTES`], otherwise on the blocking pool.
pub async fn run<T, F>(input_bytes: usize, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    if input_bytes <= IN_PLACE_BYTES {
        // To the back of the worker's queue first: network events and tasks already waiting
        // (delivery streams, replies) run before this takes the worker for a while.
        tokio::task::yield_now().await;
        return Ok(work());
    }
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(format!("a worker thread failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn small_inputs_stay_on_the_worker_and_large_ones_go_to_the_pool() {
        let here = std::thread::current().id();
        let small = run(IN_PLACE_BYTES, || std::thread::current().id())
            .await
            .unwrap();
        let large = run(IN_PLACE_BYTES + 1, || std::thread::current().id())
            .await
            .unwrap();
        assert_eq!(small, here);
        assert_ne!(large, here);
    }
}
