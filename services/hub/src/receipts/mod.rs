//! The receipt log. Every receipt event (accepted, queued, acknowledged, refused, denied) is a
//! leaf of an append-only Merkle tree with RFC 9162 hashing, stored in the hub's database; the
//! hub signs checkpoints of it (C2SP tlog-checkpoint in a C2SP signed note), so an auditor can
//! prove an event is in the log and that the log was only ever appended to.
//!
//! - [`custody`]: issuer signatures on documents and the hub's attestation on deliveries;
//! - [`entry`]: a receipt event and its exact leaf bytes;
//! - [`tree`]: hashes, appending from the frontier, inclusion and consistency proofs;
//! - [`keys`]: the hub's signing key and checkpoint signing and checking;
//! - [`export`]: the JSONL export (self-checking, line by line) and its offline verification.

pub mod custody;
pub mod entry;
pub mod export;
pub mod keys;
pub mod tree;
