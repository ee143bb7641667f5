//! Pairing member list elements with canonical list elements.
//!
//! Without a flatten, the n-th `[]` of a member path pairs with the n-th `[]` of the canonical
//! path, index for index. A flatten turns two member levels (`consignments[].lines[]`) into one
//! canonical level (`goods_items[]`), numbered in document order; a path through the outer level
//! only (a consignment's own fields) applies to every goods item of that consignment.

use std::collections::HashMap;

use crate::profile::compile::FlattenPlan;
use smallvec::{SmallVec, smallvec};

use crate::tree::{Node, Pattern};

/// List indices of one match (lists nest a few levels at most, so they live on the stack).
pub(crate) type Idx = SmallVec<[usize; 4]>;

/// One flatten's numbering for one document.
#[derive(Debug, Default)]
pub(crate) struct Flat {
    pair_to_flat: HashMap<(usize, usize), usize>,
    outer_to_flat: HashMap<usize, Vec<usize>>,
    flat_to_pair: Vec<(usize, usize)>,
}

/// The numbering of every flatten of a plan for one member document.
pub(crate) struct Numbering<'p> {
    flats: Vec<(&'p FlattenPlan, Flat)>,
}

impl<'p> Numbering<'p> {
    /// Numbers the flattened pairs of `member_doc` (forward). Reverse needs no numbering.
    pub(crate) fn new(flattens: &'p [FlattenPlan], member_doc: Option<&Node>) -> Self {
        let flats = flattens
            .iter()
            .map(|plan| {
                let mut flat = Flat::default();
                if let Some(doc) = member_doc {
                    plan.pairs.for_each_match(doc, &mut |idx, _| {
                        let k = flat.flat_to_pair.len();
                        flat.pair_to_flat.insert((idx[0], idx[1]), k);
                        flat.outer_to_flat.entry(idx[0]).or_default().push(k);
                        flat.flat_to_pair.push((idx[0], idx[1]));
                    });
                }
                (plan, flat)
            })
            .collect();
        Self { flats }
    }

    /// Canonical index tuples for a member match (empty when an outer element has no inner ones).
    pub(crate) fn to_canonical(&self, member: &Pattern, idx: &[usize]) -> SmallVec<[Idx; 1]> {
        for (plan, flat) in &self.flats {
            if member.starts_with(&plan.inner) {
                return match flat.pair_to_flat.get(&(idx[0], idx[1])) {
                    Some(&k) => smallvec![prepend(k, &idx[2..])],
                    None => SmallVec::new(),
                };
            }
            if member.starts_with(&plan.outer) {
                return flat
                    .outer_to_flat
                    .get(&idx[0])
                    .map(|ks| ks.iter().map(|&k| prepend(k, &idx[1..])).collect())
                    .unwrap_or_default();
            }
        }
        smallvec![Idx::from_slice(idx)]
    }

    /// For each flatten whose pairs are not simply "one inner element per outer element", its
    /// member pattern and the `(outer, inner)` pair of each canonical element, in order.
    pub(crate) fn layouts(&self) -> Vec<(String, Vec<(usize, usize)>)> {
        self.flats
            .iter()
            .filter(|(_, flat)| {
                flat.flat_to_pair
                    .iter()
                    .enumerate()
                    .any(|(k, &pair)| pair != (k, 0))
            })
            .map(|(plan, flat)| (plan.key.clone(), flat.flat_to_pair.clone()))
            .collect()
    }

    /// The member indices a canonical element came from (forward, for naming violations).
    pub(crate) fn source_of(&self, member: &Pattern, idx: &[usize]) -> Idx {
        for (plan, flat) in &self.flats {
            let pair = idx.first().and_then(|k| flat.flat_to_pair.get(*k)).copied();
            if member.starts_with(&plan.inner)
                && let Some((i, j)) = pair
            {
                return pair_then(i, j, &idx[1..]);
            }
            if member.starts_with(&plan.outer)
                && let Some((i, _)) = pair
            {
                return prepend(i, &idx[1..]);
            }
        }
        Idx::from_slice(idx)
    }
}

/// Member indices to write a canonical element to (reverse). With the layout the record was read
/// with (`layouts[n]` for `flattens[n]`), elements go back where they came from; without, each
/// canonical element gets its own outer element holding one inner element.
pub(crate) fn to_member(
    flattens: &[FlattenPlan],
    layouts: &[Option<Vec<(usize, usize)>>],
    member: &Pattern,
    idx: &[usize],
) -> Idx {
    for (n, plan) in flattens.iter().enumerate() {
        let (inner, outer) = (
            member.starts_with(&plan.inner),
            member.starts_with(&plan.outer),
        );
        if !(inner || outer) {
            continue;
        }
        let Some((&k, rest)) = idx.split_first() else {
            break;
        };
        let (i, j) = layouts
            .get(n)
            .and_then(Option::as_ref)
            .and_then(|l| l.get(k).copied())
            .unwrap_or((k, 0));
        return if inner {
            pair_then(i, j, rest)
        } else {
            prepend(i, rest)
        };
    }
    Idx::from_slice(idx)
}

/// Writes `(outer, inner)` pairs as `"0.0 0.1 1.0"`: one short string per document.
pub(crate) fn encode_layout(pairs: &[(usize, usize)]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(pairs.len() * 4);
    for (n, (i, j)) in pairs.iter().enumerate() {
        let _ = write!(out, "{}{i}.{j}", if n == 0 { "" } else { " " });
    }
    out
}

/// Reads what [`encode_layout`] wrote; `None` if it was altered into something else.
pub(crate) fn decode_layout(text: &str) -> Option<Vec<(usize, usize)>> {
    text.split_whitespace()
        .map(|pair| {
            let (i, j) = pair.split_once('.')?;
            Some((i.parse().ok()?, j.parse().ok()?))
        })
        .collect()
}

/// The key under a profile's extensions that holds its flattened layouts.
pub(crate) const LAYOUT_KEY: &str = "$layout";

fn prepend(first: usize, rest: &[usize]) -> Idx {
    let mut v = Idx::new();
    v.push(first);
    v.extend_from_slice(rest);
    v
}

fn pair_then(i: usize, j: usize, rest: &[usize]) -> Idx {
    let mut v = Idx::new();
    v.extend_from_slice(&[i, j]);
    v.extend_from_slice(rest);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_encode_and_decode() {
        let pairs = vec![(0, 0), (0, 1), (1, 0), (12, 3)];
        assert_eq!(encode_layout(&pairs), "0.0 0.1 1.0 12.3");
        assert_eq!(decode_layout(&encode_layout(&pairs)), Some(pairs));
        assert_eq!(decode_layout("0.x"), None);
        assert_eq!(decode_layout(""), Some(vec![]));
    }
}
