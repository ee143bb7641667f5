//! ISO 3166-1 countries: canonical alpha-2, and the styles members print them in.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::fold_name;

/// How a member's format writes a country.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CountryStyle {
    /// ISO 3166-1 alpha-2, e.g. `AU` (the canonical form).
    Alpha2,
    /// ISO 3166-1 alpha-3, e.g. `AUS`.
    Alpha3,
    /// English short name, e.g. `Australia`; reading also accepts common variants
    /// ("Lao PDR", "Vietnam") and ignores case.
    Name,
}

/// One country: alpha-2, alpha-3 and English short name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Country {
    alpha2: &'static str,
    alpha3: &'static str,
    name: &'static str,
}

/// Codes from the ranges ISO 3166-1 leaves to users (AA, QM–QZ, XA–XZ, ZZ) that this hub
/// assigns. Customs administrations use some in practice (XK Kosovo, XI Northern Ireland); the
/// others name the fictional states the demo and the tests trade between, so no real
/// administration's traffic is imitated.
const USER_ASSIGNED: &[Country] = &[
    Country {
        alpha2: "XK",
        alpha3: "XKX",
        name: "Kosovo",
    },
    Country {
        alpha2: "XI",
        alpha3: "XXI",
        name: "Northern Ireland",
    },
    Country {
        alpha2: "XA",
        alpha3: "XAD",
        name: "Adjikistan",
    },
    Country {
        alpha2: "XB",
        alpha3: "XBO",
        name: "Borastria",
    },
    Country {
        alpha2: "XC",
        alpha3: "XCO",
        name: "Concordia",
    },
    Country {
        alpha2: "XT",
        alpha3: "XKT",
        name: "Katanga",
    },
];

fn from_iso(country: &rust_iso3166::CountryCode) -> Country {
    Country {
        alpha2: country.alpha2,
        alpha3: country.alpha3,
        name: country.name,
    }
}

fn by_alpha2(code: &str) -> Option<Country> {
    rust_iso3166::from_alpha2(code)
        .map(|c| from_iso(&c))
        .or_else(|| USER_ASSIGNED.iter().find(|c| c.alpha2 == code).copied())
}

fn by_alpha3(code: &str) -> Option<Country> {
    rust_iso3166::from_alpha3(code)
        .map(|c| from_iso(&c))
        .or_else(|| USER_ASSIGNED.iter().find(|c| c.alpha3 == code).copied())
}

fn all() -> impl Iterator<Item = Country> {
    rust_iso3166::ALL
        .iter()
        .map(from_iso)
        .chain(USER_ASSIGNED.iter().copied())
}

#[derive(serde::Deserialize)]
struct VariantsFile {
    variants: HashMap<String, String>,
}

/// Folded English names (ISO short names and variants) to alpha-2.
static BY_NAME: LazyLock<HashMap<String, &'static str>> = LazyLock::new(|| {
    let mut map = HashMap::new();
    for country in all() {
        map.insert(fold_name(country.name), country.alpha2);
    }
    let file: VariantsFile =
        toml::from_str(include_str!("countries.toml")).expect("countries.toml is valid");
    for (name, alpha2) in file.variants {
        let country = by_alpha2(&alpha2).expect("variant names a known country");
        map.insert(fold_name(&name), country.alpha2);
    }
    map
});

/// Whether `code` is an assigned ISO 3166-1 alpha-2 code, or one of the user-assigned codes
/// this hub gives meaning to (upper case).
pub fn is_country(code: &str) -> bool {
    by_alpha2(code).is_some()
}

/// The canonical alpha-2 code for an alpha-2 code (any case is refused but upper).
pub fn country_alpha2(code: &str) -> Option<&'static str> {
    by_alpha2(code).map(|c| c.alpha2)
}

/// Reads a country written in `style` and returns its alpha-2 code.
pub fn resolve_country(text: &str, style: CountryStyle) -> Option<&'static str> {
    let text = text.trim();
    match style {
        CountryStyle::Alpha2 => country_alpha2(text),
        CountryStyle::Alpha3 => by_alpha3(text).map(|c| c.alpha2),
        CountryStyle::Name => BY_NAME.get(&fold_name(text)).copied(),
    }
}

/// Writes the country with alpha-2 `code` in `style`.
pub fn format_country(code: &str, style: CountryStyle) -> Option<&'static str> {
    let country = by_alpha2(code)?;
    Some(match style {
        CountryStyle::Alpha2 => country.alpha2,
        CountryStyle::Alpha3 => country.alpha3,
        CountryStyle::Name => country.name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_style_round_trips_for_every_country() {
        for country in all() {
            for style in [
                CountryStyle::Alpha2,
                CountryStyle::Alpha3,
                CountryStyle::Name,
            ] {
                let written = format_country(country.alpha2, style).unwrap();
                assert_eq!(
                    resolve_country(written, style),
                    Some(country.alpha2),
                    "{written}"
                );
            }
        }
    }

    #[test]
    fn names_accept_common_variants() {
        assert_eq!(resolve_country("Lao PDR", CountryStyle::Name), Some("LA"));
        assert_eq!(resolve_country("vietnam", CountryStyle::Name), Some("VN"));
        assert_eq!(
            resolve_country("Korea, Republic of", CountryStyle::Name),
            Some("KR")
        );
        assert_eq!(
            resolve_country("  Australia ", CountryStyle::Name),
            Some("AU")
        );
    }

    #[test]
    fn invalid_codes_are_refused() {
        assert_eq!(resolve_country("AUD", CountryStyle::Alpha2), None);
        assert_eq!(resolve_country("SNG", CountryStyle::Alpha3), None);
        assert_eq!(resolve_country("aud", CountryStyle::Alpha3), None);
        assert_eq!(resolve_country("Atlantis", CountryStyle::Name), None);
        assert!(!is_country("XX"));
        assert!(!is_country("QM"));
    }

    #[test]
    fn user_assigned_codes_have_every_style() {
        assert_eq!(resolve_country("Borastria", CountryStyle::Name), Some("XB"));
        assert_eq!(resolve_country("XKT", CountryStyle::Alpha3), Some("XT"));
        assert_eq!(format_country("XK", CountryStyle::Name), Some("Kosovo"));
        let mut alpha2: Vec<_> = all().map(|c| c.alpha2).collect();
        let mut alpha3: Vec<_> = all().map(|c| c.alpha3).collect();
        let count = alpha2.len();
        alpha2.sort_unstable();
        alpha2.dedup();
        alpha3.sort_unstable();
        alpha3.dedup();
        assert_eq!(
            (alpha2.len(), alpha3.len()),
            (count, count),
            "codes are unique"
        );
    }
}
