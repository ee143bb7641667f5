//! `proto/originhub/v1/canonical.proto` says exactly what the Rust types say: the same field
//! tree, the same lists, the same enum values.

mod common;

use std::collections::BTreeSet;

use originhub_core::canonical::{Kind, catalog};
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FileDescriptorSet};

fn compile() -> FileDescriptorSet {
    let root = common::repo().join("proto");
    protox::compile(["originhub/v1/canonical.proto"], [root])
        .unwrap_or_else(|e| panic!("canonical.proto does not compile: {e}"))
}

fn message<'a>(set: &'a FileDescriptorSet, name: &str) -> &'a DescriptorProto {
    set.file
        .iter()
        .flat_map(|f| &f.message_type)
        .find(|m| m.name() == name)
        .unwrap_or_else(|| panic!("no message {name}"))
}

fn walk(
    set: &FileDescriptorSet,
    msg: &DescriptorProto,
    prefix: &str,
    leaves: &mut BTreeSet<String>,
    enums: &mut Vec<(String, String)>,
) {
    for field in &msg.field {
        let mut path = if prefix.is_empty() {
            field.name().to_owned()
        } else {
            format!("{prefix}.{}", field.name())
        };
        if field.label() == Label::Repeated {
            path.push_str("[]");
        }
        let type_name = field.type_name().rsplit('.').next().unwrap_or_default();
        match field.r#type() {
            Type::Message if type_name == "Struct" => {
                leaves.insert(path);
            }
            Type::Message => walk(set, message(set, type_name), &path, leaves, enums),
            Type::Enum => {
                enums.push((path.clone(), type_name.to_owned()));
                leaves.insert(path);
            }
            _ => {
                leaves.insert(path);
            }
        }
    }
}

#[test]
fn proto_has_the_canonical_field_tree() {
    let set = compile();
    let mut leaves = BTreeSet::new();
    let mut enums = Vec::new();
    walk(
        &set,
        message(&set, "Certificate"),
        "",
        &mut leaves,
        &mut enums,
    );
    let expected: BTreeSet<String> = catalog()
        .leaves()
        .iter()
        .map(|l| l.pattern.clone())
        .collect();
    assert_eq!(leaves, expected, "proto and Rust types differ");

    for (path, enum_name) in enums {
        let Some(Kind::Enum(values)) = catalog().leaf(&path).map(|l| l.kind.clone()) else {
            panic!("{path} is no enum in Rust")
        };
        let descriptor = set
            .file
            .iter()
            .flat_map(|f| &f.enum_type)
            .find(|e| e.name() == enum_name)
            .unwrap();
        let prefix = format!("{}_", to_screaming_snake(&enum_name));
        let proto_values: Vec<String> = descriptor
            .value
            .iter()
            .map(|v| {
                v.name()
                    .strip_prefix(&prefix)
                    .unwrap_or(v.name())
                    .to_lowercase()
            })
            .filter(|v| v != "unspecified")
            .collect();
        assert_eq!(proto_values, values, "{enum_name}");
    }
}

fn to_screaming_snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}
