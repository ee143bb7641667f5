//! Member document → canonical record.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::index::Numbering;
use super::transform::scalar_text;
use super::{Canonical, TranslateError, Violation};
use crate::canonical::{self, Certificate};
use crate::limits::InputError;
use crate::profile::compile::FieldPlan;
use crate::profile::{Plan, Syntax};
use crate::tree::{Pattern, TEXT_KEY, xml};

/// Collects what a read produces besides the record.
pub(super) struct ReadState<'p> {
    pub(super) plan: &'p Plan,
    pub(super) numbering: Numbering<'p>,
    pub(super) violations: Vec<Violation>,
}

impl ReadState<'_> {
    pub(super) fn violation(
        &mut self,
        path: String,
        rule: &str,
        value: Option<&Value>,
        message: String,
    ) {
        let value = value.map(|v| scalar_text(v).unwrap_or_else(|| v.to_string()));
        self.violations.push(Violation {
            path,
            rule: rule.to_owned(),
            value,
            message,
        });
    }
}

impl Plan {
    /// Parses a document in this profile's syntax into its tree.
    pub fn parse(&self, input: &[u8]) -> Result<Value, InputError> {
        self.limits.check_size(input)?;
        match &self.syntax {
            Syntax::Json => {
                self.limits.check_json_depth(input)?;
                let value: Value =
                    serde_json::from_slice(input).map_err(|e| InputError::Malformed {
                        syntax: "JSON",
                        message: e.to_string(),
                    })?;
                match value {
                    Value::Object(_) => Ok(value),
                    other => Err(InputError::NotAnObject {
                        found: json_type_name(&other),
                    }),
                }
            }
            Syntax::Xml { root, namespaces } => xml::read(input, namespaces, root, &self.limits),
        }
    }

    /// Reads a member document into a validated canonical record. Also returns the source paths
    /// that went to the record's extensions because no field maps them.
    pub fn read(&self, input: &[u8]) -> Result<(Canonical, Vec<String>), TranslateError> {
        let tree = self.parse(input)?;
        let mut state = ReadState {
            plan: self,
            numbering: Numbering::new(&self.flattens, Some(&tree)),
            violations: Vec::new(),
        };
        let mut record = Value::Object(Map::new());
        let mut kept: Vec<(String, Value)> = Vec::new();
        for field in &self.fields {
            read_field(&mut state, field, &tree, &mut record, &mut kept);
        }
        let xml = self.syntax.is_xml();
        self.member_cover
            .uncovered(&tree, self.syntax.separator(), xml, &mut |path, value| {
                kept.push((path, value.clone()))
            });
        let to_extensions: Vec<String> = kept.iter().map(|(p, _)| p.clone()).collect();
        let layouts = state.numbering.layouts();
        if !layouts.is_empty() {
            let layouts: Map<String, Value> = layouts
                .into_iter()
                .map(|(pattern, pairs)| {
                    (
                        pattern,
                        pairs
                            .into_iter()
                            .map(|(i, j)| Value::from(vec![i, j]))
                            .collect(),
                    )
                })
                .collect();
            kept.push((super::index::LAYOUT_KEY.to_owned(), Value::Object(layouts)));
        }
        if !kept.is_empty() {
            let extensions = record.as_object_mut().map(|r| {
                r.entry("extensions")
                    .or_insert_with(|| Value::Object(Map::new()))
            });
            if let Some(Value::Object(extensions)) = extensions {
                let mine = extensions
                    .entry(self.id.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(mine) = mine {
                    mine.extend(kept);
                }
            }
        }
        super::write::fill_holes(&mut record);
        super::rules::check(&mut state, &record);
        if state.violations.is_empty()
            && let Err(e) = <Certificate as serde::Deserialize>::deserialize(&record)
        {
            state.violation(
                "(canonical record)".into(),
                "canonical-structure",
                None,
                e.to_string(),
            );
        }
        if state.violations.is_empty() {
            Ok((Canonical(record), to_extensions))
        } else {
            Err(TranslateError::Invalid(state.violations))
        }
    }
}

fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A member value as the transforms see it: XML text unwrapped, blank text as absent.
fn member_value(value: &Value, xml: bool) -> Option<Value> {
    let value = match value {
        // An element with attributes or children: its text, if it has any.
        Value::Object(map) if xml => map.get(TEXT_KEY)?,
        other => other,
    };
    match value {
        Value::String(s) if s.trim().is_empty() => None,
        Value::Null => None,
        other => Some(other.clone()),
    }
}

type Inputs = Vec<(Vec<usize>, Vec<Option<Value>>)>;

fn gather(field: &FieldPlan, tree: &Value, xml: bool) -> Inputs {
    if let [only] = field.member.as_slice() {
        let mut found = Vec::new();
        only.for_each_match(tree, &mut |idx, v| {
            found.push((idx.to_vec(), vec![member_value(v, xml)]))
        });
        return found;
    }
    let mut by_index: BTreeMap<Vec<usize>, Vec<Option<Value>>> = BTreeMap::new();
    for (i, pattern) in field.member.iter().enumerate() {
        pattern.for_each_match(tree, &mut |idx, v| {
            by_index
                .entry(idx.to_vec())
                .or_insert_with(|| vec![None; field.member.len()])[i] = member_value(v, xml);
        });
    }
    by_index.into_iter().collect()
}

fn read_field(
    state: &mut ReadState<'_>,
    field: &FieldPlan,
    tree: &Value,
    record: &mut Value,
    kept: &mut Vec<(String, Value)>,
) {
    let xml = state.plan.syntax.is_xml();
    if field.member.is_empty() {
        // A canonical constant.
        if let (Some(value), Some(pattern)) = (&field.constant, field.canonical.first()) {
            pattern.set(record, &[], value.clone(), false);
        }
        return;
    }
    if field.canonical.is_empty() {
        // A member constant: the document may carry it, and then it must be that value.
        if let (Some(constant), Some(pattern)) = (&field.constant, field.member.first()) {
            pattern.for_each_match(tree, &mut |idx, value| {
                if member_value(value, xml)
                    .is_some_and(|v| v != *constant && scalar_text(&v) != scalar_text(constant))
                {
                    let message = format!("expected the constant {constant}");
                    state.violations.push(super::Violation {
                        path: pattern.concrete(idx),
                        rule: "constant".into(),
                        value: Some(scalar_text(value).unwrap_or_else(|| value.to_string())),
                        message,
                    });
                }
            });
        }
        return;
    }
    let mut inputs = gather(field, tree, xml);
    if inputs
        .iter()
        .all(|(_, values)| values.iter().all(Option::is_none))
        && let Some(default) = &field.default
    {
        inputs = vec![(Vec::new(), vec![Some(default.clone()); field.member.len()])];
    }
    for (idx, values) in inputs {
        if values.iter().all(Option::is_none) {
            continue;
        }
        let outputs = match field.transform.forward(&values) {
            Ok(outputs) => outputs,
            Err(e) => {
                let path = field.member[e.input.min(field.member.len() - 1)].concrete(&idx);
                let value = values.get(e.input).cloned().flatten();
                state.violation(
                    path,
                    e.rule,
                    value.as_ref(),
                    format!("expected {}", e.expected),
                );
                continue;
            }
        };
        let targets = state.numbering.to_canonical(&field.member[0], &idx);
        if targets.is_empty() {
            // An outer list element with no inner elements: nowhere to put it, so keep it.
            for (pattern, value) in field.member.iter().zip(&values) {
                if let Some(value) = value {
                    kept.push((pattern.concrete(&idx), value.clone()));
                }
            }
            continue;
        }
        let source_path = field.member[0].concrete(&idx);
        let source_value = values.iter().flatten().next().cloned();
        for (i, output) in outputs.into_iter().enumerate() {
            let Some(output) = output else { continue };
            let (Some(pattern), Some(kind)) = (field.canonical.get(i), field.kinds.get(i)) else {
                continue;
            };
            let checked = match kind {
                Some(kind) => kind.check(&output).map_err(|f| vec![(f.rule, f.expected)]),
                None => check_subtree(pattern, output),
            };
            match checked {
                Ok(value) => {
                    for target in &targets {
                        pattern.set(record, target, value.clone(), false);
                    }
                }
                Err(failures) => {
                    for (rule, expected) in failures {
                        state.violation(
                            source_path.clone(),
                            rule,
                            source_value.as_ref(),
                            format!("expected {expected}"),
                        );
                    }
                }
            }
        }
    }
}

/// Checks every leaf of a composite value written at `pattern` against the catalog.
fn check_subtree(pattern: &Pattern, value: Value) -> Result<Value, Vec<(&'static str, String)>> {
    let generic = pattern.generic();
    let mut failures = Vec::new();
    let checked = check_value(&generic, value, &mut failures);
    if failures.is_empty() {
        Ok(checked)
    } else {
        Err(failures)
    }
}

fn check_value(path: &str, value: Value, failures: &mut Vec<(&'static str, String)>) -> Value {
    if let Some(leaf) = canonical::catalog().leaf(path) {
        return match leaf.kind.check(&value) {
            Ok(v) => v,
            Err(f) => {
                failures.push((f.rule, format!("{} at {path}", f.expected)));
                value
            }
        };
    }
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let child = check_value(&format!("{path}.{k}"), v, failures);
                    (k, child)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| check_value(&format!("{path}[]"), v, failures))
                .collect(),
        ),
        other => {
            failures.push((
                "canonical-field",
                format!("a canonical field, but {path} is not one"),
            ));
            other
        }
    }
}
