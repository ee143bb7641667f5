//! Checking a profile file and compiling it into a [`Plan`].

use std::sync::Arc;

use serde_json::Value;
use thiserror::Error;
use toml::Spanned;

use super::def::{FieldDef, FlattenDef, Paths, ProfileFile, RuleDef, SyntaxDef};
use crate::canonical::{self, Kind};
use crate::codelists::{self, CountryStyle, CriterionTable};
use crate::engine::cover::Cover;
use crate::engine::transform::{CodeTable, CriterionCodes, Transform};
use crate::limits::Limits;
use crate::tree::xml::Namespaces;
use crate::tree::{Pattern, Step};

/// A problem in a profile file, with where it is.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("{origin}:{line}: {location}: {message}")]
pub struct ProfileError {
    /// The file (or other origin) named by the caller.
    pub origin: String,
    /// 1-based line of the entry at fault (0 when unknown).
    pub line: usize,
    /// The key or entry, e.g. `field #3 (member "iD")`.
    pub location: String,
    /// What is wrong.
    pub message: String,
}

/// How a profile's documents are written.
#[derive(Debug, Clone)]
pub enum Syntax {
    /// JSON; keys separated by `.` in paths.
    Json,
    /// XML; keys separated by `/` in paths.
    Xml {
        /// Root element key.
        root: String,
        /// Namespace bindings.
        namespaces: Namespaces,
    },
}

impl Syntax {
    /// The path separator of this syntax.
    pub fn separator(&self) -> char {
        match self {
            Syntax::Json => '.',
            Syntax::Xml { .. } => '/',
        }
    }

    /// Whether this is XML.
    pub fn is_xml(&self) -> bool {
        matches!(self, Syntax::Xml { .. })
    }
}

/// JSON type a field is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonType {
    String,
    Number,
    Bool,
}

/// One compiled field mapping.
#[derive(Debug, Clone)]
pub(crate) struct FieldPlan {
    pub(crate) member: Vec<Pattern>,
    pub(crate) canonical: Vec<Pattern>,
    /// Kind of each canonical path that is a leaf (None for lists and objects).
    pub(crate) kinds: Vec<Option<Kind>>,
    pub(crate) transform: Transform,
    pub(crate) constant: Option<Value>,
    pub(crate) default: Option<Value>,
    pub(crate) json_type: Option<JsonType>,
}

/// Two member list levels read as one canonical list.
#[derive(Debug, Clone)]
pub(crate) struct FlattenPlan {
    /// Member steps through the outer list's `[]`.
    pub(crate) outer: Vec<Step>,
    /// Member steps through the inner list's `[]`.
    pub(crate) inner: Vec<Step>,
    /// Pattern over the member document enumerating (outer, inner) pairs.
    pub(crate) pairs: Pattern,
    /// That pattern as text: the key its layout is kept under in the record's extensions.
    pub(crate) key: String,
    /// Canonical steps through the list's `[]`.
    pub(crate) canonical: Vec<Step>,
}

/// A compiled validation rule.
#[derive(Debug, Clone)]
pub(crate) enum RulePlan {
    Required {
        path: Pattern,
        message: Option<String>,
    },
    Allowed {
        path: Pattern,
        values: Vec<String>,
        message: Option<String>,
    },
    When {
        when: Pattern,
        equals: String,
        required: Pattern,
        message: Option<String>,
    },
}

/// A compiled profile: everything needed to translate, already checked and parsed.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Profile id.
    pub id: String,
    /// Profile version.
    pub version: String,
    /// Description.
    pub description: String,
    /// Syntax.
    pub syntax: Syntax,
    /// Input limits applied when reading documents.
    pub limits: Limits,
    pub(crate) fields: Vec<FieldPlan>,
    pub(crate) flattens: Vec<FlattenPlan>,
    pub(crate) rules: Vec<RulePlan>,
    pub(crate) member_cover: Cover,
    pub(crate) canonical_cover: Cover,
    /// Whether a field maps the record's `extensions` as a whole (the canonical profile).
    pub(crate) maps_extensions: bool,
}

impl Plan {
    /// The same plan without the profile's own validation rules (the dataset's own requirements
    /// still apply): for tools that only translate, and for round-trip tests.
    pub fn without_rules(mut self) -> Self {
        self.rules.clear();
        self
    }
}

struct Errors<'a> {
    origin: &'a str,
    source: &'a str,
    list: Vec<ProfileError>,
}

impl Errors<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.source
            .get(..offset)
            .map_or(0, |s| s.matches('\n').count() + 1)
    }

    fn push(
        &mut self,
        offset: Option<usize>,
        location: impl Into<String>,
        message: impl Into<String>,
    ) {
        let line = offset.map_or(0, |o| self.line_of(o));
        self.list.push(ProfileError {
            origin: self.origin.to_owned(),
            line,
            location: location.into(),
            message: message.into(),
        });
    }
}

fn toml_to_json(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

/// Compiles a profile from its TOML text. `origin` names the file in error messages.
pub fn compile(source: &str, origin: &str) -> Result<Plan, Vec<ProfileError>> {
    let mut errors = Errors {
        origin,
        source,
        list: Vec::new(),
    };
    let file: ProfileFile = match toml::from_str(source) {
        Ok(file) => file,
        Err(e) => {
            let offset = e.span().map(|s| s.start);
            errors.push(offset, "file", e.message().to_owned());
            return Err(errors.list);
        }
    };
    let plan = build(&file, &mut errors);
    if errors.list.is_empty() {
        plan.ok_or(errors.list)
    } else {
        Err(errors.list)
    }
}

/// Longest profile id, and longest version.
const MAX_NAME_BYTES: usize = 64;

fn build(file: &ProfileFile, errors: &mut Errors<'_>) -> Option<Plan> {
    let header = &file.profile;
    if header.id.is_empty()
        || !header
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        errors.push(
            Some(0),
            "profile.id",
            format!("{:?} must be lower-case letters, digits and '-'", header.id),
        );
    }
    // Both are stored in a unique index and written as `ID@VERSION` in every delivery.
    if header.id.len() > MAX_NAME_BYTES {
        errors.push(
            Some(0),
            "profile.id",
            format!("{} bytes: at most {MAX_NAME_BYTES}", header.id.len()),
        );
    }
    if header.version.is_empty()
        || header.version.len() > MAX_NAME_BYTES
        || !header
            .version
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'@')
    {
        errors.push(
            Some(0),
            "profile.version",
            format!(
                "{:?} must be 1 to {MAX_NAME_BYTES} printable ASCII characters, without spaces \
                 or '@' (it is written ID@VERSION)",
                header.version
            ),
        );
    }
    let syntax = match header.syntax {
        SyntaxDef::Json => {
            if header.root.is_some() || !file.namespaces.is_empty() {
                errors.push(
                    Some(0),
                    "profile.root",
                    "root and namespaces are for XML profiles only",
                );
            }
            Syntax::Json
        }
        SyntaxDef::Xml => {
            let Some(root) = header.root.clone() else {
                errors.push(
                    Some(0),
                    "profile.root",
                    "an XML profile must name its root element",
                );
                return None;
            };
            let namespaces = Namespaces::new(
                file.namespaces
                    .iter()
                    .map(|(p, u)| (p.clone(), u.clone()))
                    .collect(),
            );
            Syntax::Xml { root, namespaces }
        }
    };
    let separator = syntax.separator();

    let mut flattens = Vec::new();
    for (i, entry) in file.flatten.iter().enumerate() {
        if let Some(plan) = compile_flatten(entry, i, separator, errors) {
            flattens.push(plan);
        }
    }

    let identity_fields;
    let fields_source: Vec<(Option<usize>, String, FieldDef)> = match header.mapping.as_deref() {
        Some("identity") => {
            if header.syntax != SyntaxDef::Json {
                errors.push(
                    Some(0),
                    "profile.mapping",
                    "identity mapping is for JSON profiles",
                );
            }
            identity_fields = canonical::catalog()
                .leaves()
                .iter()
                .map(|leaf| {
                    let def = FieldDef {
                        member: Some(Paths::One(leaf.pattern.clone())),
                        canonical: Some(Paths::One(leaf.pattern.clone())),
                        transform: None,
                        style: None,
                        table: None,
                        values: None,
                        agreement: None,
                        separator: None,
                        prefix: None,
                        offset: None,
                        constant: None,
                        default: None,
                        json_type: None,
                    };
                    (None, format!("identity field {}", leaf.pattern), def)
                })
                .collect::<Vec<_>>();
            identity_fields
        }
        Some(other) => {
            errors.push(
                Some(0),
                "profile.mapping",
                format!("unknown mapping {other:?}; the only one is \"identity\""),
            );
            Vec::new()
        }
        None => Vec::new(),
    };
    let declared = file.field.iter().enumerate().map(|(i, f)| {
        let def: &FieldDef = f.get_ref();
        let first = def
            .member
            .as_ref()
            .or(def.canonical.as_ref())
            .map(|p| p.to_vec().join(", "))
            .unwrap_or_default();
        (
            Some(f.span().start),
            format!("field #{} ({first})", i + 1),
            def.clone(),
        )
    });
    let mut fields = Vec::new();
    for (offset, label, def) in fields_source.into_iter().chain(declared) {
        if let Some(plan) = compile_field(&def, &label, offset, file, &syntax, &flattens, errors) {
            fields.push(plan);
        }
    }

    let mut rules = Vec::new();
    for (i, entry) in file.rule.iter().enumerate() {
        if let Some(rule) = compile_rule(entry, i, errors) {
            rules.push(rule);
        }
    }

    let mut member_cover = Cover::default();
    let mut canonical_cover = Cover::default();
    for field in &fields {
        for p in &field.member {
            member_cover.insert(p.steps());
        }
        for p in &field.canonical {
            canonical_cover.insert(p.steps());
        }
    }
    let maps_extensions = fields.iter().any(|f| {
        f.canonical
            .iter()
            .any(|p| p.steps() == [Step::Key("extensions".into())])
    });
    Some(Plan {
        maps_extensions,
        id: header.id.clone(),
        version: header.version.clone(),
        description: header.description.clone(),
        syntax,
        limits: Limits::default(),
        fields,
        flattens,
        rules,
        member_cover,
        canonical_cover,
    })
}

fn canonical_pattern(text: &str, allow_composite: bool) -> Result<(Pattern, Option<Kind>), String> {
    let pattern = Pattern::parse(text, '.')?;
    let catalog = canonical::catalog();
    let generic = pattern.generic();
    if let Some(leaf) = catalog.leaf(&generic) {
        return Ok((pattern, Some(leaf.kind.clone())));
    }
    if catalog.contains_prefix(&generic) {
        if allow_composite {
            return Ok((pattern, None));
        }
        return Err(format!(
            "canonical path {text:?} is a group, not a field; map its fields (e.g. {generic}.…)"
        ));
    }
    Err(format!(
        "canonical path {text:?} is not in the canonical dataset (see `originhub schema canonical`)"
    ))
}

fn compile_flatten(
    entry: &Spanned<FlattenDef>,
    i: usize,
    separator: char,
    errors: &mut Errors<'_>,
) -> Option<FlattenPlan> {
    let def = entry.get_ref();
    let at = Some(entry.span().start);
    let location = format!("flatten #{}", i + 1);
    let member = match Pattern::parse(&def.member, separator) {
        Ok(p) if p.list_depth() == 2 && matches!(p.steps().last(), Some(Step::Each)) => p,
        Ok(_) => {
            errors.push(
                at,
                &location,
                format!(
                    "member {:?} must end in a list inside a list, e.g. items[].lines[]",
                    def.member
                ),
            );
            return None;
        }
        Err(e) => {
            errors.push(at, &location, format!("member {:?}: {e}", def.member));
            return None;
        }
    };
    let canonical = match canonical_pattern(&def.canonical, true) {
        Ok((p, _)) if p.list_depth() == 1 && matches!(p.steps().last(), Some(Step::Each)) => p,
        Ok(_) => {
            errors.push(
                at,
                &location,
                format!(
                    "canonical {:?} must be a top-level list such as goods_items[]",
                    def.canonical
                ),
            );
            return None;
        }
        Err(e) => {
            errors.push(at, &location, e);
            return None;
        }
    };
    Some(FlattenPlan {
        outer: member.prefix_through_list(0)?.to_vec(),
        inner: member.steps().to_vec(),
        key: member.to_string(),
        pairs: member.clone(),
        canonical: canonical.steps().to_vec(),
    })
}

/// List depth of a member pattern once flattened pairs count as one level.
pub(crate) fn effective_depth(pattern: &Pattern, flattens: &[FlattenPlan]) -> usize {
    let depth = pattern.list_depth();
    if flattens.iter().any(|f| pattern.starts_with(&f.inner)) {
        depth - 1
    } else {
        depth
    }
}

#[allow(clippy::too_many_arguments)]
fn compile_field(
    def: &FieldDef,
    label: &str,
    at: Option<usize>,
    file: &ProfileFile,
    syntax: &Syntax,
    flattens: &[FlattenPlan],
    errors: &mut Errors<'_>,
) -> Option<FieldPlan> {
    let before = errors.list.len();
    let transform = compile_transform(def, label, at, file, errors);
    let composite = matches!(
        transform,
        Some(Transform::OriginCriterion(_) | Transform::Split { .. })
    );
    let mut member = Vec::new();
    for text in def.member.as_ref().map(Paths::to_vec).unwrap_or_default() {
        match Pattern::parse(&text, syntax.separator()) {
            Ok(p) => member.push(p),
            Err(e) => errors.push(at, label, format!("member path {text:?}: {e}")),
        }
    }
    let mut canonical = Vec::new();
    let mut kinds = Vec::new();
    for text in def
        .canonical
        .as_ref()
        .map(Paths::to_vec)
        .unwrap_or_default()
    {
        match canonical_pattern(&text, composite) {
            Ok((p, kind)) => {
                canonical.push(p);
                kinds.push(kind);
            }
            Err(e) => errors.push(at, label, e),
        }
    }
    let constant = def.constant.as_ref().map(toml_to_json);
    let default = def.default.as_ref().map(toml_to_json);
    let json_type = match def.json_type.as_deref() {
        None => None,
        Some("string") => Some(JsonType::String),
        Some("number") => Some(JsonType::Number),
        Some("bool") => Some(JsonType::Bool),
        Some(other) => {
            errors.push(
                at,
                label,
                format!("json_type {other:?} must be string, number or bool"),
            );
            None
        }
    };
    let transform = transform.unwrap_or(Transform::Copy);
    if errors.list.len() > before {
        return None;
    }
    match (member.is_empty(), canonical.is_empty(), &constant) {
        (true, true, _) => errors.push(
            at,
            label,
            "a field needs a member path, a canonical path, or both",
        ),
        (false, true, None) => errors.push(
            at,
            label,
            "a member path without a canonical path needs a constant",
        ),
        (true, false, None) => errors.push(
            at,
            label,
            "a canonical path without a member path needs a constant",
        ),
        (false, false, Some(_)) => errors.push(
            at,
            label,
            "constant is for one-sided fields; use default for a fallback value",
        ),
        (false, true, Some(_)) | (true, false, Some(_)) => {
            if member.iter().chain(&canonical).any(|p| p.list_depth() > 0) {
                errors.push(at, label, "constants are supported outside lists only");
            }
        }
        (false, false, None) => {
            let (member_arity, canonical_arity) = transform.arity();
            if member.len() != member_arity || !canonical_arity.contains(&canonical.len()) {
                errors.push(
                    at,
                    label,
                    format!(
                        "transform {} takes {member_arity} member path(s) and {} canonical path(s), got {} and {}",
                        def.transform.as_deref().unwrap_or("copy"),
                        if canonical_arity.start() == canonical_arity.end() { canonical_arity.start().to_string() } else { format!("{}-{}", canonical_arity.start(), canonical_arity.end()) },
                        member.len(),
                        canonical.len()
                    ),
                );
            }
            let member_depths: Vec<usize> = member
                .iter()
                .map(|p| effective_depth(p, flattens))
                .collect();
            let canonical_depths: Vec<usize> = canonical.iter().map(Pattern::list_depth).collect();
            let all_same = |d: &[usize]| d.windows(2).all(|w| w[0] == w[1]);
            if !all_same(&member_depths)
                || !all_same(&canonical_depths)
                || member_depths.first() != canonical_depths.first()
            {
                errors.push(
                    at,
                    label,
                    format!("member and canonical paths must cross the same number of lists ([]): member {member_depths:?}, canonical {canonical_depths:?}"),
                );
            }
            for flatten in flattens {
                let under = member.iter().any(|p| p.starts_with(&flatten.outer));
                if under && !canonical.iter().all(|p| p.starts_with(&flatten.canonical)) {
                    errors.push(
                        at,
                        label,
                        format!(
                            "member paths under a flattened list must map into {}",
                            crate::tree::path::concrete(&flatten.canonical, &[], '.')
                        ),
                    );
                }
            }
            if default.is_some() && member.iter().any(|p| p.list_depth() > 0) {
                errors.push(at, label, "defaults are supported outside lists only");
            }
        }
    }
    // A constant or default on the canonical side must be a valid canonical value.
    for value in [&constant, &default].into_iter().flatten() {
        if member.is_empty()
            && let Some(Some(kind)) = kinds.first()
            && let Err(failure) = kind.check(value.clone())
        {
            errors.push(
                at,
                label,
                format!(
                    "{value} is not a valid canonical value: {}: expected {}",
                    failure.rule, failure.expected
                ),
            );
        }
    }
    if errors.list.len() > before {
        return None;
    }
    Some(FieldPlan {
        member,
        canonical,
        kinds,
        transform,
        constant,
        default,
        json_type,
    })
}

fn code_table(name: &str, table: &toml::Table) -> Result<CodeTable, String> {
    let mut entries = Vec::new();
    for (printed, value) in table {
        match value {
            toml::Value::String(_) | toml::Value::Boolean(_) | toml::Value::Integer(_) => {
                entries.push((printed.clone(), toml_to_json(value)))
            }
            other => {
                return Err(format!(
                    "code {printed:?} in table {name} maps to {}, expected text, true/false or a number",
                    toml_to_json(other)
                ));
            }
        }
    }
    if entries.is_empty() {
        return Err(format!("code table {name} is empty"));
    }
    Ok(CodeTable::new(name.to_owned(), entries))
}

fn compile_transform(
    def: &FieldDef,
    label: &str,
    at: Option<usize>,
    file: &ProfileFile,
    errors: &mut Errors<'_>,
) -> Option<Transform> {
    let name = def.transform.as_deref()?;
    let mut fail = |message: String| {
        errors.push(at, label, message);
        None
    };
    let separator = def.separator.clone();
    Some(match name {
        "country" => match def.style.as_deref().unwrap_or("alpha2") {
            "alpha2" => Transform::Country(CountryStyle::Alpha2),
            "alpha3" => Transform::Country(CountryStyle::Alpha3),
            "name" => Transform::Country(CountryStyle::Name),
            other => {
                return fail(format!(
                    "country style {other:?} must be alpha2, alpha3 or name"
                ));
            }
        },
        "hs" => match def.style.as_deref().unwrap_or("plain") {
            "plain" => Transform::Hs { dotted: false },
            "dotted" => Transform::Hs { dotted: true },
            other => return fail(format!("hs style {other:?} must be plain or dotted")),
        },
        "code_list" => {
            let table = match (&def.table, &def.values) {
                (Some(table), None) => match file.code_lists.get(table) {
                    Some(entries) => code_table(table, entries),
                    None => Err(format!(
                        "code table {table:?} is not defined under [code_lists]"
                    )),
                },
                (None, Some(values)) => code_table("(inline values)", values),
                _ => Err(
                    "code_list needs exactly one of table = \"NAME\" or values = { ... }"
                        .to_owned(),
                ),
            };
            match table {
                Ok(table) => Transform::CodeList(Arc::new(table)),
                Err(e) => return fail(e),
            }
        }
        "origin_criterion" => {
            let shipped = def
                .agreement
                .as_deref()
                .map(|a| (a, codelists::agreement_criteria(a)));
            let (criteria, modifiers) = match (shipped, &def.table) {
                (Some((a, None)), _) => {
                    return fail(format!("agreement {a:?} has no shipped criteria table"));
                }
                (Some((_, Some(shipped))), None) => {
                    (shipped.criteria.clone(), shipped.modifiers.clone())
                }
                (shipped, Some(table)) => {
                    let Some(entries) = file.code_lists.get(table) else {
                        return fail(format!(
                            "code table {table:?} is not defined under [code_lists]"
                        ));
                    };
                    let mut pairs = Vec::new();
                    for (printed, canonical) in entries {
                        match canonical.as_str() {
                            Some(c) if codelists::is_canonical_criterion(c) => {
                                pairs.push((printed.as_str(), c))
                            }
                            _ => {
                                return fail(format!(
                                    "code {printed:?} in table {table} maps to {}, which is not a canonical origin criterion",
                                    toml_to_json(canonical)
                                ));
                            }
                        }
                    }
                    let modifiers = shipped
                        .and_then(|(_, s)| s)
                        .map(|s| s.modifiers.clone())
                        .unwrap_or_default();
                    (CriterionTable::from_pairs(pairs), modifiers)
                }
                (None, None) => {
                    return fail(
                        "origin_criterion needs agreement = \"NAME\" or table = \"NAME\""
                            .to_owned(),
                    );
                }
            };
            Transform::OriginCriterion(Arc::new(CriterionCodes {
                criteria,
                modifiers,
                separator: separator.unwrap_or_else(|| " ".into()),
            }))
        }
        "date_time_split" => Transform::DateTimeSplit,
        "date_only" => {
            let offset = def.offset.clone().unwrap_or_else(|| "Z".into());
            if Kind::DateTime
                .check_str(&format!("2000-01-01T00:00:00{offset}"))
                .is_err()
            {
                return fail(format!("offset {offset:?} must be Z or ±HH:MM"));
            }
            Transform::DateOnly { offset }
        }
        "date" => Transform::Date,
        "measure_text" => Transform::MeasureText,
        "unit_text" => match &def.table {
            None => Transform::UnitText(None),
            Some(table) => match file
                .code_lists
                .get(table)
                .map(|entries| code_table(table, entries))
            {
                Some(Ok(table)) => Transform::UnitText(Some(Arc::new(table))),
                Some(Err(e)) => return fail(e),
                None => {
                    return fail(format!(
                        "code table {table:?} is not defined under [code_lists]"
                    ));
                }
            },
        },
        "scheme_id" => Transform::SchemeId {
            separator: separator.unwrap_or_else(|| ":".into()),
        },
        "prefix" => match &def.prefix {
            Some(prefix) if !prefix.is_empty() => Transform::Prefix(prefix.clone()),
            _ => return fail("prefix needs prefix = \"...\"".to_owned()),
        },
        "split" => Transform::Split {
            separator: separator.unwrap_or_else(|| "\n".into()),
        },
        "percent" => Transform::Percent,
        other => {
            return fail(format!(
                "unknown transform {other:?}; known: country, hs, code_list, origin_criterion, date_time_split, date_only, date, measure_text, unit_text, scheme_id, prefix, split, percent"
            ));
        }
    })
}

fn compile_rule(entry: &Spanned<RuleDef>, i: usize, errors: &mut Errors<'_>) -> Option<RulePlan> {
    let def = entry.get_ref();
    let at = Some(entry.span().start);
    let location = format!("rule #{}", i + 1);
    let mut path = |text: &str| match canonical_pattern(text, true) {
        Ok((p, _)) => Some(p),
        Err(e) => {
            errors.push(at, &location, e);
            None
        }
    };
    let message = def.message.clone();
    match (
        &def.required,
        &def.field,
        &def.allowed,
        &def.when,
        &def.equals,
    ) {
        (Some(required), None, None, None, None) => Some(RulePlan::Required {
            path: path(required)?,
            message,
        }),
        (None, Some(field), Some(values), None, None) => Some(RulePlan::Allowed {
            path: path(field)?,
            values: values.clone(),
            message,
        }),
        (Some(required), None, None, Some(when), Some(equals)) => {
            let (when, required) = (path(when), path(required));
            Some(RulePlan::When {
                when: when?,
                equals: equals.clone(),
                required: required?,
                message,
            })
        }
        _ => {
            errors.push(at, &location, "a rule is one of: required = P; field = P with allowed = [...]; when = P with equals = V and required = Q");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "[profile]\nid = \"t\"\nversion = \"1\"\nsyntax = \"json\"\n";

    #[test]
    fn errors_name_the_line_and_entry() {
        let source = format!(
            r#"
{HEADER}
[[field]]
member = "a"
canonical = "id"

[[field]]
member = "b"
canonical = "goods_items[].hs_code"

[[field]]
member = "c[]"
canonical = "goods_items[].hs_cod"
"#
        );
        let errors = compile(&source, "t.toml").unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0].line, 11);
        assert!(
            errors[0].message.contains("same number of lists"),
            "{}",
            errors[0]
        );
        assert!(
            errors[1].message.contains("not in the canonical dataset"),
            "{}",
            errors[1]
        );
        assert!(
            errors[0].to_string().starts_with("t.toml:11: field #2"),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn toml_syntax_errors_have_lines() {
        let errors = compile("[profile]\nid = \"t\"\nversion = 1 2\n", "x.toml").unwrap_err();
        assert_eq!(errors[0].line, 3, "{errors:?}");
        let errors = compile(
            "[profile]\nid = \"t\"\nversion = \"1\"\nsyntax = \"json\"\nbogus = 1\n",
            "x.toml",
        )
        .unwrap_err();
        assert!(errors[0].message.contains("bogus"), "{errors:?}");
    }

    #[test]
    fn ids_and_versions_fit_an_index_and_the_id_at_version_notation() {
        let header = |id: &str, version: &str| {
            format!("[profile]\nid = \"{id}\"\nversion = \"{version}\"\nsyntax = \"json\"\n")
        };
        let refused = |id: &str, version: &str| -> Vec<String> {
            compile(&header(id, version), "x.toml")
                .err()
                .unwrap_or_default()
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        let long = "a".repeat(65);
        assert!(
            refused(&long, "1")[0].contains("65 bytes: at most 64"),
            "{:?}",
            refused(&long, "1")
        );
        for version in ["", "1.0@beta", "1 0", &long] {
            let errors = refused("t", version);
            assert!(
                errors.iter().any(|e| e.contains("profile.version")),
                "{version:?}: {errors:?}"
            );
        }
        for (id, version) in [
            ("t", "1.0.0-rc.1+build"),
            (&*"a".repeat(64), &*"9".repeat(64)),
        ] {
            let errors = refused(id, version);
            assert!(
                errors
                    .iter()
                    .all(|e| !e.contains("profile.id") && !e.contains("profile.version")),
                "{errors:?}"
            );
        }
    }

    #[test]
    fn transforms_are_checked() {
        let source = format!(
            r#"
{HEADER}
[[field]]
member = "c"
canonical = "export_country"
transform = "country"
style = "klingon"

[[field]]
member = "d"
canonical = "agreement"
transform = "teleport"

[[field]]
canonical = "export_country"
constant = "XX"
"#
        );
        let errors = compile(&source, "t.toml").unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].message.contains("klingon"));
        assert!(errors[1].message.contains("unknown transform"));
        assert!(errors[2].message.contains("country-code"));
    }
}
