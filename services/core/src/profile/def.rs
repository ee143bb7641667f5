//! The profile file as written by an operator (TOML), before it is checked and compiled.
//!
//! ```toml
//! [profile]
//! id = "borastria-xml"            # what --from/--to name
//! version = "1.0.0"
//! syntax = "xml"                  # "json" or "xml"
//! root = "CertificateOfOrigin"    # XML: the root element
//!
//! [namespaces]                    # XML: "" is the default namespace
//! "" = "urn:example:coo"
//!
//! [code_lists.criteria]           # printed code = canonical value
//! A = "WO"
//!
//! [[flatten]]                     # two member list levels form one canonical list
//! member = "consignments[].lines[]"
//! canonical = "goods_items[]"
//!
//! [[field]]                       # one mapping, used in both directions
//! member = "Number"
//! canonical = "id"
//!
//! [[rule]]                        # checked on the canonical record
//! required = "goods_items[].hs_code"
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A whole profile file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileFile {
    /// Identity and syntax.
    pub profile: Header,
    /// XML namespaces by prefix (`""` for the default namespace).
    #[serde(default)]
    pub namespaces: BTreeMap<String, String>,
    /// Code tables local to this profile: printed code → canonical value.
    #[serde(default)]
    pub code_lists: BTreeMap<String, toml::Table>,
    /// Nested member lists flattened into one canonical list.
    #[serde(default)]
    pub flatten: Vec<Spanned<FlattenDef>>,
    /// Field mappings, in output order.
    #[serde(default)]
    pub field: Vec<Spanned<FieldDef>>,
    /// Validation rules on the canonical record.
    #[serde(default)]
    pub rule: Vec<Spanned<RuleDef>>,
}

/// The `[profile]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Profile id, e.g. `edi3-coo-json`.
    pub id: String,
    /// Version of this profile, e.g. `1.0.0`.
    pub version: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// Document syntax.
    pub syntax: SyntaxDef,
    /// XML root element key.
    #[serde(default)]
    pub root: Option<String>,
    /// `identity`: every canonical field at its own path (the canonical JSON form).
    #[serde(default)]
    pub mapping: Option<String>,
}

/// Document syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyntaxDef {
    /// JSON.
    Json,
    /// XML.
    Xml,
}

/// One path or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Paths {
    /// A single path.
    One(String),
    /// Several paths (split and join transforms).
    Many(Vec<String>),
}

impl Paths {
    /// The paths as a list.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            Paths::One(p) => vec![p.clone()],
            Paths::Many(ps) => ps.clone(),
        }
    }
}

/// A `[[flatten]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlattenDef {
    /// Member path with exactly two list levels, e.g. `items[].lines[]`.
    pub member: String,
    /// Canonical list, e.g. `goods_items[]`.
    pub canonical: String,
}

/// A `[[field]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldDef {
    /// Path(s) in the member's document. Absent for a canonical constant.
    #[serde(default)]
    pub member: Option<Paths>,
    /// Path(s) in the canonical record. Absent for a member constant.
    #[serde(default)]
    pub canonical: Option<Paths>,
    /// Transform name (see the README's transform table).
    #[serde(default)]
    pub transform: Option<String>,
    /// Style option of `country` (alpha2, alpha3, name) and `hs` (dotted, plain).
    #[serde(default)]
    pub style: Option<String>,
    /// Code table name for `code_list` (a `[code_lists.X]` table).
    #[serde(default)]
    pub table: Option<String>,
    /// Inline code table for `code_list`.
    #[serde(default)]
    pub values: Option<toml::Table>,
    /// Agreement whose shipped criteria table `origin_criterion` uses.
    #[serde(default)]
    pub agreement: Option<String>,
    /// Separator for `split`, `origin_criterion` and `scheme_id`.
    #[serde(default)]
    pub separator: Option<String>,
    /// Prefix for `prefix`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Offset for `date_only` (e.g. `+10:00`, default `Z`).
    #[serde(default)]
    pub offset: Option<String>,
    /// Fixed value: written to the member path, or set on the canonical path.
    #[serde(default)]
    pub constant: Option<toml::Value>,
    /// Value used when the source has none.
    #[serde(default)]
    pub default: Option<toml::Value>,
    /// JSON type to write: `string`, `number` or `bool` (default: the canonical type).
    #[serde(default)]
    pub json_type: Option<String>,
}

/// A `[[rule]]` entry: `required = P`; `field = P, allowed = [...]`; or
/// `when = P, equals = V, required = Q`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    /// A canonical path that must be present (with `when`: present when the condition holds).
    #[serde(default)]
    pub required: Option<String>,
    /// A canonical path whose values are restricted.
    #[serde(default)]
    pub field: Option<String>,
    /// The allowed values of `field`.
    #[serde(default)]
    pub allowed: Option<Vec<String>>,
    /// Condition path.
    #[serde(default)]
    pub when: Option<String>,
    /// Condition value.
    #[serde(default)]
    pub equals: Option<String>,
    /// Explanation shown with violations.
    #[serde(default)]
    pub message: Option<String>,
}
