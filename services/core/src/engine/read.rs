//! Member document → canonical record.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::Value;
use smallvec::{SmallVec, smallvec};

use super::index::{Idx, Numbering};
use super::transform::scalar_text;
use super::{Canonical, TranslateError, Violation};
use crate::canonical::{self, Certificate};
use crate::limits::InputError;
use crate::profile::compile::FieldPlan;
use crate::profile::{Plan, Syntax};
use crate::tree::{Key, Node, Pattern, TEXT_KEY, xml};

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
    pub fn parse(&self, input: &[u8]) -> Result<Node, InputError> {
        self.limits.check_size(input)?;
        match &self.syntax {
            Syntax::Json => {
                let node: Node = serde_json::from_slice(input).map_err(|e| {
                    // The parser's own nesting guard (128 levels) is the same refusal as ours.
                    if e.to_string().starts_with("recursion limit exceeded") {
                        let at = format!("line {} column {}", e.line(), e.column());
                        InputError::TooDeep {
                            limit: self.limits.max_depth,
                            at,
                        }
                    } else {
                        InputError::Malformed {
                            syntax: "JSON",
                            message: e.to_string(),
                        }
                    }
                })?;
                if let Some(at) = node.deeper_than(self.limits.max_depth) {
                    return Err(InputError::TooDeep {
                        limit: self.limits.max_depth,
                        at,
                    });
                }
                match node {
                    Node::Object(_) => Ok(node),
                    other => Err(InputError::NotAnObject {
                        found: node_type_name(&other),
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
        let mut record = Node::object();
        let mut kept: Vec<(String, Node)> = Vec::new();
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
            let layouts = layouts
                .into_iter()
                .map(|(pattern, pairs)| {
                    (
                        Key::from(pattern),
                        Node::Scalar(Value::String(super::index::encode_layout(&pairs))),
                    )
                })
                .collect();
            kept.push((super::index::LAYOUT_KEY.to_owned(), Node::Object(layouts)));
        }
        if !kept.is_empty() {
            let mine = record.entry("extensions").entry(&self.id);
            match mine {
                Node::Object(entries) if !entries.is_empty() => {
                    for (path, value) in kept {
                        *mine.entry(&path) = value;
                    }
                }
                _ => {
                    *mine = Node::Object(
                        kept.into_iter()
                            .map(|(path, value)| (Key::from(path), value))
                            .collect(),
                    )
                }
            }
        }
        super::write::fill_holes(&mut record);
        super::rules::check(&mut state, &record);
        // The catalog checks every leaf and the rules every required field, so the record
        // always has the typed shape; debug builds (tests, fuzzing) prove it on every read.
        if cfg!(debug_assertions)
            && state.violations.is_empty()
            && let Err(e) = serde_json::from_value::<Certificate>(record.to_value())
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

fn node_type_name(node: &Node) -> &'static str {
    match node {
        Node::Null => "null",
        Node::Scalar(Value::Bool(_)) => "a boolean",
        Node::Scalar(Value::Number(_)) => "a number",
        Node::Scalar(_) => "a string",
        Node::Array(_) => "an array",
        Node::Object(_) => "an object",
    }
}

/// A value as the transforms see it: scalars borrowed, lists and objects (which only composite
/// fields take) converted.
pub(super) fn as_value(node: &Node) -> Option<Cow<'_, Value>> {
    match node {
        Node::Null => None,
        Node::Scalar(v) => Some(Cow::Borrowed(v)),
        other => Some(Cow::Owned(other.to_value())),
    }
}

/// A member value as the transforms see it: XML text unwrapped, blank text as absent.
fn member_value(node: &Node, xml: bool) -> Option<Cow<'_, Value>> {
    let node = match node {
        // An element with attributes or children: its text, if it has any.
        Node::Object(_) if xml => node.get(TEXT_KEY)?,
        other => other,
    };
    match node {
        Node::Scalar(Value::String(s)) if s.trim().is_empty() => None,
        other => as_value(other),
    }
}

/// Inputs of one transform call: one value per path, on the stack.
pub(super) type Refs<'a> = SmallVec<[Option<&'a Value>; 2]>;

/// The values at each of `patterns`, grouped by list indices (the values of one list element
/// stay together), each passed through `take`.
pub(super) fn gather<'v, T: Clone>(
    patterns: &[Pattern],
    tree: &'v Node,
    take: impl Fn(&'v Node) -> Option<T>,
) -> Vec<(Idx, SmallVec<[Option<T>; 2]>)> {
    if let [only] = patterns {
        let mut found = Vec::new();
        only.for_each_match(tree, &mut |idx, v| {
            found.push((Idx::from_slice(idx), smallvec![take(v)]))
        });
        return found;
    }
    let mut by_index: BTreeMap<Idx, SmallVec<[Option<T>; 2]>> = BTreeMap::new();
    for (i, pattern) in patterns.iter().enumerate() {
        pattern.for_each_match(tree, &mut |idx, v| {
            by_index
                .entry(Idx::from_slice(idx))
                .or_insert_with(|| smallvec![None; patterns.len()])[i] = take(v);
        });
    }
    by_index.into_iter().collect()
}

fn read_field(
    state: &mut ReadState<'_>,
    field: &FieldPlan,
    tree: &Node,
    record: &mut Node,
    kept: &mut Vec<(String, Node)>,
) {
    let xml = state.plan.syntax.is_xml();
    if field.member.is_empty() {
        // A canonical constant.
        if let (Some(value), Some(pattern)) = (&field.constant, field.canonical.first()) {
            pattern.set(record, &[], Node::from(value.clone()), false);
        }
        return;
    }
    if field.canonical.is_empty() {
        // A member constant: the document may carry it, and then it must be that value.
        if let (Some(constant), Some(pattern)) = (&field.constant, field.member.first()) {
            pattern.for_each_match(tree, &mut |idx, node| {
                if let Some(v) = member_value(node, xml)
                    && *v != *constant
                    && scalar_text(&v) != scalar_text(constant)
                {
                    let value = Some(scalar_text(&v).unwrap_or_else(|| v.to_string()));
                    let message = format!("expected the constant {constant}");
                    state.violations.push(Violation {
                        path: pattern.concrete(idx),
                        rule: "constant".into(),
                        value,
                        message,
                    });
                }
            });
        }
        return;
    }
    let mut inputs = gather(&field.member, tree, |v| member_value(v, xml));
    if inputs
        .iter()
        .all(|(_, values)| values.iter().all(Option::is_none))
        && let Some(default) = &field.default
    {
        inputs = vec![(
            Idx::new(),
            smallvec![Some(Cow::Borrowed(default)); field.member.len()],
        )];
    }
    for (idx, values) in inputs {
        if values.iter().all(Option::is_none) {
            continue;
        }
        let refs: Refs<'_> = values.iter().map(|v| v.as_deref()).collect();
        let outputs = match field.transform.forward(&refs) {
            Ok(outputs) => outputs,
            Err(e) => {
                let path = field.member[e.input.min(field.member.len() - 1)].concrete(&idx);
                state.violation(
                    path,
                    e.rule,
                    refs.get(e.input).copied().flatten(),
                    format!("expected {}", e.expected),
                );
                continue;
            }
        };
        let targets = state.numbering.to_canonical(&field.member[0], &idx);
        if targets.is_empty() {
            // An outer list element with no inner elements: nowhere to put it, so keep it.
            for (pattern, value) in field.member.iter().zip(&refs) {
                if let Some(value) = value {
                    kept.push((pattern.concrete(&idx), Node::from((*value).clone())));
                }
            }
            continue;
        }
        let source_value = refs.iter().flatten().next().copied();
        for (i, output) in outputs.into_iter().enumerate() {
            let Some(output) = output else { continue };
            let (Some(pattern), Some(kind)) = (field.canonical.get(i), field.kinds.get(i)) else {
                continue;
            };
            let checked = match kind {
                Some(kind) => kind.check(output).map_err(|f| vec![(f.rule, f.expected)]),
                None => check_subtree(pattern, output),
            };
            match checked {
                Ok(value) => {
                    let value = Node::from(value);
                    if let [only] = targets.as_slice() {
                        pattern.set(record, only, value, false);
                    } else {
                        for target in &targets {
                            pattern.set(record, target, value.clone(), false);
                        }
                    }
                }
                Err(failures) => {
                    for (rule, expected) in failures {
                        let path = field.member[0].concrete(&idx);
                        state.violation(path, rule, source_value, format!("expected {expected}"));
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
        return leaf.kind.check(value).unwrap_or_else(|f| {
            failures.push((f.rule, format!("{} at {path}", f.expected)));
            Value::Null
        });
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
