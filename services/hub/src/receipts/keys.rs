//! Ed25519 signing keys and what they sign: the hub's checkpoints of the receipt log (C2SP
//! tlog-checkpoint text in a C2SP signed note) and attestations, and members' certificates.
//!
//! Keys use the signed-note encodings that Go's `golang.org/x/mod/sumdb/note` and other C2SP
//! tools read: a private key `PRIVATE+KEY+<name>+<id>+<base64>` and a verifier key
//! `<name>+<id>+<base64>`. The key's name is the log's origin, as the checkpoint spec asks.

use std::path::{Path, PathBuf};

use signed_note::{
    Note, NoteError, Signer, StandardSigner, StandardVerifier, VerifierList, generate_key,
    is_key_name_valid,
};
use thiserror::Error;
use tlog_tiles::{Checkpoint, Hash};

/// A key or checkpoint problem.
#[derive(Debug, Error)]
pub enum KeyError {
    /// Reading or writing a key file.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The key text is not a signed-note key.
    #[error("not a signed-note {kind} key: {message}")]
    Format {
        /// `private` or `verifier`.
        kind: &'static str,
        /// Why.
        message: String,
    },
    /// A key name the signed-note format cannot carry.
    #[error("{0:?} is not a valid key name (no spaces or '+')")]
    Name(String),
    /// A signed note (checkpoint or attestation) is malformed or not signed by the key.
    #[error("signed note: {0}")]
    Note(String),
    /// Signing failed.
    #[error("cannot sign: {0}")]
    Sign(String),
}

/// A private Ed25519 signing key: the hub's, or a member's.
#[derive(Clone)]
pub struct NoteKey {
    signer: StandardSigner,
    verifier_key: String,
}

impl std::fmt::Debug for NoteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoteKey")
            .field("verifier_key", &self.verifier_key)
            .finish_non_exhaustive()
    }
}

impl NoteKey {
    /// A new random key named `name`; returns it and its private-key text.
    pub fn generate(name: &str) -> Result<(Self, String), KeyError> {
        if !is_key_name_valid(name) {
            return Err(KeyError::Name(name.to_owned()));
        }
        let (private, verifier_key) = generate_key(&mut rand_core::OsRng, name);
        let signer = StandardSigner::new(&private).map_err(|e| KeyError::Format {
            kind: "private",
            message: e.to_string(),
        })?;
        Ok((
            Self {
                signer,
                verifier_key,
            },
            private,
        ))
    }

    /// The key in `private` (`PRIVATE+KEY+...`).
    pub fn from_text(private: &str) -> Result<Self, KeyError> {
        let private = private.trim();
        let signer = StandardSigner::new(private).map_err(|e| KeyError::Format {
            kind: "private",
            message: e.to_string(),
        })?;
        // PRIVATE+KEY+<name>+<id>+<base64>: the name has no '+', the base64 may.
        let key = private
            .splitn(5, '+')
            .nth(4)
            .and_then(|b64| base64_decode(b64).ok())
            .filter(|k| k.len() == 33)
            .ok_or_else(|| KeyError::Format {
                kind: "private",
                message: "expected an Ed25519 key".into(),
            })?;
        let seed: [u8; 32] = key[1..].try_into().unwrap_or([0; 32]);
        let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
        let verifier_key = signed_note::new_ed25519_verifier_key(signer.name(), &public);
        Ok(Self {
            signer,
            verifier_key,
        })
    }

    /// Reads the key at `path`, or makes one named `name` there (readable by its owner only)
    /// with its verifier key beside it (`.pub`).
    pub fn load_or_create(path: &Path, name: &str) -> Result<Self, KeyError> {
        let file_error = |path: &Path, e: std::io::Error| KeyError::File {
            path: path.to_owned(),
            message: e.to_string(),
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_text(&text).map_err(|e| KeyError::File {
                path: path.to_owned(),
                message: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let (key, private) = Self::generate(name)?;
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
                }
                crate::files::write_private(path, &private, crate::files::Existing::Keep)
                    .map_err(|e| file_error(path, e))?;
                let public = path.with_extension("pub");
                std::fs::write(&public, format!("{}\n", key.verifier_key))
                    .map_err(|e| file_error(&public, e))?;
                // The caller signs durable records with the key next, so the key must outlast a
                // power cut first: a hub that came back without it could not sign as before.
                let dir = path.parent().unwrap_or(Path::new("."));
                crate::files::sync_folder(dir).map_err(|e| file_error(dir, e))?;
                Ok(key)
            }
            Err(e) => Err(file_error(path, e)),
        }
    }

    /// The verifier key (`<name>+<id>+<base64>`), which auditors pin.
    pub fn verifier_key(&self) -> &str {
        &self.verifier_key
    }

    /// The key's name: the log's origin for the hub, the member id for a member.
    pub fn name(&self) -> &str {
        self.signer.name()
    }

    /// The key id (the one in the verifier key).
    pub fn key_id(&self) -> u32 {
        self.signer.key_id()
    }

    /// A raw Ed25519 signature of `bytes`.
    pub fn sign_bytes(&self, bytes: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.signer
            .sign(bytes)
            .map_err(|e| KeyError::Sign(e.to_string()))
    }

    /// Signs `text` (lines ending in a newline) as a C2SP signed note.
    pub fn sign_note(&self, text: &str) -> Result<String, KeyError> {
        let mut note =
            Note::new(text.as_bytes(), &[]).map_err(|e| KeyError::Note(e.to_string()))?;
        note.add_sigs(&[&self.signer])
            .map_err(|e| KeyError::Sign(e.to_string()))?;
        String::from_utf8(note.to_bytes()).map_err(|e| KeyError::Sign(e.to_string()))
    }

    /// Signs a checkpoint of the tree of `size` leaves with root `root`: the signed note text.
    pub fn sign_checkpoint(&self, size: u64, root: Hash) -> Result<String, KeyError> {
        let checkpoint = Checkpoint::new(self.name(), size, root, "")
            .map_err(|e| KeyError::Note(e.to_string()))?;
        self.sign_note(&String::from_utf8_lossy(&checkpoint.to_bytes()))
    }
}

fn base64_decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text)
}

/// A checkpoint whose signature checked out.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedCheckpoint {
    /// The log's origin.
    pub origin: String,
    /// Tree size.
    pub size: u64,
    /// Tree root.
    pub root: Hash,
}

/// Checks a signed note's signature by `verifier_key` and returns its text.
pub fn verify_note(note: &str, verifier_key: &str) -> Result<Vec<u8>, KeyError> {
    let verifier = StandardVerifier::new(verifier_key.trim()).map_err(|e| KeyError::Format {
        kind: "verifier",
        message: e.to_string(),
    })?;
    let note = Note::from_bytes(note.as_bytes()).map_err(|e| KeyError::Note(e.to_string()))?;
    note.verify(&VerifierList::new(vec![Box::new(verifier)]))
        .map_err(|e| match e {
            NoteError::UnverifiedNote | NoteError::VerificationError(_) => {
                KeyError::Note(format!("not signed by the key {}", verifier_key.trim()))
            }
            other => KeyError::Note(other.to_string()),
        })?;
    Ok(note.text().to_vec())
}

/// Checks a signed checkpoint against the hub's verifier key and reads it.
pub fn verify_checkpoint(note: &str, verifier_key: &str) -> Result<VerifiedCheckpoint, KeyError> {
    let text = verify_note(note, verifier_key)?;
    let checkpoint = Checkpoint::from_bytes(&text).map_err(|e| KeyError::Note(e.to_string()))?;
    let name = verifier_key.split('+').next().unwrap_or_default();
    if checkpoint.origin() != name {
        return Err(KeyError::Note(format!(
            "origin {:?} is not the key's name {name:?}",
            checkpoint.origin()
        )));
    }
    Ok(VerifiedCheckpoint {
        origin: checkpoint.origin().to_owned(),
        size: checkpoint.size(),
        root: *checkpoint.hash(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receipts::tree::leaf_hash;

    #[test]
    fn checkpoints_sign_and_verify() {
        let (key, private) = NoteKey::generate("hub.example/receipts").unwrap();
        let root = leaf_hash(b"x");
        let note = key.sign_checkpoint(3, root).unwrap();
        assert!(note.starts_with("hub.example/receipts\n3\n"), "{note}");
        assert!(
            note.contains("\n\n\u{2014} hub.example/receipts "),
            "{note}"
        );
        let checked = verify_checkpoint(&note, key.verifier_key()).unwrap();
        assert_eq!((checked.size, checked.root), (3, root));
        // The same key read back from its text signs identically verifiable notes.
        let again = NoteKey::from_text(&private).unwrap();
        assert_eq!(again.verifier_key(), key.verifier_key());
        // Base64 keys often hold '+': every one must read back.
        for _ in 0..64 {
            let (key, private) = NoteKey::generate("hub.example/receipts").unwrap();
            let read = NoteKey::from_text(&private).unwrap();
            assert_eq!(read.verifier_key(), key.verifier_key(), "{private}");
        }
        verify_checkpoint(&again.sign_checkpoint(3, root).unwrap(), key.verifier_key()).unwrap();
    }

    #[test]
    fn altered_or_foreign_checkpoints_fail() {
        let (key, _) = NoteKey::generate("hub.example/receipts").unwrap();
        let (other, _) = NoteKey::generate("hub.example/receipts").unwrap();
        let note = key.sign_checkpoint(3, leaf_hash(b"x")).unwrap();
        let altered = note.replacen("\n3\n", "\n4\n", 1);
        assert!(verify_checkpoint(&altered, key.verifier_key()).is_err());
        assert!(verify_checkpoint(&note, other.verifier_key()).is_err());
        assert!(verify_checkpoint(&note, "garbage").is_err());
    }

    #[test]
    fn keys_are_created_once_and_reread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/hub.key");
        let first = NoteKey::load_or_create(&path, "hub.example/receipts").unwrap();
        let second = NoteKey::load_or_create(&path, "ignored").unwrap();
        assert_eq!(first.verifier_key(), second.verifier_key());
        let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
        assert_eq!(public.trim(), first.verifier_key());
        assert!(matches!(
            NoteKey::generate("bad name"),
            Err(KeyError::Name(_))
        ));
    }
}
