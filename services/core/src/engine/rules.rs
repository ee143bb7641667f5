//! Validation rules on the canonical record: the dataset's own (required fields of present
//! objects, at least one goods item) and the profile's (required, allowed values, conditional).
//! Violations are named by the source path the profile reads the field from.

use std::sync::LazyLock;

use crate::tree::Node;

use super::read::ReadState;
use super::transform::scalar_text;
use crate::canonical;
use crate::profile::compile::RulePlan;
use crate::tree::path::{concrete, for_each_match};
use crate::tree::{Pattern, Step};

/// A field the dataset itself requires whenever its parent object is present.
struct BuiltIn {
    /// The parent object's path; `None` for the record itself.
    parent: Option<Pattern>,
    key: String,
    path: Pattern,
}

/// The dataset's own requirements, read off the catalog once.
static BUILT_IN: LazyLock<Vec<BuiltIn>> = LazyLock::new(|| {
    canonical::catalog()
        .leaves()
        .iter()
        .filter(|leaf| leaf.required)
        .filter_map(|leaf| {
            let path = Pattern::parse(&leaf.pattern, '.').ok()?;
            let (last, parent) = path.steps().split_last()?;
            let Step::Key(key) = last else { return None };
            let parent = if parent.is_empty() {
                None
            } else {
                Some(Pattern::parse(&concrete(parent, &[], '.'), '.').ok()?)
            };
            Some(BuiltIn {
                parent,
                key: key.to_string(),
                path,
            })
        })
        .collect()
});

static GOODS_ITEMS: LazyLock<Pattern> = LazyLock::new(|| pattern("goods_items[]"));

pub(super) fn check(state: &mut ReadState<'_>, record: &Node) {
    for rule in BUILT_IN.iter() {
        let mut parents: Vec<(Vec<usize>, &Node)> = Vec::new();
        match &rule.parent {
            None => parents.push((Vec::new(), record)),
            Some(parent) => {
                parent.for_each_match(record, &mut |idx, v| parents.push((idx.to_vec(), v)))
            }
        }
        for (idx, object) in parents {
            if object.get(&rule.key).is_none() {
                let path = state_path(state, &rule.path, &idx);
                if already_refused(state, &path) {
                    continue;
                }
                state.violation(
                    path,
                    "required",
                    None,
                    format!("{} is required", rule.path.concrete(&idx)),
                );
            }
        }
    }
    if !matches!(record.get("goods_items"), Some(Node::Array(items)) if !items.is_empty()) {
        let path = state_path(state, &GOODS_ITEMS, &[]);
        state.violation(
            path,
            "required",
            None,
            "a certificate lists at least one goods item".into(),
        );
    }
    for rule in &state.plan.rules {
        match rule {
            RulePlan::Required { path, message } => {
                required(state, record, path, &[], message.as_deref())
            }
            RulePlan::Allowed {
                path,
                values,
                message,
            } => {
                let mut bad = Vec::new();
                path.for_each_match(record, &mut |idx, v| {
                    let value = v.to_value();
                    let text = scalar_text(&value).unwrap_or_else(|| value.to_string());
                    if !values.contains(&text) {
                        bad.push((idx.to_vec(), value));
                    }
                });
                for (idx, v) in bad {
                    let at = state_path(state, path, &idx);
                    let text = message
                        .clone()
                        .unwrap_or_else(|| format!("expected one of {}", values.join(", ")));
                    state.violation(at, "allowed-values", Some(&v), text);
                }
            }
            RulePlan::When {
                when,
                equals,
                required: needed,
                message,
            } => {
                // The condition and the requirement share their enclosing list elements.
                let scope = common_list_prefix(when, needed);
                let depth = scope.iter().filter(|s| matches!(s, Step::Each)).count();
                let mut holds: Vec<Vec<usize>> = Vec::new();
                when.for_each_match(record, &mut |idx, v| {
                    if v.as_scalar().and_then(scalar_text).as_deref() == Some(equals.as_str()) {
                        let key = idx[..depth.min(idx.len())].to_vec();
                        if !holds.contains(&key) {
                            holds.push(key);
                        }
                    }
                });
                for idx in holds {
                    let text = message
                        .clone()
                        .unwrap_or_else(|| format!("required when {when} is {equals}"));
                    required(state, record, needed, &idx, Some(&text));
                }
            }
        }
    }
}

/// Whether a value at (or, through a list not yet indexed, below) `path` was already refused:
/// then "required" would report the same problem twice.
fn already_refused(state: &ReadState<'_>, path: &str) -> bool {
    let prefix = path.split("[]").next().unwrap_or(path);
    state
        .violations
        .iter()
        .any(|v| v.path == path || (prefix.len() < path.len() && v.path.starts_with(prefix)))
}

fn pattern(text: &str) -> Pattern {
    Pattern::parse(text, '.').unwrap_or_else(|_| unreachable!("static pattern {text}"))
}

fn common_list_prefix(a: &Pattern, b: &Pattern) -> Vec<Step> {
    let common: Vec<Step> = a
        .steps()
        .iter()
        .zip(b.steps())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x.clone())
        .collect();
    let last_list = common
        .iter()
        .rposition(|s| matches!(s, Step::Each))
        .map_or(0, |i| i + 1);
    common[..last_list].to_vec()
}

/// Checks `path` is present in every element of its enclosing lists (restricted to `within`,
/// the indices of the outer lists already chosen).
fn required(
    state: &mut ReadState<'_>,
    record: &Node,
    path: &Pattern,
    within: &[usize],
    message: Option<&str>,
) {
    let (scope, rest) = path.split_at_last_list();
    let mut elements: Vec<(Vec<usize>, &Node)> = Vec::new();
    if scope.is_empty() {
        elements.push((Vec::new(), record));
    } else {
        for_each_match(scope, record, &mut |idx, v| {
            if idx.starts_with(within) {
                elements.push((idx.to_vec(), v));
            }
        });
    }
    for (idx, element) in elements {
        let mut present = rest.is_empty() && !element.is_null();
        if !rest.is_empty() {
            for_each_match(rest, element, &mut |_, _| present = true);
        }
        if !present {
            let at = state_path(state, path, &idx);
            if already_refused(state, &at) {
                continue; // Its value was already refused; "required" would say it twice.
            }
            let text = message.map_or_else(
                || format!("{} is required", path.concrete(&idx)),
                str::to_owned,
            );
            state.violation(at, "required", None, text);
        }
    }
}

/// The source path of a canonical path: through the field that maps it (or, for a group or
/// list, the first field inside it); else the canonical path, marked as such.
fn state_path(state: &ReadState<'_>, canonical_path: &Pattern, idx: &[usize]) -> String {
    let wanted = canonical_path.generic();
    let below = |outer: &str, inner: &str| {
        inner
            .strip_prefix(outer)
            .is_some_and(|r| r.starts_with(['.', '[']))
    };
    let fields = &state.plan.fields;
    let mapped = |f: &crate::profile::compile::FieldPlan, i: usize| {
        f.member
            .get(i.min(f.member.len().saturating_sub(1)))
            .cloned()
    };
    // A field that maps this path, or a whole group around it.
    for field in fields {
        for (i, pattern) in field.canonical.iter().enumerate() {
            let generic = pattern.generic();
            if (generic == wanted || below(&generic, &wanted))
                && let Some(member) = mapped(field, i)
            {
                return member.concrete(&state.numbering.source_of(&member, idx));
            }
        }
    }
    // A group or list: where its first field is read from.
    for field in fields {
        for (i, pattern) in field.canonical.iter().enumerate() {
            if !below(&wanted, &pattern.generic()) {
                continue;
            }
            let Some(member) = mapped(field, i) else {
                continue;
            };
            let source_idx = state.numbering.source_of(&member, idx);
            if matches!(canonical_path.steps().last(), Some(Step::Each)) {
                let inner_lists = pattern.list_depth() - canonical_path.list_depth();
                if let Some(n) = member.list_depth().checked_sub(inner_lists + 1)
                    && let Some(steps) = member.prefix_through_list(n)
                {
                    return concrete(steps, &source_idx, state.plan.syntax.separator());
                }
            }
            return member.concrete(&source_idx);
        }
    }
    format!(
        "{} (canonical; profile {} does not map it)",
        canonical_path.concrete(idx),
        state.plan.id
    )
}
