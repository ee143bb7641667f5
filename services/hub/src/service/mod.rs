//! The gRPC services: [`member`] (submit, subscribe, ack, status), [`operator`] (registry
//! and statistics) and [`audit`] (the receipt log, read-only). Both read the caller from the TLS client certificate with [`caller`].

pub mod audit;
pub mod member;
pub mod operator;

use tonic::Request;

use crate::error::ApiError;
use crate::identity::{Caller, IdentityError, Role, caller_from_der};

/// The caller, from the connection's verified client certificate.
pub fn caller<T>(request: &Request<T>) -> Result<Caller, ApiError> {
    let certs = request.peer_certs().ok_or(IdentityError::Missing)?;
    let leaf = certs.first().ok_or(IdentityError::Missing)?;
    Ok(caller_from_der(leaf.as_ref())?)
}

/// The caller, refused unless it has `role`.
pub fn require<T>(request: &Request<T>, role: Role, what: &str) -> Result<Caller, ApiError> {
    let caller = caller(request)?;
    if caller.role != role {
        return Err(ApiError::PermissionDenied(format!(
            "{what} needs the {role} role; {:?} has the {} role",
            caller.name, caller.role
        )));
    }
    Ok(caller)
}

/// A protobuf timestamp from Unix microseconds.
pub fn timestamp(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: i32::try_from(micros.rem_euclid(1_000_000) * 1000).unwrap_or(0),
    }
}
