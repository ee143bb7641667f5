//! Shared helpers: the repository's shipped profiles and sample documents.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use originhub_core::profile::{Plan, compile};
use serde_json::Value;

pub const PROFILE_IDS: [&str; 5] = [
    "aanzfta-vc-json",
    "borastria-xml",
    "canonical-json",
    "chafta-form-json",
    "edi3-coo-json",
];

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every shipped profile, compiled, by id.
pub fn plans() -> BTreeMap<String, Plan> {
    let mut plans = BTreeMap::new();
    for entry in std::fs::read_dir(repo().join("profiles")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let source = std::fs::read_to_string(&path).unwrap();
            let plan = compile(&source, &path.display().to_string())
                .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
            plans.insert(plan.id.clone(), plan);
        }
    }
    plans
}

/// The fixture document written for a profile.
pub fn sample(id: &str) -> Vec<u8> {
    let ext = if id.ends_with("-xml") { "xml" } else { "json" };
    std::fs::read(repo().join("profiles/samples").join(format!("{id}.{ext}"))).unwrap()
}

/// Leaves of a JSON tree by concrete path.
pub fn leaves(value: &Value) -> BTreeMap<String, Value> {
    fn walk(value: &Value, path: String, out: &mut BTreeMap<String, Value>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    walk(
                        v,
                        if path.is_empty() {
                            k.clone()
                        } else {
                            format!("{path}.{k}")
                        },
                        out,
                    );
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(v, format!("{path}[{i}]"), out);
                }
            }
            other => {
                out.insert(path, other.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(value, String::new(), &mut out);
    out
}

/// Whether `path` is `prefix` or lies below it.
pub fn under(path: &str, prefix: &str) -> bool {
    path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|r| r.starts_with(['.', '[']))
}
