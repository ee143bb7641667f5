//! Path patterns (`goods_items[].hs_code`, `bc:Goods/bc:Item[]/@seq`) and walking them.
//!
//! A pattern is a list of [`Step`]s: an object key, `[]` for every element of a list, or `[n]`
//! for one element. JSON paths separate keys with `.`, XML paths with `/`. Matching yields the
//! index of every `[]` on the way, which is how the engine pairs a member's list elements with
//! the canonical record's.

use std::fmt;

use smallvec::SmallVec;

use super::{Key, Node, TEXT_KEY};

/// The list indices on the way to a value: as deep as a certificate's lists nest, on the stack.
type Indices = SmallVec<[usize; 4]>;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    /// An object key.
    Key(Key),
    /// Every element of a list (a lone value counts as a list of one).
    Each,
    /// One element of a list.
    Index(usize),
}

/// A parsed path pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pattern {
    steps: Vec<Step>,
    separator: char,
}

impl Pattern {
    /// Parses `text` with `separator` between keys. Keys may end in `[]` or `[n]`.
    pub fn parse(text: &str, separator: char) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Err("the path is empty".into());
        }
        let mut steps = Vec::new();
        for segment in text.split(separator) {
            let (name, mut brackets) = match segment.find('[') {
                Some(at) => (&segment[..at], &segment[at..]),
                None => (segment, ""),
            };
            if name.is_empty() && steps.is_empty() {
                return Err(format!(
                    "segment {segment:?} has no key before its brackets"
                ));
            }
            if name.chars().any(|c| c.is_whitespace() || c == ']') {
                return Err(format!("key {name:?} contains white space or ']'"));
            }
            if !name.is_empty() {
                steps.push(Step::Key(Key::from(name)));
            }
            while !brackets.is_empty() {
                let close = brackets
                    .find(']')
                    .ok_or_else(|| format!("segment {segment:?} has an unclosed '['"))?;
                let inside = &brackets[1..close];
                steps.push(if inside.is_empty() {
                    Step::Each
                } else {
                    Step::Index(
                        inside.parse().map_err(|_| {
                            format!("{inside:?} in {segment:?} is not a list index")
                        })?,
                    )
                });
                brackets = &brackets[close + 1..];
                if !brackets.is_empty() && !brackets.starts_with('[') {
                    return Err(format!("unexpected {brackets:?} after ']' in {segment:?}"));
                }
            }
        }
        Ok(Self { steps, separator })
    }

    /// The steps.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// How many `[]` steps the pattern has.
    pub fn list_depth(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s, Step::Each))
            .count()
    }

    /// The pattern's steps up to and including its `n`-th `[]` (counting from 0).
    pub fn prefix_through_list(&self, n: usize) -> Option<&[Step]> {
        let mut seen = 0;
        for (i, step) in self.steps.iter().enumerate() {
            if matches!(step, Step::Each) {
                if seen == n {
                    return Some(&self.steps[..=i]);
                }
                seen += 1;
            }
        }
        None
    }

    /// Whether this pattern starts with `prefix`.
    pub fn starts_with(&self, prefix: &[Step]) -> bool {
        self.steps.starts_with(prefix)
    }

    /// The pattern with every `[n]` written `[]`: how the canonical catalog names a leaf.
    pub fn generic(&self) -> String {
        let steps: Vec<Step> = self
            .steps
            .iter()
            .map(|s| {
                if matches!(s, Step::Index(_)) {
                    Step::Each
                } else {
                    s.clone()
                }
            })
            .collect();
        concrete(&steps, &[], self.separator)
    }

    /// The concrete path for the given `[]` indices, written with this pattern's separator.
    pub fn concrete(&self, indices: &[usize]) -> String {
        concrete(&self.steps, indices, self.separator)
    }

    /// Calls `visit(indices, value)` for every value the pattern reaches in `root`.
    pub fn for_each_match<'v>(&self, root: &'v Node, visit: &mut dyn FnMut(&[usize], &'v Node)) {
        for_each_match(&self.steps, root, visit);
    }

    /// The steps up to and including the last `[]`, and the steps after it.
    pub fn split_at_last_list(&self) -> (&[Step], &[Step]) {
        let end = self
            .steps
            .iter()
            .rposition(|s| matches!(s, Step::Each))
            .map_or(0, |i| i + 1);
        self.steps.split_at(end)
    }

    /// Writes `value` at the concrete path given by `indices`, creating objects and lists on the
    /// way. With `xml_text`, a value written where an object already stands becomes its text.
    pub fn set(&self, root: &mut Node, indices: &[usize], value: Node, xml_text: bool) {
        set(&self.steps, root, indices, value, xml_text);
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&concrete(&self.steps, &[], self.separator))
    }
}

/// Writes steps as text; `[]` steps take successive `indices` while they last.
pub fn concrete(steps: &[Step], indices: &[usize], separator: char) -> String {
    let mut out = String::new();
    let mut next = indices.iter();
    for step in steps {
        match step {
            Step::Key(key) => {
                if !out.is_empty() {
                    out.push(separator);
                }
                out.push_str(key);
            }
            Step::Each => match next.next() {
                Some(i) => out.push_str(&format!("[{i}]")),
                None => out.push_str("[]"),
            },
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Calls `visit(indices, value)` for every value `steps` reach in `root`.
pub fn for_each_match<'v>(
    steps: &[Step],
    root: &'v Node,
    visit: &mut dyn FnMut(&[usize], &'v Node),
) {
    let mut indices = Indices::new();
    walk(steps, root, &mut indices, visit);
}

/// How many values `steps` reach in `root`.
pub fn count_matches(steps: &[Step], root: &Node) -> usize {
    let mut count = 0;
    let mut indices = Indices::new();
    walk(steps, root, &mut indices, &mut |_, _| count += 1);
    count
}

fn walk<'v>(
    steps: &[Step],
    value: &'v Node,
    indices: &mut Indices,
    visit: &mut dyn FnMut(&[usize], &'v Node),
) {
    let Some((step, rest)) = steps.split_first() else {
        if !value.is_null() {
            visit(indices, value);
        }
        return;
    };
    match (step, value) {
        (Step::Key(key), Node::Object(_)) => {
            if let Some(child) = value.get(key) {
                walk(rest, child, indices, visit);
            }
        }
        (Step::Each, Node::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                indices.push(i);
                walk(rest, item, indices, visit);
                indices.pop();
            }
        }
        (Step::Each, Node::Null) => {}
        (Step::Each, single) => {
            indices.push(0);
            walk(rest, single, indices, visit);
            indices.pop();
        }
        (Step::Index(n), Node::Array(items)) => {
            if let Some(item) = items.get(*n) {
                walk(rest, item, indices, visit);
            }
        }
        (Step::Index(0), single) if !single.is_null() => walk(rest, single, indices, visit),
        _ => {}
    }
}

fn set(steps: &[Step], slot: &mut Node, indices: &[usize], value: Node, xml_text: bool) {
    let Some((step, rest)) = steps.split_first() else {
        match slot {
            Node::Object(_) if xml_text => *slot.entry(TEXT_KEY) = value,
            _ => *slot = value,
        }
        return;
    };
    match step {
        Step::Key(key) => {
            if xml_text && let Node::Scalar(_) = slot {
                // An XML element that held only text gains an attribute or child.
                let text = std::mem::take(slot);
                *slot = Node::Object(vec![(Key::from(TEXT_KEY), text)]);
            }
            set(rest, slot.entry_shared(key), indices, value, xml_text);
        }
        Step::Each | Step::Index(_) => {
            let (index, rest_indices) = match step {
                Step::Index(n) => (*n, indices),
                _ => match indices.split_first() {
                    Some((first, others)) => (*first, others),
                    None => (0, indices),
                },
            };
            if !matches!(slot, Node::Array(_)) {
                let previous = std::mem::take(slot);
                *slot = Node::Array(if previous.is_null() {
                    Vec::new()
                } else {
                    vec![previous]
                });
            }
            if let Node::Array(items) = slot {
                if items.len() <= index {
                    items.resize(index + 1, Node::Null);
                }
                set(rest, &mut items[index], rest_indices, value, xml_text);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn parses_keys_lists_and_indices() {
        let p = Pattern::parse("a.b[].c[2].d", '.').unwrap();
        assert_eq!(p.steps().len(), 6);
        assert_eq!(p.list_depth(), 1);
        assert_eq!(p.to_string(), "a.b[].c[2].d");
        assert_eq!(p.concrete(&[7]), "a.b[7].c[2].d");
        assert!(Pattern::parse("", '.').is_err());
        assert!(Pattern::parse("a[x]", '.').is_err());
        assert!(Pattern::parse("a[", '.').is_err());
        let x = Pattern::parse("bc:Goods/bc:Item[]/@seq", '/').unwrap();
        assert_eq!(x.steps()[3], Step::Key("@seq".into()));
    }

    #[test]
    fn matches_yield_list_indices() {
        let doc =
            Node::from(json!({"items": [{"lines": [{"v": 1}, {"v": 2}]}, {"lines": {"v": 3}}]}));
        let p = Pattern::parse("items[].lines[].v", '.').unwrap();
        let mut seen = Vec::new();
        p.for_each_match(&doc, &mut |i, v| seen.push((i.to_vec(), v.to_value())));
        assert_eq!(
            seen,
            vec![
                (vec![0, 0], json!(1)),
                (vec![0, 1], json!(2)),
                (vec![1, 0], json!(3))
            ]
        );
    }

    #[test]
    fn set_creates_the_way_and_keeps_xml_text() {
        let mut doc = Node::Null;
        let leaf = |v: Value| Node::Scalar(v);
        Pattern::parse("a.b[].c", '.')
            .unwrap()
            .set(&mut doc, &[1], leaf(json!("x")), false);
        assert_eq!(doc.to_value(), json!({"a": {"b": [null, {"c": "x"}]}}));
        let mut xml = Node::from(json!({"Q": "450"}));
        Pattern::parse("Q/@unit", '/')
            .unwrap()
            .set(&mut xml, &[], leaf(json!("KGM")), true);
        assert_eq!(
            xml.to_value(),
            json!({"Q": {"$text": "450", "@unit": "KGM"}})
        );
        Pattern::parse("Q", '/')
            .unwrap()
            .set(&mut xml, &[], leaf(json!("451")), true);
        assert_eq!(
            xml.to_value(),
            json!({"Q": {"$text": "451", "@unit": "KGM"}})
        );
    }
}
