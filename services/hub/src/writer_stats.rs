//! How the batch writer spends its time: how many batches it wrote and how large they were, how
//! long a batch took from the call to its commit, and how long the writer waited, either for a
//! batch in flight to finish (every slot taken) or for work (a slot free, nothing queued).
//!
//! These tell where a hub under load is held: a writer that mostly waits for a slot is bound by
//! the database's serial path (each batch waits for the one before it to commit), one that
//! mostly waits for work by the requests that feed it. The load test reports them per phase.
//!
//! Counters are relaxed atomics: each is updated by the writer's thread alone and read as a
//! snapshot, so a reader may see one batch's counts without its time, never a torn value.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A snapshot of the writer's counters since it started ([`WriterCounters::snapshot`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Batches written (committed or refused).
    pub batches: u64,
    /// Submissions in those batches.
    pub submissions: u64,
    /// Acknowledgements in those batches (requests, each of one or more deliveries).
    pub acknowledgements: u64,
    /// Time the batches took in the store, from the call to its answer, summed (batches in
    /// flight at once each count in full).
    pub writing: Duration,
    /// Time the writer waited for a batch in flight to finish because every slot was taken.
    pub waiting_for_slot: Duration,
    /// Time the writer had a free slot and waited for something to write.
    pub waiting_for_work: Duration,
}

impl WriterStats {
    /// What happened between `earlier` and this snapshot.
    pub fn since(self, earlier: Self) -> Self {
        Self {
            batches: self.batches.saturating_sub(earlier.batches),
            submissions: self.submissions.saturating_sub(earlier.submissions),
            acknowledgements: self
                .acknowledgements
                .saturating_sub(earlier.acknowledgements),
            writing: self.writing.saturating_sub(earlier.writing),
            waiting_for_slot: self
                .waiting_for_slot
                .saturating_sub(earlier.waiting_for_slot),
            waiting_for_work: self
                .waiting_for_work
                .saturating_sub(earlier.waiting_for_work),
        }
    }

    /// Submissions per batch; `None` before the first batch.
    pub fn submissions_per_batch(&self) -> Option<f64> {
        (self.batches > 0).then(|| self.submissions as f64 / self.batches as f64)
    }

    /// Mean milliseconds from a batch's call to its answer; `None` before the first batch.
    pub fn ms_per_batch(&self) -> Option<f64> {
        (self.batches > 0).then(|| self.writing.as_secs_f64() * 1000.0 / self.batches as f64)
    }
}

/// Both together (phases of several runs).
impl std::ops::Add for WriterStats {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self {
            batches: self.batches + other.batches,
            submissions: self.submissions + other.submissions,
            acknowledgements: self.acknowledgements + other.acknowledgements,
            writing: self.writing + other.writing,
            waiting_for_slot: self.waiting_for_slot + other.waiting_for_slot,
            waiting_for_work: self.waiting_for_work + other.waiting_for_work,
        }
    }
}

/// The writer's live counters, shared with whoever reads them.
#[derive(Debug, Default)]
pub struct WriterCounters {
    batches: AtomicU64,
    submissions: AtomicU64,
    acknowledgements: AtomicU64,
    writing_ns: AtomicU64,
    waiting_for_slot_ns: AtomicU64,
    waiting_for_work_ns: AtomicU64,
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl WriterCounters {
    /// Counts one batch written in `took`.
    pub(crate) fn batch(&self, submissions: usize, acknowledgements: usize, took: Duration) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.submissions
            .fetch_add(submissions as u64, Ordering::Relaxed);
        self.acknowledgements
            .fetch_add(acknowledgements as u64, Ordering::Relaxed);
        self.writing_ns.fetch_add(nanos(took), Ordering::Relaxed);
    }

    /// Counts a wait for a free slot.
    pub(crate) fn waited_for_slot(&self, took: Duration) {
        self.waiting_for_slot_ns
            .fetch_add(nanos(took), Ordering::Relaxed);
    }

    /// Counts a wait for work.
    pub(crate) fn waited_for_work(&self, took: Duration) {
        self.waiting_for_work_ns
            .fetch_add(nanos(took), Ordering::Relaxed);
    }

    /// The counts so far.
    pub fn snapshot(&self) -> WriterStats {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        WriterStats {
            batches: load(&self.batches),
            submissions: load(&self.submissions),
            acknowledgements: load(&self.acknowledgements),
            writing: Duration::from_nanos(load(&self.writing_ns)),
            waiting_for_slot: Duration::from_nanos(load(&self.waiting_for_slot_ns)),
            waiting_for_work: Duration::from_nanos(load(&self.waiting_for_work_ns)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_batches_and_waits_and_takes_differences() {
        let counters = WriterCounters::default();
        assert_eq!(counters.snapshot(), WriterStats::default());
        assert_eq!(counters.snapshot().ms_per_batch(), None);
        counters.batch(8, 1, Duration::from_millis(6));
        let first = counters.snapshot();
        counters.batch(4, 0, Duration::from_millis(2));
        counters.waited_for_slot(Duration::from_millis(3));
        counters.waited_for_work(Duration::from_millis(1));
        let second = counters.snapshot();
        assert_eq!(
            (second.batches, second.submissions, second.acknowledgements),
            (2, 12, 1)
        );
        assert_eq!(second.submissions_per_batch(), Some(6.0));
        assert_eq!(second.ms_per_batch(), Some(4.0));
        let later = second.since(first);
        assert_eq!((later.batches, later.submissions), (1, 4));
        assert_eq!(later.writing, Duration::from_millis(2));
        assert_eq!(later.waiting_for_slot, Duration::from_millis(3));
        assert_eq!(later.waiting_for_work, Duration::from_millis(1));
        assert_eq!(first + later, second);
    }
}
