//! Every error a client can see, and its gRPC status code: the one place the mapping lives.
//! Invalid documents carry `google.rpc.BadRequest` field violations; routing refusals carry
//! `google.rpc.PreconditionFailure`.
//!
//! A status travels in HTTP/2 trailers, whose size clients cap (hyper at 16 KiB, gRPC Java at
//! 8 KiB by default); past the cap a client sees a protocol error instead of the refusal. The
//! message is in the trailers twice (`grpc-message`, and inside `grpc-status-details-bin` in
//! base64), and it and the violations can quote what the caller sent, so both are clipped here:
//! at most [`MAX_MESSAGE_BYTES`] of message and [`MAX_VIOLATION_BYTES`] of violations, about
//! 6 KiB of trailers at worst.

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

impl From<originhub_core::agreement::DefinitionError> for ApiError {
    fn from(error: originhub_core::agreement::DefinitionError) -> Self {
        RegistryError::from(error).into()
    }
}

/// The most of an error's message sent, in bytes (a refusal that lists only some of its
/// violations then says how many there were).
pub const MAX_MESSAGE_BYTES: usize = 512;
/// The most of a refusal's field violations sent, paths and descriptions together, in bytes.
pub const MAX_VIOLATION_BYTES: usize = 3 * 1024;
/// The most of one violation's field path, and of its description (which may quote the value).
const MAX_FIELD_BYTES: usize = 200;
const MAX_DESCRIPTION_BYTES: usize = 300;

/// `text` cut to at most `max` bytes at a character boundary, ending in "…" where it was cut.
pub(crate) fn clip(text: String, max: usize) -> String {
    const CUT: &str = "…";
    if text.len() <= max {
        return text;
    }
    let mut end = max.saturating_sub(CUT.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut clipped = text;
    clipped.truncate(end);
    clipped.push_str(CUT);
    clipped
}

/// The first violations that fit [`MAX_VIOLATION_BYTES`], each clipped, in their order.
fn fitting(violations: Vec<FieldViolation>) -> Vec<FieldViolation> {
    let mut room = MAX_VIOLATION_BYTES;
    let mut kept = Vec::new();
    for v in violations {
        let v = FieldViolation {
            field: clip(v.field, MAX_FIELD_BYTES),
            description: clip(v.description, MAX_DESCRIPTION_BYTES),
        };
        let Some(left) = room.checked_sub(v.field.len() + v.description.len()) else {
            break;
        };
        room = left;
        kept.push(v);
    }
    kept
}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Self {
        let message = clip(error.to_string(), MAX_MESSAGE_BYTES);
        match error {
            ApiError::Unauthenticated(_) => Status::unauthenticated(message),
            ApiError::PermissionDenied(_) => Status::permission_denied(message),
            ApiError::NotFound(_) => Status::not_found(message),
            ApiError::InvalidArgument { violations, .. } => {
                let total = violations.len();
                let listed = fitting(violations);
                let message = if listed.len() < total {
                    format!(
                        "{message} (the details list the first {} of {total} violations)",
                        listed.len()
                    )
                } else {
                    message
                };
                let mut details = ErrorDetails::new();
                for v in listed {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(n: usize) -> FieldViolation {
        FieldViolation {
            field: format!("goods_items[{n}].hs_code"),
            description: format!("hs-code: expected a six-digit HS subheading (got \"BAD-{n}\")"),
        }
    }

    /// The bytes a status puts in its trailers: the message, and the details in base64.
    fn trailer_bytes(status: &Status) -> usize {
        status.message().len() + status.details().len() * 4 / 3
    }

    #[test]
    fn a_refusal_with_thousands_of_violations_lists_the_first_that_fit() {
        let status = Status::from(ApiError::InvalidArgument {
            message: "the document breaks its profile: 3000 violation(s)".into(),
            violations: (0..3000).map(violation).collect(),
        });
        assert_eq!(status.code(), Code::InvalidArgument);
        let listed = status.get_details_bad_request().unwrap().field_violations;
        assert!(listed.len() > 20 && listed.len() < 3000, "{}", listed.len());
        assert_eq!(listed[0].field, "goods_items[0].hs_code");
        assert_eq!(
            listed.last().unwrap().field,
            format!("goods_items[{}].hs_code", listed.len() - 1)
        );
        assert!(
            status.message().ends_with(&format!(
                "(the details list the first {} of 3000 violations)",
                listed.len()
            )),
            "{}",
            status.message()
        );
        assert!(
            trailer_bytes(&status) < 6 * 1024,
            "{}",
            trailer_bytes(&status)
        );
    }

    #[test]
    fn a_refusal_that_fits_lists_everything_and_says_nothing_more() {
        let status = Status::from(ApiError::InvalidArgument {
            message: "the document breaks its profile: 3 violation(s)".into(),
            violations: (0..3).map(violation).collect(),
        });
        let listed = status.get_details_bad_request().unwrap().field_violations;
        assert_eq!(listed.len(), 3);
        assert_eq!(
            status.message(),
            "the document breaks its profile: 3 violation(s)"
        );
    }

    #[test]
    fn long_messages_and_quoted_values_are_clipped_at_a_character_boundary() {
        // A name the caller sent, echoed back: 20,000 bytes of two-byte characters.
        let status = Status::from(ApiError::NotFound(format!(
            "no agreement {:?}",
            "é".repeat(10_000)
        )));
        assert!(
            status.message().len() <= MAX_MESSAGE_BYTES,
            "{}",
            status.message().len()
        );
        assert!(status.message().starts_with("no agreement \"éé"));
        assert!(status.message().ends_with('…'));
        let status = Status::from(ApiError::invalid(
            "goods_items[0].hs_code",
            format!(
                "hs-code: expected a six-digit HS subheading (got {:?})",
                "X".repeat(30_000)
            ),
        ));
        let listed = status.get_details_bad_request().unwrap().field_violations;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].field, "goods_items[0].hs_code");
        assert!(listed[0].description.len() <= MAX_DESCRIPTION_BYTES);
        assert!(
            listed[0]
                .description
                .starts_with("hs-code: expected a six-digit HS subheading (got \"XXX")
        );
        assert!(
            trailer_bytes(&status) < 6 * 1024,
            "{}",
            trailer_bytes(&status)
        );
        assert_eq!(clip("short".into(), 10), "short");
        assert_eq!(clip("ééé".into(), 5), "é…");
        assert_eq!(clip("ééé".into(), 4), "…");
        assert_eq!(clip("abcdefgh".into(), 5), "ab…");
    }
}
