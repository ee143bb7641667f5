//! Every error a client can see, and its gRPC status code: the one place the mapping lives.
//! Invalid documents carry `google.rpc.BadRequest` field violations; routing refusals carry
//! `google.rpc.PreconditionFailure`.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::identity::IdentityError;
use crate::registry::RegistryError;
use crate::store::StoreError;

/// A field violation: the field path and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path, e.g. `document.consignment.importCountry`.
    pub field: String,
    /// Rule, message and value.
    pub description: String,
}

/// What a request can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// No usable client certificate.
    #[error(transparent)]
    Unauthenticated(#[from] IdentityError),
    /// The caller's role or identity may not do this.
    #[error("{0}")]
    PermissionDenied(String),
    /// No such agreement, profile, member, submission or delivery.
    #[error("{0}")]
    NotFound(String),
    /// The request or document is invalid.
    #[error("{message}")]
    InvalidArgument {
        /// Summary.
        message: String,
        /// Each field and what is wrong.
        violations: Vec<FieldViolation>,
    },
    /// Valid, but the agreement does not route it.
    #[error("{message}")]
    FailedPrecondition {
        /// Summary.
        message: String,
        /// The fact that decided, e.g. `import_country`.
        subject: String,
    },
    /// The idempotency key or profile version is taken by other content.
    #[error("{0}")]
    AlreadyExists(String),
    /// A position or size past the end (of the receipt log).
    #[error("{0}")]
    OutOfRange(String),
    /// The store is unreachable; retry.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or corrupt data.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// Whether the hub refused the request (it was wrong or not allowed), as opposed to failing
    /// to serve it.
    pub fn is_refusal(&self) -> bool {
        !matches!(
            self,
            Self::Unauthenticated(_) | Self::Unavailable(_) | Self::Internal(_)
        )
    }

    /// An invalid request with one field violation.
    pub fn invalid(field: &str, description: impl Into<String>) -> Self {
        let description = description.into();
        Self::InvalidArgument {
            message: format!("{field}: {description}"),
            violations: vec![FieldViolation {
                field: field.to_owned(),
                description,
            }],
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Corrupt(_) => Self::Internal(error.to_string()),
            _ => Self::Unavailable(error.to_string()),
        }
    }
}

impl From<RegistryError> for ApiError {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::Profile { origin, errors } => Self::InvalidArgument {
                message: format!("{origin}: {} error(s)", errors.len()),
                violations: errors
                    .iter()
                    .map(|e| FieldViolation {
                        field: format!("toml:{}:{}", e.line, e.location),
                        description: e.message.clone(),
                    })
                    .collect(),
            },
            RegistryError::Definition(e) => Self::invalid("toml", e.to_string()),
            RegistryError::SigningKey { .. } => Self::invalid("toml", error.to_string()),
            RegistryError::VersionExists { .. } => Self::AlreadyExists(error.to_string()),
            RegistryError::Io { .. } => Self::Internal(error.to_string()),
            RegistryError::Store(e) => e.into(),
        }
    }
}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Self {
        let message = error.to_string();
        match error {
            ApiError::Unauthenticated(_) => Status::unauthenticated(message),
            ApiError::PermissionDenied(_) => Status::permission_denied(message),
            ApiError::NotFound(_) => Status::not_found(message),
            ApiError::InvalidArgument { violations, .. } => {
                let mut details = ErrorDetails::new();
                for v in violations {
                    details.add_bad_request_violation(v.field, v.description);
                }
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            ApiError::FailedPrecondition { subject, .. } => {
                let mut details = ErrorDetails::new();
                details.add_precondition_failure_violation("ROUTING", subject, message.clone());
                Status::with_error_details(Code::FailedPrecondition, message, details)
            }
            ApiError::AlreadyExists(_) => Status::already_exists(message),
            ApiError::OutOfRange(_) => Status::out_of_range(message),
            ApiError::Unavailable(_) => Status::unavailable(message),
            ApiError::Internal(_) => Status::internal(message),
        }
    }
}
