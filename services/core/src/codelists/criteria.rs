//! Origin-criterion vocabularies: the canonical one and each agreement's printed codes.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

/// One table from printed codes to canonical codes, with the preferred printed code for each
/// canonical code (the first listed) for the way back.
#[derive(Debug, Clone, Default)]
pub struct CriterionTable {
    to_canonical: HashMap<String, String>,
    to_printed: HashMap<String, String>,
}

impl CriterionTable {
    /// Builds a table from `(printed, canonical)` pairs in order of preference.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut table = Self::default();
        for (printed, canonical) in pairs {
            table
                .to_canonical
                .insert(printed.to_uppercase(), canonical.to_owned());
            table
                .to_printed
                .entry(canonical.to_owned())
                .or_insert_with(|| printed.to_owned());
        }
        table
    }

    /// The canonical code for a printed code (case-insensitive).
    pub fn canonical(&self, printed: &str) -> Option<&str> {
        self.to_canonical
            .get(&printed.to_uppercase())
            .map(String::as_str)
    }

    /// The printed code for a canonical code.
    pub fn printed(&self, canonical: &str) -> Option<&str> {
        self.to_printed.get(canonical).map(String::as_str)
    }

    /// Printed codes, longest first (so "SPECIFIC PROCESSES" is tried before "SP").
    pub fn printed_codes_longest_first(&self) -> Vec<&str> {
        let mut codes: Vec<&str> = self.to_canonical.keys().map(String::as_str).collect();
        codes.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        codes
    }
}

/// An agreement's criteria and modifiers.
#[derive(Debug, Clone, Default)]
pub struct AgreementCriteria {
    /// Printed criterion codes.
    pub criteria: CriterionTable,
    /// Printed modifiers (accumulation, de minimis, ...).
    pub modifiers: CriterionTable,
}

#[derive(serde::Deserialize)]
struct File {
    criteria: BTreeMap<String, String>,
    modifiers: BTreeMap<String, String>,
    agreements: BTreeMap<String, AgreementEntry>,
}

#[derive(serde::Deserialize)]
struct AgreementEntry {
    criteria: toml::Table,
    #[serde(default)]
    modifiers: toml::Table,
}

struct Vocabulary {
    criteria: BTreeMap<String, String>,
    modifiers: BTreeMap<String, String>,
    agreements: HashMap<String, AgreementCriteria>,
}

fn table(entries: &toml::Table) -> CriterionTable {
    // toml keeps file order (feature `preserve_order`), so "first listed" is the preference.
    CriterionTable::from_pairs(
        entries
            .iter()
            .map(|(printed, canonical)| (printed.as_str(), canonical.as_str().unwrap_or(""))),
    )
}

static VOCABULARY: LazyLock<Vocabulary> = LazyLock::new(|| {
    let file: File = toml::from_str(include_str!("criteria.toml")).expect("criteria.toml is valid");
    let agreements = file
        .agreements
        .iter()
        .map(|(name, entry)| {
            let criteria = AgreementCriteria {
                criteria: table(&entry.criteria),
                modifiers: table(&entry.modifiers),
            };
            (name.clone(), criteria)
        })
        .collect();
    Vocabulary {
        criteria: file.criteria,
        modifiers: file.modifiers,
        agreements,
    }
});

/// Whether `code` is in the canonical criterion vocabulary.
pub fn is_canonical_criterion(code: &str) -> bool {
    VOCABULARY.criteria.contains_key(code)
}

/// Whether `code` is in the canonical modifier vocabulary.
pub fn is_canonical_modifier(code: &str) -> bool {
    VOCABULARY.modifiers.contains_key(code)
}

/// The shipped criteria table of an agreement (`CHAFTA`, `RCEP`, ...).
pub fn agreement_criteria(agreement: &str) -> Option<&'static AgreementCriteria> {
    VOCABULARY.agreements.get(agreement)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_agreement_maps_into_the_canonical_vocabulary() {
        assert_eq!(VOCABULARY.agreements.len(), 10);
        for (name, agreement) in &VOCABULARY.agreements {
            for printed in agreement.criteria.printed_codes_longest_first() {
                let canonical = agreement.criteria.canonical(printed).unwrap();
                assert!(
                    is_canonical_criterion(canonical),
                    "{name}: {printed} -> {canonical}"
                );
            }
            for printed in agreement.modifiers.printed_codes_longest_first() {
                let canonical = agreement.modifiers.canonical(printed).unwrap();
                assert!(
                    is_canonical_modifier(canonical),
                    "{name}: {printed} -> {canonical}"
                );
            }
        }
    }

    #[test]
    fn chafta_wp_is_produced_entirely() {
        let chafta = agreement_criteria("CHAFTA").unwrap();
        assert_eq!(chafta.criteria.canonical("wp"), Some("PE"));
        assert_eq!(chafta.criteria.printed("PE"), Some("WP"));
        assert_eq!(
            agreement_criteria("AKFTA")
                .unwrap()
                .criteria
                .canonical("SPECIFIC PROCESSES"),
            Some("SP")
        );
    }
}
