//! Members, agreements and routing: who receives a certificate, decided by the agreement's
//! parties and the certificate's countries. Definitions are TOML (the hub's config directory and
//! the operator API carry the same text); routing is a pure function of them.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::codelists::is_country;
use crate::engine::Canonical;

/// A definition that does not parse or does not hold together.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{what}: {message}")]
pub struct DefinitionError {
    /// What was being read, e.g. `member "borastria"` or a file name.
    pub what: String,
    /// What is wrong.
    pub message: String,
}

/// A member: a customs administration or issuing authority connected to the hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberDef {
    /// Lower-case id (`a-z`, `0-9`, `-`); the common name of the member's client certificate.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The country it acts for, ISO 3166-1 alpha-2: it exports from it and receives for imports
    /// into it.
    pub country: String,
    /// Public keys it signs certificates with (Ed25519, C2SP signed-note verifier keys
    /// `<member id>+<key id>+<base64>`); the hub checks them when the registry loads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signing_keys: Vec<String>,
}

/// A party to an agreement and the profile it speaks under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartyDef {
    /// Member id.
    pub member: String,
    /// Profile id.
    pub profile: String,
}

/// A free trade agreement as the hub routes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgreementDef {
    /// Id, e.g. `BX-CC`; submissions name it.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Message kinds it carries.
    #[serde(default = "default_kinds")]
    pub kinds: Vec<String>,
    /// First issue date it covers (`YYYY-MM-DD`), if limited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_from: Option<String>,
    /// Last issue date it covers (`YYYY-MM-DD`), if limited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_until: Option<String>,
    /// The parties; at least two.
    #[serde(rename = "party")]
    pub parties: Vec<PartyDef>,
    /// Members that receive a copy of every certificate (e.g. a transit country), whether or not
    /// they are parties.
    #[serde(default, rename = "copy", skip_serializing_if = "Vec::is_empty")]
    pub copies: Vec<PartyDef>,
    /// Whether every submission under it must carry its issuer's signature.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_signatures: bool,
}

fn default_kinds() -> Vec<String> {
    vec!["certificate".to_owned()]
}

fn is_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_date(text: &str) -> bool {
    time::Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .is_ok()
}

impl MemberDef {
    /// Parses and checks a member definition.
    pub fn parse(source: &str, what: &str) -> Result<Self, DefinitionError> {
        let error = |message: String| DefinitionError {
            what: what.to_owned(),
            message,
        };
        let member: Self = toml::from_str(source).map_err(|e| error(e.to_string()))?;
        if !is_id(&member.id) {
            return Err(error(format!(
                "id {:?} must be 1 to 64 characters of a-z, 0-9 and -",
                member.id
            )));
        }
        if !is_country(&member.country) {
            return Err(error(format!(
                "country {:?} is not an ISO 3166-1 alpha-2 code",
                member.country
            )));
        }
        Ok(member)
    }
}

impl AgreementDef {
    /// Parses and checks an agreement on its own; [`AgreementDef::check_references`] checks the
    /// members and profiles it names.
    pub fn parse(source: &str, what: &str) -> Result<Self, DefinitionError> {
        let error = |message: String| DefinitionError {
            what: what.to_owned(),
            message,
        };
        let agreement: Self = toml::from_str(source).map_err(|e| error(e.to_string()))?;
        if agreement.id.trim().is_empty() || agreement.id.len() > 64 {
            return Err(error("id must be 1 to 64 characters".to_owned()));
        }
        if agreement.parties.len() < 2 {
            return Err(error(
                "an agreement needs at least two [[party]] entries".to_owned(),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for party in &agreement.parties {
            if !seen.insert(party.member.as_str()) {
                return Err(error(format!("member {:?} is a party twice", party.member)));
            }
        }
        for date in [&agreement.effective_from, &agreement.effective_until]
            .into_iter()
            .flatten()
        {
            if !is_date(date) {
                return Err(error(format!("{date:?} is not a date (YYYY-MM-DD)")));
            }
        }
        // Both are checked dates (YYYY-MM-DD), which sort as text sorts. An agreement ending
        // before it begins would refuse every certificate.
        if let (Some(from), Some(until)) = (&agreement.effective_from, &agreement.effective_until)
            && until < from
        {
            return Err(error(format!(
                "effective_until {until:?} is before effective_from {from:?}: the agreement \
                 would never be in effect"
            )));
        }
        Ok(agreement)
    }

    /// Checks that every member and profile it names exists, and that no two parties act for
    /// the same country (the importing country must name one receiver).
    pub fn check_references(
        &self,
        member: impl Fn(&str) -> Option<MemberDef>,
        profile_exists: impl Fn(&str) -> bool,
    ) -> Result<(), DefinitionError> {
        let error = |message: String| DefinitionError {
            what: format!("agreement {:?}", self.id),
            message,
        };
        let mut countries = std::collections::BTreeMap::new();
        for (index, party) in self.parties.iter().enumerate() {
            let found = member(&party.member).ok_or_else(|| {
                error(format!(
                    "party #{}: unknown member {:?}",
                    index + 1,
                    party.member
                ))
            })?;
            if let Some(other) = countries.insert(found.country.clone(), party.member.clone()) {
                return Err(error(format!(
                    "members {other:?} and {:?} both act for country {}",
                    party.member, found.country
                )));
            }
        }
        for (index, copy) in self.copies.iter().enumerate() {
            if member(&copy.member).is_none() {
                return Err(error(format!(
                    "copy #{}: unknown member {:?}",
                    index + 1,
                    copy.member
                )));
            }
        }
        for entry in self.parties.iter().chain(&self.copies) {
            if !profile_exists(&entry.profile) {
                return Err(error(format!(
                    "member {:?}: unknown profile {:?}",
                    entry.member, entry.profile
                )));
            }
        }
        Ok(())
    }

    /// The profile `member` speaks under this agreement, as a party or a copy receiver.
    pub fn profile_of(&self, member: &str) -> Option<&str> {
        self.parties
            .iter()
            .chain(&self.copies)
            .find(|p| p.member == member)
            .map(|p| p.profile.as_str())
    }
}

/// What routing reads from a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteFacts {
    /// The certificate's `agreement` field, if it has one.
    pub agreement: Option<String>,
    /// Country of export.
    pub export_country: Option<String>,
    /// Country of import.
    pub import_country: Option<String>,
    /// Issue date, `YYYY-MM-DD`.
    pub issue_date: String,
}

impl RouteFacts {
    /// Reads the facts off a canonical record.
    pub fn of(record: &Canonical) -> Self {
        let text = |key: &str| {
            record
                .node()
                .get(key)
                .and_then(|n| n.as_str())
                .map(str::to_owned)
        };
        let issued = text("issue_date_time").unwrap_or_default();
        Self {
            agreement: text("agreement"),
            export_country: text("export_country"),
            import_country: text("import_country"),
            issue_date: issued.get(..10).unwrap_or(&issued).to_owned(),
        }
    }
}

/// A receiver of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Member id.
    pub member: String,
    /// The profile to translate into.
    pub profile: String,
}

/// Why the agreement does not route a certificate. The first field of each variant is the
/// canonical path of the fact that decided, so errors can name it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RouteError {
    /// The sender is not a party.
    #[error("member {sender:?} is not a party to agreement {agreement:?}")]
    SenderNotParty {
        /// Sender.
        sender: String,
        /// Agreement.
        agreement: String,
    },
    /// The certificate names another agreement.
    #[error("agreement: the certificate says {found:?} but was submitted under {agreement:?}")]
    AgreementMismatch {
        /// What the certificate says.
        found: String,
        /// Agreement submitted under.
        agreement: String,
    },
    /// Without an importing country there is no receiver.
    #[error("import_country: required to route under agreement {agreement:?}")]
    NoImportCountry {
        /// Agreement.
        agreement: String,
    },
    /// No party acts for the importing country.
    #[error(
        "import_country: {country:?} is not the country of any party to agreement {agreement:?}"
    )]
    ImportCountryNotParty {
        /// Importing country.
        country: String,
        /// Agreement.
        agreement: String,
    },
    /// The sender certifies exports of another country.
    #[error("export_country: {found:?} is not the sender's country {expected:?}")]
    ExportCountryNotSender {
        /// What the certificate says.
        found: String,
        /// The sender's country.
        expected: String,
    },
    /// Exporting and importing party are the same member.
    #[error("import_country: {country:?} is the sender's own country")]
    SelfAddressed {
        /// Country.
        country: String,
    },
    /// The issue date is outside the agreement's effective dates.
    #[error(
        "issue_date_time: {date} is outside agreement {agreement:?}'s effective dates ({from} to {until})"
    )]
    NotEffective {
        /// Issue date.
        date: String,
        /// Agreement.
        agreement: String,
        /// First date, or `-`.
        from: String,
        /// Last date, or `-`.
        until: String,
    },
}

/// The receivers of a certificate from `sender` under `agreement`: the party acting for the
/// importing country, then the agreement's copy receivers (never the sender, never twice).
pub fn route(
    agreement: &AgreementDef,
    member: impl Fn(&str) -> Option<MemberDef>,
    sender: &str,
    facts: &RouteFacts,
) -> Result<Vec<Route>, RouteError> {
    let sender_def = agreement
        .parties
        .iter()
        .find(|p| p.member == sender)
        .and_then(|p| member(&p.member))
        .ok_or_else(|| RouteError::SenderNotParty {
            sender: sender.to_owned(),
            agreement: agreement.id.clone(),
        })?;
    if let Some(found) = &facts.agreement
        && !found.eq_ignore_ascii_case(&agreement.id)
    {
        return Err(RouteError::AgreementMismatch {
            found: found.clone(),
            agreement: agreement.id.clone(),
        });
    }
    let from_ok = agreement
        .effective_from
        .as_ref()
        .is_none_or(|from| facts.issue_date.as_str() >= from.as_str());
    let until_ok = agreement
        .effective_until
        .as_ref()
        .is_none_or(|until| facts.issue_date.as_str() <= until.as_str());
    if !(from_ok && until_ok) {
        return Err(RouteError::NotEffective {
            date: facts.issue_date.clone(),
            agreement: agreement.id.clone(),
            from: agreement
                .effective_from
                .clone()
                .unwrap_or_else(|| "-".into()),
            until: agreement
                .effective_until
                .clone()
                .unwrap_or_else(|| "-".into()),
        });
    }
    if let Some(found) = &facts.export_country
        && *found != sender_def.country
    {
        return Err(RouteError::ExportCountryNotSender {
            found: found.clone(),
            expected: sender_def.country,
        });
    }
    let import = facts
        .import_country
        .as_ref()
        .ok_or_else(|| RouteError::NoImportCountry {
            agreement: agreement.id.clone(),
        })?;
    if *import == sender_def.country {
        return Err(RouteError::SelfAddressed {
            country: import.clone(),
        });
    }
    let importer = agreement
        .parties
        .iter()
        .find(|p| member(&p.member).is_some_and(|m| m.country == *import))
        .ok_or_else(|| RouteError::ImportCountryNotParty {
            country: import.clone(),
            agreement: agreement.id.clone(),
        })?;
    let mut routes = vec![Route {
        member: importer.member.clone(),
        profile: importer.profile.clone(),
    }];
    for copy in &agreement.copies {
        if copy.member != sender && routes.iter().all(|r| r.member != copy.member) {
            routes.push(Route {
                member: copy.member.clone(),
                profile: copy.profile.clone(),
            });
        }
    }
    Ok(routes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn members() -> Vec<MemberDef> {
        [
            ("adjikistan", "XA"),
            ("borastria", "XB"),
            ("concordia", "XC"),
            ("katanga", "XT"),
        ]
        .into_iter()
        .map(|(id, country)| MemberDef {
            id: id.into(),
            name: id.into(),
            country: country.into(),
            signing_keys: Vec::new(),
        })
        .collect()
    }

    fn lookup(id: &str) -> Option<MemberDef> {
        members().into_iter().find(|m| m.id == id)
    }

    fn agreement() -> AgreementDef {
        AgreementDef::parse(
            r#"
            id = "TRI"
            name = "Trilateral"
            effective_from = "2020-01-01"
            [[party]]
            member = "adjikistan"
            profile = "canonical-json"
            [[party]]
            member = "borastria"
            profile = "borastria-xml"
            [[party]]
            member = "concordia"
            profile = "edi3-coo-json"
            [[copy]]
            member = "katanga"
            profile = "canonical-json"
            "#,
            "test",
        )
        .unwrap()
    }

    fn facts(export: &str, import: &str) -> RouteFacts {
        RouteFacts {
            agreement: None,
            export_country: Some(export.into()),
            import_country: Some(import.into()),
            issue_date: "2025-06-01".into(),
        }
    }

    #[test]
    fn importing_party_receives_then_copies() {
        let routes = route(&agreement(), lookup, "borastria", &facts("XB", "XC")).unwrap();
        let members: Vec<_> = routes.iter().map(|r| r.member.as_str()).collect();
        assert_eq!(members, ["concordia", "katanga"]);
        assert_eq!(routes[0].profile, "edi3-coo-json");
    }

    #[test]
    fn refusals_name_the_fact() {
        let a = agreement();
        assert!(matches!(
            route(&a, lookup, "katanga", &facts("XT", "XC")),
            Err(RouteError::SenderNotParty { .. })
        ));
        assert!(matches!(
            route(&a, lookup, "borastria", &facts("XB", "FR")),
            Err(RouteError::ImportCountryNotParty { .. })
        ));
        assert!(matches!(
            route(&a, lookup, "borastria", &facts("XA", "XC")),
            Err(RouteError::ExportCountryNotSender { .. })
        ));
        assert!(matches!(
            route(&a, lookup, "borastria", &facts("XB", "XB")),
            Err(RouteError::SelfAddressed { .. })
        ));
        let mut old = facts("XB", "XC");
        old.issue_date = "2019-12-31".into();
        let error = route(&a, lookup, "borastria", &old).unwrap_err();
        assert_eq!(
            error.to_string(),
            "issue_date_time: 2019-12-31 is outside agreement \"TRI\"'s effective dates (2020-01-01 to -)"
        );
        let mut other = facts("XB", "XC");
        other.agreement = Some("CHAFTA".into());
        assert!(matches!(
            route(&a, lookup, "borastria", &other),
            Err(RouteError::AgreementMismatch { .. })
        ));
    }

    #[test]
    fn definitions_are_checked() {
        let error = MemberDef::parse("id = \"Bad Id\"\nname = \"x\"\ncountry = \"XB\"", "m.toml")
            .unwrap_err();
        assert!(error.message.contains("a-z"), "{error}");
        let error =
            MemberDef::parse("id = \"x\"\nname = \"x\"\ncountry = \"ZZ\"", "m.toml").unwrap_err();
        assert!(error.message.contains("\"ZZ\""), "{error}");
        let one_party = "id = \"A\"\nname = \"a\"\n[[party]]\nmember = \"x\"\nprofile = \"p\"";
        assert!(AgreementDef::parse(one_party, "a.toml").is_err());
        let parties = "[[party]]\nmember = \"x\"\nprofile = \"p\"\n\
                       [[party]]\nmember = \"y\"\nprofile = \"p\"";
        let dated = |from: &str, until: &str| {
            AgreementDef::parse(
                &format!(
                    "id = \"A\"\nname = \"a\"\neffective_from = \"{from}\"\n\
                     effective_until = \"{until}\"\n{parties}"
                ),
                "a.toml",
            )
        };
        let error = dated("2020-01-01", "2019-12-31").unwrap_err();
        assert!(
            error
                .message
                .contains("\"2019-12-31\" is before effective_from \"2020-01-01\""),
            "{error}"
        );
        // A one-day agreement is one day long, not empty.
        assert!(dated("2020-01-01", "2020-01-01").is_ok());
        assert!(
            dated("2021-02-29", "2022-01-01").is_err(),
            "no 29 February in 2021"
        );
        let a = agreement();
        let error = a
            .check_references(lookup, |p| p != "borastria-xml")
            .unwrap_err();
        assert!(error.message.contains("borastria-xml"), "{error}");
        assert!(a.check_references(lookup, |_| true).is_ok());
    }

    proptest! {
        /// Whatever the countries, a routed certificate goes to the importing party first, and
        /// never to the sender or to anyone twice.
        #[test]
        fn routes_are_sound(
            sender in 0usize..4,
            import in prop::sample::select(vec!["XA", "XB", "XC", "XT", "FR"]),
        ) {
            let sender = &members()[sender];
            let result = route(&agreement(), lookup, &sender.id, &facts(&sender.country, import));
            if let Ok(routes) = result {
                prop_assert_eq!(&lookup(&routes[0].member).unwrap().country, import);
                prop_assert!(routes.iter().all(|r| r.member != sender.id));
                let mut ids: Vec<_> = routes.iter().map(|r| &r.member).collect();
                ids.sort();
                ids.dedup();
                prop_assert_eq!(ids.len(), routes.len());
            }
        }
    }
}
