//! The gRPC services: [`member`] (submit, subscribe, ack, status), [`operator`] (registry
//! and statistics) and [`audit`] (the receipt log, read-only). Both read the caller from the TLS client certificate with [`caller`].

pub mod audit;
pub mod member;
pub mod operator;

use tonic::Request;

use crate::error::ApiError;
use crate::hub::{Hub, now_micros};
use crate::identity::{Caller, IdentityError, Role, cached_caller};
use crate::receipts::entry::{EventKind, NewEvent};
use crate::store::Store;

/// The caller, from the connection's verified client certificate.
pub fn caller<T>(request: &Request<T>) -> Result<Caller, ApiError> {
    let certs = request.peer_certs().ok_or(IdentityError::Missing)?;
    let leaf = certs.first().ok_or(IdentityError::Missing)?;
    Ok(cached_caller(leaf.as_ref())?)
}

/// The caller, refused unless it has `role`; a refusal is recorded as a `denied` event.
pub async fn require<S: Store, T>(
    hub: &Hub<S>,
    request: &Request<T>,
    role: Role,
    method: &str,
) -> Result<Caller, ApiError> {
    let caller = caller(request)?;
    if caller.role != role {
        let reason = format!(
            "{method} needs the {role} role; {:?} has the {} role",
            caller.name, caller.role
        );
        return Err(deny(hub, &caller, method, reason).await);
    }
    Ok(caller)
}

/// Records that `caller` was refused `method` (a `denied` event) and returns the refusal. A
/// failure to record is logged, not returned: the caller is refused either way.
pub async fn deny<S: Store>(
    hub: &Hub<S>,
    caller: &Caller,
    method: &str,
    reason: String,
) -> ApiError {
    let event = NewEvent::new(EventKind::Denied, &caller.name, now_micros())
        .with("method", method)
        .with("reason", reason.clone())
        .with("role", caller.role.to_string());
    record(hub, event).await;
    ApiError::PermissionDenied(reason)
}

/// Appends an event of its own (a refusal) to the receipt log, logging a failure.
pub async fn record<S: Store>(hub: &Hub<S>, event: NewEvent) {
    if let Err(error) = hub.store.record_events(vec![event]).await {
        tracing::warn!(%error, "could not record a receipt event");
    }
}

/// A protobuf timestamp from Unix microseconds.
pub fn timestamp(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: i32::try_from(micros.rem_euclid(1_000_000) * 1000).unwrap_or(0),
    }
}
