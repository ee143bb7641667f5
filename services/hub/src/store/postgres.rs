//! Postgres, for production and several hub replicas on one database.

use sqlx::postgres::PgPoolOptions;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::receipts::entry::Entry;

use super::StoreError;
use super::log::impl_receipt_log;
use super::log::to_i64;
use super::sql::impl_store;

/// Key of the advisory lock that makes batch writes one at a time across replicas, so delivery
/// sequence numbers are committed in order.
const WRITE_LOCK: i64 = 0x6f72_6967_696e; // "origin"

/// The Postgres backend.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// Whether writes append to the receipt log (always, except a load test measuring it).
    receipts: bool,
}

impl PostgresStore {
    /// Connects to `url` and migrates.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect(url)
            .await?;
        super::migrate::postgres()
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migrate(e.to_string()))?;
        Ok(Self {
            pool,
            receipts: true,
        })
    }

    /// The pool, for tools that measure against the same database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
    }

    /// Inserts receipt-log leaves: one INSERT of UNNESTed arrays, whatever the count, so
    /// Postgres parses and plans eleven parameters rather than eleven per leaf.
    async fn insert_leaves(
        conn: &mut PgConnection,
        entries: &[(Entry, String)],
    ) -> Result<(), StoreError> {
        let column = |f: fn(&Entry) -> &Option<String>| -> Vec<Option<String>> {
            entries.iter().map(|(e, _)| f(e).clone()).collect()
        };
        let indexes = entries
            .iter()
            .map(|(e, _)| to_i64(e.index))
            .collect::<Result<Vec<_>, _>>()?;
        sqlx::query(
            "INSERT INTO receipt_log (idx, kind, at, member, sender, receiver, tracking_id, \
             certificate_id, agreement, delivery_id, entry) \
             SELECT * FROM UNNEST($1::int8[], $2::text[], $3::int8[], $4::text[], $5::text[], \
             $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])",
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
        .bind(column(|e| &e.sender))
        .bind(column(|e| &e.receiver))
        .bind(column(|e| &e.tracking_id))
        .bind(column(|e| &e.certificate_id))
        .bind(column(|e| &e.agreement))
        .bind(column(|e| &e.delivery_id))
        .bind(
            entries
                .iter()
                .map(|(_, leaf)| leaf.as_str())
                .collect::<Vec<_>>(),
        )
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    async fn lock_writes(tx: &mut Transaction<'_, Postgres>) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITE_LOCK)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

impl_store!(PostgresStore, Postgres, "postgres");
impl_receipt_log!(PostgresStore, Postgres);
