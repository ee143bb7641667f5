//! `verify-delivery`: checks a delivery saved by `inbox` offline — the hub's attestation
//! (signature, and the hashes of the two files it binds) and the issuer's signature of the
//! original bytes. Exit 0 only if every check passes, 1 if one fails.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use base64::Engine;
use originhub_hub::pipeline::content_hash;
use originhub_hub::receipts::custody::{Attestation, IssuerKey};
use serde::Deserialize;

use crate::audit::pinned_key;
use crate::cli::VerifyDeliveryArgs;

/// The envelope fields the check needs.
#[derive(Deserialize)]
struct Envelope {
    delivery_id: String,
    sender: String,
    tracking_id: String,
    document_file: String,
    original_file: String,
    attestation: String,
    issuer_signature: Option<String>,
    hub_key: Option<String>,
}

fn read(dir: &Path, name: &str) -> anyhow::Result<Vec<u8>> {
    let path = dir.join(name);
    std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))
}

/// One check's outcome: printed as `ok` or `FAILED`.
struct Checks {
    failed: usize,
}

impl Checks {
    fn check(&mut self, passed: bool, what: &str) {
        if passed {
            println!("ok      {what}");
        } else {
            self.failed += 1;
            println!("FAILED  {what}");
        }
    }
}

pub(crate) fn verify_delivery(args: &VerifyDeliveryArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let envelope: Envelope = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a delivery envelope saved by `originhub inbox`",
            args.file.display()
        )
    })?;
    let dir = args.file.parent().unwrap_or(Path::new("."));
    let document = read(dir, &envelope.document_file)?;
    let original = read(dir, &envelope.original_file)?;
    let (hub_key, source) = match pinned_key(args.hub_key.as_deref(), args.client.as_deref())? {
        Some(key) => (key, "pinned"),
        None => match envelope.hub_key.clone() {
            Some(key) => (key, "from the envelope"),
            None => anyhow::bail!(
                "no hub key: give --hub-key or --client (the envelope was saved without one)"
            ),
        },
    };
    let mut checks = Checks { failed: 0 };
    let attestation = match Attestation::verify(&envelope.attestation, &hub_key) {
        Ok(attestation) => {
            checks.check(
                true,
                &format!("hub attestation signed by {hub_key} ({source})"),
            );
            attestation
        }
        Err(error) => {
            checks.check(false, &format!("hub attestation: {error}"));
            println!("FAILED: 1 check");
            return Ok(ExitCode::from(1));
        }
    };
    checks.check(
        attestation.delivery_id == envelope.delivery_id
            && attestation.tracking_id == envelope.tracking_id
            && attestation.sender == envelope.sender,
        &format!(
            "delivery {} of {} from {} to {} under {}",
            attestation.delivery_id,
            attestation.certificate_id,
            attestation.sender,
            attestation.receiver,
            attestation.agreement
        ),
    );
    for (file, bytes, attested, how) in [
        (
            &envelope.original_file,
            &original,
            &attestation.original_sha256,
            format!("as read by {}", attestation.original_profile),
        ),
        (
            &envelope.document_file,
            &document,
            &attestation.translated_sha256,
            format!("as written by {}", attestation.translated_profile),
        ),
    ] {
        let found = content_hash(bytes);
        let matches = found == *attested;
        let what = if matches {
            format!("{file}: SHA-256 {attested} {how}")
        } else {
            format!(
                "{file}: SHA-256 {found}, but the hub attested {attested} {how}: the file is not \
                 the one the hub sent"
            )
        };
        checks.check(matches, &what);
    }
    let expected_issuer = match &args.issuer_key {
        Some(key) if Path::new(key).is_file() => {
            Some(std::fs::read_to_string(key)?.trim().to_owned())
        }
        other => other.clone(),
    };
    match (&attestation.issuer_key, &envelope.issuer_signature) {
        (Some(key), Some(signature)) => {
            let signature = base64::engine::general_purpose::STANDARD
                .decode(signature)
                .unwrap_or_default();
            let verified = IssuerKey::parse(key).is_ok_and(|k| k.verifies(&original, &signature));
            checks.check(
                verified,
                &format!("issuer signature of the original by {key}"),
            );
            if let Some(expected) = &expected_issuer {
                checks.check(
                    expected == key,
                    &format!("issuer key is the one expected ({expected})"),
                );
            }
        }
        (Some(key), None) => checks.check(
            false,
            &format!("issuer signature: the hub attests one by {key}, the envelope has none"),
        ),
        (None, _) => checks.check(
            expected_issuer.is_none(),
            "not signed by its issuer (the agreement did not require it)",
        ),
    }
    if checks.failed == 0 {
        println!("ok: the chain of custody checks");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("FAILED: {} check(s)", checks.failed);
        Ok(ExitCode::from(1))
    }
}
