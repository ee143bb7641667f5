//! `AuditService`: the receipt log, read-only. Auditors read everything; a member reads the
//! events it acts in, sends or receives, and inclusion proofs of those; checkpoints and
//! consistency proofs (hashes only) are open to every role. Refused reads are themselves
//! recorded as `denied` events.

use std::pin::Pin;
use std::sync::Arc;

use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::{caller, deny};
use crate::error::ApiError;
use crate::hub::{Hub, now_micros};
use crate::identity::{Caller, Role};
use crate::proto::audit_service_server::AuditService;
use crate::proto::export_events_response::Part;
use crate::proto::{
    ExportEventsRequest, ExportEventsResponse, GetCheckpointRequest, GetCheckpointResponse,
    GetConsistencyProofRequest, GetConsistencyProofResponse, GetInclusionProofRequest,
    GetInclusionProofResponse, QueryEventsRequest, QueryEventsResponse, ReceiptEvent,
    ReceiptEventBatch,
};
use crate::receipts::entry::{Entry, EventKind};
use crate::receipts::tree::{self, Hash};
use crate::store::{EventFilter, Store};

/// Events per query page unless asked otherwise, and the most a page holds.
const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;
/// Leaves per export message.
const EXPORT_CHUNK: u64 = 1000;

/// The audit API over a hub.
#[derive(Debug)]
pub struct AuditApi<S> {
    hub: Arc<Hub<S>>,
}

impl<S> AuditApi<S> {
    /// The API over `hub`.
    pub fn new(hub: Arc<Hub<S>>) -> Self {
        Self { hub }
    }
}

fn micros(time: Option<&prost_types::Timestamp>) -> i64 {
    time.map_or(0, |t| {
        t.seconds.saturating_mul(1_000_000) + i64::from(t.nanos) / 1000
    })
}

fn tree_error(error: tree::TreeError) -> ApiError {
    ApiError::Internal(format!("receipt log: {error}"))
}

fn proof_bytes(proof: &[Hash]) -> Vec<Vec<u8>> {
    proof.iter().map(|h| h.0.to_vec()).collect()
}

impl<S: Store> AuditApi<S> {
    /// Records that `who` was refused `method`, and returns the refusal.
    async fn deny(&self, who: &Caller, method: &str, reason: String) -> Status {
        deny(&self.hub, who, method, reason).await.into()
    }

    /// The caller, if it may read the audit API at all (auditors and members).
    async fn reader<T>(&self, request: &Request<T>, method: &str) -> Result<Caller, Status> {
        let caller = caller(request)?;
        if caller.role == Role::Operator {
            let reason = format!(
                "{method}: operators manage the hub; the receipt log is for auditors and members"
            );
            return Err(self.deny(&caller, method, reason).await);
        }
        Ok(caller)
    }

    /// The latest checkpoint, signing one for the current size if none is stored.
    async fn checkpoint(&self) -> Result<GetCheckpointResponse, ApiError> {
        let store = &self.hub.store;
        let size = store.log_size().await?;
        let hashes = store.log_hashes(&tree::frontier(size)).await?;
        let root = hashes.root(size).map_err(tree_error)?;
        let key = &self.hub.settings.key;
        let note = key
            .sign_checkpoint(size, root)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let note = store.save_checkpoint(size, &note, now_micros()).await?;
        Ok(GetCheckpointResponse {
            checkpoint: note,
            tree_size: size,
            root_hash: root.0.to_vec(),
            verifier_key: key.verifier_key().to_owned(),
        })
    }

    /// `size`, or the latest checkpoint's when 0; refused past the end of the log.
    async fn tree_size(&self, size: u64) -> Result<u64, ApiError> {
        let current = self.hub.store.log_size().await?;
        match size {
            0 => Ok(current),
            n if n > current => Err(ApiError::OutOfRange(format!(
                "tree size {n} is past the end of the log ({current} leaves)"
            ))),
            n => Ok(n),
        }
    }
}

type ExportStream = Pin<Box<dyn Stream<Item = Result<ExportEventsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl<S: Store> AuditService for AuditApi<S> {
    async fn query_events(
        &self,
        request: Request<QueryEventsRequest>,
    ) -> Result<Response<QueryEventsResponse>, Status> {
        let caller = self.reader(&request, "QueryEvents").await?;
        let query = request.into_inner();
        let visible_to = (caller.role == Role::Member).then(|| caller.name.clone());
        if let Some(me) = &visible_to
            && !query.member.is_empty()
            && query.member != *me
        {
            let reason = format!(
                "member {me:?} may read only its own receipts, not {:?}'s",
                query.member
            );
            return Err(self.deny(&caller, "QueryEvents", reason).await);
        }
        for kind in &query.kinds {
            if EventKind::parse(kind).is_none() {
                let known: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
                return Err(ApiError::invalid(
                    "kinds",
                    format!(
                        "unknown event kind {kind:?}; kinds are {}",
                        known.join(", ")
                    ),
                )
                .into());
            }
        }
        let after = match query.page_token.as_str() {
            "" => None,
            token => Some(token.parse::<u64>().map_err(|_| {
                ApiError::invalid("page_token", format!("{token:?} is not a page token"))
            })?),
        };
        let limit = match query.page_size {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        };
        let filter = EventFilter {
            certificate_id: query.certificate_id,
            tracking_id: query.tracking_id,
            member: query.member,
            agreement: query.agreement,
            kinds: query.kinds,
            from: micros(query.from_time.as_ref()),
            to: micros(query.to_time.as_ref()),
            visible_to,
        };
        let rows = self
            .hub
            .store
            .query_events(&filter, after, limit)
            .await
            .map_err(ApiError::from)?;
        let next_page_token = match rows.last() {
            Some((index, _)) if rows.len() == limit as usize => index.to_string(),
            _ => String::new(),
        };
        Ok(Response::new(QueryEventsResponse {
            events: rows
                .into_iter()
                .map(|(index, entry)| ReceiptEvent { index, entry })
                .collect(),
            next_page_token,
        }))
    }

    async fn get_checkpoint(
        &self,
        request: Request<GetCheckpointRequest>,
    ) -> Result<Response<GetCheckpointResponse>, Status> {
        caller(&request)?;
        Ok(Response::new(self.checkpoint().await?))
    }

    async fn get_inclusion_proof(
        &self,
        request: Request<GetInclusionProofRequest>,
    ) -> Result<Response<GetInclusionProofResponse>, Status> {
        let caller = self.reader(&request, "GetInclusionProof").await?;
        let query = request.into_inner();
        let size = self.tree_size(query.tree_size).await?;
        let index = query.leaf_index;
        if index >= size {
            return Err(ApiError::OutOfRange(format!(
                "leaf {index} is not in a tree of {size} leaves"
            ))
            .into());
        }
        let store = &self.hub.store;
        let (_, entry) = store
            .log_entries(index, index + 1)
            .await
            .map_err(ApiError::from)?
            .pop()
            .ok_or_else(|| ApiError::Internal(format!("leaf {index} is missing")))?;
        if caller.role == Role::Member {
            let parsed: Entry = serde_json::from_str(&entry)
                .map_err(|e| ApiError::Internal(format!("leaf {index}: {e}")))?;
            if !parsed.involves(&caller.name) {
                let reason = format!("member {:?} is not party to leaf {index}", caller.name);
                return Err(self.deny(&caller, "GetInclusionProof", reason).await);
            }
        }
        let indexes = tree::inclusion_indexes(index, size).map_err(tree_error)?;
        let hashes = store.log_hashes(&indexes).await.map_err(ApiError::from)?;
        let proof = hashes.inclusion(index, size).map_err(tree_error)?;
        Ok(Response::new(GetInclusionProofResponse {
            leaf_index: index,
            tree_size: size,
            hashes: proof_bytes(&proof),
            event: Some(ReceiptEvent { index, entry }),
        }))
    }

    async fn get_consistency_proof(
        &self,
        request: Request<GetConsistencyProofRequest>,
    ) -> Result<Response<GetConsistencyProofResponse>, Status> {
        caller(&request)?;
        let query = request.into_inner();
        let to = self.tree_size(query.to_size).await?;
        let from = query.from_size;
        if from > to {
            return Err(ApiError::invalid(
                "from_size",
                format!("{from} is larger than the tree size {to}"),
            )
            .into());
        }
        let proof = if from == 0 || from == to {
            Vec::new()
        } else {
            let indexes = tree::consistency_indexes(from, to).map_err(tree_error)?;
            let hashes = self
                .hub
                .store
                .log_hashes(&indexes)
                .await
                .map_err(ApiError::from)?;
            hashes.consistency(from, to).map_err(tree_error)?
        };
        Ok(Response::new(GetConsistencyProofResponse {
            from_size: from,
            to_size: to,
            hashes: proof_bytes(&proof),
        }))
    }

    type ExportEventsStream = ExportStream;

    async fn export_events(
        &self,
        request: Request<ExportEventsRequest>,
    ) -> Result<Response<Self::ExportEventsStream>, Status> {
        let caller = self.reader(&request, "ExportEvents").await?;
        if caller.role != Role::Auditor {
            let reason = format!(
                "ExportEvents needs the auditor role; members query their own receipts \
                 (member {:?})",
                caller.name
            );
            return Err(self.deny(&caller, "ExportEvents", reason).await);
        }
        let checkpoint = self.checkpoint().await?;
        let size = checkpoint.tree_size;
        let (sender, receiver) = tokio::sync::mpsc::channel(4);
        let store = self.hub.store.clone();
        tokio::spawn(async move {
            let first = ExportEventsResponse {
                part: Some(Part::Checkpoint(checkpoint)),
            };
            if sender.send(Ok(first)).await.is_err() {
                return;
            }
            let mut from = 0;
            while from < size {
                let to = (from + EXPORT_CHUNK).min(size);
                let message = match store.log_entries(from, to).await {
                    Ok(rows) if rows.len() as u64 == to - from => Ok(ExportEventsResponse {
                        part: Some(Part::Events(ReceiptEventBatch {
                            events: rows
                                .into_iter()
                                .map(|(index, entry)| ReceiptEvent { index, entry })
                                .collect(),
                        })),
                    }),
                    Ok(rows) => Err(ApiError::Internal(format!(
                        "leaves {from}..{to}: {} of {} found",
                        rows.len(),
                        to - from
                    ))
                    .into()),
                    Err(error) => Err(ApiError::from(error).into()),
                };
                let failed = message.is_err();
                if sender.send(message).await.is_err() || failed {
                    return;
                }
                from = to;
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}
