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

    /// The tree key of an element named `local` in namespace `uri` (none: unqualified).
    fn element_key(&self, uri: Option<&str>, local: &str, scratch: &mut String) -> Key {
        self.key_for(uri, local, "", scratch)
    }

    /// The tree key of an attribute: `@` and its name, qualified as an element's would be when
    /// it has a namespace. An unprefixed attribute is in no namespace, whatever the default.
    fn attribute_key(&self, uri: Option<&str>, local: &str, scratch: &mut String) -> Key {
        match uri {
            Some(uri) => self.key_for(Some(uri), local, "@", scratch),
            None => {
                scratch.clear();
                scratch.push('@');
                scratch.push_str(local);
                Key::from(scratch.as_str())
            }
        }
    }

    /// `prefix`, then `local` qualified for namespace `uri`, built in `scratch` so only the key
    /// itself is allocated.
    fn key_for(&self, uri: Option<&str>, local: &str, prefix: &str, scratch: &mut String) -> Key {
        scratch.clear();
        scratch.push_str(prefix);
        match uri {
            None if self.bindings.iter().any(|(p, _)| p.is_empty()) => scratch.push_str("{}"),
            None => {}
            Some(uri) => match self.bindings.iter().find(|(_, u)| u == uri) {
                Some((prefix, _)) if prefix.is_empty() => {}
                Some((prefix, _)) => {
                    scratch.push_str(prefix);
                    scratch.push(':');
                }
                None => {
                    scratch.push('{');
                    scratch.push_str(uri);
                    scratch.push('}');
                }
            },
        }
        scratch.push_str(local);
        Key::from(scratch.as_str())
    }
}

/// The elements open while reading. Their attributes, children and text are kept in two
/// buffers shared by all of them, each element's part being the tail from where it opened: the
/// buffers are not regrown element by element, and an element's own list and text are
/// allocated once, at their final size, when it closes. Repeated children are gathered into
/// lists; an element with many distinct children gets a hash index so reading stays linear.
#[derive(Default)]
struct Builder {
    open: Vec<Open>,
    entries: Vec<(Key, Node)>,
    text: String,
    /// The root element's content, once it has closed.
    result: Option<Node>,
}

struct Open {
    key: Key,
    /// Where its attributes and children start in [`Builder::entries`].
    entries_from: usize,
    /// Where its text starts in [`Builder::text`].
    text_from: usize,
    /// Its entries' positions (from `entries_from`) by key, once it has many.
    index: Option<HashMap<Key, usize>>,
}

const SCAN_LIMIT: usize = 16;

impl Builder {
    fn start(&mut self, key: Key) {
        self.open.push(Open {
            key,
            entries_from: self.entries.len(),
            text_from: self.text.len(),
            index: None,
        });
    }

    /// Adds an attribute or a closed child to the innermost open element. It is called only
    /// with one open: after [`Builder::start`], or by [`Builder::end`] for a parent.
    fn insert(&mut self, key: Key, value: Node) {
        let Self { open, entries, .. } = self;
        let Some(open) = open.last_mut() else {
            return;
        };
        let mine = &mut entries[open.entries_from..];
        let found = match &open.index {
            Some(index) => index.get(&key).copied(),
            None => mine.iter().position(|(k, _)| **k == *key),
        };
        if let Some(at) = found {
            let existing = &mut mine[at].1;
            match existing {
                Node::Array(items) => items.push(value),
                _ => {
                    let first = std::mem::take(existing);
                    *existing = Node::Array(vec![first, value]);
                }
            }
            return;
        }
        let len = mine.len();
        if let Some(index) = &mut open.index {
            index.insert(Key::clone(&key), len);
        } else if len >= SCAN_LIMIT {
            open.index = Some(
                mine.iter()
                    .enumerate()
                    .map(|(i, (k, _))| (k.clone(), i))
                    .chain([(key.clone(), len)])
                    .collect(),
            );
        }
        entries.push((key, value));
    }

    /// Adds text to the innermost open element; false when none is open.
    fn push_text(&mut self, text: &str) -> bool {
        if self.open.is_empty() {
            return false;
        }
        self.text.push_str(text);
        true
    }

    /// Closes the innermost open element: its value goes to its parent, or is the result.
    fn end(&mut self) -> Option<()> {
        let open = self.open.pop()?;
        let text = &self.text[open.text_from..];
        let value = if self.entries.len() == open.entries_from {
            Node::Scalar(Value::String(text.to_owned()))
        } else {
            let keep_text = !text.trim().is_empty();
            let count = self.entries.len() - open.entries_from + usize::from(keep_text);
            let mut entries = Vec::with_capacity(count);
            entries.extend(self.entries.drain(open.entries_from..));
            if keep_text {
                entries.push((
                    Key::from(TEXT_KEY),
                    Node::Scalar(Value::String(text.to_owned())),
                ));
            }
            Node::Object(entries)
        };
        self.text.truncate(open.text_from);
        if self.open.is_empty() {
            self.result = Some(value);
        } else {
            self.insert(open.key, value);
        }
        Some(())
    }
}

/// A name or namespace from the document. The reader reads a `str`, so these slices are UTF-8
/// and borrowed as they are; the lossy conversion is only a fallback.
fn text_of(bytes: &[u8]) -> Cow<'_, str> {
    std::str::from_utf8(bytes).map_or_else(|_| String::from_utf8_lossy(bytes), Cow::Borrowed)
}

fn malformed(error: impl std::fmt::Display, reader_position: u64) -> InputError {
    InputError::Malformed {
        syntax: "XML",
        message: format!("{error} (near byte {reader_position})"),
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
    let mut tree = Builder::default();
    // Where keys are put together before each becomes a `Key`.
    let mut scratch = String::new();
    loop {
        let position = reader.buffer_position();
        let (resolved, event) = reader
            .read_resolved_event()
            .map_err(|e| malformed(e, position))?;
        let uri = match &resolved {
            ResolveResult::Bound(ns) => Some(ns.as_ref()),
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
            Event::Start(start) | Event::Empty(start) if tree.result.is_some() => {
                return Err(malformed(
                    format!(
                        "second root element <{}>",
                        String::from_utf8_lossy(start.name().as_ref())
                    ),
                    position,
                ));
            }
            Event::Start(ref start) | Event::Empty(ref start) => {
                if tree.open.len() >= limits.max_depth {
                    return Err(InputError::TooDeep {
                        limit: limits.max_depth,
                        at: format!("byte {position}"),
                    });
                }
                let local = text_of(start.local_name().into_inner());
                let uri = uri.map(text_of);
                let key = namespaces.element_key(uri.as_deref(), &local, &mut scratch);
                if tree.open.is_empty() && *key != *root {
                    return Err(InputError::WrongRoot {
                        expected: root.to_owned(),
                        found: key.to_string(),
                    });
                }
                tree.start(key);
                for attribute in start.attributes() {
                    let attribute = attribute.map_err(|e| malformed(e, position))?;
                    let name = attribute.key;
                    if name.as_ref() == b"xmlns" || name.as_ref().starts_with(b"xmlns:") {
                        continue;
                    }
                    let (attr_ns, attr_local) = reader.resolve_attribute(name);
                    let attr_local = text_of(attr_local.into_inner());
                    let attr_uri = match attr_ns {
                        ResolveResult::Bound(ns) => Some(text_of(ns.into_inner())),
                        _ => None,
                    };
                    let attr_key =
                        namespaces.attribute_key(attr_uri.as_deref(), &attr_local, &mut scratch);
                    let value = attribute.unescape_value().map_err(|e| match e {
                        quick_xml::Error::Escape(
                            quick_xml::escape::EscapeError::UnrecognizedEntity(_, name),
                        ) => InputError::UndefinedEntity { name },
                        other => malformed(other, position),
                    })?;
                    tree.insert(attr_key, Node::Scalar(Value::String(value.into_owned())));
                }
                if matches!(event, Event::Empty(_)) {
                    tree.end();
                }
            }
            Event::End(_) => {
                tree.end()
                    .ok_or_else(|| malformed("unexpected end tag", position))?;
            }
            Event::Text(text) => {
                let decoded = text.decode().map_err(|e| malformed(e, position))?;
                if !tree.push_text(&decoded) && !decoded.trim().is_empty() {
                    return Err(malformed("text outside the root element", position));
                }
            }
            Event::CData(data) => {
                let decoded = data.decode().map_err(|e| malformed(e, position))?;
                tree.push_text(&decoded);
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
                tree.push_text(ch.encode_utf8(&mut [0; 4]));
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
    if !tree.open.is_empty() {
        return Err(malformed(
            "document ends inside an element",
            reader.buffer_position(),
        ));
    }
    match tree.result {
        Some(Node::Scalar(Value::String(text))) if text.trim().is_empty() => Ok(Node::object()),
        Some(value) => Ok(value),
        None => Err(malformed("no root element", 0)),
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
    fn each_element_keeps_its_own_text_and_children() {
        // Text on both sides of a child stays the parent's, blank text beside children is
        // dropped, a leaf keeps its text as it is (blank or not), CDATA and references join it.
        let xml = b"<Doc xmlns=\"urn:d\">\n  <Mixed>before <b>inner</b> after</Mixed>\n  \
            <Blank>  </Blank><Leaf><![CDATA[x<y]]>&#65;</Leaf>\n  <Outer><In>1</In>\n  </Outer>\n</Doc>";
        let tree = read(xml, &ns(), "Doc", &Limits::default()).unwrap();
        assert_eq!(
            tree.to_value(),
            json!({
                "Mixed": {"b": "inner", "$text": "before  after"},
                "Blank": "  ",
                "Leaf": "x<yA",
                "Outer": {"In": "1"}
            })
        );

        // Past the scan limit children are found by the hash index: repeats still gather.
        let mut many = String::from("<Doc xmlns=\"urn:d\">");
        for i in 0..40 {
            many.push_str(&format!("<k{i}>{i}</k{i}>"));
        }
        many.push_str("<k3>again</k3><k39>last</k39></Doc>");
        let tree = read(many.as_bytes(), &ns(), "Doc", &Limits::default()).unwrap();
        let value = tree.to_value();
        assert_eq!(value.as_object().map(|o| o.len()), Some(40));
        assert_eq!(value["k3"], json!(["3", "again"]));
        assert_eq!(value["k39"], json!(["39", "last"]));
        assert_eq!(value["k0"], json!("0"));

        let limits = Limits::default();
        assert_eq!(
            read(b"<Doc xmlns=\"urn:d\">\n</Doc>", &ns(), "Doc", &limits)
                .unwrap()
                .to_value(),
            json!({})
        );
        for refused in [
            &b"<Doc xmlns=\"urn:d\"/>text"[..],
            b"<Doc xmlns=\"urn:d\"/><Doc xmlns=\"urn:d\"/>",
            b"</Doc>",
        ] {
            assert!(
                matches!(
                    read(refused, &ns(), "Doc", &limits),
                    Err(InputError::Malformed { .. })
                ),
                "{}",
                String::from_utf8_lossy(refused)
            );
        }
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
