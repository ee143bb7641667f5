//! Canonical record → member document.

use serde_json::Value;

use super::index::{LAYOUT_KEY, to_member};
use super::read::{Refs, as_value, gather};
use super::transform::scalar_text;
use super::{Canonical, Loss};
use crate::profile::compile::{FieldPlan, JsonType};
use crate::profile::{Plan, Syntax};
use crate::tree::path::concrete;
use crate::tree::{Node, Pattern, Step, xml};

impl Plan {
    /// Writes a canonical record as a document of this profile, and lists what it could not
    /// express. Extensions this profile put into the record are written back where they were.
    pub fn write(&self, canonical: &Canonical) -> (Vec<u8>, Vec<Loss>) {
        let record = canonical.node();
        let mut out = Node::object();
        let mut losses = Vec::new();
        let layouts = self.layouts(record);
        for field in &self.fields {
            self.write_field(field, record, &layouts, &mut out, &mut losses);
        }
        self.canonical_cover
            .uncovered(record, '.', false, &mut |path, _| {
                if path != "extensions" {
                    losses.push(Loss {
                        path,
                        reason: format!("no field of profile {} maps it", self.id),
                    });
                }
            });
        if let Some(Node::Object(extensions)) = record.get("extensions") {
            for (origin, entries) in extensions {
                let Node::Object(entries) = entries else {
                    continue;
                };
                for (path, value) in entries {
                    if **path == *LAYOUT_KEY {
                        continue;
                    }
                    if **origin == *self.id {
                        if let Ok(pattern) = Pattern::parse(path, self.syntax.separator()) {
                            pattern.set(&mut out, &[], value.clone(), self.syntax.is_xml());
                        }
                    } else if !self.maps_extensions {
                        losses.push(Loss {
                            path: format!("extensions.{origin}.{path}"),
                            reason: format!(
                                "kept from profile {origin}; profile {} has no place for it",
                                self.id
                            ),
                        });
                    }
                }
            }
        }
        fill_holes(&mut out);
        let bytes = match &self.syntax {
            Syntax::Json => {
                let mut bytes = Vec::with_capacity(32 * 1024);
                let _ = serde_json::to_writer_pretty(&mut bytes, &out);
                bytes
            }
            Syntax::Xml { root, namespaces } => xml::write(&out, namespaces, root).into_bytes(),
        };
        (bytes, losses)
    }

    /// The layouts this profile recorded when it read the record, where they still fit it.
    fn layouts(&self, record: &Node) -> Vec<Option<Vec<(usize, usize)>>> {
        let saved = record
            .get("extensions")
            .and_then(|e| e.get(&self.id))
            .and_then(|e| e.get(LAYOUT_KEY));
        self.flattens
            .iter()
            .map(|flatten| {
                let pairs = super::index::decode_layout(saved?.get(&flatten.key)?.as_str()?);
                let count = crate::tree::path::count_matches(&flatten.canonical, record);
                pairs.filter(|p| p.len() == count)
            })
            .collect()
    }

    fn write_field(
        &self,
        field: &FieldPlan,
        record: &Node,
        layouts: &[Option<Vec<(usize, usize)>>],
        out: &mut Node,
        losses: &mut Vec<Loss>,
    ) {
        let xml = self.syntax.is_xml();
        if field.canonical.is_empty() {
            if let (Some(value), Some(pattern)) = (&field.constant, field.member.first()) {
                pattern.set(
                    out,
                    &[],
                    Node::from(self.member_type(field, value.clone())),
                    xml,
                );
            }
            return;
        }
        if field.member.is_empty() {
            if let (Some(constant), Some(pattern)) = (&field.constant, field.canonical.first()) {
                pattern.for_each_match(record, &mut |idx, node| {
                    if node.as_scalar() != Some(constant) {
                        losses.push(Loss {
                            path: pattern.concrete(idx),
                            reason: format!(
                                "{} differs from {constant}, which profile {} always means",
                                node.to_value(),
                                self.id
                            ),
                        });
                    }
                });
            }
            return;
        }
        let inputs = gather(&field.canonical, record, as_value);
        if inputs.is_empty()
            && let Some(default) = &field.default
        {
            for pattern in &field.member {
                pattern.set(
                    out,
                    &[],
                    Node::from(self.member_type(field, default.clone())),
                    xml,
                );
            }
            return;
        }
        for (idx, values) in inputs {
            let refs: Refs<'_> = values.iter().map(|v| v.as_deref()).collect();
            let (outputs, loss) = field.transform.reverse(&refs);
            if let Some(reason) = loss {
                // The field is written (or not) as a whole, so the loss concerns all its paths.
                for (pattern, value) in field.canonical.iter().zip(&refs) {
                    if value.is_some() {
                        losses.push(Loss {
                            path: loss_path(pattern, &idx),
                            reason: reason.clone(),
                        });
                    }
                }
            }
            for (pattern, output) in field.member.iter().zip(outputs) {
                if let Some(value) = output {
                    let member_idx = to_member(&self.flattens, layouts, pattern, &idx);
                    pattern.set(
                        out,
                        &member_idx,
                        Node::from(self.member_type(field, value)),
                        xml,
                    );
                }
            }
        }
    }

    fn member_type(&self, field: &FieldPlan, value: Value) -> Value {
        if self.syntax.is_xml() {
            return match value {
                Value::String(_) => value,
                other => scalar_text(&other).map_or(other, Value::String),
            };
        }
        match field.json_type {
            None => value,
            Some(JsonType::String) => scalar_text(&value).map_or(value, Value::String),
            Some(JsonType::Number) => match &value {
                Value::String(s) => s
                    .parse::<serde_json::Number>()
                    .map_or(value.clone(), Value::Number),
                _ => value,
            },
            Some(JsonType::Bool) => match value.as_str() {
                Some("true") => Value::Bool(true),
                Some("false") => Value::Bool(false),
                _ => value,
            },
        }
    }
}

/// Where a loss is reported: an element of a list of codes or texts is reported as the whole
/// list, because the elements after it move up and the list as a whole no longer says the same.
fn loss_path(pattern: &Pattern, idx: &[usize]) -> String {
    match pattern.steps().split_last() {
        Some((Step::Each, parent)) => concrete(parent, idx, '.'),
        _ => pattern.concrete(idx),
    }
}

/// Lists written sparsely (an element none of whose fields had a value) are closed up: lists of
/// scalars lose the gap, lists of objects get an empty object there (so later elements keep
/// their places).
pub(crate) fn fill_holes(node: &mut Node) {
    match node {
        Node::Array(items) => {
            if items
                .iter()
                .all(|item| matches!(item, Node::Null | Node::Scalar(_)))
            {
                items.retain(|item| !item.is_null());
            }
            for item in items {
                if item.is_null() {
                    *item = Node::object();
                } else {
                    fill_holes(item);
                }
            }
        }
        Node::Object(entries) => entries.iter_mut().for_each(|(_, v)| fill_holes(v)),
        _ => {}
    }
}
