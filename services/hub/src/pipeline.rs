//! One submission through the pipeline, before anything is stored: find the agreement, check the
//! sender speaks this profile under it, read and validate the document, route it, and translate
//! it into each receiver's profile. No I/O: it reads one registry snapshot.

use originhub_core::agreement::{AgreementDef, RouteError, RouteFacts, route};
use originhub_core::engine::TranslateError;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::{ApiError, FieldViolation};
use crate::receipts::custody::{ATTESTATION_TYPE, Attestation, IssuerKey};
use crate::receipts::keys::NoteKey;
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
    /// The issuer's Ed25519 signature of `document`; empty when unsigned.
    pub signature: &'a [u8],
    /// The signing key's id; 0 to try each of the sender's keys.
    pub signature_key_id: u32,
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn content_hash(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
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

/// Violations named in a refusal's message; the details list each (as many as fit).
const IN_MESSAGE: usize = 3;

fn document_error(error: TranslateError) -> ApiError {
    match error {
        TranslateError::Input(input) => ApiError::invalid("document", input.to_string()),
        TranslateError::Invalid(violations) => ApiError::InvalidArgument {
            message: format!(
                "the document breaks its profile: {} violation(s): {}{}",
                violations.len(),
                violations
                    .iter()
                    .take(IN_MESSAGE)
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
                match violations.len().saturating_sub(IN_MESSAGE) {
                    0 => String::new(),
                    more => format!("; and {more} more"),
                }
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

/// Checks the issuer's signature: the verified signature and key, `None` when unsigned (and the
/// agreement allows it).
fn check_issuer(
    registry: &Registry,
    agreement: &AgreementDef,
    submission: &Submission<'_>,
) -> Result<Option<(Vec<u8>, String)>, ApiError> {
    let sender = submission.sender;
    if submission.signature.is_empty() {
        if submission.signature_key_id != 0 {
            return Err(ApiError::invalid(
                "signature",
                "a signature_key_id was given without a signature",
            ));
        }
        if agreement.require_signatures {
            return Err(ApiError::FailedPrecondition {
                message: format!(
                    "agreement {:?} requires the issuer's signature: sign the document with a key \
                     registered for member {sender:?}",
                    agreement.id
                ),
                subject: "signature".into(),
            });
        }
        return Ok(None);
    }
    let keys = registry
        .issuer_keys
        .get(sender)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if keys.is_empty() {
        return Err(ApiError::invalid(
            "signature",
            format!("member {sender:?} has no registered signing keys (signing_keys)"),
        ));
    }
    let wanted = submission.signature_key_id;
    let candidates: Vec<&IssuerKey> = keys
        .iter()
        .filter(|k| wanted == 0 || k.id == wanted)
        .collect();
    if candidates.is_empty() {
        let known: Vec<String> = keys.iter().map(|k| format!("{:08x}", k.id)).collect();
        return Err(ApiError::invalid(
            "signature_key_id",
            format!(
                "{wanted:08x} is not a key of member {sender:?} (its keys: {})",
                known.join(", ")
            ),
        ));
    }
    match candidates
        .iter()
        .find(|k| k.verifies(submission.document, submission.signature))
    {
        Some(key) => Ok(Some((submission.signature.to_vec(), key.text.clone()))),
        None => {
            let tried: Vec<&str> = candidates.iter().map(|k| k.text.as_str()).collect();
            Err(ApiError::invalid(
                "signature",
                format!(
                    "ed25519: the {}-byte signature does not verify over the document with {}",
                    submission.signature.len(),
                    tried.join(" or ")
                ),
            ))
        }
    }
}

/// Validates, routes and translates a submission into what the store keeps; `key` (the hub's)
/// signs each delivery's attestation.
pub fn prepare(
    registry: &Registry,
    key: &NoteKey,
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
    let issuer = check_issuer(registry, agreement, &submission)?;
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
    let certificate_id = canonical
        .node()
        .get("id")
        .and_then(|n| n.as_str())
        .unwrap_or_default()
        .to_owned();
    let tracking_id = Uuid::now_v7().to_string();
    let original_sha256 = content_hash(submission.document);
    let mut deliveries = Vec::with_capacity(routes.len());
    for receiver in routes {
        let profile = registry.profile(&receiver.profile).ok_or_else(|| {
            ApiError::Internal(format!(
                "agreement {:?} names missing profile {:?}",
                agreement.id, receiver.profile
            ))
        })?;
        let (document, losses) = profile.plan.write(&canonical);
        let delivery_id = Uuid::new_v4().to_string();
        let document_hash = content_hash(&document);
        let attestation = Attestation {
            kind: ATTESTATION_TYPE.into(),
            delivery_id: delivery_id.clone(),
            tracking_id: tracking_id.clone(),
            certificate_id: certificate_id.clone(),
            agreement: agreement.id.clone(),
            sender: submission.sender.to_owned(),
            receiver: receiver.member.clone(),
            original_sha256: original_sha256.clone(),
            original_profile: sender_profile.label(),
            translated_sha256: document_hash.clone(),
            translated_profile: profile.label(),
            accepted_at,
            issuer_key: issuer.as_ref().map(|(_, key)| key.clone()),
        }
        .sign(key)
        .map_err(|e| ApiError::Internal(format!("cannot sign the attestation: {e}")))?;
        deliveries.push(NewDelivery {
            delivery_id,
            receiver: receiver.member,
            profile: profile.label(),
            document_hash,
            attestation,
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
    let canonical_json = serde_json::to_string(canonical.node())
        .map_err(|e| ApiError::Internal(format!("cannot encode the canonical record: {e}")))?;
    Ok(NewSubmission {
        tracking_id,
        sender: submission.sender.to_owned(),
        agreement: agreement.id.clone(),
        idempotency_key: idempotency_key(submission.idempotency_key, &certificate_id),
        certificate_id,
        content_hash: original_sha256,
        sender_profile: sender_profile.label(),
        original: submission.document.to_vec(),
        canonical: canonical_json,
        issuer,
        accepted_at,
        deliveries,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn content_hash_is_lower_case_hex_sha256() {
        assert_eq!(
            super::content_hash(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
