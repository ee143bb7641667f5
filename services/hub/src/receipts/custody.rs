//! Chain of custody: issuers' signatures on the documents they submit, and the hub's attestation
//! on every delivery.
//!
//! An issuer signs the original bytes (raw Ed25519) with a key registered for it; the key is a
//! C2SP signed-note verifier key, `<member id>+<key id>+<base64>`. The hub attests each delivery
//! with a signed note whose text is one JSON line binding the original and translated bytes'
//! hashes, both profile versions, sender, receiver, time and the issuer's key, so a receiver can
//! check offline what it got, from whom, and through which translation.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use signed_note::StandardVerifier;

use super::keys::{KeyError, NoteKey, verify_note};

/// A registered issuer key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerKey {
    /// The verifier key text.
    pub text: String,
    /// Its name (the member id).
    pub name: String,
    /// Its id.
    pub id: u32,
    key: VerifyingKey,
}

impl IssuerKey {
    /// Reads a verifier key `<name>+<hex id>+<base64 of 0x01 || 32-byte key>`.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let format = |message: &str| KeyError::Format {
            kind: "verifier",
            message: format!("{text:?}: {message}"),
        };
        StandardVerifier::new(text).map_err(|e| format(&e.to_string()))?;
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format("expected <name>+<id>+<base64>"));
        };
        let id = u32::from_str_radix(id, 16).map_err(|_| format("the id is not hex"))?;
        let bytes = BASE64
            .decode(key)
            .map_err(|_| format("the key is not base64"))?;
        let key: [u8; 32] = match bytes.split_first() {
            Some((1, rest)) => rest.try_into().map_err(|_| format("not 32 key bytes"))?,
            _ => return Err(format("not an Ed25519 key")),
        };
        let key = VerifyingKey::from_bytes(&key).map_err(|_| format("not an Ed25519 point"))?;
        Ok(Self {
            text: text.to_owned(),
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// Whether `signature` is this key's signature of `bytes`.
    pub fn verifies(&self, bytes: &[u8], signature: &[u8]) -> bool {
        Signature::from_slice(signature)
            .is_ok_and(|signature| self.key.verify_strict(bytes, &signature).is_ok())
    }
}

/// What the hub attests about one delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attestation {
    /// Always [`ATTESTATION_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// Delivery id.
    pub delivery_id: String,
    /// Hub tracking id.
    pub tracking_id: String,
    /// Certificate id.
    pub certificate_id: String,
    /// Agreement.
    pub agreement: String,
    /// Sending member.
    pub sender: String,
    /// Receiving member.
    pub receiver: String,
    /// SHA-256 of the sender's bytes, hex.
    pub original_sha256: String,
    /// `id@version` of the sender's profile.
    pub original_profile: String,
    /// SHA-256 of the translated bytes, hex.
    pub translated_sha256: String,
    /// `id@version` of the receiver's profile.
    pub translated_profile: String,
    /// When the hub accepted it, Unix microseconds.
    pub accepted_at: i64,
    /// The issuer key that signed the original bytes, if signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_key: Option<String>,
}

/// The attestation format.
pub const ATTESTATION_TYPE: &str = "originhub-attestation/v1";

impl Attestation {
    /// Signs it with the hub's key: a signed note whose text is this attestation's JSON line.
    pub fn sign(&self, key: &NoteKey) -> Result<String, KeyError> {
        let line = serde_json::to_string(self).map_err(|e| KeyError::Sign(e.to_string()))?;
        key.sign_note(&format!("{line}\n"))
    }

    /// Checks the hub's signature on `note` and reads the attestation.
    pub fn verify(note: &str, hub_key: &str) -> Result<Self, KeyError> {
        let text = verify_note(note, hub_key)?;
        let attestation: Self = serde_json::from_slice(&text)
            .map_err(|e| KeyError::Note(format!("not an attestation: {e}")))?;
        if attestation.kind != ATTESTATION_TYPE {
            return Err(KeyError::Note(format!(
                "attestation type {:?}, expected {ATTESTATION_TYPE:?}",
                attestation.kind
            )));
        }
        Ok(attestation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attestation() -> Attestation {
        Attestation {
            kind: ATTESTATION_TYPE.into(),
            delivery_id: "d".into(),
            tracking_id: "t".into(),
            certificate_id: "CO-1".into(),
            agreement: "BCFTA".into(),
            sender: "borastria".into(),
            receiver: "concordia".into(),
            original_sha256: "aa".into(),
            original_profile: "borastria-xml@1".into(),
            translated_sha256: "bb".into(),
            translated_profile: "edi3-coo-json@1".into(),
            accepted_at: 1,
            issuer_key: None,
        }
    }

    #[test]
    fn issuer_signatures_verify_only_for_their_bytes_and_key() {
        let (member, _) = NoteKey::generate("borastria").unwrap();
        let (other, _) = NoteKey::generate("borastria").unwrap();
        let key = IssuerKey::parse(member.verifier_key()).unwrap();
        assert_eq!((key.name.as_str(), key.id), ("borastria", member.key_id()));
        let signature = member.sign_bytes(b"<certificate/>").unwrap();
        assert!(key.verifies(b"<certificate/>", &signature));
        assert!(!key.verifies(b"<certificate />", &signature));
        let mut tampered = signature.clone();
        tampered[10] ^= 1;
        assert!(!key.verifies(b"<certificate/>", &tampered));
        assert!(!key.verifies(b"<certificate/>", &signature[..63]));
        let foreign = other.sign_bytes(b"<certificate/>").unwrap();
        assert!(!key.verifies(b"<certificate/>", &foreign));
        assert!(IssuerKey::parse("borastria+00000000+AAAA").is_err());
        assert!(IssuerKey::parse("not a key").is_err());
    }

    #[test]
    fn attestations_sign_verify_and_refuse_edits() {
        let (hub, _) = NoteKey::generate("origin-hub.local/receipts").unwrap();
        let note = attestation().sign(&hub).unwrap();
        assert_eq!(
            Attestation::verify(&note, hub.verifier_key()).unwrap(),
            attestation()
        );
        let edited = note.replace("\"bb\"", "\"cc\"");
        assert!(Attestation::verify(&edited, hub.verifier_key()).is_err());
        let (other, _) = NoteKey::generate("origin-hub.local/receipts").unwrap();
        assert!(Attestation::verify(&note, other.verifier_key()).is_err());
    }
}
