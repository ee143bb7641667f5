//! The queries, written once. Both databases accept `$n` parameters, `ON CONFLICT ... DO
//! NOTHING` and `RETURNING`, so one text serves both; the macro instantiates [`super::Store`]
//! for a backend type with a `pool` field, a `begin_write` method (a transaction that will
//! write), a `lock_writes` method (what makes batch writes one at a time on that database) and
//! a `write_batch_now` method (how the backend writes a batch: in steps, or faster where it can).

/// Rows per multi-row INSERT: well under both databases' parameter limits.
pub(super) const ROWS_PER_INSERT: usize = 500;

/// What an acknowledgement checks, by delivery id (each backend appends its id test).
pub(super) const ACK_CANDIDATES: &str = "SELECT d.delivery_id, d.receiver, d.state, \
     d.tracking_id, s.sender, s.certificate_id, s.agreement \
     FROM deliveries d JOIN submissions s ON s.tracking_id = d.tracking_id WHERE d.delivery_id";

/// The largest delivery sequence committed (0: none).
pub(super) const LAST_SEQUENCE: &str = "SELECT COALESCE(MAX(seq), 0) FROM deliveries";

/// What holding the write lock found.
#[derive(Debug, Clone, Copy)]
pub(super) struct Locked {
    /// The receipt log's size.
    pub(super) log_size: u64,
    /// The largest delivery sequence committed ([`LAST_SEQUENCE`]).
    pub(super) last_sequence: i64,
}

/// Marks deliveries acknowledged; each backend appends the time and its id test.
///
/// The test is `state <> 'acknowledged'`, not `state = 'pending'`: the latter matches the
/// partial index `deliveries_pending`, and Postgres then read that whole index (an acknowledged
/// delivery's entry stays in it until vacuum) to intersect it with the few ids: 1.7 ms per
/// statement at 18,000 entries, growing with the table. With two states the tests are the same.
pub(super) const MARK_ACKNOWLEDGED: &str =
    "UPDATE deliveries SET state = 'acknowledged', acknowledged_at = ";

macro_rules! impl_store {
    ($store:ty, $db:ty, $name:literal) => {
        impl $crate::store::Store for $store {
            fn backend(&self) -> &'static str {
                $name
            }

            async fn for_writer(&self, connections: u32) -> Result<Self, $crate::store::StoreError> {
                self.writer_store(connections).await
            }

            async fn write_batch(
                &self,
                batch: &[$crate::store::NewSubmission],
                acks: &[$crate::store::AckJob],
                acked_at: i64,
            ) -> Result<$crate::store::StoredBatch, $crate::store::StoreError> {
                if batch.is_empty() && acks.is_empty() {
                    return Ok($crate::store::StoredBatch::default());
                }
                self.write_batch_now(batch, acks, acked_at).await
            }

            async fn find_by_key(
                &self,
                sender: &str,
                key: &str,
            ) -> Result<Option<$crate::store::Receipt>, $crate::store::StoreError> {
                let mut conn = self.pool.acquire().await?;
                Self::receipt_by_key(&mut *conn, sender, key).await
            }

            async fn pending_ids(
                &self,
                receiver: &str,
                after: i64,
                limit: i64,
            ) -> Result<$crate::store::PendingPage, $crate::store::StoreError> {
                // One statement, so the largest sequence is read in the same snapshot as the
                // page: it is the row without an id.
                let rows: Vec<(i64, Option<String>)> = sqlx::query_as(&format!(
                    "SELECT seq, delivery_id FROM (SELECT seq, delivery_id FROM deliveries \
                     WHERE receiver = $1 AND state = 'pending' AND seq > $2 ORDER BY seq \
                     LIMIT $3) AS page UNION ALL SELECT ({}), NULL",
                    $crate::store::sql::LAST_SEQUENCE
                ))
                .bind(receiver)
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                let mut page = $crate::store::PendingPage::default();
                for (seq, id) in rows {
                    match id {
                        Some(id) => page.ids.push((seq, id)),
                        None => page.last_sequence = seq,
                    }
                }
                page.ids.sort_unstable_by_key(|(seq, _)| *seq);
                Ok(page)
            }

            async fn deliveries(
                &self,
                delivery_ids: &[String],
            ) -> Result<Vec<$crate::store::DeliveryRecord>, $crate::store::StoreError> {
                type Row = (
                    String, i64, String, String, String, String, String, String, Vec<u8>,
                    Vec<u8>, String, String, String, i64, String, Option<Vec<u8>>,
                );
                let mut records = Vec::with_capacity(delivery_ids.len());
                for chunk in delivery_ids.chunks($crate::store::sql::ROWS_PER_INSERT) {
                    let mut select = sqlx::QueryBuilder::<$db>::new(
                        "SELECT d.receiver, d.seq, d.delivery_id, d.tracking_id, s.certificate_id, \
                         s.agreement, s.sender, d.profile, d.document, s.original, s.sender_profile, \
                         s.content_hash, d.not_representable, s.accepted_at, d.attestation, \
                         s.issuer_signature \
                         FROM deliveries d JOIN submissions s ON s.tracking_id = d.tracking_id \
                         WHERE d.delivery_id IN (",
                    );
                    let mut list = select.separated(", ");
                    for id in chunk {
                        list.push_bind(id);
                    }
                    select.push(")");
                    let rows: Vec<Row> = select.build_query_as().fetch_all(&self.pool).await?;
                    for r in rows {
                        records.push($crate::store::DeliveryRecord {
                            receiver: r.0,
                            sequence: r.1,
                            delivery_id: r.2,
                            tracking_id: r.3,
                            certificate_id: r.4,
                            agreement: r.5,
                            sender: r.6,
                            profile: r.7,
                            document: r.8,
                            original: r.9,
                            original_profile: r.10,
                            original_hash: r.11,
                            not_representable: $crate::store::decode_losses(&r.12)?,
                            accepted_at: r.13,
                            attestation: r.14,
                            issuer_signature: r.15,
                        });
                    }
                }
                Ok(records)
            }

            async fn status(
                &self,
                tracking_id: &str,
            ) -> Result<Option<$crate::store::SubmissionStatus>, $crate::store::StoreError> {
                let head: Option<(String, String, String, String, String, i64, String)> =
                    sqlx::query_as(
                        "SELECT sender, agreement, certificate_id, content_hash, receivers, \
                         accepted_at, sender_profile FROM submissions WHERE tracking_id = $1",
                    )
                    .bind(tracking_id)
                    .fetch_optional(&self.pool)
                    .await?;
                let Some((sender, agreement, certificate_id, content_hash, receivers, accepted_at, sender_profile)) = head else {
                    return Ok(None);
                };
                // A submission's deliveries are the ones its `queued` leaves name: deliveries
                // keep no index by tracking id (Postgres 0008, SQLite 0003), the log does.
                let rows: Vec<(String, String, String, String, Option<i64>)> = sqlx::query_as(
                    "SELECT receiver, delivery_id, state, profile, acknowledged_at \
                     FROM deliveries WHERE delivery_id IN (SELECT delivery_id FROM receipt_log \
                     WHERE tracking_id = $1 AND kind = 'queued') ORDER BY seq",
                )
                .bind(tracking_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(Some($crate::store::SubmissionStatus {
                    sender,
                    agreement,
                    receipt: $crate::store::Receipt {
                        tracking_id: tracking_id.to_owned(),
                        certificate_id,
                        content_hash,
                        receivers: $crate::store::split_receivers(&receivers),
                        accepted_at,
                        sender_profile,
                    },
                    receivers: rows
                        .into_iter()
                        .map(|r| $crate::store::ReceiverState {
                            receiver: r.0,
                            delivery_id: r.1,
                            state: r.2,
                            profile: r.3,
                            acknowledged_at: r.4,
                        })
                        .collect(),
                }))
            }

            async fn stats(&self) -> Result<Vec<$crate::store::StatsRow>, $crate::store::StoreError> {
                let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
                    "SELECT s.agreement, d.receiver, COUNT(*), \
                     SUM(CASE WHEN d.state = 'acknowledged' THEN 1 ELSE 0 END) \
                     FROM deliveries d JOIN submissions s ON s.tracking_id = d.tracking_id \
                     GROUP BY s.agreement, d.receiver ORDER BY s.agreement, d.receiver",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|r| $crate::store::StatsRow {
                        agreement: r.0,
                        receiver: r.1,
                        delivered: r.2,
                        acknowledged: r.3,
                    })
                    .collect())
            }

            async fn registry(&self) -> Result<$crate::store::RegistryRows, $crate::store::StoreError> {
                let definitions = |rows: Vec<(String, String, i64)>| {
                    rows.into_iter()
                        .map(|(id, definition, updated_at)| $crate::store::DefinitionRow {
                            id,
                            definition,
                            updated_at,
                        })
                        .collect()
                };
                let members = definitions(
                    sqlx::query_as("SELECT id, definition, updated_at FROM members ORDER BY id")
                        .fetch_all(&self.pool)
                        .await?,
                );
                let agreements = definitions(
                    sqlx::query_as("SELECT id, definition, updated_at FROM agreements ORDER BY id")
                        .fetch_all(&self.pool)
                        .await?,
                );
                let profiles: Vec<(String, String, String)> =
                    sqlx::query_as("SELECT id, version, source FROM profiles ORDER BY seq")
                        .fetch_all(&self.pool)
                        .await?;
                Ok($crate::store::RegistryRows {
                    members,
                    agreements,
                    profiles: profiles
                        .into_iter()
                        .map(|(id, version, source)| $crate::store::ProfileRow { id, version, source })
                        .collect(),
                })
            }

            async fn put_member(&self, id: &str, definition: &str, at: i64) -> Result<(), $crate::store::StoreError> {
                self.put_definition(
                    "INSERT INTO members (id, definition, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (id) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at",
                    id, definition, at,
                )
                .await
            }

            async fn put_agreement(&self, id: &str, definition: &str, at: i64) -> Result<(), $crate::store::StoreError> {
                self.put_definition(
                    "INSERT INTO agreements (id, definition, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (id) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at",
                    id, definition, at,
                )
                .await
            }

            async fn put_profile(
                &self,
                profile: &$crate::store::ProfileRow,
                at: i64,
            ) -> Result<$crate::store::ProfilePut, $crate::store::StoreError> {
                use $crate::store::ProfilePut;
                let inserted = sqlx::query(
                    "INSERT INTO profiles (id, version, source, created_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (id, version) DO NOTHING",
                )
                .bind(&profile.id)
                .bind(&profile.version)
                .bind(&profile.source)
                .bind(at)
                .execute(&self.pool)
                .await?
                .rows_affected();
                if inserted == 1 {
                    return Ok(ProfilePut::Created);
                }
                let (source,): (String,) =
                    sqlx::query_as("SELECT source FROM profiles WHERE id = $1 AND version = $2")
                        .bind(&profile.id)
                        .bind(&profile.version)
                        .fetch_one(&self.pool)
                        .await?;
                Ok(if source == profile.source {
                    ProfilePut::Unchanged
                } else {
                    ProfilePut::Conflict
                })
            }

            async fn events(
                &self,
                tracking_id: &str,
            ) -> Result<Vec<(String, String, Option<String>)>, $crate::store::StoreError> {
                Ok(sqlx::query_as(
                    "SELECT kind, member, delivery_id FROM receipt_log WHERE tracking_id = $1 ORDER BY idx",
                )
                .bind(tracking_id)
                .fetch_all(&self.pool)
                .await?)
            }
        }

        impl $store {
            /// Writes a batch step by step in one transaction: submissions and acknowledgements
            /// first (parallel batches overlap here), then, under the write lock, the deliveries
            /// and the receipt-log leaves. Handles everything (resubmissions, acknowledgements
            /// made elsewhere, another replica's appends) at the cost of a round trip per step.
            async fn write_batch_in_steps(
                &self,
                batch: &[$crate::store::NewSubmission],
                acks: &[$crate::store::AckJob],
                acked_at: i64,
            ) -> Result<$crate::store::StoredBatch, $crate::store::StoreError> {
                use std::collections::{HashMap, HashSet};
                use $crate::store::Stored;

                let mut tx = self.begin_write().await?;
                let created: HashSet<String> = Self::insert_submissions(&mut *tx, batch)
                    .await?
                    .into_iter()
                    .collect();
                let mut outcomes = Vec::with_capacity(batch.len());
                for submission in batch {
                    if created.contains(&submission.tracking_id) {
                        outcomes.push(Stored::Created(submission.receipt()));
                        continue;
                    }
                    let existing = Self::receipt_by_key(
                        &mut *tx,
                        &submission.sender,
                        &submission.idempotency_key,
                    )
                    .await?
                    .ok_or_else(|| {
                        $crate::store::StoreError::Database(
                            "a conflicting submission vanished inside its transaction".into(),
                        )
                    })?;
                    outcomes.push(if existing.content_hash == submission.content_hash {
                        Stored::Duplicate(existing)
                    } else {
                        Stored::Conflict {
                            tracking_id: existing.tracking_id,
                        }
                    });
                }
                // Acknowledgements change rows that already exist; only their log leaves need
                // the write lock.
                let (ack_outcomes, ack_events) = Self::apply_acks(&mut *tx, acks, acked_at).await?;
                // From here to commit, one batch at a time, so delivery sequence numbers and log
                // indexes are assigned and committed in the same order. Every round trip from
                // here on holds up every other batch.
                let mut turn = self.head.turn().await;
                let locked = Self::lock_writes(&mut tx).await?;
                let fresh: Vec<_> = batch
                    .iter()
                    .filter(|s| created.contains(&s.tracking_id))
                    .collect();
                let deliveries: Vec<_> = fresh
                    .iter()
                    .flat_map(|s| s.deliveries.iter().map(move |d| (*s, d)))
                    .collect();
                let events = $crate::store::batch_events(fresh.iter().copied(), ack_events);
                let log = if self.receipts {
                    Self::log_rows(&mut *tx, &mut turn, locked.log_size, events).await?
                } else {
                    $crate::store::log::LogRows::default()
                };
                let sequences: HashMap<String, i64> = Self::insert_deliveries(&mut *tx, &deliveries, &log)
                    .await?
                    .into_iter()
                    .map(|(seq, id)| (id, seq))
                    .collect();
                tx.commit().await?;
                turn.committed();
                Ok($crate::store::stored_batch(
                    outcomes,
                    ack_outcomes,
                    &deliveries,
                    &sequences,
                    locked.last_sequence,
                ))
            }

            /// Applies acknowledgements inside a batch (before the write lock): each job all or
            /// nothing. Returns one outcome per job and an "acknowledged" event per delivery that
            /// changed state.
            async fn apply_acks(
                tx: &mut <$db as sqlx::Database>::Connection,
                acks: &[$crate::store::AckJob],
                at: i64,
            ) -> Result<
                (Vec<$crate::store::AckOutcome>, Vec<$crate::receipts::entry::NewEvent>),
                $crate::store::StoreError,
            > {
                use std::collections::HashSet;
                if acks.is_empty() {
                    return Ok((Vec::new(), Vec::new()));
                }
                let found = Self::ack_candidates(&mut *tx, &$crate::store::ack_ids(acks)).await?;
                let (outcomes, pending) = $crate::store::check_acks(acks, found);
                let changed: HashSet<String> = Self::mark_acknowledged(
                    &mut *tx,
                    &pending.iter().map(|row| row.0.as_str()).collect::<Vec<_>>(),
                    at,
                )
                .await?
                .into_iter()
                .collect();
                // Only what this transaction changed: a replica that acknowledged it first
                // recorded its own event.
                let events = pending
                    .iter()
                    .filter(|row| changed.contains(&row.0))
                    .map(|row| $crate::store::acknowledged_event(row, at))
                    .collect();
                Ok((outcomes, events))
            }

            /// Creates or replaces a member or agreement with `upsert` (one of two fixed texts).
            async fn put_definition(
                &self,
                upsert: &'static str,
                id: &str,
                definition: &str,
                at: i64,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query(upsert)
                    .bind(id)
                    .bind(definition)
                    .bind(at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn receipt_by_key(
                conn: &mut <$db as sqlx::Database>::Connection,
                sender: &str,
                key: &str,
            ) -> Result<Option<$crate::store::Receipt>, $crate::store::StoreError> {
                let row: Option<(String, String, String, String, i64, String)> = sqlx::query_as(
                    "SELECT tracking_id, certificate_id, content_hash, receivers, accepted_at, \
                     sender_profile FROM submissions WHERE sender = $1 AND idempotency_key = $2",
                )
                .bind(sender)
                .bind(key)
                .fetch_optional(&mut *conn)
                .await?;
                Ok(row.map(|r| $crate::store::Receipt {
                    tracking_id: r.0,
                    certificate_id: r.1,
                    content_hash: r.2,
                    receivers: $crate::store::split_receivers(&r.3),
                    accepted_at: r.4,
                    sender_profile: r.5,
                }))
            }
        }
    };
}

pub(super) use impl_store;
