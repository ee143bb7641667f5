//! The embedded default: one SQLite file in WAL mode. SQLite has one writer at a time, so batch
//! writes are naturally serial.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool, Transaction};

use crate::receipts::entry::Entry;

use super::StoreError;
use super::log::impl_receipt_log;
use super::log::to_i64;
use super::sql::impl_store;

/// The SQLite backend.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Whether writes append to the receipt log (always, except a load test measuring it).
    receipts: bool,
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
        })
    }

    /// `BEGIN IMMEDIATE` takes the write lock up front (waiting up to the busy timeout), so a
    /// transaction that reads before it writes cannot fail when another writer got in between.
    /// The pool, for tools and tests that work on the same database.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    async fn lock_writes(_tx: &mut Transaction<'_, Sqlite>) -> Result<(), StoreError> {
        // BEGIN IMMEDIATE already holds SQLite's one write lock.
        Ok(())
    }

    /// Inserts receipt-log leaves: multi-row INSERTs.
    async fn insert_leaves(
        conn: &mut SqliteConnection,
        entries: &[(Entry, String)],
    ) -> Result<(), StoreError> {
        for chunk in entries.chunks(super::sql::ROWS_PER_INSERT) {
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
        Ok(())
    }
}

impl_store!(SqliteStore, Sqlite, "sqlite");
impl_receipt_log!(SqliteStore, Sqlite);
