//! Which parts of a tree a set of path patterns covers.
//!
//! Forward, anything in the member's document that no field reads goes to the record's
//! extensions; backward, anything in the canonical record that no field writes is reported as
//! not representable. Both need "what do these patterns leave out", answered here by walking the
//! tree alongside a trie of the patterns, without building a path string for covered values.

use smallvec::SmallVec;

/// The trie nodes a walk is at: almost always one or two, so they live on the stack.
type Nodes<'c> = SmallVec<[&'c Cover; 4]>;

use crate::tree::{Node, Step, TEXT_KEY};

/// A trie of path patterns.
#[derive(Debug, Default, Clone)]
pub(crate) struct Cover {
    keys: Vec<(String, Cover)>,
    each: Option<Box<Cover>>,
    index: Vec<(usize, Cover)>,
    terminal: bool,
}

impl Cover {
    /// Adds a pattern; everything at and below its end is covered.
    pub(crate) fn insert(&mut self, steps: &[Step]) {
        let Some((step, rest)) = steps.split_first() else {
            self.terminal = true;
            return;
        };
        let child = match step {
            Step::Key(key) => {
                let at = match self.keys.iter().position(|(k, _)| **k == **key) {
                    Some(at) => at,
                    None => {
                        self.keys.push((key.to_string(), Cover::default()));
                        self.keys.len() - 1
                    }
                };
                &mut self.keys[at].1
            }
            Step::Each => self.each.get_or_insert_with(Default::default),
            Step::Index(n) => {
                let at = match self.index.iter().position(|(i, _)| i == n) {
                    Some(at) => at,
                    None => {
                        self.index.push((*n, Cover::default()));
                        self.index.len() - 1
                    }
                };
                &mut self.index[at].1
            }
        };
        child.insert(rest);
    }

    fn child(&self, key: &str) -> Option<&Cover> {
        self.keys.iter().find(|(k, _)| k == key).map(|(_, c)| c)
    }

    /// Whether patterns continue from here into list elements (`[]` or `[n]`).
    fn has_lists(&self) -> bool {
        self.each.is_some() || !self.index.is_empty()
    }

    /// Calls `found(path, value)` for each largest part of `root` no pattern covers. Paths use
    /// `separator` and `[n]`. With `xml`, a pattern ending at an element covers its text only,
    /// not its attributes or children.
    pub(crate) fn uncovered(
        &self,
        root: &Node,
        separator: char,
        xml: bool,
        found: &mut dyn FnMut(String, &Node),
    ) {
        let mut walk = Walk {
            path: Vec::new(),
            separator,
            xml,
            found,
        };
        walk.value(&[self], root);
    }
}

/// One step of the path to where a walk is: kept as borrowed steps, and written out as text
/// only for the parts reported, since nearly everything a walk visits is covered.
#[derive(Debug, Clone, Copy)]
enum Segment<'t> {
    Key(&'t str),
    Index(usize),
}

/// A walk of a tree beside the trie: the path so far, and where to report what no pattern
/// covers.
struct Walk<'t, 'f> {
    path: Vec<Segment<'t>>,
    separator: char,
    xml: bool,
    found: &'f mut dyn FnMut(String, &Node),
}

impl<'t> Walk<'t, '_> {
    fn report(&mut self, value: &Node) {
        use std::fmt::Write;
        let mut text = String::new();
        for segment in &self.path {
            match segment {
                Segment::Key(key) => {
                    if !text.is_empty() {
                        text.push(self.separator);
                    }
                    text.push_str(key);
                }
                Segment::Index(i) => {
                    let _ = write!(text, "[{i}]");
                }
            }
        }
        (self.found)(text, value);
    }

    fn value(&mut self, nodes: &[&Cover], value: &'t Node) {
        if nodes.is_empty() {
            if !value.is_null() {
                self.report(value);
            }
            return;
        }
        let terminal = nodes.iter().any(|n| n.terminal);
        match value {
            Node::Object(map) => {
                if terminal && !self.xml {
                    return;
                }
                for (key, child) in map.iter() {
                    if terminal && **key == *TEXT_KEY {
                        continue;
                    }
                    let mut next: Nodes<'_> = nodes.iter().filter_map(|n| n.child(key)).collect();
                    if !matches!(child, Node::Array(_)) && next.iter().any(|n| n.has_lists()) {
                        // A lone value counts as a list of one.
                        let lone: Nodes<'_> = next.iter().flat_map(|n| lone_element(n)).collect();
                        next.extend(lone);
                    }
                    self.path.push(Segment::Key(key));
                    self.value(&next, child);
                    self.path.pop();
                }
            }
            Node::Array(items) => {
                if terminal {
                    return;
                }
                for (i, item) in items.iter().enumerate() {
                    let next: Nodes<'_> = nodes
                        .iter()
                        .flat_map(|n| {
                            n.each
                                .as_deref()
                                .into_iter()
                                .chain(n.index.iter().filter(|(j, _)| *j == i).map(|(_, c)| c))
                        })
                        .collect();
                    self.path.push(Segment::Index(i));
                    self.value(&next, item);
                    self.path.pop();
                }
            }
            Node::Null => {}
            _ => {
                if !terminal {
                    self.report(value);
                }
            }
        }
    }
}

fn lone_element(node: &Cover) -> impl Iterator<Item = &Cover> {
    node.each
        .as_deref()
        .into_iter()
        .chain(node.index.iter().filter(|(j, _)| *j == 0).map(|(_, c)| c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::Pattern;
    use serde_json::json;

    fn cover(patterns: &[&str], sep: char) -> Cover {
        let mut cover = Cover::default();
        for p in patterns {
            cover.insert(Pattern::parse(p, sep).unwrap().steps());
        }
        cover
    }

    fn left(cover: &Cover, doc: &serde_json::Value, xml: bool) -> Vec<String> {
        let mut out = Vec::new();
        cover.uncovered(
            &Node::from(doc.clone()),
            if xml { '/' } else { '.' },
            xml,
            &mut |p, _| out.push(p),
        );
        out
    }

    #[test]
    fn reports_largest_uncovered_parts() {
        let c = cover(&["a.b", "items[].x", "lines[0]"], '.');
        let doc = json!({"a": {"b": 1, "c": {"d": 2}}, "items": [{"x": 1, "y": 2}], "lines": ["l0", "l1"], "z": [1]});
        assert_eq!(
            left(&c, &doc, false),
            vec!["a.c", "items[0].y", "lines[1]", "z"]
        );
    }

    #[test]
    fn a_lone_value_counts_as_a_list_of_one() {
        let c = cover(&["items[].x", "first[0]", "plain"], '.');
        let doc = json!({"items": {"x": 1, "y": 2}, "first": "f", "plain": {"deep": [1, 2]}});
        assert_eq!(left(&c, &doc, false), vec!["items.y"]);
        // Without a list step a list is not looked into; what no pattern names is reported whole.
        let c = cover(&["a.b"], '.');
        let doc = json!({"a": [{"b": 1}], "z": {"y": [null, 3]}});
        assert_eq!(left(&c, &doc, false), vec!["a[0]", "z"]);
    }

    #[test]
    fn xml_text_cover_leaves_attributes_out() {
        let c = cover(&["Q", "Item[]/@seq"], '/');
        let doc =
            json!({"Q": {"$text": "5", "@unit": "KGM"}, "Item": {"@seq": "1", "@other": "x"}});
        assert_eq!(left(&c, &doc, true), vec!["Q/@unit", "Item/@other"]);
    }
}
