//! `MemberService`: what members do. A member submits only as itself (the certificate's CN),
//! and receives, acknowledges and reads the status of only its own traffic.

use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::{caller, record, require, timestamp};
use crate::error::{ApiError, clip};
use crate::hub::{Hub, now_micros};
use crate::identity::{Caller, Role};
use crate::pipeline::{Submission, content_hash, idempotency_key, prepare};
use crate::proto::member_service_server::MemberService;
use crate::proto::{
    AckRequest, AckResponse, Delivery, DeliveryState, GetStatusRequest, GetStatusResponse,
    NotRepresentable, Receipt, ReceiverStatus, SubmitRequest, SubmitResponse, SubscribeRequest,
    SubscribeResponse,
};
use crate::receipts::entry::{EventKind, NewEvent};
use crate::store::{self, AckJob, AckOutcome, DeliveryRecord, PendingPage, Store, Stored};

/// Deliveries read per query while streaming.
const PAGE: i64 = 256;
/// Most delivery ids in one `Ack`.
const MAX_ACK_IDS: usize = 10_000;

/// The member API over a hub.
#[derive(Debug)]
pub struct MemberApi<S> {
    hub: Arc<Hub<S>>,
}

impl<S> MemberApi<S> {
    /// The API over `hub`.
    pub fn new(hub: Arc<Hub<S>>) -> Self {
        Self { hub }
    }
}

fn receipt(receipt: store::Receipt) -> Receipt {
    Receipt {
        tracking_id: receipt.tracking_id,
        certificate_id: receipt.certificate_id,
        content_hash: receipt.content_hash,
        receivers: receipt.receivers,
        accepted_at: Some(timestamp(receipt.accepted_at)),
        sender_profile: receipt.sender_profile,
    }
}

fn delivery(record: &DeliveryRecord) -> Delivery {
    Delivery {
        delivery_id: record.delivery_id.clone(),
        sequence: u64::try_from(record.sequence).unwrap_or(0),
        tracking_id: record.tracking_id.clone(),
        certificate_id: record.certificate_id.clone(),
        agreement: record.agreement.clone(),
        sender: record.sender.clone(),
        profile: record.profile.clone(),
        document: record.document.clone(),
        original: record.original.clone(),
        original_profile: record.original_profile.clone(),
        original_hash: record.original_hash.clone(),
        not_representable: record
            .not_representable
            .iter()
            .cloned()
            .map(|n| NotRepresentable {
                path: n.path,
                reason: n.reason,
            })
            .collect(),
        accepted_at: Some(timestamp(record.accepted_at)),
        attestation: record.attestation.clone(),
        issuer_signature: record.issuer_signature.clone().unwrap_or_default(),
    }
}

fn duplicate_or_conflict(stored: Stored) -> Result<SubmitResponse, ApiError> {
    match stored {
        Stored::Created(r) => Ok(SubmitResponse {
            receipt: Some(receipt(r)),
            duplicate: false,
        }),
        Stored::Duplicate(r) => Ok(SubmitResponse {
            receipt: Some(receipt(r)),
            duplicate: true,
        }),
        Stored::Conflict { tracking_id } => Err(ApiError::AlreadyExists(format!(
            "idempotency key already used for different content (submission {tracking_id})"
        ))),
    }
}

/// Most bytes of a refusal's reason kept in its receipt leaf: the leaf only needs to say why.
const REASON_BYTES: usize = 1000;
/// Most bytes of the agreement a refused request named, kept in its receipt leaf: real ids have
/// at most 64, and whatever else a caller sends must not grow the log.
const REFUSED_AGREEMENT_BYTES: usize = 128;
/// Longest idempotency key accepted. The key is stored in a unique index, whose entries
/// Postgres caps at about 2.7 KB: a longer key would fail its whole batch, other members'
/// submissions with it.
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 256;

/// Refuses a field of `bytes` over `limit` bytes.
fn within(field: &str, bytes: usize, limit: usize) -> Result<(), ApiError> {
    if bytes > limit {
        return Err(ApiError::invalid(
            field,
            format!("{bytes} bytes, over the limit of {limit} bytes"),
        ));
    }
    Ok(())
}

impl<S: Store> MemberApi<S> {
    async fn submit(&self, request: Request<SubmitRequest>) -> Result<SubmitResponse, ApiError> {
        let sender = require(&self.hub, &request, Role::Member, "Submit").await?;
        let request = Arc::new(request.into_inner());
        let result = self.accept(&sender, &request).await;
        if let Err(error) = &result
            && error.is_refusal()
        {
            let mut event = NewEvent::new(EventKind::Refused, &sender.name, now_micros())
                .with(
                    "code",
                    format!("{:?}", tonic::Status::from(error.clone()).code()),
                )
                .with("reason", clip(error.to_string(), REASON_BYTES))
                .with("content_sha256", content_hash(&request.document));
            event.sender = Some(sender.name.clone());
            event.agreement = Some(clip(request.agreement.clone(), REFUSED_AGREEMENT_BYTES))
                .filter(|a| !a.is_empty());
            record(&self.hub, event).await;
        }
        result
    }

    /// Checks, translates and stores a submission; every error is a refusal or a failure.
    async fn accept(
        &self,
        sender: &Caller,
        request: &Arc<SubmitRequest>,
    ) -> Result<SubmitResponse, ApiError> {
        if request.document.is_empty() {
            return Err(ApiError::invalid("document", "empty"));
        }
        within(
            "document",
            request.document.len(),
            self.hub.settings.max_document_bytes,
        )?;
        within(
            "idempotency_key",
            request.idempotency_key.len(),
            MAX_IDEMPOTENCY_KEY_BYTES,
        )?;
        // A given key can be answered before any translation work.
        if !request.idempotency_key.is_empty() {
            let key = idempotency_key(&request.idempotency_key, "");
            if let Some(existing) = self.hub.store.find_by_key(&sender.name, &key).await? {
                let stored = if existing.content_hash == content_hash(&request.document) {
                    Stored::Duplicate(existing)
                } else {
                    Stored::Conflict {
                        tracking_id: existing.tracking_id,
                    }
                };
                return duplicate_or_conflict(stored);
            }
        }
        // Checking, translating and signing: in place for an ordinary document, on the
        // blocking pool for a large one (see `compute`).
        let (hub, request, sender_name) = (self.hub.clone(), request.clone(), sender.name.clone());
        let submission = crate::compute::run(request.document.len(), move || {
            prepare(
                &hub.registry(),
                &hub.settings.key,
                Submission {
                    sender: &sender_name,
                    agreement: &request.agreement,
                    profile: &request.profile,
                    document: &request.document,
                    idempotency_key: &request.idempotency_key,
                    signature: &request.signature,
                    signature_key_id: request.signature_key_id,
                },
                now_micros(),
            )
        })
        .await??;
        let tracking_id = submission.tracking_id.clone();
        let stored = self.hub.writer.store(submission).await?;
        if let Stored::Created(r) = &stored {
            tracing::info!(%tracking_id, sender = %sender.name, receivers = ?r.receivers, "accepted");
        }
        duplicate_or_conflict(stored)
    }

    async fn ack(&self, request: Request<AckRequest>) -> Result<AckResponse, ApiError> {
        let receiver = require(&self.hub, &request, Role::Member, "Ack").await?;
        let ids = request.into_inner().delivery_ids;
        if ids.len() > MAX_ACK_IDS {
            return Err(ApiError::invalid(
                "delivery_ids",
                format!("{} ids, over the limit of {MAX_ACK_IDS}", ids.len()),
            ));
        }
        if ids.is_empty() {
            return Ok(AckResponse { acknowledged: 0 });
        }
        let job = AckJob {
            receiver: receiver.name.clone(),
            delivery_ids: ids,
        };
        match self.hub.writer.acknowledge(job).await? {
            AckOutcome::Acknowledged(count) => Ok(AckResponse {
                acknowledged: count,
            }),
            AckOutcome::NotYours(id) => Err(ApiError::PermissionDenied(format!(
                "delivery {id} is not addressed to {:?}; nothing was acknowledged",
                receiver.name
            ))),
            AckOutcome::Unknown(id) => Err(ApiError::NotFound(format!(
                "no delivery {id}; nothing was acknowledged"
            ))),
        }
    }

    async fn status(
        &self,
        request: Request<GetStatusRequest>,
    ) -> Result<GetStatusResponse, ApiError> {
        let caller = caller(&request)?;
        let tracking_id = request.into_inner().tracking_id;
        let status = self
            .hub
            .store
            .status(&tracking_id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no submission {tracking_id:?}")))?;
        if caller.role == Role::Member && status.sender != caller.name {
            return Err(ApiError::PermissionDenied(format!(
                "submission {tracking_id} was not sent by {:?}",
                caller.name
            )));
        }
        Ok(GetStatusResponse {
            receipt: Some(receipt(status.receipt)),
            agreement: status.agreement,
            receivers: status
                .receivers
                .into_iter()
                .map(|r| ReceiverStatus {
                    receiver: r.receiver,
                    delivery_id: r.delivery_id,
                    state: match r.state.as_str() {
                        "acknowledged" => DeliveryState::Acknowledged,
                        _ => DeliveryState::Pending,
                    } as i32,
                    profile: r.profile,
                    acknowledged_at: r.acknowledged_at.map(timestamp),
                })
                .collect(),
        })
    }
}

/// The next page of `receiver`'s pending deliveries after `after`, in order, and the largest
/// sequence committed when it was read: which ones from the database, their bytes from the
/// cache where it has them.
async fn next_page<S: Store>(
    hub: &Hub<S>,
    receiver: &str,
    after: i64,
) -> Result<(Vec<Arc<DeliveryRecord>>, i64), ApiError> {
    let PendingPage { ids, last_sequence } = hub.store.pending_ids(receiver, after, PAGE).await?;
    let cache = &hub.shared.cache;
    let mut found: Vec<Option<Arc<DeliveryRecord>>> =
        ids.iter().map(|(_, id)| cache.get(id)).collect();
    let missing: Vec<String> = ids
        .iter()
        .zip(&found)
        .filter(|(_, hit)| hit.is_none())
        .map(|((_, id), _)| id.clone())
        .collect();
    if !missing.is_empty() {
        let mut fetched: std::collections::HashMap<String, DeliveryRecord> = hub
            .store
            .deliveries(&missing)
            .await?
            .into_iter()
            .map(|r| (r.delivery_id.clone(), r))
            .collect();
        for ((_, id), slot) in ids.iter().zip(found.iter_mut()) {
            if slot.is_none() {
                *slot = fetched.remove(id).map(Arc::new);
            }
        }
    }
    // A delivery acknowledged between the two reads is simply not sent.
    Ok((found.into_iter().flatten().collect(), last_sequence))
}

/// Streams `receiver`'s unacknowledged deliveries after `after`, then new ones as they are
/// committed, until the client goes away (or, with `stop_when_drained`, the backlog is sent).
///
/// After a page that was not full, the subscription knows the largest sequence committed when
/// it read (`synced`). When woken, it takes the batches this process committed since then from
/// the [`crate::feed::DeliveryFeed`] if they follow on unbroken; otherwise, and every
/// `poll_interval` (another replica's commits wake nobody here), it asks the database.
async fn stream_deliveries<S: Store>(
    hub: Arc<Hub<S>>,
    receiver: String,
    mut after: i64,
    stop_when_drained: bool,
    out: mpsc::Sender<Result<SubscribeResponse, Status>>,
) {
    let mut wake = hub.shared.wakeups.subscribe(&receiver);
    let mut closing = hub.closing();
    let mut synced: Option<i64> = None;
    loop {
        if *closing.borrow_and_update() {
            return shutting_down(&out);
        }
        wake.borrow_and_update();
        let followed = synced.and_then(|from| hub.shared.feed.follow(from, &receiver));
        let (page, full) = match followed {
            Some((records, through)) => {
                synced = Some(through);
                (records, false)
            }
            None => match next_page(&hub, &receiver, after).await {
                Ok((page, last_sequence)) => {
                    let full = page.len() as i64 == PAGE;
                    synced = (!full).then_some(last_sequence);
                    (page, full)
                }
                Err(error) => {
                    let _ = out.send(Err(error.into())).await;
                    return;
                }
            },
        };
        // A delivery the database read already sent can come again from the feed.
        for record in page {
            if record.sequence <= after {
                continue;
            }
            after = record.sequence;
            let message = SubscribeResponse {
                delivery: Some(delivery(&record)),
            };
            if out.send(Ok(message)).await.is_err() {
                return; // the client went away
            }
        }
        if full {
            continue;
        }
        if stop_when_drained {
            return;
        }
        tokio::select! {
            changed = wake.changed() => if changed.is_err() { return },
            () = tokio::time::sleep(hub.settings.poll_interval) => synced = None,
            () = out.closed() => return,
            _ = closing.changed() => return shutting_down(&out),
        }
    }
}

/// Ends a subscription because the hub is stopping, with `UNAVAILABLE`, so its client knows to
/// subscribe again (to another replica, or to this one once it is back) rather than taking the
/// end of the stream for the end of its backlog. `try_send`: a client that does not read must
/// not hold up the shutdown; its stream then ends without the status.
fn shutting_down(out: &mpsc::Sender<Result<SubscribeResponse, Status>>) {
    let _ = out.try_send(Err(Status::unavailable(
        "the hub is shutting down; subscribe again to receive the rest",
    )));
}

type DeliveryStream = Pin<Box<dyn Stream<Item = Result<SubscribeResponse, Status>> + Send>>;

#[tonic::async_trait]
impl<S: Store> MemberService for MemberApi<S> {
    async fn submit(
        &self,
        request: Request<SubmitRequest>,
    ) -> Result<Response<SubmitResponse>, Status> {
        Ok(Response::new(MemberApi::submit(self, request).await?))
    }

    type SubscribeStream = DeliveryStream;

    async fn subscribe(
        &self,
        request: Request<SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let receiver = require(&self.hub, &request, Role::Member, "Subscribe").await?;
        let request = request.into_inner();
        let after = i64::try_from(request.after_sequence)
            .map_err(|_| Status::from(ApiError::invalid("after_sequence", "out of range")))?;
        let (out, stream) = mpsc::channel(64);
        tokio::spawn(stream_deliveries(
            self.hub.clone(),
            receiver.name,
            after,
            request.stop_when_drained,
            out,
        ));
        Ok(Response::new(Box::pin(ReceiverStream::new(stream))))
    }

    async fn ack(&self, request: Request<AckRequest>) -> Result<Response<AckResponse>, Status> {
        Ok(Response::new(MemberApi::ack(self, request).await?))
    }

    async fn get_status(
        &self,
        request: Request<GetStatusRequest>,
    ) -> Result<Response<GetStatusResponse>, Status> {
        Ok(Response::new(MemberApi::status(self, request).await?))
    }
}
