//! Inclusion proofs in a receipt log of one million leaves.
//!
//! - `inclusion_1m/memory`: the proof from stored hashes held in memory, then its check against
//!   the root: the tree work alone;
//! - `inclusion_1m/sqlite`: what `AuditService.GetInclusionProof` does on the embedded backend:
//!   find the stored hashes the proof reads, fetch their blocks from the database, prove;
//! - `inclusion_1m/postgres`: the same on Postgres, when `DATABASE_URL` names one (a fresh
//!   database is made next to it and dropped after);
//! - `append_batch_1m/memory`: appending a batch of 512 leaves to a tree of a million from its
//!   frontier (what every write transaction computes).
//!
//! Each database's log is built once, through the store's own append path (SQLite into a
//! temporary file). Run: `cargo bench -p originhub-hub --bench receipt_log`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use originhub_hub::receipts::entry::{EventKind, NewEvent};
use originhub_hub::receipts::tree::{
    self, MemoryHashes, frontier, inclusion_indexes, leaf_hash, verify_inclusion,
};
use originhub_hub::store::{PostgresStore, ReceiptLog, SqliteStore};

const LEAVES: u64 = 1_000_000;

fn event(i: u64) -> NewEvent {
    let mut event = NewEvent::new(
        EventKind::Queued,
        "concordia",
        1_800_000_000_000_000 + i as i64,
    )
    .with("profile", "edi3-coo-json@1.0.0")
    .with("document_sha256", format!("{i:064x}"));
    event.sender = Some("borastria".into());
    event.receiver = Some("concordia".into());
    event.tracking_id = Some(format!("t-{i}"));
    event.certificate_id = Some(format!("CO-{i}"));
    event
}

/// Positions spread over the log, so proofs touch different blocks.
fn positions() -> impl Iterator<Item = u64> {
    (0..).map(|k: u64| (k * 7_919_993) % LEAVES)
}

fn bench(c: &mut Criterion) {
    let (memory, size) =
        tree::build((0..LEAVES).map(|i| leaf_hash(event(i).at_index(i).to_leaf().as_bytes())))
            .expect("tree");
    let root = memory.root(size).expect("root");
    let mut group = c.benchmark_group("inclusion_1m");
    let mut next = positions();
    group.bench_function("memory", |b| {
        b.iter(|| {
            let index = next.next().unwrap_or(0);
            let proof = memory.inclusion(index, size).expect("proof");
            let leaf = leaf_hash(event(index).at_index(index).to_leaf().as_bytes());
            verify_inclusion(&proof, index, leaf, size, root).expect("verifies");
            black_box(proof)
        })
    });

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = runtime.block_on(async {
        let store = SqliteStore::open(&dir.path().join("log.db"))
            .await
            .expect("store");
        fill(&store).await;
        store
    });
    bench_store(&mut group, "sqlite", &runtime, &sqlite, size);
    if let Ok(url) = std::env::var("DATABASE_URL")
        && url.starts_with("postgres")
    {
        let (base, _) = url
            .rsplit_once('/')
            .expect("a database name in DATABASE_URL");
        let name = format!("originhub_bench_{}", std::process::id());
        let postgres = runtime.block_on(async {
            let admin = sqlx::PgPool::connect(&url).await.expect("postgres");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&admin)
                .await
                .expect("create database");
            let store = PostgresStore::connect(&format!("{base}/{name}"))
                .await
                .expect("store");
            fill(&store).await;
            store
        });
        bench_store(&mut group, "postgres", &runtime, &postgres, size);
        runtime.block_on(async {
            postgres.pool().close().await;
            let admin = sqlx::PgPool::connect(&url).await.expect("postgres");
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&admin)
                .await
                .expect("drop database");
        });
    }
    group.finish();

    let batch: Vec<_> = (0..512u64).map(|i| leaf_hash(&i.to_le_bytes())).collect();
    c.bench_function("append_batch_1m/memory", |b| {
        b.iter(|| {
            let mut grown = MemoryHashes::new(
                frontier(size)
                    .into_iter()
                    .map(|i| (i, memory_hash(&memory, i))),
            );
            black_box(grown.append(size, batch.iter().copied()).expect("append"))
        })
    });
}

/// Appends a million events through the store, 10,000 per transaction.
async fn fill(store: &impl ReceiptLog) {
    for start in (0..LEAVES).step_by(10_000) {
        let events = (start..(start + 10_000).min(LEAVES)).map(event).collect();
        store.record_events(events).await.expect("append");
    }
    assert_eq!(store.log_size().await.expect("size"), LEAVES);
}

/// What `GetInclusionProof` does against a store: the indexes, their blocks, the proof.
fn bench_store(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    runtime: &tokio::runtime::Runtime,
    store: &impl ReceiptLog,
    size: u64,
) {
    let mut next = positions();
    group.bench_function(name, |b| {
        b.iter(|| {
            runtime.block_on(async {
                let index = next.next().unwrap_or(0);
                let indexes = inclusion_indexes(index, size).expect("indexes");
                let hashes = store.log_hashes(&indexes).await.expect("hashes");
                black_box(hashes.inclusion(index, size).expect("proof"))
            })
        })
    });
}

fn memory_hash(memory: &MemoryHashes, index: u64) -> tree::Hash {
    use tree::HashReader;
    memory.read_hashes(&[index]).expect("stored")[0]
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50);
    targets = bench
}
criterion_main!(benches);
