//! Validated newtypes for the canonical dataset's leaves.
//!
//! Each type can only hold a value its [`Kind`] accepts: deserializing checks it, and
//! constructing one goes through [`TryFrom<String>`]. The JSON Schema of each type names its
//! kind in `x-originhub-kind`, which is how the translation engine learns what every canonical
//! path must hold.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use super::kind::{Kind, RuleFailure};

macro_rules! checked_text {
    ($(#[$doc:meta])* $name:ident, $kind:expr, $description:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The leaf kind this type holds.
            pub fn kind() -> Kind {
                $kind
            }

            /// The canonical text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(value: String) -> Result<Self, String> {
                Self::kind()
                    .check_str(&value)
                    .map(Self)
                    .map_err(|RuleFailure { rule, expected }| format!("{rule}: expected {expected}, got {value:?}"))
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                let mut schema = json_schema!({
                    "type": "string",
                    "description": $description,
                    "x-originhub-kind": Self::kind().name(),
                });
                if let Kind::Text { max } = Self::kind() {
                    schema.insert("x-originhub-max-length".into(), max.into());
                }
                schema
            }
        }
    };
}

checked_text!(
    /// A certificate identifier: 1 to 35 characters (UN/EDIFACT an..35).
    CertificateId, Kind::Text { max: 35 }, "Certificate identifier, an..35"
);
checked_text!(
    /// A line of free text (names, descriptions, statements): at most 512 characters.
    Text, Kind::Text { max: 512 }, "Free text, at most 512 characters"
);
checked_text!(
    /// Long free text (remarks, declarations, marks and numbers): at most 4096 characters.
    LongText, Kind::Text { max: 4096 }, "Free text, at most 4096 characters"
);
checked_text!(
    /// An ISO 3166-1 alpha-2 country code.
    CountryCode, Kind::Country, "ISO 3166-1 alpha-2 country code, e.g. AU"
);
checked_text!(
    /// A Harmonized System subheading, six digits (`220421`).
    HsCode, Kind::HsCode, "HS subheading, six digits, e.g. 220421"
);
checked_text!(
    /// Digits of a national tariff line beyond the HS subheading.
    NationalCode, Kind::NationalCode, "National tariff extension, 1-6 digits"
);
checked_text!(
    /// An ISO 8601 date-time with an offset.
    DateTime, Kind::DateTime, "ISO 8601 date-time with offset, e.g. 2026-03-01T10:30:00+07:00"
);
checked_text!(
    /// An ISO 8601 calendar date.
    Date, Kind::Date, "ISO 8601 date, e.g. 2026-03-01"
);
checked_text!(
    /// A date, or a date-time with offset, as the source gave it.
    DateOrDateTime, Kind::DateOrDateTime, "ISO 8601 date or date-time with offset"
);
checked_text!(
    /// A decimal number (`1234.50`).
    Decimal, Kind::Decimal, "Decimal number, digits with optional fraction"
);
checked_text!(
    /// A percentage from 0 to 100.
    Percentage, Kind::Percentage, "Percentage from 0 to 100"
);
checked_text!(
    /// An ISO 4217 currency code.
    CurrencyCode, Kind::Currency, "ISO 4217 currency code, e.g. AUD"
);
checked_text!(
    /// A UN/ECE Rec 20 unit of measure code.
    UnitCode, Kind::Unit, "UN/ECE Rec 20 unit code, e.g. KGM"
);
checked_text!(
    /// A UN/LOCODE.
    Locode, Kind::Locode, "UN/LOCODE, e.g. AUMEL"
);
checked_text!(
    /// A UN/ECE Rec 19 transport mode code.
    TransportMode, Kind::TransportMode, "UN/ECE Rec 19 mode of transport, e.g. 1 sea, 4 air"
);
checked_text!(
    /// A UN/ECE Rec 21 package type code.
    PackageType, Kind::PackageType, "UN/ECE Rec 21 package type, e.g. PX pallet"
);
checked_text!(
    /// A code of the canonical origin-criterion vocabulary.
    CriterionCode, Kind::Criterion, "Canonical origin criterion code"
);
checked_text!(
    /// A modifier of the canonical origin-criterion vocabulary.
    CriterionModifier, Kind::CriterionModifier, "Canonical origin criterion modifier"
);
checked_text!(
    /// A URI.
    Uri, Kind::Uri, "URI"
);
checked_text!(
    /// A media type.
    MediaType, Kind::MediaType, "Media type, e.g. application/pdf"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deserializing_checks_the_value() {
        let ok: CountryCode = serde_json::from_str("\"AU\"").unwrap();
        assert_eq!(ok.as_str(), "AU");
        let err = serde_json::from_str::<CountryCode>("\"AUD\"").unwrap_err();
        assert!(err.to_string().contains("country-code"), "{err}");
        assert!(CertificateId::try_from("x".repeat(36)).is_err());
    }
}
