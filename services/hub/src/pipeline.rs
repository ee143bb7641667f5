//! One submission through the pipeline, before anything is stored: find the agreement, check the
//! sender speaks this profile under it, read and validate the document, route it, and translate
//! it into each receiver's profile. No I/O: it reads one registry snapshot.

use originhub_core::agreement::{RouteError, RouteFacts, route};
use originhub_core::engine::TranslateError;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::{ApiError, FieldViolation};
use crate::registry::Registry;
use crate::store::{NewDelivery, NewSubmission, NotRepresentable};

/// A submission as the sender made it.
#[derive(Debug, Clone, Copy)]
pub struct Submission<'a> {
    /// The sending member (from its certificate).
    pub sender: &'a str,
    /// Agreement id.
    pub agreement: &'a str,
    /// The sender's profile id.
    pub profile: &'a str,
    /// The document.
    pub document: &'a [u8],
    /// Given idempotency key; empty to use the certificate id.
    pub idempotency_key: &'a str,
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// The idempotency key a submission is stored under.
pub fn idempotency_key(given: &str, certificate_id: &str) -> String {
    if given.is_empty() {
        format!("certificate:{certificate_id}")
    } else {
        format!("key:{given}")
    }
}

fn route_error(error: RouteError) -> ApiError {
    let subject = match &error {
        RouteError::SenderNotParty { .. } => {
            return ApiError::PermissionDenied(error.to_string());
        }
        RouteError::AgreementMismatch { .. } => "agreement",
        RouteError::NoImportCountry { .. }
        | RouteError::ImportCountryNotParty { .. }
        | RouteError::SelfAddressed { .. } => "import_country",
        RouteError::ExportCountryNotSender { .. } => "export_country",
        RouteError::NotEffective { .. } => "issue_date_time",
    };
    ApiError::FailedPrecondition {
        message: error.to_string(),
        subject: subject.to_owned(),
    }
}

fn document_error(error: TranslateError) -> ApiError {
    match error {
        TranslateError::Input(input) => ApiError::invalid("document", input.to_string()),
        TranslateError::Invalid(violations) => ApiError::InvalidArgument {
            message: format!(
                "the document breaks its profile: {} violation(s): {}",
                violations.len(),
                violations
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            violations: violations
                .into_iter()
                .map(|v| {
                    let value = v.value.map(|v| format!(" (got {v:?})")).unwrap_or_default();
                    FieldViolation {
                        field: v.path,
                        description: format!("{}: {}{value}", v.rule, v.message),
                    }
                })
                .collect(),
        },
    }
}

/// Validates, routes and translates a submission into what the store keeps.
pub fn prepare(
    registry: &Registry,
    submission: Submission<'_>,
    accepted_at: i64,
) -> Result<NewSubmission, ApiError> {
    let (agreement, _) = registry
        .agreements
        .get(submission.agreement)
        .ok_or_else(|| ApiError::NotFound(format!("no agreement {:?}", submission.agreement)))?;
    let expected = agreement.profile_of(submission.sender).ok_or_else(|| {
        ApiError::PermissionDenied(format!(
            "member {:?} is not a party to agreement {:?}",
            submission.sender, agreement.id
        ))
    })?;
    if submission.profile != expected {
        return Err(ApiError::invalid(
            "profile",
            format!(
                "member {:?} speaks {expected:?} under agreement {:?}, not {:?}",
                submission.sender, agreement.id, submission.profile
            ),
        ));
    }
    let sender_profile = registry.profile(expected).ok_or_else(|| {
        ApiError::Internal(format!(
            "agreement {:?} names missing profile {expected:?}",
            agreement.id
        ))
    })?;
    let (canonical, _extensions) = sender_profile
        .plan
        .read(submission.document)
        .map_err(document_error)?;
    let routes = route(
        agreement,
        |id| registry.member(id),
        submission.sender,
        &RouteFacts::of(&canonical),
    )
    .map_err(route_error)?;
    let mut deliveries = Vec::with_capacity(routes.len());
    for receiver in routes {
        let profile = registry.profile(&receiver.profile).ok_or_else(|| {
            ApiError::Internal(format!(
                "agreement {:?} names missing profile {:?}",
                agreement.id, receiver.profile
            ))
        })?;
        let (document, losses) = profile.plan.write(&canonical);
        deliveries.push(NewDelivery {
            delivery_id: Uuid::new_v4().to_string(),
            receiver: receiver.member,
            profile: profile.label(),
            document_hash: content_hash(&document),
            document,
            not_representable: losses
                .into_iter()
                .map(|l| NotRepresentable {
                    path: l.path,
                    reason: l.reason,
                })
                .collect(),
        });
    }
    let certificate_id = canonical
        .node()
        .get("id")
        .and_then(|n| n.as_str())
        .unwrap_or_default()
        .to_owned();
    let canonical_json = serde_json::to_string(canonical.node())
        .map_err(|e| ApiError::Internal(format!("cannot encode the canonical record: {e}")))?;
    Ok(NewSubmission {
        tracking_id: Uuid::now_v7().to_string(),
        sender: submission.sender.to_owned(),
        agreement: agreement.id.clone(),
        idempotency_key: idempotency_key(submission.idempotency_key, &certificate_id),
        certificate_id,
        content_hash: content_hash(submission.document),
        sender_profile: sender_profile.label(),
        original: submission.document.to_vec(),
        canonical: canonical_json,
        accepted_at,
        deliveries,
    })
}
