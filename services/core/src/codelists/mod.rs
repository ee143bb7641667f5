//! Code lists shipped with the engine: ISO 3166-1 countries (from `rust_iso3166`, plus the
//! everyday variants in `countries.toml`), UN/ECE Rec 20 units with their free-text spellings
//! (`units.toml`), ISO 4217 currencies (`currencies.txt`) and the origin-criterion vocabularies
//! of the agreements (`criteria.toml`).
//!
//! The data files are compiled into the binary and parsed once, on first use. A profile can add
//! its own tables on top (see [`crate::profile`]); these are the shared defaults.

mod countries;
mod criteria;
mod units;

pub use countries::{CountryStyle, country_alpha2, format_country, is_country, resolve_country};
pub use criteria::{
    AgreementCriteria, CriterionTable, agreement_criteria, is_canonical_criterion,
    is_canonical_modifier,
};
pub use units::{is_unit_code, unit_from_text, unit_text};

/// Whether `code` is an active ISO 4217 currency code.
pub fn is_currency(code: &str) -> bool {
    const CURRENCIES: &str = include_str!("currencies.txt");
    code.len() == 3 && CURRENCIES.split_whitespace().any(|c| c == code)
}

/// Folds a name for lenient matching: lower case, punctuation and runs of white space removed.
pub(crate) fn fold_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut space = false;
    for ch in name.trim().chars() {
        if matches!(ch, '.' | ',' | '\'' | '(' | ')' | '’') {
            continue;
        }
        if ch.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.extend(ch.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_are_iso_codes() {
        assert!(is_currency("AUD"));
        assert!(is_currency("EUR"));
        assert!(!is_currency("AU"));
        assert!(!is_currency("XYZ"));
        assert!(!is_currency("aud"));
    }

    #[test]
    fn fold_name_ignores_case_punctuation_and_spacing() {
        assert_eq!(
            fold_name("  Lao   People's Democratic Republic "),
            "lao peoples democratic republic"
        );
        assert_eq!(fold_name("U.S.A."), "usa");
    }
}
