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
use super::{NewDelivery, NewSubmission, StoreError, encode_losses};

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

    /// Takes the write lock and reads the log's size, in one round trip: the simple protocol
    /// runs each statement of a string with its own snapshot, so the size is read after the
    /// lock is held and sees every earlier writer's commit.
    async fn lock_writes(tx: &mut Transaction<'_, Postgres>) -> Result<u64, StoreError> {
        // Called on the executor rather than on `raw_sql`, which trips sqlx's lifetime bounds
        // in a Send future (launchbadge/sqlx#3150).
        let sql = format!("SELECT pg_advisory_xact_lock({WRITE_LOCK}); {LOG_SIZE}");
        let rows = (&mut **tx).fetch_all(sqlx::raw_sql(&sql)).await?;
        let size: i64 = rows
            .last()
            .ok_or_else(|| StoreError::Database("the log size query returned no row".into()))?
            .try_get(0)?;
        to_u64(size)
    }
}

impl_store!(PostgresStore, Postgres, "postgres");
impl_receipt_log!(PostgresStore, Postgres);
