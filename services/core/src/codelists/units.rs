//! UN/ECE Recommendation 20 units of measure and their free-text spellings.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

#[derive(serde::Deserialize)]
struct Unit {
    #[allow(dead_code, reason = "documents the code in the data file")]
    name: String,
    spellings: Vec<String>,
}

struct Units {
    preferred: HashMap<String, String>,
    by_text: HashMap<String, String>,
}

static UNITS: LazyLock<Units> = LazyLock::new(|| {
    let file: BTreeMap<String, Unit> =
        toml::from_str(include_str!("units.toml")).expect("units.toml is valid");
    let mut preferred = HashMap::new();
    let mut by_text = HashMap::new();
    for (code, unit) in file {
        by_text.insert(code.to_lowercase(), code.clone());
        for spelling in &unit.spellings {
            by_text.insert(spelling.to_lowercase(), code.clone());
        }
        preferred.insert(code.clone(), unit.spellings[0].clone());
    }
    Units { preferred, by_text }
});

/// Whether `code` has the shape of a Rec 20 code (2-3 upper-case letters or digits). Rec 20 has
/// about two thousand codes; the engine checks the shape and knows the common ones by name.
pub fn is_unit_code(code: &str) -> bool {
    (2..=3).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && code.bytes().any(|b| b.is_ascii_uppercase())
}

/// The Rec 20 code for a free-text unit ("Kg", "LITRES"), or the text itself when it already
/// has the shape of a Rec 20 code ("KGM", "MTQ", "H87").
pub fn unit_from_text(text: &str) -> Option<std::borrow::Cow<'static, str>> {
    let text = text.trim();
    match UNITS.by_text.get(&text.to_lowercase()) {
        Some(code) => Some(std::borrow::Cow::Borrowed(code.as_str())),
        None if is_unit_code(text) => Some(std::borrow::Cow::Owned(text.to_owned())),
        None => None,
    }
}

/// The usual free-text spelling of a Rec 20 code, if the code is one of the common units.
pub fn unit_text(code: &str) -> Option<&'static str> {
    UNITS.preferred.get(code).map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_resolve_case_insensitively() {
        assert_eq!(unit_from_text("Kg").as_deref(), Some("KGM"));
        assert_eq!(unit_from_text("LITRES").as_deref(), Some("LTR"));
        assert_eq!(unit_from_text("m3").as_deref(), Some("MTQ"));
        assert_eq!(unit_from_text("KGM").as_deref(), Some("KGM"));
        assert_eq!(unit_from_text("XHG").as_deref(), Some("XHG"));
        assert_eq!(unit_from_text("furlongs"), None);
    }

    #[test]
    fn preferred_spelling_reads_back_to_the_same_code() {
        for code in UNITS.preferred.keys() {
            let text = unit_text(code).unwrap();
            assert_eq!(
                unit_from_text(text).as_deref(),
                Some(code.as_str()),
                "{code} -> {text}"
            );
            assert!(is_unit_code(code), "{code}");
        }
    }
}
