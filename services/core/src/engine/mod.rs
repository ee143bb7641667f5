//! Translation with a compiled [`Plan`]: member → canonical ([`Plan::read`]), canonical →
//! member ([`Plan::write`]), and both in one step ([`translate`]).
//!
//! - [`transform`]: the value transforms, each with its inverse;
//! - [`cover`]: what a set of paths leaves out (for extensions and "not representable");
//! - `read`, `write`, `rules`, `index`: the two directions, validation rules, and the pairing of
//!   member list elements with canonical ones (including flattened lists).

pub(crate) mod cover;
mod index;
mod read;
mod rules;
pub mod transform;
pub(crate) mod write;

use serde::Serialize;
use serde_json::Value;
use thiserror::Error;

use crate::canonical::Certificate;
use crate::limits::InputError;
use crate::profile::Plan;
use crate::tree::Node;

/// A validated canonical record. Only [`Plan::read`] and [`Canonical::from_certificate`] make
/// one, so holding it means every leaf passed its check.
#[derive(Debug, Clone, PartialEq)]
pub struct Canonical(Node);

impl Canonical {
    /// The record as JSON.
    pub fn value(&self) -> Value {
        self.0.to_value()
    }

    /// The record's tree.
    pub fn node(&self) -> &Node {
        &self.0
    }

    /// The record from typed Rust (valid by construction).
    pub fn from_certificate(certificate: &Certificate) -> Self {
        Self(Node::from(
            serde_json::to_value(certificate).unwrap_or(Value::Null),
        ))
    }

    /// The record as typed Rust.
    pub fn certificate(&self) -> Result<Certificate, serde_json::Error> {
        serde_json::from_value(self.0.to_value())
    }
}

/// One broken rule, named by its path in the source document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Path in the source document (or the canonical path, when the profile does not map it).
    pub path: String,
    /// Rule name, e.g. `country-code`, `required`, `allowed-values`.
    pub rule: String,
    /// The offending value, if there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// What was expected.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.path, self.rule, self.message)?;
        if let Some(value) = &self.value {
            write!(f, " (got {value:?})")?;
        }
        Ok(())
    }
}

/// Something the target profile could not express.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Loss {
    /// Canonical path.
    pub path: String,
    /// Why.
    pub reason: String,
}

/// What a translation did besides translating.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Source paths the source profile does not map, kept in the record's extensions.
    pub to_extensions: Vec<String>,
    /// Canonical fields the target profile cannot express.
    pub not_representable: Vec<Loss>,
}

/// A translated document and its report.
#[derive(Debug, Clone)]
pub struct Translation {
    /// The document in the target profile.
    pub output: Vec<u8>,
    /// What went to extensions and what could not be represented.
    pub report: Report,
}

/// Why a document was not translated.
#[derive(Debug, Error)]
pub enum TranslateError {
    /// Refused before its fields were read (size, depth, syntax, XML features).
    #[error(transparent)]
    Input(#[from] InputError),
    /// Read, but it breaks rules.
    #[error("{} violation(s): {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Violation>),
}

/// Translates a document from one profile to another through the canonical record.
pub fn translate(from: &Plan, to: &Plan, input: &[u8]) -> Result<Translation, TranslateError> {
    let (canonical, to_extensions) = from.read(input)?;
    let (output, not_representable) = to.write(&canonical);
    Ok(Translation {
        output,
        report: Report {
            to_extensions,
            not_representable,
        },
    })
}
