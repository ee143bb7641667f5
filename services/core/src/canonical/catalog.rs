//! The catalog of canonical leaves, read off the generated JSON Schema.
//!
//! Walking the schema (not a hand-kept list) means a field added to [`super::Certificate`] is
//! known to the engine at once: profiles can map it, and its newtype's check runs on it.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::{Map, Value};

use super::kind::Kind;

/// One leaf of the canonical record.
#[derive(Debug, Clone)]
pub struct Leaf {
    /// Its path pattern, e.g. `goods_items[].hs_code` (lists are marked `[]`).
    pub pattern: String,
    /// What it holds.
    pub kind: Kind,
    /// Whether it must be present whenever its parent object is.
    pub required: bool,
}

/// All canonical leaves, in schema order.
#[derive(Debug)]
pub struct Catalog {
    leaves: Vec<Leaf>,
    by_pattern: HashMap<String, usize>,
}

impl Catalog {
    /// Every leaf, in the order of the record's fields.
    pub fn leaves(&self) -> &[Leaf] {
        &self.leaves
    }

    /// The leaf at a pattern, if the dataset has one.
    pub fn leaf(&self, pattern: &str) -> Option<&Leaf> {
        self.by_pattern.get(pattern).map(|&i| &self.leaves[i])
    }

    /// Whether `pattern` names a leaf or an object/list that contains leaves.
    pub fn contains_prefix(&self, pattern: &str) -> bool {
        self.leaves.iter().any(|leaf| {
            leaf.pattern == pattern
                || leaf
                    .pattern
                    .strip_prefix(pattern)
                    .is_some_and(|rest| rest.starts_with(['.', '[']))
        })
    }
}

/// The canonical record's JSON Schema (draft 2020-12), generated from the Rust types.
pub fn json_schema() -> &'static Value {
    static SCHEMA: LazyLock<Value> = LazyLock::new(|| {
        let mut schema = schemars::schema_for!(super::Certificate).to_value();
        if let Some(object) = schema.as_object_mut() {
            object.insert(
                "$id".into(),
                "https://originhub.invalid/schema/canonical/v1".into(),
            );
        }
        schema
    });
    &SCHEMA
}

/// The catalog of canonical leaves.
pub fn catalog() -> &'static Catalog {
    static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
        let schema = json_schema();
        let empty = Map::new();
        let defs = schema
            .get("$defs")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let mut leaves = Vec::new();
        walk(schema, defs, String::new(), false, &mut leaves);
        let by_pattern = leaves
            .iter()
            .enumerate()
            .map(|(i, l)| (l.pattern.clone(), i))
            .collect();
        Catalog { leaves, by_pattern }
    });
    &CATALOG
}

fn resolve<'a>(schema: &'a Value, defs: &'a Map<String, Value>) -> &'a Value {
    let mut schema = schema;
    loop {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let name = reference.trim_start_matches("#/$defs/");
            schema = defs.get(name).unwrap_or(&Value::Null);
        } else if let Some(variants) = schema.get("anyOf").and_then(Value::as_array) {
            // Option<T> of a referenced type: anyOf [T, null].
            let non_null = variants
                .iter()
                .find(|v| v.get("type") != Some(&Value::from("null")));
            schema = non_null.unwrap_or(&Value::Null);
        } else {
            return schema;
        }
    }
}

fn has_type(schema: &Value, name: &str) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => t == name,
        Some(Value::Array(ts)) => ts.iter().any(|t| t == name),
        _ => false,
    }
}

fn enum_values(schema: &Value) -> Option<Vec<String>> {
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return Some(
            values
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        );
    }
    let variants = schema.get("oneOf").and_then(Value::as_array)?;
    variants
        .iter()
        .map(|v| v.get("const").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

fn kind_named(name: &str, schema: &Value) -> Kind {
    match name {
        "text" => Kind::Text {
            max: schema
                .get("x-originhub-max-length")
                .and_then(Value::as_u64)
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(512),
        },
        "country" => Kind::Country,
        "hs-code" => Kind::HsCode,
        "national-code" => Kind::NationalCode,
        "date-time" => Kind::DateTime,
        "date" => Kind::Date,
        "date-or-date-time" => Kind::DateOrDateTime,
        "decimal" => Kind::Decimal,
        "percentage" => Kind::Percentage,
        "currency" => Kind::Currency,
        "unit" => Kind::Unit,
        "locode" => Kind::Locode,
        "transport-mode" => Kind::TransportMode,
        "package-type" => Kind::PackageType,
        "origin-criterion" => Kind::Criterion,
        "origin-criterion-modifier" => Kind::CriterionModifier,
        "uri" => Kind::Uri,
        "media-type" => Kind::MediaType,
        other => unreachable!("newtype schema names unknown kind {other}"),
    }
}

fn walk(
    schema: &Value,
    defs: &Map<String, Value>,
    path: String,
    required: bool,
    out: &mut Vec<Leaf>,
) {
    let schema = resolve(schema, defs);
    let mut leaf = |kind| {
        out.push(Leaf {
            pattern: path.clone(),
            kind,
            required,
        })
    };
    if let Some(name) = schema.get("x-originhub-kind").and_then(Value::as_str) {
        leaf(kind_named(name, schema));
    } else if let Some(values) = enum_values(schema) {
        leaf(Kind::Enum(values));
    } else if has_type(schema, "boolean") {
        leaf(Kind::Bool);
    } else if has_type(schema, "integer") {
        leaf(Kind::Count);
    } else if has_type(schema, "array") {
        let items = schema.get("items").unwrap_or(&Value::Null);
        walk(items, defs, format!("{path}[]"), false, out);
    } else if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        let required_fields: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for (name, property) in properties {
            let child = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}.{name}")
            };
            walk(
                property,
                defs,
                child,
                required_fields.contains(&name.as_str()),
                out,
            );
        }
    } else if has_type(schema, "object") {
        leaf(Kind::Extensions);
    } else {
        unreachable!("canonical schema at {path} has no leaf kind: {schema}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_covers_the_record() {
        let catalog = catalog();
        let kind = |p: &str| catalog.leaf(p).map(|l| l.kind.clone());
        assert_eq!(kind("id"), Some(Kind::Text { max: 35 }));
        assert!(catalog.leaf("id").unwrap().required);
        assert_eq!(kind("goods_items[].hs_code"), Some(Kind::HsCode));
        assert_eq!(kind("goods_items[].packages[].count"), Some(Kind::Count));
        assert_eq!(
            kind("goods_items[].origin_criterion.criteria[]"),
            Some(Kind::Criterion)
        );
        assert_eq!(
            kind("exporter.address.lines[]"),
            Some(Kind::Text { max: 512 })
        );
        assert_eq!(kind("preferential"), Some(Kind::Bool));
        assert_eq!(kind("extensions"), Some(Kind::Extensions));
        assert!(
            matches!(kind("kind"), Some(Kind::Enum(v)) if v.contains(&"back_to_back".to_owned()))
        );
        assert!(
            catalog
                .leaf("goods_items[].quantity.unit")
                .unwrap()
                .required
        );
        assert!(catalog.leaf("goods_items[].quantity").is_none());
        assert!(catalog.contains_prefix("goods_items[].quantity"));
        assert!(!catalog.contains_prefix("goods_items[].quant"));
        assert!(catalog.leaves().len() > 80, "{}", catalog.leaves().len());
    }
}
