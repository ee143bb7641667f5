//! The embedded default: one SQLite file in WAL mode. SQLite has one writer at a time, so batch
//! writes are naturally serial.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool, Transaction};

use super::log::LogRows;
use super::log::{HeadCache, LOG_SIZE, impl_receipt_log, to_i64, to_u64};
use super::sql::ROWS_PER_INSERT;
use super::sql::impl_store;
use super::sql::{ACK_CANDIDATES, LAST_SEQUENCE, Locked, MARK_ACKNOWLEDGED};
use super::{AckJob, AckRow, NewDelivery, NewSubmission, StoreError, StoredBatch, encode_losses};

/// The SQLite backend.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Whether writes append to the receipt log (always, except a load test measuring it).
    receipts: bool,
    /// The log head this process last committed.
    head: HeadCache,
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database file at `path`.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true);
        Self::connect_with(options).await
    }

    /// Opens a `sqlite:` URL (e.g. `sqlite:///var/lib/originhub/hub.db`).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?.create_if_missing(true);
        Self::connect_with(options).await
    }

    async fn connect_with(options: SqliteConnectOptions) -> Result<Self, StoreError> {
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            // WAL with NORMAL is durable against application crashes and loses at most the
            // last transactions on power loss, the usual trade for an embedded default.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        super::migrate::sqlite()
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migrate(e.to_string()))?;
        Ok(Self {
            pool,
            receipts: true,
            head: HeadCache::default(),
        })
    }

    /// See [`super::Store::for_writer`]: SQLite connections run on threads of their own, so
    /// the writer shares this pool.
    async fn writer_store(&self, _connections: u32) -> Result<Self, StoreError> {
        Ok(self.clone())
    }

    /// The pool, for tools and tests that work on the same database.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// `BEGIN IMMEDIATE` takes the write lock up front (waiting up to the busy timeout), so a
    /// transaction that reads before it writes cannot fail when another writer got in between.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// How this backend writes a batch: in steps, since a round trip to an embedded database
    /// costs next to nothing.
    async fn write_batch_now(
        &self,
        batch: &[NewSubmission],
        acks: &[AckJob],
        acked_at: i64,
    ) -> Result<StoredBatch, StoreError> {
        self.write_batch_in_steps(batch, acks, acked_at).await
    }

    /// Reads the log's size and the largest delivery sequence; `BEGIN IMMEDIATE` already holds
    /// SQLite's one write lock.
    async fn lock_writes(tx: &mut Transaction<'_, Sqlite>) -> Result<Locked, StoreError> {
        let (size, last_sequence): (i64, i64) =
            sqlx::query_as(&format!("SELECT ({LOG_SIZE}), ({LAST_SEQUENCE})"))
                .fetch_one(&mut **tx)
                .await?;
        Ok(Locked {
            log_size: to_u64(size)?,
            last_sequence,
        })
    }

    /// Inserts submissions as multi-row INSERTs, skipping any whose idempotency key is taken.
    /// Returns the tracking ids inserted.
    async fn insert_submissions(
        conn: &mut SqliteConnection,
        batch: &[NewSubmission],
    ) -> Result<Vec<String>, StoreError> {
        let mut created = Vec::with_capacity(batch.len());
        for chunk in batch.chunks(ROWS_PER_INSERT) {
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO submissions (tracking_id, sender, agreement, certificate_id, \
                 idempotency_key, content_hash, sender_profile, original, canonical, \
                 receivers, accepted_at, issuer_signature, issuer_key) ",
            );
            insert.push_values(chunk, |mut row, s| {
                row.push_bind(&s.tracking_id)
                    .push_bind(&s.sender)
                    .push_bind(&s.agreement)
                    .push_bind(&s.certificate_id)
                    .push_bind(&s.idempotency_key)
                    .push_bind(&s.content_hash)
                    .push_bind(&s.sender_profile)
                    .push_bind(&s.original)
                    .push_bind(&s.canonical)
                    .push_bind(s.receivers())
                    .push_bind(s.accepted_at)
                    .push_bind(s.issuer.as_ref().map(|(signature, _)| signature))
                    .push_bind(s.issuer.as_ref().map(|(_, key)| key));
            });
            insert.push(" ON CONFLICT (sender, idempotency_key) DO NOTHING RETURNING tracking_id");
            let ids: Vec<(String,)> = insert.build_query_as().fetch_all(&mut *conn).await?;
            created.extend(ids.into_iter().map(|(id,)| id));
        }
        Ok(created)
    }

    /// The deliveries `ids` names that exist, with what an acknowledgement checks and records.
    async fn ack_candidates(
        conn: &mut SqliteConnection,
        ids: &[&str],
    ) -> Result<Vec<AckRow>, StoreError> {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(ROWS_PER_INSERT) {
            let mut select = QueryBuilder::<Sqlite>::new(ACK_CANDIDATES);
            push_in_list(&mut select, chunk);
            found.extend(
                select
                    .build_query_as::<AckRow>()
                    .fetch_all(&mut *conn)
                    .await?,
            );
        }
        Ok(found)
    }

    /// Marks the pending deliveries among `ids` acknowledged at `at`; returns the ids changed.
    async fn mark_acknowledged(
        conn: &mut SqliteConnection,
        ids: &[&str],
        at: i64,
    ) -> Result<Vec<String>, StoreError> {
        let mut changed = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(ROWS_PER_INSERT) {
            let mut update = QueryBuilder::<Sqlite>::new(MARK_ACKNOWLEDGED);
            update.push_bind(at);
            update.push(" WHERE state <> 'acknowledged' AND delivery_id");
            push_in_list(&mut update, chunk);
            update.push(" RETURNING delivery_id");
            let rows: Vec<(String,)> = update.build_query_as().fetch_all(&mut *conn).await?;
            changed.extend(rows.into_iter().map(|(id,)| id));
        }
        Ok(changed)
    }

    /// Inserts deliveries, receipt-log leaves and the hash blocks they touched, as multi-row
    /// INSERTs (an embedded database pays nothing per round trip). Returns each delivery's
    /// (sequence, id).
    async fn insert_deliveries(
        conn: &mut SqliteConnection,
        deliveries: &[(&NewSubmission, &NewDelivery)],
        log: &LogRows,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let mut sequences = Vec::with_capacity(deliveries.len());
        for chunk in deliveries.chunks(ROWS_PER_INSERT) {
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO deliveries (delivery_id, tracking_id, receiver, profile, document, \
                 not_representable, state, created_at, attestation) ",
            );
            insert.push_values(chunk, |mut row, (s, d)| {
                row.push_bind(&d.delivery_id)
                    .push_bind(&s.tracking_id)
                    .push_bind(&d.receiver)
                    .push_bind(&d.profile)
                    .push_bind(&d.document)
                    .push_bind(encode_losses(&d.not_representable))
                    .push_bind("pending")
                    .push_bind(s.accepted_at)
                    .push_bind(&d.attestation);
            });
            insert.push(" RETURNING seq, delivery_id");
            let rows: Vec<(i64, String)> = insert.build_query_as().fetch_all(&mut *conn).await?;
            sequences.extend(rows);
        }
        for chunk in log.entries.chunks(ROWS_PER_INSERT) {
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO receipt_log (idx, kind, at, member, sender, receiver, tracking_id, \
                 certificate_id, agreement, delivery_id, entry) ",
            );
            let indexes = chunk
                .iter()
                .map(|(entry, _)| to_i64(entry.index))
                .collect::<Result<Vec<_>, _>>()?;
            insert.push_values(
                chunk.iter().zip(indexes),
                |mut row, ((entry, leaf), index)| {
                    row.push_bind(index)
                        .push_bind(entry.kind.as_str())
                        .push_bind(entry.at)
                        .push_bind(&entry.member)
                        .push_bind(&entry.sender)
                        .push_bind(&entry.receiver)
                        .push_bind(&entry.tracking_id)
                        .push_bind(&entry.certificate_id)
                        .push_bind(&entry.agreement)
                        .push_bind(&entry.delivery_id)
                        .push_bind(leaf);
                },
            );
            insert.build().execute(&mut *conn).await?;
        }
        if !log.blocks.is_empty() {
            let mut upsert =
                QueryBuilder::<Sqlite>::new("INSERT INTO log_hash_blocks (block, hashes) ");
            upsert.push_values(&log.blocks, |mut row, (block, bytes)| {
                row.push_bind(*block).push_bind(bytes);
            });
            upsert.push(" ON CONFLICT (block) DO UPDATE SET hashes = excluded.hashes");
            upsert.build().execute(&mut *conn).await?;
        }
        Ok(sequences)
    }
}

/// Appends ` IN (?, ...)` with `ids` bound.
fn push_in_list<'a>(query: &mut QueryBuilder<'a, Sqlite>, ids: &[&'a str]) {
    query.push(" IN (");
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(*id);
    }
    query.push(")");
}

impl_store!(SqliteStore, Sqlite, "sqlite");
impl_receipt_log!(SqliteStore, Sqlite);
