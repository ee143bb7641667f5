//! Translation speed against the floor of any JSON-in/JSON-out transform.
//!
//! One 20-goods-item edi3 document (four consignment items of five trade lines each):
//! - `floor/serde_json_parse_serialize`: `serde_json` parses it into a `Value` and writes it back;
//! - `edi3_to_canonical_to_borastria_xml`: the full translation with compiled plans (parse,
//!   transforms, validation and rules, typed check, extensions, XML output);
//! - `edi3_to_canonical` and `canonical_to_borastria_xml`: the two halves.
//!
//! Run: `cargo bench -p originhub-core --bench translate`.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use originhub_core::engine::translate;
use originhub_core::profile::{Plan, compile};
use serde_json::Value;

#[path = "support/document.rs"]
mod document;
use document::document;

fn plan(id: &str) -> Plan {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../profiles")
        .join(format!("{id}.toml"));
    compile(&std::fs::read_to_string(&path).expect("profile"), id).expect("profile compiles")
}

fn bench(c: &mut Criterion) {
    let doc = document();
    let (edi3, borastria) = (plan("edi3-coo-json"), plan("borastria-xml"));
    let (record, _) = edi3.read(&doc).expect("benchmark document is valid");
    assert_eq!(record.certificate().expect("typed").goods_items.len(), 20);

    let mut group = c.benchmark_group("translate_20_items");
    group.throughput(Throughput::Bytes(doc.len() as u64));
    group.bench_function("floor/serde_json_parse_serialize", |b| {
        b.iter(|| {
            let value: Value = serde_json::from_slice(black_box(&doc)).expect("parse");
            black_box(serde_json::to_vec(&value).expect("serialize"))
        })
    });
    group.bench_function("edi3_to_canonical_to_borastria_xml", |b| {
        b.iter(|| black_box(translate(&edi3, &borastria, black_box(&doc)).expect("translate")))
    });
    group.bench_function("edi3_to_canonical", |b| {
        b.iter(|| black_box(edi3.read(black_box(&doc)).expect("read")))
    });
    group.bench_function("canonical_to_borastria_xml", |b| {
        b.iter(|| black_box(borastria.write(black_box(&record))))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
