//! Postgres, for production and several hub replicas on one database.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgConnection, PgPool, Postgres, Row, Transaction};

use crate::receipts::entry::Entry;
use crate::receipts::tree::{BLOCK_HASHES, HashReader, MemoryHashes, append_reads, block_of};

use super::log::{HeadCache, LOG_SIZE, impl_receipt_log, to_i64, to_u64};
use super::log::{LogRows, append_rows};
use super::sql::impl_store;

/// Key of the advisory lock that makes batch writes one at a time across replicas, so delivery
/// sequence numbers and log indexes are committed in order.
const WRITE_LOCK: i64 = 0x6f72_6967_696e; // "origin"
use super::sql::{ACK_CANDIDATES, LAST_SEQUENCE, Locked, MARK_ACKNOWLEDGED};
use super::{
    AckJob, AckOutcome, AckRow, NewDelivery, NewSubmission, StoreError, Stored, StoredBatch,
    ack_ids, acknowledged_event, batch_events, check_acks, encode_losses, stored_batch,
};

/// The Postgres backend.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// Whether writes append to the receipt log (always, except a load test measuring it).
    receipts: bool,
    /// The log head this process last committed.
    head: HeadCache,
    /// How batches were written, shared with the writer's store.
    counts: Arc<Counters>,
    /// Deliveries this store committed and has not seen acknowledged.
    unacknowledged: Arc<std::sync::Mutex<Unacknowledged>>,
}

/// Most deliveries [`Unacknowledged`] remembers (a few megabytes).
const UNACKNOWLEDGED_CAPACITY: usize = 16_384;

/// The deliveries a store committed and has not seen acknowledged, with what an acknowledgement
/// checks and records ([`AckRow`]), so that a batch acknowledging only those does not read them
/// back first: that read is a round trip before the batch can be sent, while the batch before
/// it holds the write lock. What it remembers may be stale (acknowledged through another
/// replica); the one-statement write checks that every delivery it acknowledges is still
/// pending (OH002), and the steps read them again. Bounded: the oldest are forgotten first, and
/// their acknowledgements read them back as before. (The hub's `DeliveryCache` holds recent
/// deliveries too, whole, for subscriptions; it lives above the [`super::Store`] trait, and this
/// keeps the trait as it is and only the seven fields an acknowledgement needs.)
#[derive(Debug, Default)]
struct Unacknowledged {
    rows: HashMap<String, AckRow>,
    order: std::collections::VecDeque<String>,
}

impl Unacknowledged {
    /// The rows of `ids` if every one of them is remembered.
    fn rows(&self, ids: &[&str]) -> Option<Vec<AckRow>> {
        ids.iter().map(|id| self.rows.get(*id).cloned()).collect()
    }

    /// Remembers what a committed batch delivered and forgets what it acknowledged.
    fn committed(&mut self, acks: &[AckJob], stored: &StoredBatch) {
        for (job, outcome) in acks.iter().zip(&stored.acks) {
            if matches!(outcome, AckOutcome::Acknowledged(_)) {
                for id in &job.delivery_ids {
                    self.rows.remove(id);
                }
            }
        }
        for d in &stored.deliveries {
            let row = (
                d.delivery_id.clone(),
                d.receiver.clone(),
                "pending".to_owned(),
                d.tracking_id.clone(),
                d.sender.clone(),
                d.certificate_id.clone(),
                d.agreement.clone(),
            );
            self.order.push_back(d.delivery_id.clone());
            self.rows.insert(d.delivery_id.clone(), row);
        }
        while self.order.len() > UNACKNOWLEDGED_CAPACITY {
            if let Some(id) = self.order.pop_front() {
                self.rows.remove(&id);
            }
        }
    }
}

/// How a store's batches went to the database ([`PostgresStore::batch_counts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounts {
    /// Written in one statement.
    pub at_once: u64,
    /// Of those, sent a second time because the batch they were hashed on had not committed
    /// when they took the write lock.
    pub sent_again: u64,
    /// Written in steps.
    pub in_steps: u64,
}

#[derive(Debug, Default)]
struct Counters {
    at_once: AtomicU64,
    sent_again: AtomicU64,
    in_steps: AtomicU64,
}

/// SQLSTATEs with which `originhub_write_batch` (migration 0005) says an assumption of the
/// one-statement path did not hold, having written nothing.
const NOT_AT_ONCE: [&str; 3] = ["OH001", "OH002", "OH003"];

/// The one-statement write (migration 0005): expected log size and the stored hashes the append
/// reads ($1–$4), lock key ($5), ticket space, ticket and the predecessor's ticket ($6–$8),
/// submissions ($9–$21), acknowledged ids and time ($22, $23), leaves, hash blocks and
/// deliveries ($24–$44).
const WRITE_BATCH_AT_ONCE: &str = "SELECT out_seq, out_delivery_id FROM originhub_write_batch(\
     $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
     $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37, $38, \
     $39, $40, $41, $42, $43, $44)";

/// The stored hashes an append to a log of a given size reads ([`append_reads`]), as the
/// database must hold them for leaves hashed on them to be right: block, byte offset in the
/// block (from 1, as SQL counts) and hash.
#[derive(Debug)]
struct FrontierCheck {
    blocks: Vec<i64>,
    offsets: Vec<i32>,
    hashes: Vec<Vec<u8>>,
}

impl FrontierCheck {
    fn of(size: u64, hashes: &MemoryHashes) -> Result<Self, StoreError> {
        let indexes = append_reads(size);
        let found = hashes
            .read_hashes(&indexes)
            .map_err(|e| StoreError::Corrupt(format!("cached receipt-log frontier: {e}")))?;
        let mut check = Self {
            blocks: Vec::with_capacity(indexes.len()),
            offsets: Vec::with_capacity(indexes.len()),
            hashes: Vec::with_capacity(indexes.len()),
        };
        for (index, hash) in indexes.into_iter().zip(found) {
            check.blocks.push(to_i64(block_of(index))?);
            // At most 31 * 32 + 1.
            check.offsets.push((index % BLOCK_HASHES * 32 + 1) as i32);
            check.hashes.push(hash.0.to_vec());
        }
        Ok(check)
    }
}

impl PostgresStore {
    /// Connects to `url` and migrates.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // sqlx pings each connection it hands out by default: a round trip per transaction
            // on the write path. A broken connection fails its query instead, and the batch
            // that used it is refused whole and retried by its callers.
            .test_before_acquire(false)
            .connect(url)
            .await?;
        super::migrate::postgres()
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migrate(e.to_string()))?;
        Ok(Self {
            pool,
            receipts: true,
            head: HeadCache::default(),
            counts: Arc::default(),
            unacknowledged: Arc::default(),
        })
    }

    /// See [`super::Store::for_writer`]: a pool of its own, one connection per batch in flight.
    async fn writer_store(&self, connections: u32) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(connections.max(1))
            .test_before_acquire(false)
            // Every statement the writer runs finds its rows by a key with an index (ids,
            // idempotency keys, log indexes). Young tables (small, not yet analyzed) made the
            // planner prefer whole-table scans for the id lists acknowledgements bring, and it
            // kept those plans as the tables grew: every acknowledgement read every delivery.
            // This session setting only makes a scan the last resort, so a statement without an
            // index would still run.
            //
            // Generic plans: a batch's statements take whole arrays of documents as parameters.
            // Postgres's default gave them custom plans, planned again on every call with each
            // array copied into the plan as a constant, for the call and for each statement of
            // `originhub_write_batch` inside it; a generic plan is made once per connection and
            // refers to the parameters where they are. Every plan here is an index lookup or
            // an UNNEST whatever the values, so the values have nothing to tell the planner.
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("SET enable_seqscan = off").await?;
                    conn.execute("SET plan_cache_mode = force_generic_plan")
                        .await
                        .map(|_| ())
                })
            })
            .connect_with((*self.pool.connect_options()).clone())
            .await?;
        Ok(Self {
            pool,
            receipts: self.receipts,
            head: self.head.clone(),
            counts: self.counts.clone(),
            unacknowledged: self.unacknowledged.clone(),
        })
    }

    /// The pool, for tools that measure against the same database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// How the batches this store and its writer wrote so far went to the database.
    pub fn batch_counts(&self) -> BatchCounts {
        BatchCounts {
            at_once: self.counts.at_once.load(Ordering::Relaxed),
            sent_again: self.counts.sent_again.load(Ordering::Relaxed),
            in_steps: self.counts.in_steps.load(Ordering::Relaxed),
        }
    }

    /// How this backend writes a batch: in one statement when it can
    /// ([`Self::write_batch_at_once`]), else step by step.
    async fn write_batch_now(
        &self,
        batch: &[NewSubmission],
        acks: &[AckJob],
        acked_at: i64,
    ) -> Result<StoredBatch, StoreError> {
        let stored = if let Some(stored) = self.write_batch_at_once(batch, acks, acked_at).await? {
            self.counts.at_once.fetch_add(1, Ordering::Relaxed);
            stored
        } else {
            let stored = self.write_batch_in_steps(batch, acks, acked_at).await?;
            self.counts.in_steps.fetch_add(1, Ordering::Relaxed);
            stored
        };
        self.unacknowledged
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .committed(acks, &stored);
        Ok(stored)
    }

    /// Writes a batch with one round trip to the database, where the steps take five to seven:
    /// `originhub_write_batch` (migration 0005) does in one call, and one transaction, what
    /// [`Self::write_batch_in_steps`] does. Round trips are what a batch waits on, and under the
    /// write lock what every other batch waits on.
    ///
    /// Acknowledgements are checked against the deliveries they name, outside this process's
    /// turn: the ones this store committed and remembers ([`Unacknowledged`]), else read first.
    /// The leaves are hashed on the cached log head, whether the batch that left it has
    /// committed or is still being written, and the turn passes on with this batch's head and
    /// ticket ([`super::log::HeadTurn::hand_over`]) before the call. The call checks what that
    /// assumed: every submission is new, every acknowledged delivery still pending, and the
    /// log of the size, and with the stored hashes ([`append_reads`]), the leaves were hashed
    /// on; otherwise it writes nothing. Then, and when no head is cached (the first batch, or
    /// after a batch failed), this returns `None` and the caller writes the batch in steps;
    /// except that a batch that found the log short because the batch it hashed on had not
    /// committed yet is sent again once that one has.
    async fn write_batch_at_once(
        &self,
        batch: &[NewSubmission],
        acks: &[AckJob],
        acked_at: i64,
    ) -> Result<Option<StoredBatch>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let (ack_outcomes, acknowledged) = if acks.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            let ids = ack_ids(acks);
            let remembered = self
                .unacknowledged
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .rows(&ids);
            let found = match remembered {
                Some(rows) => rows,
                None => Self::ack_candidates(&mut conn, &ids).await?,
            };
            check_acks(acks, found)
        };
        // This process's batches take their turn here, as in the steps, so the head a batch
        // hashes on is the one the previous batch left. The turn passes on as soon as the leaves
        // are hashed: the next batch hashes on this one's head while this one is written, and
        // the database checks that head when the next one takes the write lock.
        let mut turn = self.head.turn().await;
        let (size, reads, after, log) = if self.receipts {
            let Some(head) = turn.cached() else {
                return Ok(None);
            };
            let reads = FrontierCheck::of(head.size, &head.hashes)?;
            let events = batch_events(
                batch,
                acknowledged
                    .iter()
                    .map(|row| acknowledged_event(row, acked_at)),
            );
            (
                Some(to_i64(head.size)?),
                Some(reads),
                head.after,
                append_rows(&mut turn, head.size, head.hashes, events)?,
            )
        } else {
            (None, None, None, LogRows::default())
        };
        let deliveries: Vec<_> = batch
            .iter()
            .flat_map(|s| s.deliveries.iter().map(move |d| (s, d)))
            .collect();
        let after_ticket = after.as_ref().map(|a| a.ticket);
        let (ticket, settle) = turn.hand_over();
        let statement = || {
            let query = sqlx::query_as(WRITE_BATCH_AT_ONCE)
                .bind(size)
                .bind(reads.as_ref().map(|r| &r.blocks))
                .bind(reads.as_ref().map(|r| &r.offsets))
                .bind(reads.as_ref().map(|r| &r.hashes))
                .bind(WRITE_LOCK)
                .bind(self.head.ticket_space())
                .bind(ticket)
                .bind(after_ticket);
            let query = bind_submissions(query, batch)
                .bind(
                    acknowledged
                        .iter()
                        .map(|row| row.0.as_str())
                        .collect::<Vec<_>>(),
                )
                .bind(acked_at);
            bind_appends(query, &deliveries, &log)
        };
        let mut result: Result<Vec<(i64, Option<String>)>, _> =
            statement().fetch_all(&mut *conn).await;
        // The call waits for the batch this one hashed on even before that one has taken its
        // ticket (migration 0007), but only so long: if that batch had still not committed,
        // this one found the log short. Once that batch committed, the same statement is right
        // again.
        if let (Err(error), Some(mut before)) = (&result, after)
            && code_of(error).as_deref() == Some("OH003")
            && before.committed().await
        {
            self.counts.sent_again.fetch_add(1, Ordering::Relaxed);
            result = statement().fetch_all(&mut *conn).await;
        }
        let rows = match result {
            Ok(rows) => {
                settle.settled(true);
                rows
            }
            Err(error) => {
                settle.settled(false);
                // Batches may have hashed on this one's head already; they will fail their
                // check, and the next turn starts from a head read back from the database.
                self.head.forget().await;
                return match code_of(&error) {
                    Some(code) if NOT_AT_ONCE.contains(&&*code) => {
                        tracing::debug!(%error, "writing the batch in steps");
                        Ok(None)
                    }
                    _ => Err(error.into()),
                };
            }
        };
        let mut sequences = HashMap::with_capacity(deliveries.len());
        let mut last_sequence = 0;
        for (seq, id) in rows {
            match id {
                Some(id) => {
                    sequences.insert(id, seq);
                }
                None => last_sequence = seq,
            }
        }
        let outcomes = batch.iter().map(|s| Stored::Created(s.receipt())).collect();
        Ok(Some(stored_batch(
            outcomes,
            ack_outcomes,
            &deliveries,
            &sequences,
            last_sequence,
        )))
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
    }

    /// Inserts submissions, skipping any whose idempotency key is taken; returns the tracking
    /// ids inserted. One statement of UNNESTed arrays whatever the batch's size, so Postgres
    /// parses and plans it once per connection: multi-row VALUES lists were a new prepared
    /// statement for every batch size.
    async fn insert_submissions(
        conn: &mut PgConnection,
        batch: &[NewSubmission],
    ) -> Result<Vec<String>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<(String,)> = bind_submissions(
            sqlx::query_as(
                "INSERT INTO submissions (tracking_id, sender, agreement, certificate_id, \
                 idempotency_key, content_hash, sender_profile, original, canonical, receivers, \
                 accepted_at, issuer_signature, issuer_key) \
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
                 $6::text[], $7::text[], $8::bytea[], $9::text[], $10::text[], $11::int8[], \
                 $12::bytea[], $13::text[]) \
                 ON CONFLICT (sender, idempotency_key) DO NOTHING RETURNING tracking_id",
            ),
            batch,
        )
        .fetch_all(&mut *conn)
        .await?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    /// The deliveries `ids` names that exist, with what an acknowledgement checks and records:
    /// one statement whatever the count (see [`Self::insert_submissions`]).
    async fn ack_candidates(
        conn: &mut PgConnection,
        ids: &[&str],
    ) -> Result<Vec<AckRow>, StoreError> {
        Ok(sqlx::query_as(&format!("{ACK_CANDIDATES} = ANY($1)"))
            .bind(ids)
            .fetch_all(&mut *conn)
            .await?)
    }

    /// Marks the pending deliveries among `ids` acknowledged at `at`; returns the ids changed.
    async fn mark_acknowledged(
        conn: &mut PgConnection,
        ids: &[&str],
        at: i64,
    ) -> Result<Vec<String>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(String,)> = sqlx::query_as(&format!(
            "{MARK_ACKNOWLEDGED} $1 WHERE state <> 'acknowledged' AND delivery_id = ANY($2) \
             RETURNING delivery_id"
        ))
        .bind(at)
        .bind(ids)
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Inserts deliveries, receipt-log leaves and the hash blocks they touched in one statement
    /// (round trips under the write lock are what limit batch throughput): each table's rows as
    /// UNNESTed arrays, whatever their count, the log's in data-modifying CTEs. Returns each
    /// delivery's (sequence, id).
    async fn insert_deliveries(
        conn: &mut PgConnection,
        deliveries: &[(&NewSubmission, &NewDelivery)],
        log: &LogRows,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        if deliveries.is_empty() && log.entries.is_empty() {
            return Ok(Vec::new());
        }
        let query = sqlx::query_as(
            "WITH leaves AS (INSERT INTO receipt_log (idx, kind, at, member, sender, receiver, \
             tracking_id, certificate_id, agreement, delivery_id, entry) \
             SELECT * FROM UNNEST($1::int8[], $2::text[], $3::int8[], $4::text[], $5::text[], \
             $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])), \
             blocks AS (INSERT INTO log_hash_blocks (block, hashes) \
             SELECT * FROM UNNEST($12::int8[], $13::bytea[]) \
             ON CONFLICT (block) DO UPDATE SET hashes = excluded.hashes) \
             INSERT INTO deliveries (delivery_id, tracking_id, receiver, profile, document, \
             not_representable, state, created_at, attestation) \
             SELECT d, t, r, p, doc, nr, 'pending', c, a FROM UNNEST($14::text[], $15::text[], \
             $16::text[], $17::text[], $18::bytea[], $19::text[], $20::int8[], $21::text[]) \
             AS x(d, t, r, p, doc, nr, c, a) \
             RETURNING seq, delivery_id",
        );
        let rows = bind_appends(query, deliveries, log)
            .fetch_all(&mut *conn)
            .await?;
        Ok(rows)
    }

    /// Takes the write lock and reads the log's size and the largest delivery sequence, in one
    /// round trip: the simple protocol runs each statement of a string with its own snapshot, so
    /// both are read after the lock is held and see every earlier writer's commit.
    async fn lock_writes(tx: &mut Transaction<'_, Postgres>) -> Result<Locked, StoreError> {
        // Called on the executor rather than on `raw_sql`, which trips sqlx's lifetime bounds
        // in a Send future (launchbadge/sqlx#3150).
        let sql =
            format!("SELECT pg_advisory_xact_lock({WRITE_LOCK}); {LOG_SIZE}; {LAST_SEQUENCE}");
        let rows = (&mut **tx).fetch_all(sqlx::raw_sql(&sql)).await?;
        let [.., size, last] = rows.as_slice() else {
            return Err(StoreError::Database(format!(
                "locking for a write returned {} rows, not 3",
                rows.len()
            )));
        };
        Ok(Locked {
            log_size: to_u64(size.try_get(0)?)?,
            last_sequence: last.try_get(0)?,
        })
    }
}

impl_store!(PostgresStore, Postgres, "postgres");
impl_receipt_log!(PostgresStore, Postgres);

/// The SQLSTATE of a database error.
fn code_of(error: &sqlx::Error) -> Option<std::borrow::Cow<'_, str>> {
    match error {
        sqlx::Error::Database(error) => error.code(),
        _ => None,
    }
}

/// A statement whose rows are `O`, with parameters still to bind.
type Statement<'q, O> = sqlx::query::QueryAs<'q, Postgres, O, sqlx::postgres::PgArguments>;

/// Binds a batch's submissions as 13 arrays, one per column (see `insert_submissions`).
fn bind_submissions<'q, O>(
    query: Statement<'q, O>,
    batch: &'q [NewSubmission],
) -> Statement<'q, O> {
    let text = |f: fn(&NewSubmission) -> &str| -> Vec<&str> { batch.iter().map(f).collect() };
    query
        .bind(text(|s| &s.tracking_id))
        .bind(text(|s| &s.sender))
        .bind(text(|s| &s.agreement))
        .bind(text(|s| &s.certificate_id))
        .bind(text(|s| &s.idempotency_key))
        .bind(text(|s| &s.content_hash))
        .bind(text(|s| &s.sender_profile))
        .bind(
            batch
                .iter()
                .map(|s| s.original.as_slice())
                .collect::<Vec<_>>(),
        )
        .bind(text(|s| &s.canonical))
        .bind(
            batch
                .iter()
                .map(NewSubmission::receivers)
                .collect::<Vec<_>>(),
        )
        .bind(batch.iter().map(|s| s.accepted_at).collect::<Vec<_>>())
        .bind(
            batch
                .iter()
                .map(|s| s.issuer.as_ref().map(|(signature, _)| signature.as_slice()))
                .collect::<Vec<_>>(),
        )
        .bind(
            batch
                .iter()
                .map(|s| s.issuer.as_ref().map(|(_, key)| key.as_str()))
                .collect::<Vec<_>>(),
        )
}

/// Binds receipt-log leaves (11 arrays), hash blocks (2) and deliveries (8), in that order (see
/// `insert_deliveries`).
fn bind_appends<'q, O>(
    query: Statement<'q, O>,
    deliveries: &'q [(&'q NewSubmission, &'q NewDelivery)],
    log: &'q LogRows,
) -> Statement<'q, O> {
    let entries = &log.entries;
    let leaf_column = |f: fn(&Entry) -> &Option<String>| -> Vec<Option<&str>> {
        entries.iter().map(|(e, _)| f(e).as_deref()).collect()
    };
    let delivery_column =
        |f: for<'a> fn(&'a NewSubmission, &'a NewDelivery) -> &'a str| -> Vec<&'q str> {
            deliveries.iter().map(|(s, d)| f(s, d)).collect()
        };
    let (block_numbers, block_hashes): (Vec<i64>, Vec<&[u8]>) = log
        .blocks
        .iter()
        .map(|(block, bytes)| (*block, bytes.as_slice()))
        .unzip();
    query
        .bind(&log.indexes)
        .bind(
            entries
                .iter()
                .map(|(e, _)| e.kind.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(entries.iter().map(|(e, _)| e.at).collect::<Vec<_>>())
        .bind(
            entries
                .iter()
                .map(|(e, _)| e.member.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(leaf_column(|e| &e.sender))
        .bind(leaf_column(|e| &e.receiver))
        .bind(leaf_column(|e| &e.tracking_id))
        .bind(leaf_column(|e| &e.certificate_id))
        .bind(leaf_column(|e| &e.agreement))
        .bind(leaf_column(|e| &e.delivery_id))
        .bind(
            entries
                .iter()
                .map(|(_, leaf)| leaf.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(block_numbers)
        .bind(block_hashes)
        .bind(delivery_column(|_, d| &d.delivery_id))
        .bind(delivery_column(|s, _| &s.tracking_id))
        .bind(delivery_column(|_, d| &d.receiver))
        .bind(delivery_column(|_, d| &d.profile))
        .bind(
            deliveries
                .iter()
                .map(|(_, d)| d.document.as_slice())
                .collect::<Vec<_>>(),
        )
        .bind(
            deliveries
                .iter()
                .map(|(_, d)| encode_losses(&d.not_representable))
                .collect::<Vec<_>>(),
        )
        .bind(
            deliveries
                .iter()
                .map(|(s, _)| s.accepted_at)
                .collect::<Vec<_>>(),
        )
        .bind(delivery_column(|_, d| &d.attestation))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DeliveryRecord;

    fn delivered(ids: impl IntoIterator<Item = usize>) -> StoredBatch {
        StoredBatch {
            deliveries: ids
                .into_iter()
                .map(|n| DeliveryRecord {
                    delivery_id: format!("d{n}"),
                    receiver: "concordia".into(),
                    tracking_id: format!("t{n}"),
                    ..DeliveryRecord::default()
                })
                .collect(),
            ..StoredBatch::default()
        }
    }

    fn acknowledging(ids: &[&str], outcome: AckOutcome) -> (Vec<AckJob>, StoredBatch) {
        let job = AckJob {
            receiver: "concordia".into(),
            delivery_ids: ids.iter().map(|id| (*id).to_owned()).collect(),
        };
        let stored = StoredBatch {
            acks: vec![outcome],
            ..StoredBatch::default()
        };
        (vec![job], stored)
    }

    #[test]
    fn remembers_deliveries_until_acknowledged() {
        let mut remembered = Unacknowledged::default();
        remembered.committed(&[], &delivered(0..3));
        let rows = remembered.rows(&["d0", "d2"]).unwrap();
        assert_eq!(rows[1].0, "d2");
        assert_eq!(
            (rows[1].1.as_str(), rows[1].2.as_str()),
            ("concordia", "pending")
        );
        assert_eq!(rows[1].3, "t2");
        assert!(
            remembered.rows(&["d0", "elsewhere"]).is_none(),
            "all or none"
        );

        // A refused acknowledgement changes nothing; an applied one forgets its deliveries.
        let (jobs, refused) = acknowledging(&["d0"], AckOutcome::NotYours("d0".into()));
        remembered.committed(&jobs, &refused);
        assert!(remembered.rows(&["d0"]).is_some());
        let (jobs, applied) = acknowledging(&["d0", "d1"], AckOutcome::Acknowledged(2));
        remembered.committed(&jobs, &applied);
        assert!(remembered.rows(&["d0"]).is_none());
        assert!(remembered.rows(&["d1"]).is_none());
        assert!(remembered.rows(&["d2"]).is_some());
    }

    #[test]
    fn forgets_the_oldest_beyond_its_capacity() {
        let mut remembered = Unacknowledged::default();
        remembered.committed(&[], &delivered(0..UNACKNOWLEDGED_CAPACITY + 2));
        assert!(remembered.rows(&["d0"]).is_none());
        assert!(remembered.rows(&["d1"]).is_none());
        let newest = format!("d{}", UNACKNOWLEDGED_CAPACITY + 1);
        assert!(remembered.rows(&["d2", &newest]).is_some());
        assert_eq!(remembered.rows.len(), UNACKNOWLEDGED_CAPACITY);
    }
}
