//! Runs one workload N times, for counting instructions with callgrind (repeatable, unlike
//! wall time on a shared machine):
//!
//! ```sh
//! cargo build --release -p originhub-core --example instructions
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/instructions floor 100
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/instructions translate 100
//! ```
//!
//! Workloads: `floor` (serde_json parse and serialize of the benchmark document),
//! `translate` (edi3-coo-json → canonical → borastria-xml), as in `benches/translate.rs`, and
//! `read_xml` (the same certificate in borastria-xml, read into the canonical record: the XML
//! reader's share of a submission).

use std::hint::black_box;
use std::path::Path;

use originhub_core::engine::translate;
use originhub_core::profile::compile;

#[path = "../benches/support/document.rs"]
mod document;

fn main() {
    let mut args = std::env::args().skip(1);
    let workload = args.next().unwrap_or_default();
    let times: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(100);
    let doc = document::document();
    let profiles = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../profiles");
    let plan = |id: &str| {
        let source = std::fs::read_to_string(profiles.join(format!("{id}.toml"))).expect("profile");
        compile(&source, id).expect("profile compiles")
    };
    match workload.as_str() {
        "floor" => {
            for _ in 0..times {
                let value: serde_json::Value =
                    serde_json::from_slice(black_box(&doc)).expect("parse");
                black_box(serde_json::to_vec(&value).expect("serialize"));
            }
        }
        "translate" => {
            let (edi3, borastria) = (plan("edi3-coo-json"), plan("borastria-xml"));
            for _ in 0..times {
                black_box(translate(&edi3, &borastria, black_box(&doc)).expect("translate"));
            }
        }
        "read_xml" => {
            let (edi3, borastria) = (plan("edi3-coo-json"), plan("borastria-xml"));
            let xml = translate(&edi3, &borastria, &doc)
                .expect("translate")
                .output;
            for _ in 0..times {
                black_box(borastria.read(black_box(&xml)).expect("read"));
            }
        }
        other => {
            eprintln!("usage: instructions floor|translate|read_xml [TIMES]; got {other:?}");
            std::process::exit(2);
        }
    }
}
