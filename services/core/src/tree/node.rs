//! [`Node`]: the document tree the engine works on.
//!
//! Objects are ordered lists of entries rather than hash maps: a certificate's objects hold a
//! handful of keys, and a linear scan over them is several times cheaper than hashing every key
//! on every path step, which is most of what translation does. Scalars stay
//! [`serde_json::Value`]s, so transforms and checks work on one value type.
//!
//! JSON objects with a repeated key are refused when parsed: which of the two values counts
//! would otherwise be a guess.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

/// An object key. Shared: keys written from a compiled plan's paths are reference-counted copies
/// of the plan's own, so building a tree does not allocate a string per key.
pub type Key = Arc<str>;

/// A document tree node.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Node {
    /// Nothing (JSON `null`, or a list slot not written yet).
    #[default]
    Null,
    /// A string, number or boolean.
    Scalar(Value),
    /// A list.
    Array(Vec<Node>),
    /// An object: keys in document order, each once.
    Object(Vec<(Key, Node)>),
}

/// Objects larger than this are checked for repeated keys with a hash set, not a scan.
const SCAN_LIMIT: usize = 16;

impl Node {
    /// An empty object.
    pub fn object() -> Self {
        // Most objects of a certificate have a few keys: start with room for them.
        Node::Object(Vec::with_capacity(4))
    }

    /// Whether this is [`Node::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Node::Null)
    }

    /// The scalar value, if this is one.
    pub fn as_scalar(&self) -> Option<&Value> {
        match self {
            Node::Scalar(v) => Some(v),
            _ => None,
        }
    }

    /// The text of a string scalar.
    pub fn as_str(&self) -> Option<&str> {
        self.as_scalar().and_then(Value::as_str)
    }

    /// The entry at `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Object(entries) => entries.iter().find(|(k, _)| **k == *key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The slot at `key` of an object (added, empty, if missing), making this an object first
    /// if it is not one.
    pub fn entry(&mut self, key: &str) -> &mut Node {
        self.slot(key, || Key::from(key))
    }

    /// [`Node::entry`] with a shared key: adding it costs no allocation.
    pub fn entry_shared(&mut self, key: &Key) -> &mut Node {
        self.slot(key, || Key::clone(key))
    }

    fn slot(&mut self, key: &str, make: impl FnOnce() -> Key) -> &mut Node {
        if !matches!(self, Node::Object(_)) {
            *self = Node::object();
        }
        let Node::Object(entries) = self else {
            unreachable!("made an object above")
        };
        // From the end: a tree is built in path order, so the key a write looks for is most
        // often the one added last at its level.
        let at = match entries.iter().rposition(|(k, _)| **k == *key) {
            Some(at) => at,
            None => {
                entries.push((make(), Node::Null));
                entries.len() - 1
            }
        };
        &mut entries[at].1
    }

    /// The path of the first list or object nested more than `limit` deep, if any (the root
    /// object is level 1).
    pub fn deeper_than(&self, limit: usize) -> Option<String> {
        // Steps are collected on the way back out, and a step's text is only made on that way
        // out, so nothing is allocated unless the limit is crossed.
        fn walk(node: &Node, depth: usize, limit: usize) -> Option<Vec<String>> {
            match node {
                Node::Array(_) | Node::Object(_) if depth > limit => Some(Vec::new()),
                Node::Array(items) => items.iter().enumerate().find_map(|(i, c)| {
                    let mut path = walk(c, depth + 1, limit)?;
                    path.push(format!("[{i}]"));
                    Some(path)
                }),
                Node::Object(entries) => entries.iter().find_map(|(k, c)| {
                    let mut path = walk(c, depth + 1, limit)?;
                    path.push(format!(".{k}"));
                    Some(path)
                }),
                _ => None,
            }
        }
        let steps = walk(self, 1, limit)?;
        Some(
            steps
                .iter()
                .rev()
                .map(String::as_str)
                .collect::<String>()
                .trim_start_matches('.')
                .to_owned(),
        )
    }

    /// The same tree as a `serde_json::Value`.
    pub fn to_value(&self) -> Value {
        match self {
            Node::Null => Value::Null,
            Node::Scalar(v) => v.clone(),
            Node::Array(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            Node::Object(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

impl From<Value> for Node {
    fn from(value: Value) -> Self {
        match value {
            Value::Null => Node::Null,
            Value::Array(items) => Node::Array(items.into_iter().map(Node::from).collect()),
            Value::Object(map) => Node::Object(
                map.into_iter()
                    .map(|(k, v)| (Key::from(k), Node::from(v)))
                    .collect(),
            ),
            scalar => Node::Scalar(scalar),
        }
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Null => serializer.serialize_unit(),
            Node::Scalar(v) => v.serialize(serializer),
            Node::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Node::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(&**k, v)?;
                }
                map.end()
            }
        }
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Scalar(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Scalar(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Scalar(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Node::Null, |n| Node::Scalar(Value::Number(n))))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Scalar(Value::String(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Scalar(Value::String(v)))
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Deserialize::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries: Vec<(Key, Node)> = Vec::with_capacity(4);
        let mut seen: Option<HashSet<Key>> = None;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let repeated = match &mut seen {
                Some(seen) => !seen.insert(Key::clone(&key)),
                None => entries.iter().any(|(k, _)| *k == key),
            };
            if repeated {
                return Err(de::Error::custom(format!(
                    "key {key:?} appears twice in one object"
                )));
            }
            if seen.is_none() && entries.len() >= SCAN_LIMIT {
                seen = Some(
                    entries
                        .iter()
                        .map(|(k, _)| Key::clone(k))
                        .chain([Key::clone(&key)])
                        .collect(),
                );
            }
            entries.push((key, map.next_value()?));
        }
        Ok(Node::Object(entries))
    }
}

/// Reads an object key straight into a [`Key`], without an intermediate `String`.
struct KeySeed;

impl<'de> de::DeserializeSeed<'de> for KeySeed {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_str(KeySeed)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, v: &str) -> Result<Key, E> {
        Ok(Key::from(v))
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_round_trips_in_order() {
        let text = r#"{"b":1,"a":[true,null,"x",{"c":2.5}]}"#;
        let node: Node = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&node).unwrap(), text);
        assert_eq!(
            node.to_value(),
            json!({"b": 1, "a": [true, null, "x", {"c": 2.5}]})
        );
        assert_eq!(Node::from(node.to_value()), node);
    }

    #[test]
    fn repeated_keys_are_refused_in_small_and_large_objects() {
        assert!(serde_json::from_str::<Node>(r#"{"a":1,"a":2}"#).is_err());
        let many: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        let ok = format!("{{{}}}", many.join(","));
        assert!(serde_json::from_str::<Node>(&ok).is_ok());
        let repeated = format!("{{{},\"k3\":0}}", many.join(","));
        assert!(serde_json::from_str::<Node>(&repeated).is_err());
    }

    #[test]
    fn depth_is_measured_with_a_path() {
        let node: Node = serde_json::from_str(r#"{"a": [{"b": [[1]]}], "c": 1}"#).unwrap();
        assert_eq!(node.deeper_than(5), None);
        assert_eq!(node.deeper_than(4).as_deref(), Some("a[0].b[0]"));
        assert_eq!(node.deeper_than(1).as_deref(), Some("a"));
    }

    #[test]
    fn entry_creates_and_replaces() {
        let mut node = Node::Null;
        *node.entry("a") = Node::Scalar(json!(1));
        *node.entry("a") = Node::Scalar(json!(2));
        *node.entry("b") = Node::Scalar(json!(3));
        assert_eq!(node.to_value(), json!({"a": 2, "b": 3}));
    }
}
