//! Leaf kinds of the canonical dataset and their checks.
//!
//! Every leaf of the canonical record has a [`Kind`]. The validated newtypes in
//! [`super::newtypes`] run these checks when deserialized, and their JSON Schema carries the kind
//! (`x-originhub-kind`), so the translation engine validates exactly what the types accept.

use serde_json::Value;

use crate::codelists;

/// What a canonical leaf holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Free text (no control characters but line breaks and tabs), at most `max` characters.
    Text {
        /// Maximum length in characters.
        max: usize,
    },
    /// `true` or `false`.
    Bool,
    /// A non-negative whole number.
    Count,
    /// A decimal number written with digits and an optional `.` fraction.
    Decimal,
    /// A decimal from 0 to 100.
    Percentage,
    /// ISO 3166-1 alpha-2 country code.
    Country,
    /// Harmonized System subheading: exactly six digits.
    HsCode,
    /// National tariff extension beyond the six HS digits: 1 to 6 digits.
    NationalCode,
    /// ISO 8601 / RFC 3339 date-time with an offset.
    DateTime,
    /// ISO 8601 calendar date (`YYYY-MM-DD`).
    Date,
    /// A date, or a date-time with an offset.
    DateOrDateTime,
    /// ISO 4217 currency code.
    Currency,
    /// UN/ECE Rec 20 unit code.
    Unit,
    /// UN/LOCODE: country alpha-2 plus three letters or digits 2-9.
    Locode,
    /// UN/ECE Rec 19 transport mode code (one digit).
    TransportMode,
    /// UN/ECE Rec 21 package type code (two letters or digits).
    PackageType,
    /// A code of the canonical origin-criterion vocabulary.
    Criterion,
    /// A modifier of the canonical origin-criterion vocabulary.
    CriterionModifier,
    /// One of a fixed set of words.
    Enum(Vec<String>),
    /// A URI (no white space).
    Uri,
    /// A media type (`type/subtype`).
    MediaType,
    /// Agreement-specific fields with no canonical home: any JSON object.
    Extensions,
}

/// A failed check: the rule's name and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFailure {
    /// Machine-readable rule name, e.g. `country-code`.
    pub rule: &'static str,
    /// What was expected.
    pub expected: String,
}

impl RuleFailure {
    pub(crate) fn new(rule: &'static str, expected: impl Into<String>) -> Self {
        Self {
            rule,
            expected: expected.into(),
        }
    }
}

impl Kind {
    /// The name used in the JSON Schema's `x-originhub-kind`.
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Text { .. } => "text",
            Kind::Bool => "bool",
            Kind::Count => "count",
            Kind::Decimal => "decimal",
            Kind::Percentage => "percentage",
            Kind::Country => "country",
            Kind::HsCode => "hs-code",
            Kind::NationalCode => "national-code",
            Kind::DateTime => "date-time",
            Kind::Date => "date",
            Kind::DateOrDateTime => "date-or-date-time",
            Kind::Currency => "currency",
            Kind::Unit => "unit",
            Kind::Locode => "locode",
            Kind::TransportMode => "transport-mode",
            Kind::PackageType => "package-type",
            Kind::Criterion => "origin-criterion",
            Kind::CriterionModifier => "origin-criterion-modifier",
            Kind::Enum(_) => "enum",
            Kind::Uri => "uri",
            Kind::MediaType => "media-type",
            Kind::Extensions => "extensions",
        }
    }

    /// Checks a leaf value and returns its canonical JSON form.
    ///
    /// Scalars are accepted as JSON strings, numbers or booleans where the kind allows (XML has
    /// only text), and normalised to the canonical JSON type.
    pub fn check(&self, value: Value) -> Result<Value, RuleFailure> {
        match self {
            Kind::Bool => match &value {
                Value::Bool(_) => Ok(value),
                Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
                Value::String(s) if s.trim().eq_ignore_ascii_case("false") => {
                    Ok(Value::Bool(false))
                }
                _ => Err(RuleFailure::new("boolean", "true or false")),
            },
            Kind::Count => {
                let parsed = match &value {
                    Value::Number(n) => n.as_u64(),
                    Value::String(s) => s.trim().parse::<u64>().ok(),
                    _ => None,
                };
                match parsed.and_then(|n| u32::try_from(n).ok()) {
                    Some(n) => Ok(Value::from(n)),
                    None => Err(RuleFailure::new(
                        "count",
                        "a whole number from 0 to 4294967295",
                    )),
                }
            }
            Kind::Extensions => match value {
                Value::Object(_) => Ok(value),
                _ => Err(RuleFailure::new("extensions", "an object")),
            },
            _ => match value {
                Value::String(text) => self.validate(&text).map(|()| Value::String(text)),
                Value::Number(n)
                    if matches!(self, Kind::Decimal | Kind::Percentage | Kind::Text { .. }) =>
                {
                    let text = n.to_string();
                    self.validate(&text).map(|()| Value::String(text))
                }
                _ => Err(RuleFailure::new("text", "a text value")),
            },
        }
    }

    /// Checks a textual leaf and returns its canonical text.
    pub fn check_str(&self, text: &str) -> Result<String, RuleFailure> {
        self.validate(text).map(|()| text.to_owned())
    }

    /// Checks a textual leaf in place: every textual kind's canonical text is the text itself.
    pub fn validate(&self, text: &str) -> Result<(), RuleFailure> {
        let ok = |_: &str| Ok(());
        match self {
            Kind::Text { max } => {
                if text.trim().is_empty() {
                    Err(RuleFailure::new("not-empty", "a non-empty text"))
                } else if text.chars().count() > *max {
                    Err(RuleFailure::new(
                        "max-length",
                        format!("at most {max} characters"),
                    ))
                } else if text
                    .chars()
                    .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
                {
                    Err(RuleFailure::new("text", "text without control characters"))
                } else {
                    ok(text)
                }
            }
            Kind::Bool | Kind::Count | Kind::Extensions => {
                self.check(Value::String(text.to_owned())).map(drop)
            }
            Kind::Decimal => {
                if is_decimal(text) {
                    ok(text)
                } else {
                    Err(RuleFailure::new(
                        "decimal",
                        "a decimal number such as 1234.50",
                    ))
                }
            }
            Kind::Percentage => match text.parse::<f64>() {
                Ok(p) if is_decimal(text) && (0.0..=100.0).contains(&p) => ok(text),
                _ => Err(RuleFailure::new("percentage", "a decimal from 0 to 100")),
            },
            Kind::Country => match codelists::country_alpha2(text) {
                Some(code) => ok(code),
                None => Err(RuleFailure::new(
                    "country-code",
                    "an ISO 3166-1 alpha-2 country code",
                )),
            },
            Kind::HsCode => {
                if text.len() == 6 && text.bytes().all(|b| b.is_ascii_digit()) {
                    ok(text)
                } else {
                    Err(RuleFailure::new(
                        "hs-code",
                        "a six-digit HS subheading such as 220421",
                    ))
                }
            }
            Kind::NationalCode => {
                if (1..=6).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()) {
                    ok(text)
                } else {
                    Err(RuleFailure::new(
                        "national-code",
                        "1 to 6 digits after the HS subheading",
                    ))
                }
            }
            Kind::DateTime => parse_date_time(text).ok_or_else(|| {
                RuleFailure::new(
                    "date-time",
                    "an ISO 8601 date-time with offset, e.g. 2026-03-01T10:30:00+07:00",
                )
            }),
            Kind::Date => parse_date(text)
                .ok_or_else(|| RuleFailure::new("date", "an ISO 8601 date, e.g. 2026-03-01")),
            Kind::DateOrDateTime => parse_date(text)
                .or_else(|| parse_date_time(text))
                .ok_or_else(|| {
                    RuleFailure::new("date", "an ISO 8601 date or date-time with offset")
                }),
            Kind::Currency => {
                if codelists::is_currency(text) {
                    ok(text)
                } else {
                    Err(RuleFailure::new(
                        "currency",
                        "an ISO 4217 currency code such as AUD",
                    ))
                }
            }
            Kind::Unit => {
                if codelists::is_unit_code(text) {
                    ok(text)
                } else {
                    Err(RuleFailure::new(
                        "unit",
                        "a UN/ECE Rec 20 unit code such as KGM",
                    ))
                }
            }
            Kind::Locode => {
                let valid = text.len() == 5
                    && text.is_ascii()
                    && codelists::is_country(&text[..2])
                    && text[2..]
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || (b'2'..=b'9').contains(&b));
                if valid {
                    ok(text)
                } else {
                    Err(RuleFailure::new("locode", "a UN/LOCODE such as AUMEL"))
                }
            }
            Kind::TransportMode => {
                if text.len() == 1 && text.as_bytes()[0].is_ascii_digit() {
                    ok(text)
                } else {
                    Err(RuleFailure::new(
                        "transport-mode",
                        "a UN/ECE Rec 19 mode code (0-9)",
                    ))
                }
            }
            Kind::PackageType => {
                if text.len() == 2
                    && text
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                {
                    ok(text)
                } else {
                    Err(RuleFailure::new(
                        "package-type",
                        "a UN/ECE Rec 21 package code such as PX",
                    ))
                }
            }
            Kind::Criterion => {
                if codelists::is_canonical_criterion(text) {
                    ok(text)
                } else {
                    Err(RuleFailure::new(
                        "origin-criterion",
                        "a canonical origin criterion (WO, PE, RVC, CTC, CC, CTH, CTSH, PSR, SP, CR, PC, OTHER)",
                    ))
                }
            }
            Kind::CriterionModifier => {
                if codelists::is_canonical_modifier(text) {
                    ok(text)
                } else {
                    Err(RuleFailure::new(
                        "origin-criterion-modifier",
                        "ACU, DMI, 2.6.6A or 2.6.6B",
                    ))
                }
            }
            Kind::Enum(values) => {
                if values.iter().any(|v| v == text) {
                    ok(text)
                } else {
                    Err(RuleFailure::new(
                        "allowed-values",
                        format!("one of {}", values.join(", ")),
                    ))
                }
            }
            Kind::Uri => {
                if !text.is_empty() && !text.chars().any(char::is_whitespace) {
                    ok(text)
                } else {
                    Err(RuleFailure::new("uri", "a URI without white space"))
                }
            }
            Kind::MediaType => match text.split_once('/') {
                Some((a, b))
                    if !a.is_empty() && !b.is_empty() && !text.contains(char::is_whitespace) =>
                {
                    ok(text)
                }
                _ => Err(RuleFailure::new(
                    "media-type",
                    "a media type such as application/pdf",
                )),
            },
        }
    }
}

/// `digits[.digits]`, optionally negative.
pub(crate) fn is_decimal(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

fn parse_date_time(text: &str) -> Option<()> {
    use time::format_description::well_known::Rfc3339;
    // RFC 3339 also allows a lower-case `t`/`z` and a space; ISO 8601 documents use `T`.
    if text.len() < 20 || text.as_bytes().get(10) != Some(&b'T') {
        return None;
    }
    time::OffsetDateTime::parse(text, &Rfc3339).ok().map(|_| ())
}

fn parse_date(text: &str) -> Option<()> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year: i32 = text[..4].parse().ok()?;
    let month: u8 = text[5..7].parse().ok()?;
    let day: u8 = text[8..].parse().ok()?;
    let month = time::Month::try_from(month).ok()?;
    time::Date::from_calendar_date(year, month, day)
        .ok()
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_are_coerced_to_canonical_json_types() {
        assert_eq!(Kind::Bool.check(json!("TRUE")), Ok(json!(true)));
        assert_eq!(Kind::Count.check(json!("12")), Ok(json!(12)));
        assert_eq!(Kind::Count.check(json!(12)), Ok(json!(12)));
        assert_eq!(Kind::Decimal.check(json!(450)), Ok(json!("450")));
        assert!(Kind::Count.check(json!(-1)).is_err());
    }

    #[test]
    fn codes_are_checked_against_their_lists() {
        assert!(Kind::Country.check_str("AU").is_ok());
        assert_eq!(
            Kind::Country.check_str("AUD").unwrap_err().rule,
            "country-code"
        );
        assert!(Kind::Locode.check_str("AUMEL").is_ok());
        assert!(Kind::Locode.check_str("XXMEL").is_err());
        assert!(Kind::Locode.check_str("AUME1").is_err());
        assert!(Kind::HsCode.check_str("220421").is_ok());
        assert!(Kind::HsCode.check_str("2204.21").is_err());
        assert!(Kind::Currency.check_str("AUD").is_ok());
        assert!(Kind::Criterion.check_str("WO").is_ok());
        assert!(Kind::Criterion.check_str("WP").is_err());
    }

    #[test]
    fn dates_need_iso_form_and_offsets() {
        assert!(Kind::DateTime.check_str("2020-06-03T00:46:34Z").is_ok());
        assert!(
            Kind::DateTime
                .check_str("2023-01-12T07:26:22.578+11:00")
                .is_ok()
        );
        assert!(Kind::DateTime.check_str("2020-06-03T00:46:34").is_err());
        assert!(Kind::DateTime.check_str("2020-06-03").is_err());
        assert!(Kind::Date.check_str("2020-02-29").is_ok());
        assert!(Kind::Date.check_str("2021-02-29").is_err());
        assert!(Kind::DateOrDateTime.check_str("2021-02-28").is_ok());
    }

    #[test]
    fn decimals_and_percentages() {
        assert!(is_decimal("1234.50"));
        assert!(is_decimal("-3"));
        assert!(!is_decimal("1,234.50"));
        assert!(!is_decimal("1."));
        assert!(!is_decimal("1e5"));
        assert!(Kind::Percentage.check_str("50.7").is_ok());
        assert!(Kind::Percentage.check_str("150").is_err());
    }

    #[test]
    fn text_limits() {
        assert!(Kind::Text { max: 3 }.check_str("abcd").is_err());
        assert!(Kind::Text { max: 3 }.check_str(" ").is_err());
        assert!(Kind::Text { max: 9 }.check_str("a\u{0}b").is_err());
    }
}
