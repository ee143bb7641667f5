//! XML ⇄ document tree, with namespaces named by the profile's own prefixes.
//!
//! Reading maps each element to a tree key: `local` in the profile's default namespace,
//! `prefix:local` in a namespace the profile names, `{uri}local` otherwise. Attributes become
//! `@name` keys. No DTD is read and no entity but the predefined ones is expanded.

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::Value;

use super::{Key, Node, TEXT_KEY};
use crate::limits::{InputError, Limits};

/// The profile's namespaces: `(prefix, uri)`, the default namespace with prefix `""`.
#[derive(Debug, Clone, Default)]
pub struct Namespaces {
    bindings: Vec<(String, String)>,
}

impl Namespaces {
    /// Builds the table from `(prefix, uri)` pairs.
    pub fn new(bindings: Vec<(String, String)>) -> Self {
        Self { bindings }
    }

    fn key_for(&self, uri: Option<&str>, local: &str) -> String {
        let Some(uri) = uri else {
            return if self.bindings.iter().any(|(p, _)| p.is_empty()) {
                format!("{{}}{local}")
            } else {
                local.to_owned()
            };
        };
        match self.bindings.iter().find(|(_, u)| u == uri) {
            Some((prefix, _)) if prefix.is_empty() => local.to_owned(),
            Some((prefix, _)) => format!("{prefix}:{local}"),
            None => format!("{{{uri}}}{local}"),
        }
    }
}

struct Open {
    key: String,
    children: Children,
    text: String,
}

/// An element's attributes and children, repeated children gathered into lists. Elements with
/// many distinct children get a hash index so reading stays linear.
#[derive(Default)]
struct Children {
    entries: Vec<(Key, Node)>,
    index: Option<HashMap<Key, usize>>,
}

const SCAN_LIMIT: usize = 16;

impl Children {
    fn position(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => self.entries.iter().position(|(k, _)| **k == *key),
        }
    }

    fn insert(&mut self, key: String, value: Node) {
        let key = Key::from(key);
        if let Some(at) = self.position(&key) {
            let existing = &mut self.entries[at].1;
            match existing {
                Node::Array(items) => items.push(value),
                _ => {
                    let first = std::mem::take(existing);
                    *existing = Node::Array(vec![first, value]);
                }
            }
            return;
        }
        if let Some(index) = &mut self.index {
            index.insert(Key::clone(&key), self.entries.len());
        } else if self.entries.len() >= SCAN_LIMIT {
            self.index = Some(
                self.entries
                    .iter()
                    .enumerate()
                    .map(|(i, (k, _))| (k.clone(), i))
                    .chain([(key.clone(), self.entries.len())])
                    .collect(),
            );
        }
        self.entries.push((key, value));
    }
}

fn malformed(error: impl std::fmt::Display, reader_position: u64) -> InputError {
    InputError::Malformed {
        syntax: "XML",
        message: format!("{error} (near byte {reader_position})"),
    }
}

fn close(open: Open) -> Node {
    let mut entries = open.children.entries;
    if entries.is_empty() {
        Node::Scalar(Value::String(open.text))
    } else {
        if !open.text.trim().is_empty() {
            entries.push((Key::from(TEXT_KEY), Node::Scalar(Value::String(open.text))));
        }
        Node::Object(entries)
    }
}

/// Reads an XML document into a tree of its root element's content. The root element's key must
/// be `root`.
pub fn read(
    input: &[u8],
    namespaces: &Namespaces,
    root: &str,
    limits: &Limits,
) -> Result<Node, InputError> {
    limits.check_size(input)?;
    let text = std::str::from_utf8(input).map_err(|e| InputError::Malformed {
        syntax: "XML",
        message: format!("not UTF-8: {e}"),
    })?;
    let mut reader = NsReader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Open> = Vec::new();
    let mut result: Option<Node> = None;
    loop {
        let position = reader.buffer_position();
        let (resolved, event) = reader
            .read_resolved_event()
            .map_err(|e| malformed(e, position))?;
        let uri = match &resolved {
            ResolveResult::Bound(ns) => Some(String::from_utf8_lossy(ns.as_ref()).into_owned()),
            ResolveResult::Unbound => None,
            ResolveResult::Unknown(prefix) => {
                return Err(malformed(
                    format!(
                        "namespace prefix {:?} is not declared",
                        String::from_utf8_lossy(prefix)
                    ),
                    position,
                ));
            }
        };
        match event {
            Event::Start(start) | Event::Empty(start) if result.is_some() => {
                return Err(malformed(
                    format!(
                        "second root element <{}>",
                        String::from_utf8_lossy(start.name().as_ref())
                    ),
                    position,
                ));
            }
            Event::Start(ref start) | Event::Empty(ref start) => {
                if stack.len() >= limits.max_depth {
                    return Err(InputError::TooDeep {
                        limit: limits.max_depth,
                        at: format!("byte {position}"),
                    });
                }
                let local = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                let key = namespaces.key_for(uri.as_deref(), &local);
                if stack.is_empty() && key != root {
                    return Err(InputError::WrongRoot {
                        expected: root.to_owned(),
                        found: key,
                    });
                }
                let mut children = Children::default();
                for attribute in start.attributes() {
                    let attribute = attribute.map_err(|e| malformed(e, position))?;
                    let name = attribute.key;
                    if name.as_ref() == b"xmlns" || name.as_ref().starts_with(b"xmlns:") {
                        continue;
                    }
                    let (attr_ns, attr_local) = reader.resolve_attribute(name);
                    let attr_local = String::from_utf8_lossy(attr_local.as_ref()).into_owned();
                    let attr_key = match attr_ns {
                        ResolveResult::Bound(ns) => {
                            let uri = String::from_utf8_lossy(ns.as_ref()).into_owned();
                            namespaces.key_for(Some(&uri), &attr_local)
                        }
                        _ => attr_local,
                    };
                    let value = attribute.unescape_value().map_err(|e| match e {
                        quick_xml::Error::Escape(
                            quick_xml::escape::EscapeError::UnrecognizedEntity(_, name),
                        ) => InputError::UndefinedEntity { name },
                        other => malformed(other, position),
                    })?;
                    children.insert(
                        format!("@{attr_key}"),
                        Node::Scalar(Value::String(value.into_owned())),
                    );
                }
                let open = Open {
                    key,
                    children,
                    text: String::new(),
                };
                if matches!(event, Event::Empty(_)) {
                    finish(&mut stack, &mut result, open);
                } else {
                    stack.push(open);
                }
            }
            Event::End(_) => {
                let open = stack
                    .pop()
                    .ok_or_else(|| malformed("unexpected end tag", position))?;
                finish(&mut stack, &mut result, open);
            }
            Event::Text(text) => {
                let decoded = text.decode().map_err(|e| malformed(e, position))?;
                match stack.last_mut() {
                    Some(open) => open.text.push_str(&decoded),
                    None if decoded.trim().is_empty() => {}
                    None => return Err(malformed("text outside the root element", position)),
                }
            }
            Event::CData(data) => {
                let decoded = data.decode().map_err(|e| malformed(e, position))?;
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&decoded);
                }
            }
            Event::GeneralRef(reference) => {
                let ch = match reference
                    .resolve_char_ref()
                    .map_err(|e| malformed(e, position))?
                {
                    Some(ch) => ch,
                    None => {
                        let name = reference
                            .decode()
                            .map_err(|e| malformed(e, position))?
                            .into_owned();
                        match name.as_str() {
                            "lt" => '<',
                            "gt" => '>',
                            "amp" => '&',
                            "apos" => '\'',
                            "quot" => '"',
                            _ => return Err(InputError::UndefinedEntity { name }),
                        }
                    }
                };
                if let Some(open) = stack.last_mut() {
                    open.text.push(ch);
                }
            }
            Event::DocType(_) => {
                return Err(InputError::Doctype {
                    offset: position as usize,
                });
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(malformed(
            "document ends inside an element",
            reader.buffer_position(),
        ));
    }
    match result {
        Some(Node::Scalar(Value::String(text))) if text.trim().is_empty() => Ok(Node::object()),
        Some(value) => Ok(value),
        None => Err(malformed("no root element", 0)),
    }
}

fn finish(stack: &mut [Open], result: &mut Option<Node>, open: Open) {
    let key = open.key.clone();
    let value = close(open);
    match stack.last_mut() {
        Some(parent) => parent.children.insert(key, value),
        None => *result = Some(value),
    }
}

/// Writes a tree as an XML document with root element `root` and the profile's namespaces
/// declared on it, indented by two spaces.
pub fn write(tree: &Node, namespaces: &Namespaces, root: &str) -> String {
    // Sized for a typical certificate, so the buffer is not regrown (and copied) while writing.
    let mut out = String::with_capacity(32 * 1024);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let mut declarations = String::new();
    for (prefix, uri) in &namespaces.bindings {
        let attr = if prefix.is_empty() {
            "xmlns".to_owned()
        } else {
            format!("xmlns:{prefix}")
        };
        declarations.push_str(&format!(
            " {attr}=\"{}\"",
            quick_xml::escape::escape(uri.as_str())
        ));
    }
    write_element(&mut out, root, tree, 0, &declarations);
    out.push('\n');
    out
}

fn element_name(key: &str) -> (&str, Option<String>) {
    // `{uri}local` keys (from other namespaces) declare their namespace where they stand.
    if let Some(rest) = key.strip_prefix('{')
        && let Some((uri, local)) = rest.split_once('}')
    {
        return (
            local,
            Some(format!(" xmlns=\"{}\"", quick_xml::escape::escape(uri))),
        );
    }
    (key, None)
}

/// The text of a scalar, borrowed when it is a string.
fn scalar_text(node: &Node) -> Option<Cow<'_, str>> {
    match node.as_scalar()? {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Bool(b) => Some(Cow::Owned(b.to_string())),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        _ => None,
    }
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn close_tag(out: &mut String, name: &str) {
    out.push_str("</");
    out.push_str(name);
    out.push_str(">\n");
}

fn write_element(out: &mut String, key: &str, value: &Node, depth: usize, extra_attrs: &str) {
    let map = match value {
        Node::Null => return,
        Node::Array(items) => {
            for item in items {
                write_element(out, key, item, depth, extra_attrs);
            }
            return;
        }
        Node::Object(map) => Some(map),
        _ => None,
    };
    let (name, declaration) = element_name(key);
    indent(out, depth);
    out.push('<');
    out.push_str(name);
    out.push_str(declaration.as_deref().unwrap_or_default());
    out.push_str(extra_attrs);
    let Some(map) = map else {
        out.push('>');
        out.push_str(&quick_xml::escape::escape(
            scalar_text(value).unwrap_or_default().as_ref(),
        ));
        close_tag(out, name);
        return;
    };
    let mut text = None;
    let mut has_children = false;
    for (child_key, child) in map.iter() {
        if let Some(attr) = child_key.strip_prefix('@') {
            if let Some(s) = scalar_text(child) {
                out.push(' ');
                out.push_str(attr);
                out.push_str("=\"");
                out.push_str(&quick_xml::escape::escape(s.as_ref()));
                out.push('"');
            }
        } else if **child_key == *TEXT_KEY {
            text = scalar_text(child);
        } else if !child.is_null() {
            has_children = true;
        }
    }
    match (text, has_children) {
        (None, false) => out.push_str("/>\n"),
        (Some(text), false) => {
            out.push('>');
            out.push_str(&quick_xml::escape::escape(text.as_ref()));
            close_tag(out, name);
        }
        (text, true) => {
            out.push_str(">\n");
            if let Some(text) = text {
                indent(out, depth + 1);
                out.push_str(&quick_xml::escape::escape(text.as_ref()));
                out.push('\n');
            }
            for (child_key, child) in map.iter() {
                if !child_key.starts_with('@') && **child_key != *TEXT_KEY {
                    write_element(out, child_key, child, depth + 1, "");
                }
            }
            indent(out, depth);
            close_tag(out, name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ns() -> Namespaces {
        Namespaces::new(vec![
            ("".into(), "urn:d".into()),
            ("bc".into(), "urn:bc".into()),
        ])
    }

    #[test]
    fn reads_namespaces_attributes_and_repeats() {
        let xml = br#"<?xml version="1.0"?>
<Doc xmlns="urn:d" xmlns:x="urn:bc" version="2">
  <x:Name>A &amp; B&#33;</x:Name>
  <Item seq="1"><Qty unit="KGM">5</Qty></Item>
  <Item seq="2"/>
  <Other xmlns="urn:o">t</Other>
</Doc>"#;
        let tree = read(xml, &ns(), "Doc", &Limits::default()).unwrap();
        assert_eq!(
            tree.to_value(),
            json!({
                "@version": "2",
                "bc:Name": "A & B!",
                "Item": [{"@seq": "1", "Qty": {"@unit": "KGM", "$text": "5"}}, {"@seq": "2"}],
                "{urn:o}Other": "t"
            })
        );
    }

    #[test]
    fn write_then_read_is_the_identity() {
        let tree = json!({
            "@version": "2",
            "bc:Name": "A <&> \"B\"",
            "Item": [{"@seq": "1", "Qty": {"@unit": "KGM", "$text": "5"}}, {"@seq": "2", "Note": "n"}],
        });
        let xml = write(&Node::from(tree.clone()), &ns(), "Doc");
        assert_eq!(
            read(xml.as_bytes(), &ns(), "Doc", &Limits::default())
                .unwrap()
                .to_value(),
            tree,
            "{xml}"
        );
    }

    #[test]
    fn refuses_doctype_entities_depth_and_wrong_root() {
        let limits = Limits::default();
        let bomb = br#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><Doc xmlns="urn:d">&a;</Doc>"#;
        assert!(matches!(
            read(bomb, &ns(), "Doc", &limits),
            Err(InputError::Doctype { .. })
        ));
        let undefined = br#"<Doc xmlns="urn:d">&a;</Doc>"#;
        assert!(matches!(
            read(undefined, &ns(), "Doc", &limits),
            Err(InputError::UndefinedEntity { .. })
        ));
        let deep = format!(
            "<Doc xmlns=\"urn:d\">{}{}</Doc>",
            "<a>".repeat(70),
            "</a>".repeat(70)
        );
        assert!(matches!(
            read(deep.as_bytes(), &ns(), "Doc", &limits),
            Err(InputError::TooDeep { .. })
        ));
        assert!(matches!(
            read(br#"<Other xmlns="urn:d"/>"#, &ns(), "Doc", &limits),
            Err(InputError::WrongRoot { .. })
        ));
        assert!(matches!(
            read(b"<Doc xmlns=\"urn:d\"><a></b></Doc>", &ns(), "Doc", &limits),
            Err(InputError::Malformed { .. })
        ));
        assert!(matches!(
            read(b"<Doc xmlns=\"urn:d\"><a>", &ns(), "Doc", &limits),
            Err(InputError::Malformed { .. })
        ));
    }
}
