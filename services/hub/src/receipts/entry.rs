//! A receipt event as the log keeps it. The leaf is the entry's compact JSON, written once when
//! the event is appended and stored byte for byte: exports carry those exact bytes, so anyone can
//! recompute the leaf hash without trusting a re-serialisation.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The hub accepted a submission (stored with its deliveries).
    Accepted,
    /// A translated delivery was queued for a receiver.
    Queued,
    /// The receiver acknowledged a delivery.
    Acknowledged,
    /// The hub refused a submission.
    Refused,
    /// The hub refused a caller access to something.
    Denied,
}

impl EventKind {
    /// Every kind, in lifecycle order.
    pub const ALL: [Self; 5] = [
        Self::Accepted,
        Self::Queued,
        Self::Acknowledged,
        Self::Refused,
        Self::Denied,
    ];

    /// The name used in entries, filters and exports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Queued => "queued",
            Self::Acknowledged => "acknowledged",
            Self::Refused => "refused",
            Self::Denied => "denied",
        }
    }

    /// The kind named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One receipt event, before it has a place in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// What happened.
    pub kind: EventKind,
    /// Unix microseconds.
    pub at: i64,
    /// Whose action or whose delivery it is.
    pub member: String,
    /// Sending member, when there is a submission.
    pub sender: Option<String>,
    /// Receiving member, for a delivery.
    pub receiver: Option<String>,
    /// Hub tracking id.
    pub tracking_id: Option<String>,
    /// Certificate id.
    pub certificate_id: Option<String>,
    /// Agreement.
    pub agreement: Option<String>,
    /// Delivery id.
    pub delivery_id: Option<String>,
    /// Kind-specific facts (hashes, profile versions, reasons), sorted by name.
    pub detail: BTreeMap<String, String>,
}

/// A receipt event at its place in the log: the leaf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Position in the log, from 0.
    pub index: u64,
    /// What happened.
    pub kind: EventKind,
    /// Unix microseconds.
    pub at: i64,
    /// Whose action or whose delivery it is.
    pub member: String,
    /// Sending member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    /// Receiving member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver: Option<String>,
    /// Hub tracking id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_id: Option<String>,
    /// Certificate id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_id: Option<String>,
    /// Agreement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<String>,
    /// Delivery id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_id: Option<String>,
    /// Kind-specific facts, sorted by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub detail: BTreeMap<String, String>,
}

impl Entry {
    /// Places an event at `index`.
    pub fn new(index: u64, event: NewEvent) -> Self {
        Self {
            index,
            kind: event.kind,
            at: event.at,
            member: event.member,
            sender: event.sender,
            receiver: event.receiver,
            tracking_id: event.tracking_id,
            certificate_id: event.certificate_id,
            agreement: event.agreement,
            delivery_id: event.delivery_id,
            detail: event.detail,
        }
    }

    /// The leaf bytes: compact JSON in field order.
    pub fn to_leaf(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Whether `member` is party to this event (may read it).
    pub fn involves(&self, member: &str) -> bool {
        self.member == member
            || self.sender.as_deref() == Some(member)
            || self.receiver.as_deref() == Some(member)
    }
}

impl NewEvent {
    /// An event of `kind` by `member` at `at`.
    pub fn new(kind: EventKind, member: &str, at: i64) -> Self {
        Self {
            kind,
            at,
            member: member.to_owned(),
            sender: None,
            receiver: None,
            tracking_id: None,
            certificate_id: None,
            agreement: None,
            delivery_id: None,
            detail: BTreeMap::new(),
        }
    }

    /// Adds a detail.
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.detail.insert(name.to_owned(), value.into());
        self
    }

    /// Places it at `index`.
    pub fn at_index(self, index: u64) -> Entry {
        Entry::new(index, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_bytes_are_stable_and_round_trip() {
        let entry = NewEvent {
            sender: Some("borastria".into()),
            receiver: Some("concordia".into()),
            tracking_id: Some("t-1".into()),
            ..NewEvent::new(EventKind::Queued, "concordia", 1_700_000_000_000_000)
        }
        .with("profile", "borastria-xml@1")
        .with("document_sha256", "ab")
        .at_index(7);
        let leaf = entry.to_leaf();
        assert_eq!(
            leaf,
            r#"{"index":7,"kind":"queued","at":1700000000000000,"member":"concordia","sender":"borastria","receiver":"concordia","tracking_id":"t-1","detail":{"document_sha256":"ab","profile":"borastria-xml@1"}}"#
        );
        let back: Entry = serde_json::from_str(&leaf).unwrap();
        assert_eq!(back, entry);
        assert!(entry.involves("borastria") && entry.involves("concordia"));
        assert!(!entry.involves("katanga"));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let text = r#"{"index":0,"kind":"accepted","at":1,"member":"x","extra":1}"#;
        assert!(serde_json::from_str::<Entry>(text).is_err());
    }

    #[test]
    fn kinds_parse_by_name() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EventKind::parse("nope"), None);
    }
}
