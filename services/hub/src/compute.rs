//! CPU-heavy request work (checking the issuer's signature, translating, attesting) runs here,
//! on tokio's blocking pool, rather than on the runtime's workers.
//!
//! A submission takes a few hundred microseconds of CPU to prepare. On the workers, every
//! network read, database reply and delivery stream queued behind it would wait that long; on
//! the blocking pool the OS shares the cores between it and them.

use crate::error::ApiError;

/// Runs `work` on the blocking pool and waits for it.
pub async fn run<T, F>(work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(format!("a worker thread failed: {e}")))
}
