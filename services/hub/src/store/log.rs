//! The receipt log in the database: [`ReceiptLog`], its queries (written once, instantiated per
//! backend by `impl_receipt_log!`), and the append every writing transaction calls.
//!
//! Appending happens inside the caller's transaction after it took the write lock, so leaves get
//! consecutive indexes in commit order and a leaf is committed with the rows it describes. The
//! append needs the hashes of the tree's frontier: a store keeps those its last commit left
//! ([`HeadCache`]) and reads the blocks holding them only when the log's size under the lock
//! shows another replica appended since. The new stored hashes go into blocks of 32 (one row
//! each, rewritten while it fills), so a batch writes a few hash rows rather than two per leaf.
//! `idx` is the leaves' primary key, so two writers can never fork the log.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{Mutex, MutexGuard, watch};

use crate::receipts::entry::{Entry, NewEvent};
use crate::receipts::tree::{MemoryHashes, append_blocks, leaf_hash};

use super::StoreError;

/// The leaves that name a certificate first: the partial index `receipt_log_names_certificate`
/// (migrations: Postgres 0008, SQLite 0003) holds these, and a query must use this exact text
/// for the database to use it.
pub(crate) const NAMES_CERTIFICATE: &str = "kind NOT IN ('queued', 'acknowledged')";

/// The leaves that repeat their submission's certificate (a delivery queued, acknowledged), found
/// through the tracking id of the leaf that named it.
pub(crate) const REPEATS_CERTIFICATE: &str = "kind IN ('queued', 'acknowledged')";

/// Which events a query wants. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Certificate id.
    pub certificate_id: String,
    /// Hub tracking id.
    pub tracking_id: String,
    /// A member acting, sending or receiving.
    pub member: String,
    /// Agreement.
    pub agreement: String,
    /// Event kinds (any of).
    pub kinds: Vec<String>,
    /// From this time, Unix microseconds (inclusive); 0 for no bound.
    pub from: i64,
    /// Before this time, Unix microseconds (exclusive); 0 for no bound.
    pub to: i64,
    /// Only events this member is party to (a member caller); `None` for auditors.
    pub visible_to: Option<String>,
}

/// The receipt log's storage.
pub trait ReceiptLog: Send + Sync + 'static {
    /// Leaves in the log.
    fn log_size(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Stored hashes by storage index (all must exist).
    fn log_hashes(
        &self,
        indexes: &[u64],
    ) -> impl Future<Output = Result<MemoryHashes, StoreError>> + Send;

    /// The leaves with index in `from..to`, in order: (index, entry).
    fn log_entries(
        &self,
        from: u64,
        to: u64,
    ) -> impl Future<Output = Result<Vec<(u64, String)>, StoreError>> + Send;

    /// Events matching `filter` with index above `after` (all if `None`), in order, at most
    /// `limit`: (index, entry).
    fn query_events(
        &self,
        filter: &EventFilter,
        after: Option<u64>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<(u64, String)>, StoreError>> + Send;

    /// Appends events that belong to no other write (refusals, denials), in their own
    /// transaction.
    fn record_events(
        &self,
        events: Vec<NewEvent>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores a signed checkpoint unless one of that size exists; returns the stored one.
    fn save_checkpoint(
        &self,
        size: u64,
        note: &str,
        at: i64,
    ) -> impl Future<Output = Result<String, StoreError>> + Send;

    /// Moves events of the pre-log `receipt_events` table into the log; returns how many.
    fn migrate_legacy_events(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// The log's size and the stored hashes its next append reads, as this process last left them.
#[derive(Debug)]
struct LogHead {
    size: u64,
    hashes: MemoryHashes,
    /// `None` if a commit made this head (the steps); else the batch that left it, handed to
    /// the database, which may still fail ([`HeadTurn::hand_over`]).
    handed_over: Option<Handoff>,
}

/// A batch handed to the database before it committed: its ticket, and whether it committed
/// (`None` until it knows).
#[derive(Debug, Clone)]
pub(super) struct Handoff {
    pub(super) ticket: i32,
    settled: watch::Receiver<Option<bool>>,
}

impl Handoff {
    /// Waits until the batch committed or failed; `true` if it committed.
    pub(super) async fn committed(&mut self) -> bool {
        match self.settled.wait_for(Option::is_some).await {
            Ok(outcome) => *outcome == Some(true),
            // The writer is gone without a word: as good as failed.
            Err(_) => false,
        }
    }
}

/// How a handed-over batch tells the batches hashed on its head whether it committed.
#[derive(Debug)]
pub(super) struct Settle(watch::Sender<Option<bool>>);

impl Settle {
    /// Reports the outcome.
    pub(super) fn settled(self, committed: bool) {
        self.0.send_replace(Some(committed));
    }
}

/// The cached head as a checking writer takes it ([`HeadTurn::cached`]).
#[derive(Debug)]
pub(super) struct CachedHead {
    /// Leaves in the log.
    pub(super) size: u64,
    /// The stored hashes an append to `size` reads.
    pub(super) hashes: MemoryHashes,
    /// The batch that left this head, if it may not have committed yet: the next batch waits
    /// for its ticket in the database before it takes the write lock.
    pub(super) after: Option<Handoff>,
}

#[derive(Debug, Default)]
struct Slot {
    head: Option<LogHead>,
    last_ticket: i32,
}

#[derive(Debug)]
struct Shared {
    slot: Mutex<Slot>,
    /// The first key of this process's tickets (the second is the ticket), random so two
    /// replicas' tickets never meet.
    ticket_space: i32,
}

impl Default for Shared {
    fn default() -> Self {
        let random = uuid::Uuid::new_v4().as_u128();
        Self {
            slot: Mutex::default(),
            ticket_space: random as i32,
        }
    }
}

/// One store's cached [`LogHead`], behind the mutex that also makes this process's writers take
/// their turn one at a time, so the head a writer finds is the one the previous writer left.
///
/// A writer that checks its assumptions in the database (the one-statement path on Postgres)
/// hands its head over before its commit, with a ticket, so the next batch can hash on it at
/// once and wait for that ticket in the database. If the commit then fails, every batch hashed
/// on that head fails its check too, and each failure forgets the cached head
/// ([`HeadCache::forget`]). A writer that does not check (the steps) uses only a committed head.
#[derive(Debug, Clone, Default)]
pub(super) struct HeadCache(Arc<Shared>);

impl HeadCache {
    /// Waits for this process's turn to write. The cached head is taken out: it is put back
    /// only by [`HeadTurn::committed`] or [`HeadTurn::hand_over`], so a failed or abandoned
    /// write leaves nothing stale.
    pub(super) async fn turn(&self) -> HeadTurn<'_> {
        let mut slot = self.0.slot.lock().await;
        let cached = slot.head.take();
        HeadTurn {
            slot,
            cached,
            next: None,
        }
    }

    /// Drops the cached head: a write that handed its head over failed.
    pub(super) async fn forget(&self) {
        self.0.slot.lock().await.head = None;
    }

    /// The first key of this process's tickets.
    pub(super) fn ticket_space(&self) -> i32 {
        self.0.ticket_space
    }
}

/// A writer's turn at the log, until it commits or hands its head over.
pub(super) struct HeadTurn<'a> {
    slot: MutexGuard<'a, Slot>,
    cached: Option<LogHead>,
    next: Option<LogHead>,
}

impl HeadTurn<'_> {
    /// The hashes an append to a log of `size` leaves reads, if the cached head is of that size
    /// and was committed (another replica may have appended since).
    pub(super) fn hashes_for(&mut self, size: u64) -> Option<MemoryHashes> {
        self.cached
            .take()
            .filter(|head| head.handed_over.is_none() && head.size == size)
            .map(|head| head.hashes)
    }

    /// The cached head, committed or handed over. Only for a write that checks it in the
    /// database.
    pub(super) fn cached(&mut self) -> Option<CachedHead> {
        self.cached.take().map(|head| CachedHead {
            size: head.size,
            hashes: head.hashes,
            after: head.handed_over,
        })
    }

    /// Records the head an append leaves, trimmed to what the next append reads.
    pub(super) fn appended(&mut self, size: u64, mut hashes: MemoryHashes) {
        hashes.retain_blocks(&append_blocks(size));
        self.next = Some(LogHead {
            size,
            hashes,
            handed_over: None,
        });
    }

    /// The transaction committed: its head becomes the cached one.
    pub(super) fn committed(mut self) {
        self.slot.head = self.next.take().or(self.cached.take());
    }

    /// The write is being handed to the database, which checks what it assumed: its head
    /// becomes the cached one before it commits, and the next writer takes its turn. Returns
    /// the write's ticket, which it holds in the database until it commits, and what reports
    /// its outcome to the writers that hash on its head.
    pub(super) fn hand_over(mut self) -> (i32, Settle) {
        let ticket = self.slot.last_ticket.wrapping_add(1);
        self.slot.last_ticket = ticket;
        let (settle, settled) = watch::channel(None);
        self.slot.head = self.next.take().map(|head| LogHead {
            handed_over: Some(Handoff { ticket, settled }),
            ..head
        });
        (ticket, Settle(settle))
    }
}

/// What appending events writes: the leaves (entry and its leaf text) and the hash blocks they
/// touched (block number, packed hashes).
#[derive(Debug, Default)]
pub(super) struct LogRows {
    pub(super) entries: Vec<(Entry, String)>,
    /// The entries' indexes as the database stores them.
    pub(super) indexes: Vec<i64>,
    pub(super) blocks: Vec<(i64, Vec<u8>)>,
}

/// The rows that append `events` to a log of `size` leaves whose frontier `hashes` holds
/// (what [`append_blocks`] names); `turn` keeps the head the append leaves.
pub(super) fn append_rows(
    turn: &mut HeadTurn<'_>,
    size: u64,
    mut hashes: MemoryHashes,
    events: Vec<NewEvent>,
) -> Result<LogRows, StoreError> {
    let entries: Vec<_> = events
        .into_iter()
        .zip(size..)
        .map(|(event, index)| {
            let entry = event.at_index(index);
            let leaf = entry.to_leaf();
            (entry, leaf)
        })
        .collect();
    let added = hashes
        .append(
            size,
            entries.iter().map(|(_, leaf)| leaf_hash(leaf.as_bytes())),
        )
        .map_err(|e| StoreError::Corrupt(format!("receipt log frontier: {e}")))?;
    let blocks = hashes
        .touched_blocks(&added)
        .into_iter()
        .map(|(block, bytes)| Ok((to_i64(block)?, bytes)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    let indexes = entries
        .iter()
        .map(|(entry, _)| to_i64(entry.index))
        .collect::<Result<_, _>>()?;
    turn.appended(size + entries.len() as u64, hashes);
    Ok(LogRows {
        entries,
        indexes,
        blocks,
    })
}

/// The log's size: one past the last leaf's index.
pub(super) const LOG_SIZE: &str = "SELECT COALESCE(MAX(idx) + 1, 0) FROM receipt_log";

pub(super) fn to_i64(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Corrupt(format!("log index {value} too large")))
}

pub(super) fn to_u64(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("negative log index {value}")))
}

macro_rules! impl_receipt_log {
    ($store:ty, $db:ty) => {
        impl $store {
            /// The stored hashes in `blocks` (rows that do not exist yet are left out).
            async fn hash_blocks(
                conn: &mut <$db as sqlx::Database>::Connection,
                blocks: &[u64],
            ) -> Result<$crate::receipts::tree::MemoryHashes, $crate::store::StoreError> {
                use $crate::store::log::{to_i64, to_u64};
                let mut rows = Vec::with_capacity(blocks.len());
                for chunk in blocks.chunks($crate::store::sql::ROWS_PER_INSERT) {
                    let mut select = sqlx::QueryBuilder::<$db>::new(
                        "SELECT block, hashes FROM log_hash_blocks WHERE block IN (",
                    );
                    let mut list = select.separated(", ");
                    for block in chunk {
                        list.push_bind(to_i64(*block)?);
                    }
                    select.push(")");
                    let found: Vec<(i64, Vec<u8>)> =
                        select.build_query_as().fetch_all(&mut *conn).await?;
                    for (block, bytes) in found {
                        rows.push((to_u64(block)?, bytes));
                    }
                }
                $crate::receipts::tree::MemoryHashes::from_blocks(rows).ok_or_else(|| {
                    $crate::store::StoreError::Corrupt("a receipt-log hash block is malformed".into())
                })
            }

            /// The same store, writing no receipt log: only for measuring what the log costs
            /// (`originhub-load` runs the hub both ways). Never for serving members: among other
            /// things, a submission's status finds its deliveries through the log.
            #[doc(hidden)]
            pub fn without_receipt_log_for_measurement(mut self) -> Self {
                self.receipts = false;
                self
            }

            /// The rows that append `events` to the log inside `tx`, which holds the write lock
            /// and found the log at `size` leaves: `turn` supplies the frontier if it cached
            /// this size (else it is read here) and keeps the head the append leaves. The caller
            /// inserts the rows before committing.
            async fn log_rows(
                tx: &mut <$db as sqlx::Database>::Connection,
                turn: &mut $crate::store::log::HeadTurn<'_>,
                size: u64,
                events: Vec<$crate::receipts::entry::NewEvent>,
            ) -> Result<$crate::store::log::LogRows, $crate::store::StoreError> {
                use $crate::receipts::tree::append_blocks;
                if events.is_empty() {
                    return Ok($crate::store::log::LogRows::default());
                }
                let hashes = match turn.hashes_for(size) {
                    Some(hashes) => hashes,
                    None => Self::hash_blocks(&mut *tx, &append_blocks(size)).await?,
                };
                $crate::store::log::append_rows(turn, size, hashes, events)
            }

            /// Appends `events` to the log inside `tx` (see [`Self::log_rows`]).
            async fn append_log(
                tx: &mut <$db as sqlx::Database>::Connection,
                turn: &mut $crate::store::log::HeadTurn<'_>,
                size: u64,
                events: Vec<$crate::receipts::entry::NewEvent>,
            ) -> Result<(), $crate::store::StoreError> {
                let rows = Self::log_rows(&mut *tx, turn, size, events).await?;
                Self::insert_deliveries(&mut *tx, &[], &rows).await?;
                Ok(())
            }
        }

        impl $crate::store::log::ReceiptLog for $store {
            async fn log_size(&self) -> Result<u64, $crate::store::StoreError> {
                let (size,): (i64,) =
                    sqlx::query_as($crate::store::log::LOG_SIZE)
                        .fetch_one(&self.pool)
                        .await?;
                $crate::store::log::to_u64(size)
            }

            async fn log_hashes(
                &self,
                indexes: &[u64],
            ) -> Result<$crate::receipts::tree::MemoryHashes, $crate::store::StoreError> {
                let mut conn = self.pool.acquire().await?;
                Self::hash_blocks(&mut *conn, &$crate::receipts::tree::blocks_of(indexes)).await
            }

            async fn log_entries(
                &self,
                from: u64,
                to: u64,
            ) -> Result<Vec<(u64, String)>, $crate::store::StoreError> {
                use $crate::store::log::{to_i64, to_u64};
                let rows: Vec<(i64, String)> = sqlx::query_as(
                    "SELECT idx, entry FROM receipt_log WHERE idx >= $1 AND idx < $2 ORDER BY idx",
                )
                .bind(to_i64(from)?)
                .bind(to_i64(to)?)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(|(i, e)| Ok((to_u64(i)?, e))).collect()
            }

            async fn query_events(
                &self,
                filter: &$crate::store::log::EventFilter,
                after: Option<u64>,
                limit: u32,
            ) -> Result<Vec<(u64, String)>, $crate::store::StoreError> {
                use $crate::store::log::{NAMES_CERTIFICATE, REPEATS_CERTIFICATE, to_i64, to_u64};
                let after = after.map(to_i64).transpose()?.unwrap_or(-1);
                // Everything but the certificate: each part of a union repeats it.
                let other_filters = |select: &mut sqlx::QueryBuilder<$db>| {
                    select.push("idx > ");
                    select.push_bind(after);
                    for (column, value) in [
                        ("tracking_id", &filter.tracking_id),
                        ("agreement", &filter.agreement),
                    ] {
                        if !value.is_empty() {
                            select.push(format!(" AND {column} = "));
                            select.push_bind(value.clone());
                        }
                    }
                    for member in [Some(&filter.member), filter.visible_to.as_ref()]
                        .into_iter()
                        .flatten()
                        .filter(|m| !m.is_empty())
                    {
                        select.push(" AND (member = ");
                        select.push_bind(member.clone());
                        select.push(" OR sender = ");
                        select.push_bind(member.clone());
                        select.push(" OR receiver = ");
                        select.push_bind(member.clone());
                        select.push(")");
                    }
                    if !filter.kinds.is_empty() {
                        select.push(" AND kind IN (");
                        let mut list = select.separated(", ");
                        for kind in &filter.kinds {
                            list.push_bind(kind.clone());
                        }
                        select.push(")");
                    }
                    if filter.from != 0 {
                        select.push(" AND at >= ");
                        select.push_bind(filter.from);
                    }
                    if filter.to != 0 {
                        select.push(" AND at < ");
                        select.push_bind(filter.to);
                    }
                };
                let mut select = sqlx::QueryBuilder::<$db>::new("SELECT idx, entry FROM receipt_log WHERE ");
                let certificate = &filter.certificate_id;
                other_filters(&mut select);
                if !certificate.is_empty() {
                    // Only the leaves that name a certificate first are indexed by it (Postgres
                    // 0008, SQLite 0003); the ones that repeat it are found by their submission's
                    // tracking id.
                    select.push(format!(" AND {NAMES_CERTIFICATE} AND certificate_id = "));
                    select.push_bind(certificate.clone());
                    select.push(" UNION ALL SELECT idx, entry FROM receipt_log WHERE ");
                    other_filters(&mut select);
                    select.push(format!(" AND {REPEATS_CERTIFICATE} AND certificate_id = "));
                    select.push_bind(certificate.clone());
                    select.push(format!(
                        " AND tracking_id IN (SELECT tracking_id FROM receipt_log WHERE \
                         {NAMES_CERTIFICATE} AND certificate_id = "
                    ));
                    select.push_bind(certificate.clone());
                    select.push(")");
                }
                select.push(" ORDER BY idx LIMIT ");
                select.push_bind(i64::from(limit));
                let rows: Vec<(i64, String)> = select.build_query_as().fetch_all(&self.pool).await?;
                rows.into_iter().map(|(i, e)| Ok((to_u64(i)?, e))).collect()
            }

            async fn record_events(
                &self,
                events: Vec<$crate::receipts::entry::NewEvent>,
            ) -> Result<(), $crate::store::StoreError> {
                let mut tx = self.begin_write().await?;
                let mut turn = self.head.turn().await;
                let size = Self::lock_writes(&mut tx).await?.log_size;
                Self::append_log(&mut *tx, &mut turn, size, events).await?;
                tx.commit().await?;
                turn.committed();
                Ok(())
            }

            async fn save_checkpoint(
                &self,
                size: u64,
                note: &str,
                at: i64,
            ) -> Result<String, $crate::store::StoreError> {
                let size = $crate::store::log::to_i64(size)?;
                sqlx::query(
                    "INSERT INTO checkpoints (size, note, signed_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (size) DO NOTHING",
                )
                .bind(size)
                .bind(note)
                .bind(at)
                .execute(&self.pool)
                .await?;
                let (stored,): (String,) =
                    sqlx::query_as("SELECT note FROM checkpoints WHERE size = $1")
                        .bind(size)
                        .fetch_one(&self.pool)
                        .await?;
                Ok(stored)
            }

            async fn migrate_legacy_events(&self) -> Result<u64, $crate::store::StoreError> {
                use $crate::receipts::entry::{EventKind, NewEvent};
                let mut tx = self.begin_write().await?;
                let mut turn = self.head.turn().await;
                let size = Self::lock_writes(&mut tx).await?.log_size;
                type Row = (String, Option<String>, String, String, i64, String, Option<String>, Option<String>, Option<String>);
                let rows: Vec<Row> = sqlx::query_as(
                    "SELECT e.tracking_id, e.delivery_id, e.member, e.kind, e.at, e.detail, \
                     s.sender, s.certificate_id, s.agreement \
                     FROM receipt_events e LEFT JOIN submissions s ON s.tracking_id = e.tracking_id \
                     ORDER BY e.seq",
                )
                .fetch_all(&mut *tx)
                .await?;
                let count = rows.len() as u64;
                let events = rows
                    .into_iter()
                    .map(|r| {
                        let kind = EventKind::parse(&r.3).unwrap_or(EventKind::Accepted);
                        let mut event = NewEvent::new(kind, &r.2, r.4);
                        event.receiver = r.1.as_ref().map(|_| r.2.clone());
                        event.tracking_id = Some(r.0);
                        event.delivery_id = r.1;
                        event.sender = r.6;
                        event.certificate_id = r.7;
                        event.agreement = r.8;
                        if !r.5.is_empty() {
                            event.detail.insert("legacy_detail".into(), r.5);
                        }
                        event
                    })
                    .collect();
                Self::append_log(&mut *tx, &mut turn, size, events).await?;
                sqlx::query("DELETE FROM receipt_events").execute(&mut *tx).await?;
                tx.commit().await?;
                turn.committed();
                Ok(count)
            }
        }
    };
}

pub(super) use impl_receipt_log;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receipts::entry::EventKind;

    fn events(count: usize) -> Vec<NewEvent> {
        (0..count)
            .map(|n| NewEvent::new(EventKind::Refused, "borastria", n as i64))
            .collect()
    }

    #[test]
    fn the_certificate_index_predicate_is_the_migrations_and_splits_the_kinds() {
        // The databases use the partial index only for a query with its exact predicate.
        for migration in [
            include_str!("../../../../migrations/postgres/0008_fewer_index_entries.sql"),
            include_str!("../../../../migrations/sqlite/0003_fewer_index_entries.sql"),
        ] {
            assert!(
                migration.contains(&format!("WHERE {NAMES_CERTIFICATE};")),
                "{migration}"
            );
        }
        // Every kind is in exactly one of the two parts of a query by certificate.
        let repeating = [EventKind::Queued, EventKind::Acknowledged];
        let quoted = |kinds: &[EventKind]| {
            kinds
                .iter()
                .map(|k| format!("'{k}'"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        assert_eq!(
            NAMES_CERTIFICATE,
            format!("kind NOT IN ({})", quoted(&repeating))
        );
        assert_eq!(
            REPEATS_CERTIFICATE,
            format!("kind IN ({})", quoted(&repeating))
        );
        assert!(EventKind::ALL.iter().any(|k| !repeating.contains(k)));
    }

    /// Commits `count` events to an empty log, as the steps do.
    async fn commit_to_empty(cache: &HeadCache, count: usize) {
        let mut turn = cache.turn().await;
        append_rows(&mut turn, 0, MemoryHashes::default(), events(count)).unwrap();
        turn.committed();
    }

    /// Appends `count` events to the cached head and hands it over.
    async fn hand_over(cache: &HeadCache, count: usize) -> (i32, Settle) {
        let mut turn = cache.turn().await;
        let head = turn.cached().expect("a head is cached");
        append_rows(&mut turn, head.size, head.hashes, events(count)).unwrap();
        turn.hand_over()
    }

    #[tokio::test]
    async fn a_handed_over_head_serves_the_next_checked_write_but_never_the_steps() {
        let cache = HeadCache::default();
        // A commit (the steps) leaves a head both kinds of writer use.
        commit_to_empty(&cache, 3).await;
        assert!(cache.turn().await.hashes_for(3).is_some());

        // hashes_for took it out without a commit: nothing is cached now.
        assert!(cache.turn().await.cached().is_none());
        commit_to_empty(&cache, 3).await;

        // A checked write hands its head over with a ticket; the next checked write finds it,
        // with that ticket to wait for, and hands over the next ticket.
        let (first, settle) = hand_over(&cache, 2).await;
        let mut turn = cache.turn().await;
        let head = turn.cached().unwrap();
        assert_eq!(head.size, 5);
        let mut before = head.after.clone().unwrap();
        assert_eq!(before.ticket, first);
        append_rows(&mut turn, head.size, head.hashes, events(1)).unwrap();
        let (second, _) = turn.hand_over();
        assert_eq!(second, first.wrapping_add(1));
        settle.settled(true);
        assert!(before.committed().await);

        // The steps do not trust a head that was only handed over, even of the right size.
        assert!(cache.turn().await.hashes_for(6).is_none());
    }

    #[tokio::test]
    async fn a_batch_that_never_reports_counts_as_failed() {
        let cache = HeadCache::default();
        commit_to_empty(&cache, 1).await;
        let (_, settle) = hand_over(&cache, 1).await;
        let mut after = cache.turn().await.cached().unwrap().after.unwrap();
        drop(settle);
        assert!(!after.committed().await);
        cache.forget().await;
        assert!(cache.turn().await.cached().is_none());
    }
}
