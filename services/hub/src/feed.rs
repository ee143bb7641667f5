//! The deliveries this process committed, batch by batch, so a subscription that is up to date
//! takes a new batch's deliveries from memory instead of asking the database which are pending.
//!
//! A batch commits under the database's write lock, and every delivery gets its sequence number
//! there, so a batch covers a closed range of sequences: everything committed with a sequence
//! above what the table's largest was when the batch took the lock ([`Batch::after`]) and up to
//! its own largest ([`Batch::through`]) is that batch's. A subscription remembers the largest
//! sequence its last database read saw (`synced`); a batch whose `after` is that number follows
//! on with nothing missed in between, and so does the next one from its `through`. Where the
//! chain breaks (another replica committed in between, or the batch fell out of this bounded
//! memory) the subscription asks the database, as it did before.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::store::DeliveryRecord;

/// Most batches remembered.
const MAX_BATCHES: usize = 1024;
/// Most deliveries remembered, over all batches (the same bound as the delivery cache).
const MAX_DELIVERIES: usize = 4096;

/// One committed batch.
#[derive(Debug)]
struct Batch {
    /// The largest sequence committed before this batch (0: none).
    after: i64,
    /// The largest sequence committed by this batch (`after` if it made none).
    through: i64,
    /// Its deliveries, in sequence order.
    deliveries: Vec<Arc<DeliveryRecord>>,
}

/// Recent committed batches, oldest first.
#[derive(Debug, Default)]
pub struct DeliveryFeed {
    batches: Mutex<VecDeque<Batch>>,
}

impl DeliveryFeed {
    /// Records a committed batch that covers the sequences in `after + 1 ..= through`.
    pub fn push(&self, after: i64, through: i64, deliveries: Vec<Arc<DeliveryRecord>>) {
        let mut batches = self.batches.lock().unwrap_or_else(|e| e.into_inner());
        batches.push_back(Batch {
            after,
            through,
            deliveries,
        });
        let mut held: usize = batches.iter().map(|b| b.deliveries.len()).sum();
        while batches.len() > MAX_BATCHES || (held > MAX_DELIVERIES && batches.len() > 1) {
            if let Some(oldest) = batches.pop_front() {
                held -= oldest.deliveries.len();
            }
        }
    }

    /// `receiver`'s deliveries committed after sequence `synced`, and the sequence they bring
    /// the reader up to, if this memory holds every batch committed since `synced` in one
    /// unbroken chain. `None`: ask the database.
    pub fn follow(&self, synced: i64, receiver: &str) -> Option<(Vec<Arc<DeliveryRecord>>, i64)> {
        let batches = self.batches.lock().unwrap_or_else(|e| e.into_inner());
        let mut at = synced;
        let mut found = Vec::new();
        // A reader is usually a batch or two behind: look from the newest end.
        while let Some(next) = batches
            .iter()
            .rev()
            .find(|b| b.after == at && b.through > at)
        {
            found.extend(
                next.deliveries
                    .iter()
                    .filter(|d| d.receiver == receiver)
                    .cloned(),
            );
            at = next.through;
        }
        // A batch beyond the chain's end means one in between is missing here.
        if batches.iter().any(|b| b.through > at) {
            return None;
        }
        Some((found, at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(sequence: i64, receiver: &str) -> Arc<DeliveryRecord> {
        Arc::new(DeliveryRecord {
            receiver: receiver.into(),
            sequence,
            delivery_id: format!("d{sequence}"),
            tracking_id: String::new(),
            certificate_id: String::new(),
            agreement: String::new(),
            sender: String::new(),
            profile: String::new(),
            document: Vec::new(),
            original: Vec::new(),
            original_profile: String::new(),
            original_hash: String::new(),
            not_representable: Vec::new(),
            accepted_at: 0,
            attestation: String::new(),
            issuer_signature: None,
        })
    }

    fn sequences(found: &[Arc<DeliveryRecord>]) -> Vec<i64> {
        found.iter().map(|d| d.sequence).collect()
    }

    #[test]
    fn a_chain_of_batches_gives_the_receivers_deliveries_in_order() {
        let feed = DeliveryFeed::default();
        feed.push(0, 2, vec![delivery(1, "a"), delivery(2, "b")]);
        feed.push(2, 2, Vec::new()); // acknowledgements only
        feed.push(2, 5, vec![delivery(4, "a"), delivery(5, "a")]);
        let (found, at) = feed.follow(0, "a").unwrap();
        assert_eq!((sequences(&found), at), (vec![1, 4, 5], 5));
        let (found, at) = feed.follow(2, "b").unwrap();
        assert_eq!((sequences(&found), at), (vec![], 5));
        assert_eq!(
            feed.follow(5, "a").map(|(f, at)| (f.len(), at)),
            Some((0, 5))
        );
    }

    #[test]
    fn a_commit_from_elsewhere_breaks_the_chain() {
        let feed = DeliveryFeed::default();
        feed.push(0, 2, vec![delivery(2, "a")]);
        // Sequences 3..=4 were committed by another replica.
        feed.push(4, 6, vec![delivery(6, "a")]);
        assert!(feed.follow(0, "a").is_none());
        assert!(feed.follow(2, "a").is_none());
        let (found, at) = feed.follow(4, "a").unwrap();
        assert_eq!((sequences(&found), at), (vec![6], 6));
    }

    #[test]
    fn batches_pushed_out_of_order_still_chain() {
        let feed = DeliveryFeed::default();
        feed.push(3, 5, vec![delivery(5, "a")]);
        feed.push(0, 3, vec![delivery(3, "a")]);
        let (found, at) = feed.follow(0, "a").unwrap();
        assert_eq!((sequences(&found), at), (vec![3, 5], 5));
    }

    #[test]
    fn forgotten_batches_send_readers_to_the_database() {
        let feed = DeliveryFeed::default();
        let mut through = 0;
        for _ in 0..=MAX_BATCHES {
            feed.push(through, through + 1, vec![delivery(through + 1, "a")]);
            through += 1;
        }
        assert!(feed.follow(0, "a").is_none(), "the first batch is gone");
        let (found, at) = feed.follow(1, "a").unwrap();
        assert_eq!((found.len(), at), (MAX_BATCHES, through));

        let feed = DeliveryFeed::default();
        let half = MAX_DELIVERIES / 2 + 1;
        let batch = |from: i64| (1..=half as i64).map(|n| delivery(from + n, "a")).collect();
        feed.push(0, half as i64, batch(0));
        feed.push(half as i64, 2 * half as i64, batch(half as i64));
        assert!(feed.follow(0, "a").is_none(), "over the delivery bound");
        assert_eq!(feed.follow(half as i64, "a").unwrap().0.len(), half);
    }
}
