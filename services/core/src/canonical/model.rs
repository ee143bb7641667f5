//! The canonical e-CO record: every field of REFERENCE.md §4 as typed Rust.
//!
//! Field names are the canonical paths profiles map to (`goods_items[].hs_code`). Optional
//! fields are omitted from JSON when absent; lists are omitted when empty.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::newtypes::*;

/// A certificate of origin in the hub's canonical form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Origin Hub canonical certificate of origin")]
pub struct Certificate {
    /// The issuer's certificate number.
    pub id: CertificateId,
    /// When the certificate was issued, with offset.
    pub issue_date_time: DateTime,
    /// Where it was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_location: Option<Location>,
    /// The agreement it is issued under, e.g. `CHAFTA`, `AANZFTA`, `RCEP`, `ATIGA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<Text>,
    /// Whether it claims preferential treatment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferential: Option<bool>,
    /// Normal, back-to-back or replacement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<CertificateKind>,
    /// Issued, revoked, replaced or cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<CertificateStatus>,
    /// The certificate this one replaces (kind `replacement`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<Replacement>,
    /// The authority that issued (certified) the certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuing_authority: Option<Party>,
    /// The exporter (consignor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exporter: Option<Party>,
    /// The producers, if known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub producers: Vec<Party>,
    /// The importer (consignee).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importer: Option<Party>,
    /// Country of export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_country: Option<CountryCode>,
    /// Country of import: decides the receiver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_country: Option<CountryCode>,
    /// Means of transport and route, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<Transport>,
    /// The goods (one or more).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub goods_items: Vec<GoodsItem>,
    /// Invoicing by a third party.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub third_party_invoicing: Option<ThirdPartyInvoicing>,
    /// Back-to-back certificate details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub back_to_back: Option<BackToBack>,
    /// Special circumstances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<Flags>,
    /// The exporter's declaration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exporter_declaration: Option<Declaration>,
    /// The issuing authority's certification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority_certification: Option<Declaration>,
    /// Remarks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remarks: Option<LongText>,
    /// Importing customs' official use: preference granted or refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub official_use: Option<OfficialUse>,
    /// Attached documents, e.g. a PDF rendition.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// Fields with no canonical home, keyed by the profile they came from and their path there.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extensions: BTreeMap<String, serde_json::Value>,
}

/// Normal, back-to-back or replacement certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CertificateKind {
    /// An ordinary certificate.
    Normal,
    /// Issued by an intermediate party on the strength of an original proof.
    BackToBack,
    /// Replaces an earlier certificate.
    Replacement,
}

/// Life-cycle status of a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CertificateStatus {
    /// In force.
    Issued,
    /// Withdrawn by the issuer.
    Revoked,
    /// Superseded by a replacement.
    Replaced,
    /// Cancelled before use.
    Cancelled,
}

/// Granted or refused by importing customs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PreferenceDecision {
    /// Preference granted.
    Granted,
    /// Preference refused.
    Refused,
}

/// A place: UN/LOCODE and name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// UN/LOCODE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locode: Option<Locode>,
    /// Name as printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Text>,
}

/// What a replacement certificate replaces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Replacement {
    /// Number of the replaced certificate.
    pub certificate_id: CertificateId,
    /// Why it was replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Text>,
    /// When it was replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<DateOrDateTime>,
}

/// An exporter, producer, importer or authority.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Party {
    /// Identifier within its scheme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Text>,
    /// Identifier scheme, e.g. `abr.gov.au:abn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_scheme: Option<Text>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Text>,
    /// Postal address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
}

/// A postal address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// Street lines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<Text>,
    /// City.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<Text>,
    /// Postcode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postcode: Option<Text>,
    /// State, province or other subdivision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subdivision: Option<Text>,
    /// Country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<CountryCode>,
}

/// Transport details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Transport {
    /// Departure date (or date-time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub departure_date: Option<DateOrDateTime>,
    /// Mode of transport.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<TransportMode>,
    /// Vessel, aircraft or vehicle name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub means_name: Option<Text>,
    /// Vessel, aircraft or vehicle identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub means_id: Option<Text>,
    /// Voyage or flight number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voyage: Option<Text>,
    /// Port of loading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loading_port: Option<Location>,
    /// Port of discharge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discharge_port: Option<Location>,
}

/// One line of goods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoodsItem {
    /// Item number on the certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u32>,
    /// Marks and numbers on packages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marks: Option<LongText>,
    /// Packages: count and type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<Package>,
    /// Description of goods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<LongText>,
    /// Product identifier, e.g. a GTIN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<Text>,
    /// HS subheading (six digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hs_code: Option<HsCode>,
    /// HS edition, e.g. `HS2022`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hs_edition: Option<Text>,
    /// National tariff digits beyond the subheading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub national_code: Option<NationalCode>,
    /// Origin criterion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_criterion: Option<OriginCriterion>,
    /// Quantity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Measure>,
    /// Gross weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gross_weight: Option<Measure>,
    /// FOB value (required by value-content rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fob_value: Option<Amount>,
    /// Invoices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invoices: Vec<Invoice>,
    /// Country of origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_country: Option<CountryCode>,
    /// Reference to the producer among `producers`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer_reference: Option<Text>,
}

/// Packages of one goods item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Package {
    /// Number of packages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Package type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<PackageType>,
}

/// The origin criterion: ordered codes, modifiers, a percentage, and the printed text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OriginCriterion {
    /// Criteria in printed order, e.g. `[CTH, RVC]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub criteria: Vec<CriterionCode>,
    /// Modifiers, e.g. `[ACU, DMI]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modifiers: Vec<CriterionModifier>,
    /// Percentage of a value-content rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<Percentage>,
    /// The criterion as printed on the source document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Text>,
}

/// A value with a Rec 20 unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Measure {
    /// Amount.
    pub value: Decimal,
    /// Unit.
    pub unit: UnitCode,
}

/// A money amount.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Amount {
    /// Amount.
    pub value: Decimal,
    /// Currency.
    pub currency: CurrencyCode,
}

/// An invoice reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Invoice {
    /// Invoice number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<Text>,
    /// Invoice date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<DateOrDateTime>,
}

/// Third-party invoicing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThirdPartyInvoicing {
    /// Whether a third party invoices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applies: Option<bool>,
    /// Invoicing party's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party_name: Option<Text>,
    /// Invoicing party's country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party_country: Option<CountryCode>,
}

/// Back-to-back certificate details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackToBack {
    /// Number of the original proof of origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_proof_number: Option<Text>,
    /// Its date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_proof_date: Option<DateOrDateTime>,
    /// First exporting country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_exporting_country: Option<CountryCode>,
}

/// Special circumstances ticked on the form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Flags {
    /// Issued retroactively.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_retroactively: Option<bool>,
    /// Goods for an exhibition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exhibition: Option<bool>,
    /// Accumulation applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accumulation: Option<bool>,
    /// De minimis applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub de_minimis: Option<bool>,
}

/// A declaration or certification: statement, place, date, signatory and signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Declaration {
    /// The statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<LongText>,
    /// Place of signing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<Text>,
    /// Date (or date-time) of signing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<DateOrDateTime>,
    /// Who signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signatory: Option<Text>,
    /// The signature as carried by the source (opaque).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<LongText>,
}

/// Importing customs' decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OfficialUse {
    /// Preference granted or refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preference: Option<PreferenceDecision>,
    /// Reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Text>,
}

/// An attached document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    /// Where it is.
    pub uri: Uri,
    /// Its media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<MediaType>,
    /// What it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Text>,
}
