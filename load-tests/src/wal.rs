//! Bytes of write-ahead log per submission: how far Postgres's WAL position
//! (`pg_current_wal_lsn()`) moved during a phase, divided by the phase's submissions.
//!
//! Why the harness reports it: a commit waits until its WAL is on disk, and the hub's batches
//! commit one after another, so the bytes a certificate costs set how long each batch's flush
//! takes (on one host of this project's kind, 1.3 ms for a batch's 89 KB). And unlike a rate,
//! bytes per submission hardly move with the host's speed: a change in them is measured even
//! where the ratio is too noisy to show it.
//!
//! The position is the whole server's, so whatever else writes to that server during the phase
//! (autovacuum, another database) counts too; on a server of its own that is little. The
//! window is the CPU split's ([`crate::cpu`]): from the first submission to the last delivery.

use sqlx::PgPool;

/// The server's WAL position now, in bytes from the start of the log; `None` when it cannot be
/// read (a standby in recovery, a server that refuses the query).
pub(crate) async fn position(server: &PgPool) -> Option<u64> {
    let text: String = sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
        .fetch_one(server)
        .await
        .ok()?;
    parse_lsn(&text)
}

/// The WAL bytes written since `before`; `None` if either position is unknown.
pub(crate) async fn bytes_since(server: &PgPool, before: Option<u64>) -> Option<u64> {
    let before = before?;
    position(server).await?.checked_sub(before)
}

/// An LSN as Postgres prints it, `HIGH/LOW` in hexadecimal (each half 32 bits), as one number.
fn parse_lsn(text: &str) -> Option<u64> {
    let (high, low) = text.trim().split_once('/')?;
    let high = u32::from_str_radix(high, 16).ok()?;
    let low = u32::from_str_radix(low, 16).ok()?;
    Some((u64::from(high) << 32) | u64::from(low))
}

#[cfg(test)]
mod tests {
    use super::{bytes_since, parse_lsn, position};

    #[test]
    fn lsns_read_as_two_hex_halves() {
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("1/7A087738"), Some((1 << 32) + 0x7A08_7738));
        assert_eq!(
            parse_lsn(" 16/B374D848\n"),
            Some((0x16 << 32) + 0xB374_D848)
        );
        // The low half wraps into the high one: positions stay ordered across it.
        assert!(parse_lsn("1/0") > parse_lsn("0/FFFFFFFF"));
    }

    #[test]
    fn anything_else_is_unknown() {
        for text in ["", "7A087738", "1/", "/1", "1/2/3", "G/0", "1/100000000"] {
            assert_eq!(parse_lsn(text), None, "{text:?}");
        }
    }

    /// Against the Postgres the other suites use (`ORIGINHUB_TEST_POSTGRES`, default the local
    /// server): writing a row moves the position by at least the row's bytes.
    #[tokio::test]
    async fn the_position_moves_by_what_is_written() {
        let url = std::env::var("ORIGINHUB_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let server = sqlx::PgPool::connect(&url).await.unwrap_or_else(|e| {
            panic!(
                "Postgres is not reachable at {url} ({e}); start it or set ORIGINHUB_TEST_POSTGRES"
            )
        });
        let before = position(&server).await;
        assert!(before.is_some(), "pg_current_wal_lsn() reads");
        // A regular table (a temporary one's rows are not logged), made and dropped in one
        // transaction, stored uncompressed so the row's bytes all reach the log.
        let table = format!("wal_probe_{}", std::process::id());
        let mut tx = server.begin().await.expect("transaction");
        for statement in [
            format!("CREATE TABLE {table} (payload TEXT)"),
            format!("ALTER TABLE {table} ALTER payload SET STORAGE EXTERNAL"),
            format!("INSERT INTO {table} VALUES (repeat('x', 20000))"),
            format!("DROP TABLE {table}"),
        ] {
            sqlx::query(&statement)
                .execute(&mut *tx)
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
        tx.commit().await.expect("commit");
        let written = bytes_since(&server, before).await.expect("both positions");
        assert!(
            written >= 20_000,
            "{written} bytes of WAL for a 20,000-byte row"
        );
        assert_eq!(bytes_since(&server, None).await, None);
    }
}
