//! The migrations in `migrations/sqlite` and `migrations/postgres`, compiled into the binary so
//! it needs no files at run time. They are applied at start-up.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};

fn migrator(files: &[(i64, &'static str, &'static str)]) -> Migrator {
    let migrations = files
        .iter()
        .map(|(version, description, sql)| {
            Migration::new(
                *version,
                Cow::Borrowed(*description),
                MigrationType::Simple,
                Cow::Borrowed(*sql),
                false,
            )
        })
        .collect::<Vec<_>>();
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}

pub(super) fn sqlite() -> Migrator {
    migrator(&[
        (
            1,
            "hub",
            include_str!("../../../../migrations/sqlite/0001_hub.sql"),
        ),
        (
            2,
            "receipt log",
            include_str!("../../../../migrations/sqlite/0002_receipt_log.sql"),
        ),
        (
            3,
            "fewer index entries per certificate",
            include_str!("../../../../migrations/sqlite/0003_fewer_index_entries.sql"),
        ),
    ])
}

pub(super) fn postgres() -> Migrator {
    migrator(&[
        (
            1,
            "hub",
            include_str!("../../../../migrations/postgres/0001_hub.sql"),
        ),
        (
            2,
            "receipt log",
            include_str!("../../../../migrations/postgres/0002_receipt_log.sql"),
        ),
        (
            3,
            "lz4 for large values",
            include_str!("../../../../migrations/postgres/0003_toast_lz4.sql"),
        ),
        (
            4,
            "lz4 for the other large values",
            include_str!("../../../../migrations/postgres/0004_toast_lz4_more.sql"),
        ),
        (
            5,
            "a batch in one statement",
            include_str!("../../../../migrations/postgres/0005_write_batch_at_once.sql"),
        ),
        (
            6,
            "acknowledgements rewrite a narrow delivery row",
            include_str!("../../../../migrations/postgres/0006_deliveries_narrow_update.sql"),
        ),
        (
            7,
            "a batch waits for a predecessor that has not started",
            include_str!("../../../../migrations/postgres/0007_wait_for_predecessor.sql"),
        ),
        (
            8,
            "fewer index entries per certificate",
            include_str!("../../../../migrations/postgres/0008_fewer_index_entries.sql"),
        ),
    ])
}
