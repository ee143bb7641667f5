//! The JSONL export of the receipt log, and its offline verification.
//!
//! Line 1 is a header with the hub's signed checkpoint and verifier key. Every further line is
//! one leaf: `{"index":i,"proof":[...],"entry":{...}}`, where `entry` is the leaf's exact bytes
//! and `proof` its inclusion proof in the checkpoint's tree. The verifier recomputes the whole
//! tree from the entries and compares it with the signed root; the per-line proofs then say which
//! leaf was altered, because each line checks against the signed root on its own.

use std::io::{BufRead, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use thiserror::Error;

use super::entry::Entry;
use super::keys::{KeyError, VerifiedCheckpoint, verify_checkpoint};
use super::tree::{self, Hash, MemoryHashes, leaf_hash, verify_inclusion};

/// The header's `format`.
pub const FORMAT: &str = "originhub-receipts/v1";

/// Most problems a report lists (it counts all of them).
const MAX_LISTED: usize = 50;

/// The first line of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// [`FORMAT`].
    pub format: String,
    /// The log's origin.
    pub origin: String,
    /// Leaves in the export (the checkpoint's tree size).
    pub size: u64,
    /// The hub's verifier key, as the hub gave it.
    pub hub_key: String,
    /// The signed checkpoint (C2SP signed note).
    pub checkpoint: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LeafLine<'a> {
    index: u64,
    proof: Vec<String>,
    #[serde(borrow)]
    entry: &'a RawValue,
}

/// A fatal export problem: the file cannot be checked at all.
#[derive(Debug, Error)]
pub enum ExportError {
    /// Reading or writing failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The first line is not an export header.
    #[error("line 1 is not an Origin Hub receipt export header: {0}")]
    Header(String),
    /// The checkpoint is not signed by the key.
    #[error(transparent)]
    Checkpoint(#[from] KeyError),
    /// The tree could not be computed.
    #[error("tree: {0}")]
    Tree(String),
}

/// The header line for a checkpoint.
pub fn header_line(
    checkpoint: &str,
    hub_key: &str,
    origin: &str,
    size: u64,
) -> Result<String, ExportError> {
    serde_json::to_string(&Header {
        format: FORMAT.into(),
        origin: origin.into(),
        size,
        hub_key: hub_key.into(),
        checkpoint: checkpoint.into(),
    })
    .map_err(|e| ExportError::Header(e.to_string()))
}

/// One leaf's line. `entry` is written as is: it is the leaf.
pub fn leaf_line(index: u64, proof: &[Hash], entry: &str) -> String {
    let proof: Vec<String> = proof.iter().map(|h| BASE64.encode(h.0)).collect();
    format!(
        "{{\"index\":{index},\"proof\":{},\"entry\":{entry}}}",
        serde_json::to_string(&proof).unwrap_or_else(|_| "[]".into())
    )
}

/// Writes the leaf lines of an export of `size` leaves: `entries` yields each leaf's bytes in
/// order; `tree` holds the tree built from them. Calls `progress` after each line.
pub fn write_leaf_lines(
    out: &mut dyn Write,
    tree: &MemoryHashes,
    size: u64,
    entries: impl Iterator<Item = std::io::Result<String>>,
    progress: &mut dyn FnMut(u64),
) -> Result<(), ExportError> {
    for (index, entry) in (0..size).zip(entries) {
        let entry = entry?;
        let proof = tree
            .inclusion(index, size)
            .map_err(|e| ExportError::Tree(e.to_string()))?;
        writeln!(out, "{}", leaf_line(index, &proof, entry.trim_end()))?;
        progress(index + 1);
    }
    Ok(())
}

/// One thing wrong in an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Line number in the file, from 1.
    pub line: u64,
    /// The leaf it concerns, when known.
    pub leaf: Option<u64>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.leaf {
            Some(leaf) => write!(f, "line {}, leaf {leaf}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

/// Where the verifier key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// Given by the auditor (pinned).
    Pinned,
    /// Taken from the export's own header: proves the file is intact, not who signed it.
    Export,
}

/// What checking an export found.
#[derive(Debug, Clone)]
pub struct Verification {
    /// The signed checkpoint.
    pub checkpoint: VerifiedCheckpoint,
    /// The key that signed it.
    pub hub_key: String,
    /// Where that key came from.
    pub key_source: KeySource,
    /// Leaf lines read.
    pub lines: u64,
    /// The first problems found.
    pub problems: Vec<Problem>,
    /// How many problems in all.
    pub problem_count: u64,
}

impl Verification {
    /// Whether the export is exactly the signed log.
    pub fn ok(&self) -> bool {
        self.problem_count == 0
    }

    fn problem(&mut self, line: u64, leaf: Option<u64>, message: String) {
        self.problem_count += 1;
        if self.problems.len() < MAX_LISTED {
            self.problems.push(Problem {
                line,
                leaf,
                message,
            });
        }
    }
}

fn decode_proof(proof: &[String]) -> Option<Vec<Hash>> {
    proof
        .iter()
        .map(|h| {
            let bytes = BASE64.decode(h).ok()?;
            Some(Hash(bytes.try_into().ok()?))
        })
        .collect()
}

/// Checks an export offline: the checkpoint's signature (against `pinned_key`, else the key in
/// the header), every line's place, entry and inclusion proof, and the root of the tree the
/// entries make. Calls `progress` with the number of leaf lines read.
pub fn verify(
    mut input: impl BufRead,
    pinned_key: Option<&str>,
    progress: &mut dyn FnMut(u64),
) -> Result<Verification, ExportError> {
    let mut line = String::new();
    input.read_line(&mut line)?;
    let header: Header =
        serde_json::from_str(line.trim_end()).map_err(|e| ExportError::Header(e.to_string()))?;
    if header.format != FORMAT {
        return Err(ExportError::Header(format!(
            "format {:?}, expected {FORMAT:?}",
            header.format
        )));
    }
    let (hub_key, key_source) = match pinned_key {
        Some(key) => (key.trim().to_owned(), KeySource::Pinned),
        None => (header.hub_key.clone(), KeySource::Export),
    };
    let checkpoint = verify_checkpoint(&header.checkpoint, &hub_key)?;
    let size = checkpoint.size;
    let mut report = Verification {
        checkpoint,
        hub_key,
        key_source,
        lines: 0,
        problems: Vec::new(),
        problem_count: 0,
    };
    if header.size != size {
        report.problem(
            1,
            None,
            format!(
                "header says {} leaves, the signed checkpoint {size}",
                header.size
            ),
        );
    }
    let root = report.checkpoint.root;
    let mut leaves = Vec::new();
    let mut number = 1u64;
    // The leaf the next line should hold: lines are checked at the index they claim, so one
    // removed or moved line is reported once, not as every line after it.
    let mut expected = 0u64;
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            break;
        }
        number += 1;
        report.lines += 1;
        progress(report.lines);
        let text = line.trim_end_matches(['\n', '\r']);
        let parsed: LeafLine<'_> = match serde_json::from_str(text) {
            Ok(parsed) => parsed,
            Err(e) => {
                report.problem(number, Some(expected), format!("not a leaf line: {e}"));
                expected += 1;
                continue;
            }
        };
        let index = parsed.index;
        if index >= size {
            report.problem(
                number,
                None,
                format!("an extra line: leaf {index} is past the signed log's {size} leaves"),
            );
            continue;
        }
        if index > expected {
            let gap = if index == expected + 1 {
                format!("leaf {expected} is")
            } else {
                format!("leaves {expected} to {} are", index - 1)
            };
            report.problem(
                number,
                Some(expected),
                format!("missing: {gap} not in the file (this line is leaf {index})"),
            );
        } else if index < expected {
            report.problem(
                number,
                Some(index),
                format!(
                    "out of place: leaf {index} again or out of order, after leaf {}",
                    expected - 1
                ),
            );
        }
        expected = expected.max(index + 1);
        let entry = parsed.entry.get();
        let hash = leaf_hash(entry.as_bytes());
        leaves.push(hash);
        match serde_json::from_str::<Entry>(entry) {
            Ok(e) if e.index != index => {
                report.problem(number, Some(index), format!("entry says index {}", e.index))
            }
            Ok(_) => {}
            Err(e) => report.problem(number, Some(index), format!("entry is not valid: {e}")),
        }
        let proven = decode_proof(&parsed.proof)
            .is_some_and(|proof| verify_inclusion(&proof, index, hash, size, root).is_ok());
        if !proven {
            report.problem(
                number,
                Some(index),
                "altered: this entry is not the one in the signed tree".into(),
            );
        }
    }
    if expected < size {
        report.problem(
            number,
            Some(expected),
            format!("missing: the file ends before leaf {expected}; the signed log has {size}"),
        );
    }
    if report.ok() {
        // Belt and braces: the whole tree from the entries alone, trusting no proof.
        let (tree, built) = tree::build(leaves).map_err(|e| ExportError::Tree(e.to_string()))?;
        let computed = tree
            .root(built)
            .map_err(|e| ExportError::Tree(e.to_string()))?;
        if computed != root {
            report.problem(
                number,
                None,
                "the entries do not make the signed root".into(),
            );
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receipts::entry::{EventKind, NewEvent};
    use crate::receipts::keys::NoteKey;

    fn export(count: u64) -> (String, NoteKey) {
        let (key, _) = NoteKey::generate("test.example/receipts").unwrap();
        let entries: Vec<String> = (0..count)
            .map(|i| {
                NewEvent::new(EventKind::Accepted, "borastria", 1_000 + i as i64)
                    .with("n", i.to_string())
                    .at_index(i)
                    .to_leaf()
            })
            .collect();
        let (tree, size) = tree::build(entries.iter().map(|e| leaf_hash(e.as_bytes()))).unwrap();
        let note = key.sign_checkpoint(size, tree.root(size).unwrap()).unwrap();
        let mut out = Vec::new();
        writeln!(
            out,
            "{}",
            header_line(&note, key.verifier_key(), key.name(), size).unwrap()
        )
        .unwrap();
        write_leaf_lines(
            &mut out,
            &tree,
            size,
            entries.into_iter().map(Ok),
            &mut |_| {},
        )
        .unwrap();
        (String::from_utf8(out).unwrap(), key)
    }

    fn check(text: &str, key: Option<&str>) -> Verification {
        verify(text.as_bytes(), key, &mut |_| {}).unwrap()
    }

    fn leaves_named(report: &Verification) -> Vec<Option<u64>> {
        report.problems.iter().map(|p| p.leaf).collect()
    }

    #[test]
    fn an_intact_export_verifies_with_the_pinned_key() {
        let (text, key) = export(13);
        let report = check(&text, Some(key.verifier_key()));
        assert!(report.ok(), "{:?}", report.problems);
        assert_eq!((report.lines, report.checkpoint.size), (13, 13));
        assert_eq!(report.key_source, KeySource::Pinned);
        assert_eq!(check(&text, None).key_source, KeySource::Export);
    }

    #[test]
    fn an_altered_line_names_its_leaf() {
        let (text, key) = export(13);
        let altered = text.replacen("\"n\":\"6\"", "\"n\":\"7\"", 1);
        assert_ne!(altered, text);
        let report = check(&altered, Some(key.verifier_key()));
        assert!(!report.ok());
        assert_eq!(
            leaves_named(&report),
            vec![Some(6)],
            "{:?}",
            report.problems
        );
        assert!(report.problems[0].message.contains("altered"));
    }

    #[test]
    fn a_removed_or_swapped_line_is_found() {
        let (text, key) = export(9);
        let mut lines: Vec<&str> = text.lines().collect();
        let removed: Vec<&str> = lines
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 4)
            .map(|(_, l)| *l)
            .collect();
        let report = check(&(removed.join("\n") + "\n"), Some(key.verifier_key()));
        // Reported once, at the missing leaf; the lines after it still check.
        assert_eq!(
            leaves_named(&report),
            vec![Some(3)],
            "{:?}",
            report.problems
        );
        assert!(report.problems[0].message.starts_with("missing: leaf 3"));
        lines.swap(2, 3);
        let report = check(&(lines.join("\n") + "\n"), Some(key.verifier_key()));
        assert_eq!(
            leaves_named(&report),
            vec![Some(1), Some(1)],
            "{:?}",
            report.problems
        );
        assert!(report.problems[1].message.contains("after leaf 2"));
    }

    #[test]
    fn a_truncated_or_extended_export_is_found() {
        let (text, key) = export(5);
        let lines: Vec<&str> = text.lines().collect();
        let report = check(&(lines[..4].join("\n") + "\n"), Some(key.verifier_key()));
        assert!(
            report.problems[0].message.contains("missing"),
            "{:?}",
            report.problems
        );
        // A repeated last line, and a line for a leaf past the signed size.
        let extended = format!("{text}{}\n", lines[5]);
        let report = check(&extended, Some(key.verifier_key()));
        assert!(
            report.problems[0].message.contains("leaf 4 again"),
            "{:?}",
            report.problems
        );
        let beyond = format!(
            "{text}{}\n",
            lines[5].replacen("\"index\":4", "\"index\":5", 1)
        );
        let report = check(&beyond, Some(key.verifier_key()));
        assert!(
            report.problems[0].message.contains("extra"),
            "{:?}",
            report.problems
        );
    }

    #[test]
    fn a_re_signed_export_fails_against_the_pinned_key() {
        // Someone rewrites the log and signs it with their own key: the file is self-consistent,
        // so only the pinned key tells.
        let (text, key) = export(5);
        let (forged, _) = export(5);
        assert!(check(&forged, None).ok());
        assert!(matches!(
            verify(forged.as_bytes(), Some(key.verifier_key()), &mut |_| {}),
            Err(ExportError::Checkpoint(_))
        ));
        assert!(check(&text, Some(key.verifier_key())).ok());
    }
}
