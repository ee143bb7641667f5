//! Postgres, for production and several hub replicas on one database.

use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres, Transaction};

use super::StoreError;
use super::log::impl_receipt_log;
use super::sql::impl_store;

/// Key of the advisory lock that makes batch writes one at a time across replicas, so delivery
/// sequence numbers are committed in order.
const WRITE_LOCK: i64 = 0x6f72_6967_696e; // "origin"

/// The Postgres backend.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
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
        Ok(Self { pool })
    }

    /// The pool, for tools that measure against the same database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
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
