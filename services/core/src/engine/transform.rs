//! Value transforms. Each one works in both directions, so one profile declaration serves
//! member → canonical ([`Transform::forward`]) and canonical → member ([`Transform::reverse`]).
//!
//! A transform takes the values at its member paths (forward) or canonical paths (reverse), in
//! the order the profile lists them, and returns values for the other side. Where the way back
//! cannot say everything (a date-only field given a date-time), `reverse` names what was lost.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::{Map, Value};
use smallvec::{SmallVec, smallvec};

use crate::canonical::kind::is_decimal;
use crate::codelists::{self, CountryStyle, CriterionTable};

/// A compiled transform.
#[derive(Debug, Clone)]
pub enum Transform {
    /// Copy the value.
    Copy,
    /// Country in a style ↔ alpha-2.
    Country(CountryStyle),
    /// HS code written dotted (`2204.21`) or plain (`220421`) ↔ six digits (+ national digits as
    /// an optional second canonical path).
    Hs {
        /// Whether to write `2204.21`.
        dotted: bool,
    },
    /// Printed code ↔ canonical value through a table.
    CodeList(Arc<CodeTable>),
    /// Printed origin criterion (`RVC 40% ACU`) ↔ canonical criterion object.
    OriginCriterion(Arc<CriterionCodes>),
    /// Date and time fields ↔ one date-time.
    DateTimeSplit,
    /// Date ↔ date-time at midnight with a fixed offset.
    DateOnly {
        /// Offset written (`Z`, `+10:00`).
        offset: String,
    },
    /// Date ↔ date or date-time (a date-time is written as its date, and that loss reported).
    Date,
    /// `450 Kg` ↔ value and Rec 20 unit.
    MeasureText,
    /// `LITRES` ↔ Rec 20 unit code; the profile's own spellings (if any) first, then the shipped
    /// ones.
    UnitText(Option<Arc<CodeTable>>),
    /// `scheme:id` ↔ id and scheme.
    SchemeId {
        /// Separator between scheme and id (the last one splits).
        separator: String,
    },
    /// `prefix` + value ↔ value.
    Prefix(String),
    /// One text with separators ↔ a list of texts.
    Split {
        /// The separator.
        separator: String,
    },
    /// `50.7%` ↔ `50.7`.
    Percent,
}

/// A code table: printed codes (case-insensitive) ↔ canonical values.
#[derive(Debug, Clone, Default)]
pub struct CodeTable {
    /// Table name for messages.
    pub name: String,
    entries: Vec<(String, Value)>,
}

impl CodeTable {
    /// Builds a table from printed → canonical entries in order of preference.
    pub fn new(name: String, entries: Vec<(String, Value)>) -> Self {
        Self { name, entries }
    }

    fn canonical(&self, printed: &str) -> Option<&Value> {
        let printed = printed.trim();
        self.entries
            .iter()
            .find(|(p, _)| p.eq_ignore_ascii_case(printed))
            .map(|(_, v)| v)
    }

    fn printed(&self, canonical: &Value) -> Option<&str> {
        self.entries
            .iter()
            .find(|(_, v)| v == canonical)
            .map(|(p, _)| p.as_str())
    }

    fn printed_list(&self) -> String {
        self.entries
            .iter()
            .map(|(p, _)| p.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The criteria and modifier tables an `origin_criterion` transform reads and writes.
#[derive(Debug, Clone)]
pub struct CriterionCodes {
    /// Printed criteria.
    pub criteria: CriterionTable,
    /// Printed modifiers.
    pub modifiers: CriterionTable,
    /// Written between tokens.
    pub separator: String,
}

/// Why a value could not be transformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformError {
    /// Which input (position among the field's paths) is at fault.
    pub input: usize,
    /// Rule name.
    pub rule: &'static str,
    /// What was expected.
    pub expected: String,
}

fn fail(input: usize, rule: &'static str, expected: impl Into<String>) -> TransformError {
    TransformError {
        input,
        rule,
        expected: expected.into(),
    }
}

/// Text of a scalar input.
pub(crate) fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Text of input `i`, borrowed when it is a string (most transforms only look at it).
fn text_of<'v>(
    inputs: &[Option<&'v Value>],
    i: usize,
) -> Result<Option<Cow<'v, str>>, TransformError> {
    match inputs.get(i).copied().flatten() {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(Cow::Borrowed(s))),
        Some(v) => scalar_text(v)
            .map(|text| Some(Cow::Owned(text)))
            .ok_or_else(|| fail(i, "scalar", "a single text value")),
    }
}

/// Result of a reverse transform: member values, and what could not be expressed.
pub type Reverse = (Values, Option<String>);

/// Values for the other side, one per path (on the stack: transforms take one or two).
pub type Values = SmallVec<[Option<Value>; 2]>;

impl Transform {
    /// How many member and canonical paths the transform takes: `(member, canonical)`; `None`
    /// for "one or more" on the canonical side.
    pub fn arity(&self) -> (usize, std::ops::RangeInclusive<usize>) {
        match self {
            Transform::DateTimeSplit => (2, 1..=1),
            Transform::MeasureText | Transform::SchemeId { .. } => (1, 2..=2),
            Transform::Hs { .. } => (1, 1..=2),
            _ => (1, 1..=1),
        }
    }

    /// Member values → canonical values.
    pub fn forward(&self, inputs: &[Option<&Value>]) -> Result<Values, TransformError> {
        let one = |v: Value| Ok(smallvec![Some(v)]);
        match self {
            Transform::Copy => Ok(smallvec![inputs.first().copied().flatten().cloned()]),
            Transform::Country(style) => {
                let Some(text) = text_of(inputs, 0)? else {
                    return Ok(smallvec![None]);
                };
                match codelists::resolve_country(&text, *style) {
                    Some(code) => one(Value::from(code)),
                    None => Err(fail(
                        0,
                        "country-code",
                        format!("a country written as {}", style_name(*style)),
                    )),
                }
            }
            Transform::Hs { .. } => {
                let Some(text) = text_of(inputs, 0)? else {
                    return Ok(smallvec![None, None]);
                };
                let digits: String = text.chars().filter(|c| !matches!(c, '.' | ' ')).collect();
                if digits.len() < 6
                    || digits.len() > 12
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(fail(
                        0,
                        "hs-code",
                        "an HS code of at least six digits, e.g. 2204.21 or 220421",
                    ));
                }
                let national = (digits.len() > 6).then(|| Value::from(&digits[6..]));
                Ok(smallvec![Some(Value::from(&digits[..6])), national])
            }
            Transform::CodeList(table) => {
                let Some(text) = text_of(inputs, 0)? else {
                    return Ok(smallvec![None]);
                };
                match table.canonical(&text) {
                    Some(v) => one(v.clone()),
                    None => Err(fail(
                        0,
                        "code-list",
                        format!("a code of table {} ({})", table.name, table.printed_list()),
                    )),
                }
            }
            Transform::OriginCriterion(codes) => {
                let Some(text) = text_of(inputs, 0)? else {
                    return Ok(smallvec![None]);
                };
                let parsed = parse_criterion(&text, codes)
                    .map_err(|expected| fail(0, "origin-criterion", expected))?;
                let mut object = parsed.into_object();
                object.insert("text".into(), Value::String(text.into_owned()));
                one(Value::Object(object))
            }
            Transform::DateTimeSplit => {
                let (date, time) = (text_of(inputs, 0)?, text_of(inputs, 1)?);
                match (date, time) {
                    (None, None) => Ok(smallvec![None]),
                    (Some(date), Some(time)) => {
                        one(Value::String(format!("{}T{}", date.trim(), time.trim())))
                    }
                    (None, Some(_)) => Err(fail(0, "required", "a date to go with the time")),
                    (Some(_), None) => Err(fail(
                        1,
                        "required",
                        "a time with offset to go with the date",
                    )),
                }
            }
            Transform::DateOnly { offset } => {
                let Some(date) = text_of(inputs, 0)? else {
                    return Ok(smallvec![None]);
                };
                if date.len() != 10 {
                    return Err(fail(0, "date", "an ISO 8601 date, e.g. 2026-03-01"));
                }
                one(Value::String(format!("{date}T00:00:00{offset}")))
            }
            Transform::Date
            | Transform::Prefix(_)
            | Transform::Percent
            | Transform::UnitText(_) => {
                let Some(text) = text_of(inputs, 0)? else {
                    return Ok(smallvec![None]);
                };
                match self {
                    Transform::Date => one(Value::String(text.into_owned())),
                    Transform::Prefix(prefix) => one(Value::from(
                        text.strip_prefix(prefix.as_str()).unwrap_or(&text),
                    )),
                    Transform::Percent => {
                        one(Value::from(text.trim().trim_end_matches('%').trim_end()))
                    }
                    Transform::UnitText(Some(table)) if table.canonical(&text).is_some() => {
                        one(table.canonical(&text).cloned().unwrap_or_default())
                    }
                    _ => match codelists::unit_from_text(&text) {
                        Some(code) => one(Value::from(code)),
                        None => Err(fail(
                            0,
                            "unit",
                            "a unit of measure such as kg, litres or a Rec 20 code",
                        )),
                    },
                }
            }
            Transform::MeasureText => {
                let Some(text) = text_of(inputs, 0)? else {
                    return Ok(smallvec![None, None]);
                };
                let text = text.trim();
                let split = text
                    .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
                    .unwrap_or(text.len());
                let (number, unit) = (text[..split].trim(), text[split..].trim());
                if !is_decimal(number) {
                    return Err(fail(
                        0,
                        "measure",
                        "a number followed by a unit, e.g. 450 Kg",
                    ));
                }
                match codelists::unit_from_text(unit) {
                    Some(code) => Ok(smallvec![
                        Some(Value::from(number)),
                        Some(Value::String(code.into_owned())),
                    ]),
                    None => Err(fail(
                        0,
                        "unit",
                        "a number followed by a known unit, e.g. 450 Kg",
                    )),
                }
            }
            Transform::SchemeId { separator } => {
                let Some(text) = text_of(inputs, 0)? else {
                    return Ok(smallvec![None, None]);
                };
                Ok(match text.rsplit_once(separator.as_str()) {
                    Some((scheme, id)) if !scheme.is_empty() && !id.is_empty() => {
                        smallvec![Some(Value::from(id)), Some(Value::from(scheme))]
                    }
                    _ => smallvec![Some(Value::String(text.into_owned())), None],
                })
            }
            Transform::Split { separator } => {
                let Some(text) = text_of(inputs, 0)? else {
                    return Ok(smallvec![None]);
                };
                let parts: Vec<Value> = text
                    .split(separator.as_str())
                    .map(|p| Value::from(p.trim()))
                    .collect();
                one(Value::Array(parts))
            }
        }
    }

    /// Canonical values → member values, and a note of anything that could not be written.
    pub fn reverse(&self, inputs: &[Option<&Value>]) -> Reverse {
        let none = |n: usize| (smallvec![None; n], None);
        let text = |i: usize| inputs.get(i).copied().flatten().and_then(scalar_text);
        match self {
            Transform::Copy => (smallvec![inputs.first().copied().flatten().cloned()], None),
            Transform::Country(style) => match text(0) {
                None => none(1),
                Some(code) => match codelists::format_country(&code, *style) {
                    Some(written) => (smallvec![Some(Value::from(written))], None),
                    None => (
                        smallvec![None],
                        Some(format!("country {code} has no {}", style_name(*style))),
                    ),
                },
            },
            Transform::Hs { dotted } => match text(0) {
                None => none(1),
                Some(hs) => {
                    let national = text(1).unwrap_or_default();
                    let written = match (*dotted, national.is_empty()) {
                        (true, true) => {
                            format!("{}.{}", &hs[..4.min(hs.len())], &hs[4.min(hs.len())..])
                        }
                        (true, false) => format!(
                            "{}.{}.{national}",
                            &hs[..4.min(hs.len())],
                            &hs[4.min(hs.len())..]
                        ),
                        (false, _) => format!("{hs}{national}"),
                    };
                    (smallvec![Some(Value::String(written))], None)
                }
            },
            Transform::CodeList(table) => match inputs.first().copied().flatten() {
                None => none(1),
                Some(value) => match table.printed(value) {
                    Some(printed) => (smallvec![Some(Value::from(printed))], None),
                    None => (
                        smallvec![None],
                        Some(format!("{value} has no code in table {}", table.name)),
                    ),
                },
            },
            Transform::OriginCriterion(codes) => match inputs.first().copied().flatten() {
                None => none(1),
                Some(value) => format_criterion(value, codes),
            },
            Transform::DateTimeSplit => match text(0) {
                None => none(2),
                Some(dt) => match dt.split_once('T') {
                    Some((date, time)) => (
                        smallvec![Some(Value::from(date)), Some(Value::from(time))],
                        None,
                    ),
                    None => (
                        smallvec![None, None],
                        Some(format!("{dt} is not a date-time")),
                    ),
                },
            },
            Transform::DateOnly { offset } => match text(0) {
                None => none(1),
                Some(dt) => {
                    let date = dt.get(..10).unwrap_or(&dt).to_owned();
                    let exact = dt == format!("{date}T00:00:00{offset}");
                    let loss = (!exact).then(|| {
                        format!("time of day and offset of {dt} (written as the date {date})")
                    });
                    (smallvec![Some(Value::String(date))], loss)
                }
            },
            Transform::Date => match text(0) {
                None => none(1),
                Some(value) => {
                    let date = value.get(..10).unwrap_or(&value).to_owned();
                    let loss = (date != value)
                        .then(|| format!("time of day of {value} (written as the date {date})"));
                    (smallvec![Some(Value::String(date))], loss)
                }
            },
            Transform::MeasureText => match (text(0), text(1)) {
                (Some(value), Some(unit)) => {
                    let written = codelists::unit_text(&unit)
                        .map(str::to_owned)
                        .unwrap_or(unit);
                    (
                        smallvec![Some(Value::String(format!("{value} {written}")))],
                        None,
                    )
                }
                (None, None) => none(1),
                _ => (
                    smallvec![None],
                    Some("a measure without both value and unit".into()),
                ),
            },
            Transform::UnitText(table) => match text(0) {
                None => none(1),
                Some(code) => {
                    let own = table
                        .as_ref()
                        .and_then(|t| t.printed(&Value::String(code.clone())));
                    let written = own
                        .or_else(|| codelists::unit_text(&code))
                        .unwrap_or(&code)
                        .to_owned();
                    (smallvec![Some(Value::String(written))], None)
                }
            },
            Transform::SchemeId { separator } => match (text(0), text(1)) {
                (None, None) => none(1),
                (None, Some(scheme)) => (
                    smallvec![None],
                    Some(format!("identifier scheme {scheme} without an identifier")),
                ),
                (Some(id), scheme) => {
                    let written = match &scheme {
                        Some(scheme) => format!("{scheme}{separator}{id}"),
                        None => id.clone(),
                    };
                    // Reading splits at the last separator, so an identifier holding one would
                    // come back cut in two: say so.
                    let loss = id.contains(separator.as_str()).then(|| {
                        format!("identifier {id:?} contains the scheme separator {separator:?}; it reads back as scheme and identifier")
                    });
                    (smallvec![Some(Value::String(written))], loss)
                }
            },
            Transform::Prefix(prefix) => match text(0) {
                None => none(1),
                Some(v) => (smallvec![Some(Value::String(format!("{prefix}{v}")))], None),
            },
            Transform::Split { separator } => match inputs.first().copied().flatten() {
                Some(Value::Array(parts)) => {
                    let joined: Vec<String> = parts.iter().filter_map(scalar_text).collect();
                    (smallvec![Some(Value::String(joined.join(separator)))], None)
                }
                Some(other) => (smallvec![scalar_text(other).map(Value::String)], None),
                None => none(1),
            },
            Transform::Percent => match text(0) {
                None => none(1),
                Some(v) => (smallvec![Some(Value::String(format!("{v}%")))], None),
            },
        }
    }
}

fn style_name(style: CountryStyle) -> &'static str {
    match style {
        CountryStyle::Alpha2 => "ISO 3166-1 alpha-2 code",
        CountryStyle::Alpha3 => "ISO 3166-1 alpha-3 code",
        CountryStyle::Name => "English country name",
    }
}

#[derive(Debug, PartialEq)]
struct ParsedCriterion {
    criteria: Vec<String>,
    modifiers: Vec<String>,
    percentage: Option<String>,
}

impl ParsedCriterion {
    fn into_object(self) -> Map<String, Value> {
        let mut object = Map::new();
        if !self.criteria.is_empty() {
            object.insert(
                "criteria".into(),
                self.criteria.into_iter().map(Value::String).collect(),
            );
        }
        if !self.modifiers.is_empty() {
            object.insert(
                "modifiers".into(),
                self.modifiers.into_iter().map(Value::String).collect(),
            );
        }
        if let Some(p) = self.percentage {
            object.insert("percentage".into(), Value::String(p));
        }
        object
    }

    fn from_object(value: &Value) -> Self {
        let list = |key: &str| -> Vec<String> {
            value
                .get(key)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(scalar_text).collect())
                .unwrap_or_default()
        };
        Self {
            criteria: list("criteria"),
            modifiers: list("modifiers"),
            percentage: value.get("percentage").and_then(scalar_text),
        }
    }
}

fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '+' | ',' | ';' | '/' | '&' | '(' | ')')
}

fn parse_criterion(text: &str, codes: &CriterionCodes) -> Result<ParsedCriterion, String> {
    let upper = text.to_uppercase();
    let mut rest = upper.as_str();
    let mut parsed = ParsedCriterion {
        criteria: Vec::new(),
        modifiers: Vec::new(),
        percentage: None,
    };
    let criteria = codes.criteria.printed_codes_longest_first();
    let modifiers = codes.modifiers.printed_codes_longest_first();
    let expected = || {
        let mut all: Vec<&str> = criteria.iter().chain(modifiers.iter()).copied().collect();
        all.sort_unstable();
        format!(
            "origin criterion codes ({}) with an optional percentage",
            all.join(", ")
        )
    };
    loop {
        rest = rest.trim_start_matches(is_separator);
        if rest.is_empty() {
            break;
        }
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_len > 0 && is_decimal(&rest[..number_len]) && parsed.percentage.is_none() {
            parsed.percentage = Some(rest[..number_len].to_owned());
            rest = rest[number_len..].trim_start_matches(|c: char| c == '%' || c.is_whitespace());
            continue;
        }
        let at_boundary = |code: &str| {
            rest.starts_with(code)
                && rest[code.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_ascii_alphabetic())
        };
        if let Some(code) = criteria.iter().find(|c| at_boundary(c)) {
            parsed.criteria.push(
                codes
                    .criteria
                    .canonical(code)
                    .unwrap_or_default()
                    .to_owned(),
            );
            rest = &rest[code.len()..];
        } else if let Some(code) = modifiers.iter().find(|c| at_boundary(c)) {
            parsed.modifiers.push(
                codes
                    .modifiers
                    .canonical(code)
                    .unwrap_or_default()
                    .to_owned(),
            );
            rest = &rest[code.len()..];
        } else {
            return Err(expected());
        }
    }
    if parsed.criteria.is_empty() {
        return Err(expected());
    }
    Ok(parsed)
}

fn format_criterion(value: &Value, codes: &CriterionCodes) -> Reverse {
    let wanted = ParsedCriterion::from_object(value);
    // The printed text travels with the record; write it as it was when it still says the same.
    if let Some(text) = value.get("text").and_then(Value::as_str)
        && parse_criterion(text, codes).is_ok_and(|p| p == wanted)
    {
        return (smallvec![Some(Value::from(text))], None);
    }
    let mut tokens = Vec::new();
    for code in &wanted.criteria {
        match codes.criteria.printed(code) {
            Some(printed) => tokens.push(printed.to_owned()),
            None => {
                return (
                    smallvec![None],
                    Some(format!(
                        "criterion {code} has no code in this agreement's list"
                    )),
                );
            }
        }
    }
    if let Some(p) = &wanted.percentage {
        tokens.push(format!("{p}%"));
    }
    for code in &wanted.modifiers {
        match codes.modifiers.printed(code) {
            Some(printed) => tokens.push(printed.to_owned()),
            None => {
                return (
                    smallvec![None],
                    Some(format!(
                        "modifier {code} has no code in this agreement's list"
                    )),
                );
            }
        }
    }
    if wanted.criteria.is_empty() {
        return (
            smallvec![None],
            Some("an origin criterion without criteria".into()),
        );
    }
    let written = tokens.join(&codes.separator);
    let loss = value.get("text").and_then(Value::as_str).map(|printed| {
        format!("printed text {printed:?} is written {written:?} in this profile's codes")
    });
    (smallvec![Some(Value::String(written))], loss)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fwd(t: &Transform, inputs: &[Value]) -> Result<Vec<Option<Value>>, TransformError> {
        t.forward(&inputs.iter().map(Some).collect::<Vec<_>>())
            .map(Values::into_vec)
    }

    fn rev(t: &Transform, inputs: &[Value]) -> (Vec<Option<Value>>, Option<String>) {
        let (values, loss) = t.reverse(&inputs.iter().map(Some).collect::<Vec<_>>());
        (values.into_vec(), loss)
    }

    fn rcep() -> CriterionCodes {
        let shipped = codelists::agreement_criteria("RCEP").unwrap();
        CriterionCodes {
            criteria: shipped.criteria.clone(),
            modifiers: shipped.modifiers.clone(),
            separator: " ".into(),
        }
    }

    #[test]
    fn country_styles() {
        let t = Transform::Country(CountryStyle::Name);
        assert_eq!(
            fwd(&t, &[json!("Lao PDR")]).unwrap(),
            vec![Some(json!("LA"))]
        );
        assert_eq!(
            rev(&t, &[json!("LA")]).0,
            vec![Some(json!("Lao People's Democratic Republic"))]
        );
        let err = fwd(&Transform::Country(CountryStyle::Alpha2), &[json!("AUD")]).unwrap_err();
        assert_eq!(err.rule, "country-code");
    }

    #[test]
    fn hs_dotted_and_national() {
        let t = Transform::Hs { dotted: true };
        assert_eq!(
            fwd(&t, &[json!("2204.21")]).unwrap(),
            vec![Some(json!("220421")), None]
        );
        assert_eq!(
            fwd(&t, &[json!("2204.21.90")]).unwrap(),
            vec![Some(json!("220421")), Some(json!("90"))]
        );
        assert_eq!(rev(&t, &[json!("220421")]).0, vec![Some(json!("2204.21"))]);
        assert_eq!(
            rev(&t, &[json!("220421"), json!("90")]).0,
            vec![Some(json!("2204.21.90"))]
        );
        assert_eq!(fwd(&t, &[json!("88")]).unwrap_err().rule, "hs-code");
    }

    #[test]
    fn origin_criterion_parses_codes_percentages_and_modifiers() {
        let t = Transform::OriginCriterion(Arc::new(rcep()));
        let out = fwd(&t, &[json!("RVC 40% ACU")]).unwrap();
        assert_eq!(
            out[0],
            Some(
                json!({"criteria": ["RVC"], "modifiers": ["ACU"], "percentage": "40", "text": "RVC 40% ACU"})
            )
        );
        let out = fwd(&t, &[json!("ctc+dmi")]).unwrap();
        assert_eq!(
            out[0],
            Some(json!({"criteria": ["CTC"], "modifiers": ["DMI"], "text": "ctc+dmi"}))
        );
        assert_eq!(
            fwd(&t, &[json!("bjbjb")]).unwrap_err().rule,
            "origin-criterion"
        );
        assert_eq!(
            fwd(&t, &[json!("40%")]).unwrap_err().rule,
            "origin-criterion"
        );
        // Written back as printed when the text still agrees, else formatted from the codes.
        let canonical = json!({"criteria": ["RVC"], "modifiers": ["ACU"], "percentage": "40", "text": "RVC 40% ACU"});
        assert_eq!(rev(&t, &[canonical]).0, vec![Some(json!("RVC 40% ACU"))]);
        let canonical =
            json!({"criteria": ["CTC", "RVC"], "percentage": "35.5", "text": "something else"});
        assert_eq!(rev(&t, &[canonical]).0, vec![Some(json!("CTC RVC 35.5%"))]);
        let (out, loss) = rev(&t, &[json!({"criteria": ["PSR"]})]);
        assert_eq!(out, vec![None]);
        assert!(loss.unwrap().contains("PSR"));
    }

    #[test]
    fn split_and_join_transforms() {
        let t = Transform::DateTimeSplit;
        assert_eq!(
            fwd(&t, &[json!("2026-03-01"), json!("10:30:00+07:00")]).unwrap(),
            vec![Some(json!("2026-03-01T10:30:00+07:00"))]
        );
        assert_eq!(
            rev(&t, &[json!("2026-03-01T10:30:00+07:00")]).0,
            vec![Some(json!("2026-03-01")), Some(json!("10:30:00+07:00"))]
        );
        let m = Transform::MeasureText;
        assert_eq!(
            fwd(&m, &[json!("450 Kg")]).unwrap(),
            vec![Some(json!("450")), Some(json!("KGM"))]
        );
        assert_eq!(
            fwd(&m, &[json!("99kg")]).unwrap(),
            vec![Some(json!("99")), Some(json!("KGM"))]
        );
        assert_eq!(fwd(&m, &[json!("90")]).unwrap_err().rule, "unit");
        assert_eq!(
            rev(&m, &[json!("450"), json!("KGM")]).0,
            vec![Some(json!("450 kg"))]
        );
        let s = Transform::SchemeId {
            separator: ":".into(),
        };
        assert_eq!(
            fwd(&s, &[json!("abr.gov.au:abn:55004094599")]).unwrap(),
            vec![Some(json!("55004094599")), Some(json!("abr.gov.au:abn"))]
        );
        assert_eq!(
            rev(&s, &[json!("55004094599"), json!("abr.gov.au:abn")]).0,
            vec![Some(json!("abr.gov.au:abn:55004094599"))]
        );
        let l = Transform::Split {
            separator: "\n".into(),
        };
        assert_eq!(
            fwd(&l, &[json!("a\nb")]).unwrap(),
            vec![Some(json!(["a", "b"]))]
        );
        assert_eq!(rev(&l, &[json!(["a", "b"])]).0, vec![Some(json!("a\nb"))]);
    }

    #[test]
    fn dates_report_what_they_drop() {
        let d = Transform::DateOnly {
            offset: "+10:00".into(),
        };
        assert_eq!(
            fwd(&d, &[json!("2026-03-01")]).unwrap(),
            vec![Some(json!("2026-03-01T00:00:00+10:00"))]
        );
        assert_eq!(rev(&d, &[json!("2026-03-01T00:00:00+10:00")]).1, None);
        let (out, loss) = rev(&d, &[json!("2026-03-01T09:00:00Z")]);
        assert_eq!(out, vec![Some(json!("2026-03-01"))]);
        assert!(loss.is_some());
    }

    #[test]
    fn code_lists_and_prefixes() {
        let table = CodeTable::new(
            "yn".into(),
            vec![("Y".into(), json!(true)), ("N".into(), json!(false))],
        );
        let t = Transform::CodeList(Arc::new(table));
        assert_eq!(fwd(&t, &[json!("y")]).unwrap(), vec![Some(json!(true))]);
        assert_eq!(rev(&t, &[json!(false)]).0, vec![Some(json!("N"))]);
        assert_eq!(fwd(&t, &[json!("maybe")]).unwrap_err().rule, "code-list");
        let p = Transform::Prefix("unece.un.org:locode:".into());
        assert_eq!(
            fwd(&p, &[json!("unece.un.org:locode:AUMEL")]).unwrap(),
            vec![Some(json!("AUMEL"))]
        );
        assert_eq!(
            rev(&p, &[json!("AUMEL")]).0,
            vec![Some(json!("unece.un.org:locode:AUMEL"))]
        );
        assert_eq!(
            fwd(&Transform::Percent, &[json!("50.7 %")]).unwrap(),
            vec![Some(json!("50.7"))]
        );
    }
}
