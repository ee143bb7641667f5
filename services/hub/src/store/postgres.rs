//! Postgres, for production and several hub replicas on one database.

use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgConnection, PgPool, Postgres, Row, Transaction};

use crate::receipts::entry::Entry;

use super::log::LogRows;
use super::log::{HeadCache, LOG_SIZE, impl_receipt_log, to_i64, to_u64};
use super::sql::impl_store;

/// Key of the advisory lock that makes batch writes one at a time across replicas, so delivery
/// sequence numbers and log indexes are committed in order.
const WRITE_LOCK: i64 = 0x6f72_6967_696e; // "origin"
use super::sql::{ACK_CANDIDATES, LAST_SEQUENCE, Locked, MARK_ACKNOWLEDGED};
use super::{AckRow, NewDelivery, NewSubmission, StoreError, encode_losses};

/// The Postgres backend.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// Whether writes append to the receipt log (always, except a load test measuring it).
    receipts: bool,
    /// The log head this process last committed.
    head: HeadCache,
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
            .after_connect(|conn, _| {
                Box::pin(async move { conn.execute("SET enable_seqscan = off").await.map(|_| ()) })
            })
            .connect_with((*self.pool.connect_options()).clone())
            .await?;
        Ok(Self {
            pool,
            receipts: self.receipts,
            head: self.head.clone(),
        })
    }

    /// The pool, for tools that measure against the same database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
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
        let text = |f: fn(&NewSubmission) -> &str| -> Vec<&str> { batch.iter().map(f).collect() };
        let ids: Vec<(String,)> = sqlx::query_as(
            "INSERT INTO submissions (tracking_id, sender, agreement, certificate_id, \
             idempotency_key, content_hash, sender_profile, original, canonical, receivers, \
             accepted_at, issuer_signature, issuer_key) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
             $6::text[], $7::text[], $8::bytea[], $9::text[], $10::text[], $11::int8[], \
             $12::bytea[], $13::text[]) \
             ON CONFLICT (sender, idempotency_key) DO NOTHING RETURNING tracking_id",
        )
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
        let entries = &log.entries;
        let leaf_column = |f: fn(&Entry) -> &Option<String>| -> Vec<Option<&str>> {
            entries.iter().map(|(e, _)| f(e).as_deref()).collect()
        };
        let delivery_column =
            |f: for<'a> fn(&'a NewSubmission, &'a NewDelivery) -> &'a str| -> Vec<&str> {
                deliveries.iter().map(|(s, d)| f(s, d)).collect()
            };
        let indexes = entries
            .iter()
            .map(|(e, _)| to_i64(e.index))
            .collect::<Result<Vec<_>, _>>()?;
        let (block_numbers, block_hashes): (Vec<i64>, Vec<&[u8]>) = log
            .blocks
            .iter()
            .map(|(block, bytes)| (*block, bytes.as_slice()))
            .unzip();
        let rows = sqlx::query_as(
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
        )
        .bind(indexes)
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
