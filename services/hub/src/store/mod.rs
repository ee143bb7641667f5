//! Storage behind one trait, [`Store`], with two sqlx backends: [`SqliteStore`] (the embedded
//! default, a file in the data directory) and [`PostgresStore`] (`DATABASE_URL`).
//!
//! - `sql`: the queries, written once in the dialect both databases accept (`$n` parameters,
//!   `ON CONFLICT`, `RETURNING`) and instantiated per backend by a macro;
//! - `sqlite`, `postgres`: connecting, migrating, and what differs (write serialisation; on
//!   Postgres, a batch in one statement where it can);
//! - [`log`]: the receipt log's tables, appended to inside every writing transaction.
//!
//! The one write that matters, [`Store::write_batch`], puts submissions, their canonical form,
//! every receiver's translated delivery and the receipt events in one transaction. Batches are
//! written one at a time (SQLite has one writer; on Postgres an advisory lock serialises them
//! across replicas), so delivery sequence numbers are assigned in commit order and a subscriber
//! that reads "after sequence n" never skips a row committed late. The pure pieces both
//! backends' writes share (the events a batch appends, judging acknowledgements, what a
//! committed batch reports) are at the end of this module.

pub mod log;
mod migrate;
mod postgres;
mod sql;
mod sqlite;

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::receipts::entry::{EventKind, NewEvent};
use thiserror::Error;

pub use log::{EventFilter, ReceiptLog};
pub use postgres::{BatchCounts, PostgresStore};
pub use sqlite::SqliteStore;

/// A storage failure. Cloneable so one failed batch can answer every submission in it.
#[derive(Debug, Clone, Error)]
pub enum StoreError {
    /// The database refused or could not be reached.
    #[error("database error: {0}")]
    Database(String),
    /// Migrations failed.
    #[error("cannot migrate the database: {0}")]
    Migrate(String),
    /// A stored row does not decode.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The batch writer's thread or runtime could not start.
    #[error("cannot start the batch writer: {0}")]
    Writer(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        Self::Database(error.to_string())
    }
}

/// A receiver's translated copy, ready to store.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// Stable id (UUID).
    pub delivery_id: String,
    /// Receiving member.
    pub receiver: String,
    /// `id@version` of the profile that wrote `document`.
    pub profile: String,
    /// The document in the receiver's profile.
    pub document: Vec<u8>,
    /// SHA-256 of `document`, lower-case hex.
    pub document_hash: String,
    /// The hub's attestation of this delivery (a signed note).
    pub attestation: String,
    /// Canonical fields the receiver's profile cannot express.
    pub not_representable: Vec<NotRepresentable>,
}

/// A canonical field a receiver's profile cannot express.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotRepresentable {
    /// Canonical path.
    pub path: String,
    /// Why.
    pub reason: String,
}

/// A validated, translated and routed submission, ready to store.
#[derive(Debug, Clone)]
pub struct NewSubmission {
    /// Hub tracking id (UUID).
    pub tracking_id: String,
    /// Sending member.
    pub sender: String,
    /// Agreement.
    pub agreement: String,
    /// Certificate id read from the document.
    pub certificate_id: String,
    /// Idempotency key (given, or derived from the certificate id).
    pub idempotency_key: String,
    /// SHA-256 of `original`, lower-case hex.
    pub content_hash: String,
    /// `id@version` of the sender's profile.
    pub sender_profile: String,
    /// The submitted bytes.
    pub original: Vec<u8>,
    /// The canonical record as JSON.
    pub canonical: String,
    /// The issuer's signature of `original` and the verifier key that checked it.
    pub issuer: Option<(Vec<u8>, String)>,
    /// When the hub accepted it, Unix microseconds.
    pub accepted_at: i64,
    /// One per receiver, in routing order.
    pub deliveries: Vec<NewDelivery>,
}

/// A delivery an acknowledgement names, as the batch writer checks it: (delivery id, receiver,
/// state, tracking id, sender, certificate id, agreement).
pub(crate) type AckRow = (String, String, String, String, String, String, String);

/// What the hub tells a sender about an accepted submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Hub tracking id.
    pub tracking_id: String,
    /// Certificate id.
    pub certificate_id: String,
    /// SHA-256 of the submitted bytes.
    pub content_hash: String,
    /// Receiving members.
    pub receivers: Vec<String>,
    /// Unix microseconds.
    pub accepted_at: i64,
    /// `id@version` of the sender's profile.
    pub sender_profile: String,
}

impl NewSubmission {
    /// The receipt this submission earns once stored.
    pub fn receipt(&self) -> Receipt {
        Receipt {
            tracking_id: self.tracking_id.clone(),
            certificate_id: self.certificate_id.clone(),
            content_hash: self.content_hash.clone(),
            receivers: self.deliveries.iter().map(|d| d.receiver.clone()).collect(),
            accepted_at: self.accepted_at,
            sender_profile: self.sender_profile.clone(),
        }
    }

    /// The receivers as stored: comma-separated, in routing order.
    pub(crate) fn receivers(&self) -> String {
        let receivers: Vec<&str> = self
            .deliveries
            .iter()
            .map(|d| d.receiver.as_str())
            .collect();
        receivers.join(",")
    }
}

/// The outcome of storing one submission of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Stored now.
    Created(Receipt),
    /// The key was stored before with the same content: the original receipt.
    Duplicate(Receipt),
    /// The key was stored before with other content.
    Conflict {
        /// The original submission.
        tracking_id: String,
    },
}

/// What storing a batch did.
#[derive(Debug, Clone, Default)]
pub struct StoredBatch {
    /// One per submission, in order.
    pub outcomes: Vec<Stored>,
    /// The deliveries created, in sequence order.
    pub deliveries: Vec<DeliveryRecord>,
    /// One per acknowledgement job, in order.
    pub acks: Vec<AckOutcome>,
    /// The largest delivery sequence committed before this batch (0: none). Deliveries get
    /// their sequences under the write lock, so every delivery committed with a sequence in
    /// `after_sequence + 1 ..= through_sequence` is one of this batch's.
    pub after_sequence: i64,
    /// The largest delivery sequence committed once this batch was.
    pub through_sequence: i64,
}

/// A page of a receiver's pending deliveries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingPage {
    /// Sequence and id of each, in order.
    pub ids: Vec<(i64, String)>,
    /// The largest delivery sequence committed, any receiver's, as the same read saw it.
    pub last_sequence: i64,
}

/// A receiver acknowledging deliveries: all of them, or none if one is unknown or not its.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckJob {
    /// The acknowledging member.
    pub receiver: String,
    /// Delivery ids.
    pub delivery_ids: Vec<String>,
}

/// A stored delivery as a receiver gets it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// Receiving member.
    pub receiver: String,
    /// Position in the receiver's stream.
    pub sequence: i64,
    /// Stable id.
    pub delivery_id: String,
    /// Hub tracking id.
    pub tracking_id: String,
    /// Certificate id.
    pub certificate_id: String,
    /// Agreement.
    pub agreement: String,
    /// Sending member.
    pub sender: String,
    /// `id@version` of the receiver's profile.
    pub profile: String,
    /// The document in the receiver's profile.
    pub document: Vec<u8>,
    /// The sender's bytes.
    pub original: Vec<u8>,
    /// `id@version` of the sender's profile.
    pub original_profile: String,
    /// SHA-256 of `original`.
    pub original_hash: String,
    /// What the receiver's profile cannot express.
    pub not_representable: Vec<NotRepresentable>,
    /// Unix microseconds.
    pub accepted_at: i64,
    /// The hub's attestation (a signed note).
    pub attestation: String,
    /// The issuer's signature of `original`, if it signed.
    pub issuer_signature: Option<Vec<u8>>,
}

/// Where one receiver's delivery stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverState {
    /// Receiving member.
    pub receiver: String,
    /// Delivery id.
    pub delivery_id: String,
    /// `pending` or `acknowledged`.
    pub state: String,
    /// `id@version` of the receiver's profile.
    pub profile: String,
    /// Unix microseconds.
    pub acknowledged_at: Option<i64>,
}

/// A submission and its deliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionStatus {
    /// Sending member.
    pub sender: String,
    /// Agreement.
    pub agreement: String,
    /// The original receipt.
    pub receipt: Receipt,
    /// Per receiver.
    pub receivers: Vec<ReceiverState>,
}

/// Delivery counts for one agreement and receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsRow {
    /// Agreement.
    pub agreement: String,
    /// Receiving member.
    pub receiver: String,
    /// Deliveries stored.
    pub delivered: i64,
    /// Of those, acknowledged.
    pub acknowledged: i64,
}

/// Why an acknowledgement was refused (nothing of it is applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckOutcome {
    /// This many changed to acknowledged (the rest were already).
    Acknowledged(u32),
    /// The id belongs to another member.
    NotYours(String),
    /// No such delivery.
    Unknown(String),
}

/// A stored profile version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileRow {
    /// Profile id.
    pub id: String,
    /// Declared version.
    pub version: String,
    /// The profile file.
    pub source: String,
}

/// What putting a profile version did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfilePut {
    /// A new version.
    Created,
    /// This exact version was stored already.
    Unchanged,
    /// This version exists with other content.
    Conflict,
}

/// A member's or an agreement's definition as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionRow {
    /// Its id.
    pub id: String,
    /// Its TOML.
    pub definition: String,
    /// When it was last stored (microseconds since the Unix epoch): by the operator API, or by
    /// importing a config file.
    pub updated_at: i64,
}

/// The registry as stored: members and agreements as their TOML, every profile version in the
/// order stored.
#[derive(Debug, Clone, Default)]
pub struct RegistryRows {
    /// By id.
    pub members: Vec<DefinitionRow>,
    /// By id.
    pub agreements: Vec<DefinitionRow>,
    /// Oldest first.
    pub profiles: Vec<ProfileRow>,
}

/// What the hub needs from a database. Every method is one transaction.
pub trait Store: ReceiptLog {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// The same database for the batch writer, which runs on a runtime of its own: a store
    /// whose connections (at most `connections`, one per batch in flight) are opened, and so
    /// polled, from the runtime calling this, sharing this store's cached log head.
    fn for_writer(&self, connections: u32) -> impl Future<Output = Result<Self, StoreError>> + Send
    where
        Self: Sized;

    /// Writes a batch in one transaction: the submissions (one outcome each, in order, and the
    /// deliveries created with their sequence numbers), the acknowledgements (one outcome per
    /// job, applied at `acked_at`), and their receipt events.
    fn write_batch(
        &self,
        batch: &[NewSubmission],
        acks: &[AckJob],
        acked_at: i64,
    ) -> impl Future<Output = Result<StoredBatch, StoreError>> + Send;

    /// The receipt and content hash stored under a sender's idempotency key.
    fn find_by_key(
        &self,
        sender: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<Receipt>, StoreError>> + Send;

    /// A receiver's unacknowledged deliveries after `after`, in order, at most `limit`: sequence
    /// and id only, so a subscription reads the bytes from its cache when it can.
    fn pending_ids(
        &self,
        receiver: &str,
        after: i64,
        limit: i64,
    ) -> impl Future<Output = Result<PendingPage, StoreError>> + Send;

    /// Whole deliveries by id (in no particular order; unknown ids are left out).
    fn deliveries(
        &self,
        delivery_ids: &[String],
    ) -> impl Future<Output = Result<Vec<DeliveryRecord>, StoreError>> + Send;

    /// A submission and its deliveries.
    fn status(
        &self,
        tracking_id: &str,
    ) -> impl Future<Output = Result<Option<SubmissionStatus>, StoreError>> + Send;

    /// Delivery counts per agreement and receiver.
    fn stats(&self) -> impl Future<Output = Result<Vec<StatsRow>, StoreError>> + Send;

    /// The whole registry.
    fn registry(&self) -> impl Future<Output = Result<RegistryRows, StoreError>> + Send;

    /// Creates or replaces a member.
    fn put_member(
        &self,
        id: &str,
        definition: &str,
        at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Creates or replaces an agreement.
    fn put_agreement(
        &self,
        id: &str,
        definition: &str,
        at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Adds a profile version.
    fn put_profile(
        &self,
        profile: &ProfileRow,
        at: i64,
    ) -> impl Future<Output = Result<ProfilePut, StoreError>> + Send;

    /// Receipt events of a submission in log order: (kind, member, delivery id).
    fn events(
        &self,
        tracking_id: &str,
    ) -> impl Future<Output = Result<Vec<(String, String, Option<String>)>, StoreError>> + Send;
}

fn decode_losses(text: &str) -> Result<Vec<NotRepresentable>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn encode_losses(losses: &[NotRepresentable]) -> String {
    serde_json::to_string(losses).unwrap_or_else(|_| "[]".to_owned())
}

fn split_receivers(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The "accepted" receipt event of a stored submission.
pub(crate) fn accepted_event(s: &NewSubmission) -> NewEvent {
    let mut event = NewEvent::new(EventKind::Accepted, &s.sender, s.accepted_at)
        .with("content_sha256", s.content_hash.clone())
        .with("sender_profile", s.sender_profile.clone())
        .with("receivers", s.receivers());
    if let Some((_, key)) = &s.issuer {
        event = event.with("issuer_key", key.clone());
    }
    event.sender = Some(s.sender.clone());
    event.tracking_id = Some(s.tracking_id.clone());
    event.certificate_id = Some(s.certificate_id.clone());
    event.agreement = Some(s.agreement.clone());
    event
}

/// The "queued" receipt event of one stored delivery: which translation, made by which profile
/// versions, the receiver will get.
pub(crate) fn queued_event(s: &NewSubmission, d: &NewDelivery) -> NewEvent {
    let mut event = NewEvent::new(EventKind::Queued, &d.receiver, s.accepted_at)
        .with("content_sha256", s.content_hash.clone())
        .with("sender_profile", s.sender_profile.clone())
        .with("document_sha256", d.document_hash.clone())
        .with("profile", d.profile.clone())
        .with(
            "attestation_sha256",
            crate::pipeline::content_hash(d.attestation.as_bytes()),
        );
    event.sender = Some(s.sender.clone());
    event.receiver = Some(d.receiver.clone());
    event.tracking_id = Some(s.tracking_id.clone());
    event.certificate_id = Some(s.certificate_id.clone());
    event.agreement = Some(s.agreement.clone());
    event.delivery_id = Some(d.delivery_id.clone());
    event
}

/// The receipt events a batch appends, in log order: per fresh submission its "accepted" event
/// and one "queued" per delivery, then the "acknowledged" events.
pub(crate) fn batch_events<'a>(
    fresh: impl IntoIterator<Item = &'a NewSubmission>,
    acknowledged: impl IntoIterator<Item = NewEvent>,
) -> Vec<NewEvent> {
    fresh
        .into_iter()
        .flat_map(|s| {
            std::iter::once(accepted_event(s))
                .chain(s.deliveries.iter().map(move |d| queued_event(s, d)))
        })
        .chain(acknowledged)
        .collect()
}

/// Every delivery id the acknowledgement jobs name, sorted and once each.
pub(crate) fn ack_ids(acks: &[AckJob]) -> Vec<&str> {
    let mut ids: Vec<&str> = acks
        .iter()
        .flat_map(|a| a.delivery_ids.iter().map(String::as_str))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Judges each acknowledgement job against the deliveries found for its ids: one outcome per
/// job (a job naming an unknown delivery or another member's is refused whole), and the
/// pending deliveries the accepted jobs acknowledge, each once.
pub(crate) fn check_acks(acks: &[AckJob], found: Vec<AckRow>) -> (Vec<AckOutcome>, Vec<AckRow>) {
    let found: std::collections::HashMap<String, AckRow> =
        found.into_iter().map(|r| (r.0.clone(), r)).collect();
    let mut outcomes = Vec::with_capacity(acks.len());
    let mut pending = Vec::new();
    let mut taken = std::collections::HashSet::new();
    for job in acks {
        let refusal = job.delivery_ids.iter().find_map(|id| match found.get(id) {
            None => Some(AckOutcome::Unknown(id.clone())),
            Some(row) if row.1 != job.receiver => Some(AckOutcome::NotYours(id.clone())),
            Some(_) => None,
        });
        if let Some(refusal) = refusal {
            outcomes.push(refusal);
            continue;
        }
        let mut count = 0u32;
        for id in &job.delivery_ids {
            if let Some(row) = found.get(id)
                && row.2 == "pending"
                && taken.insert(id.as_str())
            {
                pending.push(row.clone());
                count += 1;
            }
        }
        outcomes.push(AckOutcome::Acknowledged(count));
    }
    (outcomes, pending)
}

/// The "acknowledged" receipt event of a delivery ([`AckRow`]) acknowledged at `at`.
pub(crate) fn acknowledged_event(row: &AckRow, at: i64) -> NewEvent {
    let mut event = NewEvent::new(EventKind::Acknowledged, &row.1, at);
    event.receiver = Some(row.1.clone());
    event.sender = Some(row.4.clone());
    event.tracking_id = Some(row.3.clone());
    event.certificate_id = Some(row.5.clone());
    event.agreement = Some(row.6.clone());
    event.delivery_id = Some(row.0.clone());
    event
}

/// What a committed batch reports: `created` are its deliveries (with their submissions),
/// `sequences` the sequence each got, by delivery id, and `last_sequence` the largest sequence
/// committed before it ([`StoredBatch::after_sequence`]).
pub(crate) fn stored_batch(
    outcomes: Vec<Stored>,
    acks: Vec<AckOutcome>,
    created: &[(&NewSubmission, &NewDelivery)],
    sequences: &std::collections::HashMap<String, i64>,
    last_sequence: i64,
) -> StoredBatch {
    let mut deliveries: Vec<_> = created
        .iter()
        .map(|(s, d)| DeliveryRecord {
            receiver: d.receiver.clone(),
            sequence: sequences.get(&d.delivery_id).copied().unwrap_or_default(),
            delivery_id: d.delivery_id.clone(),
            tracking_id: s.tracking_id.clone(),
            certificate_id: s.certificate_id.clone(),
            agreement: s.agreement.clone(),
            sender: s.sender.clone(),
            profile: d.profile.clone(),
            document: d.document.clone(),
            original: s.original.clone(),
            original_profile: s.sender_profile.clone(),
            original_hash: s.content_hash.clone(),
            not_representable: d.not_representable.clone(),
            accepted_at: s.accepted_at,
            attestation: d.attestation.clone(),
            issuer_signature: s.issuer.as_ref().map(|(signature, _)| signature.clone()),
        })
        .collect();
    deliveries.sort_by_key(|r| r.sequence);
    let through_sequence = deliveries
        .last()
        .map_or(last_sequence, |r| r.sequence.max(last_sequence));
    StoredBatch {
        outcomes,
        deliveries,
        acks,
        after_sequence: last_sequence,
        through_sequence,
    }
}
