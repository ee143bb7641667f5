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
use serde_json::{Value, json};

fn plan(id: &str) -> Plan {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../profiles")
        .join(format!("{id}.toml"));
    compile(&std::fs::read_to_string(&path).expect("profile"), id).expect("profile compiles")
}

/// A 20-item edi3 certificate: the shape of the public ChAFTA sample, scaled up.
fn document() -> Vec<u8> {
    let consignments: Vec<Value> = (0..4)
        .map(|c| {
            let lines: Vec<Value> = (0..5)
                .map(|l| {
                    let n = c * 5 + l + 1;
                    json!({
                        "sequenceNumber": n,
                        "invoiceReference": {"iD": format!("tweglobal.com:invoice:{}", 1000 + c), "formattedIssueDateTime": "2026-06-02T14:30:00Z"},
                        "tradeProduct": {
                            "iD": format!("gs1.org:gtin:93258140{n:05}"),
                            "description": format!("Red wine, vintage 20{:02}, 750 ml bottles, case lot {n}", 10 + n),
                            "harmonisedTariffCode": {"classCode": "2204.21", "className": "Wine of fresh grapes"},
                            "originCountry": {"code": "AU"}
                        },
                        "transportPackages": [{"iD": format!("gs1.org:sscc:5931234567{n:07}"), "grossWeight": "450 Kg"}]
                    })
                })
                .collect();
            json!({
                "iD": format!("penfolds.com:shipment:{c}"),
                "crossBorderRegulatoryProcedure": {"originCriteriaText": if c % 2 == 0 { "WP" } else { "PSR" }},
                "manufacturer": {"iD": "id:penfolds.com", "name": "Penfolds wine", "postalAddress": {"line1": "Penfolds vineyard", "cityName": "Bordertown", "countryCode": "AU"}},
                "tradeLineItems": lines
            })
        })
        .collect();
    let doc = json!({
        "iD": "wfa.org.au:coo:WBC208897",
        "issueDateTime": "2026-06-03T00:46:34Z",
        "issueLocation": {"iD": "unece.un.org:locode:AUADL", "name": "Adelaide"},
        "issuer": {"iD": "id:wfa.org.au", "name": "Australian Grape and Wine Incorporated",
                   "postalAddress": {"line1": "Level 1, Industry Offices", "line2": "Botanic Road", "cityName": "Adelaide", "postcode": "5000", "countrySubDivisionName": "SA", "countryCode": "AU"}},
        "status": "issued",
        "isPreferential": true,
        "freeTradeAgreement": "CHAFTA",
        "firstSignatoryAuthentication": {"actualDateTime": "2026-05-29T09:46:34Z", "statement": "The undersigned hereby declares that the above-stated information is correct."},
        "secondSignatoryAuthentication": {"actualDateTime": "2026-06-03T03:50:45Z", "statement": "It is hereby certified that the information herein is correct."},
        "supplyChainConsignment": {
            "exportCountry": {"code": "AU"},
            "importCountry": {"code": "CN"},
            "exporter": {"iD": "abr.gov.au:abn:55004094599", "name": "TREASURY WINE ESTATES VINTNERS LIMITED",
                         "postalAddress": {"line1": "161 Collins Street", "cityName": "Melbourne", "postcode": "3000", "countrySubDivisionName": "VIC", "countryCode": "AU"}},
            "importer": {"iD": "id:emw-wines.com", "name": "East meets west fine wines",
                         "postalAddress": {"line1": "Room 202", "cityName": "Shanghai", "postcode": "200052", "countryCode": "CN"}},
            "loadingBaseportLocation": {"iD": "unece.un.org:locode:AUMEL", "name": "Melbourne"},
            "unloadingBaseportLocation": {"iD": "unece.un.org:locode:CNSHA", "name": "Shanghai"},
            "mainCarriageTransportMovement": {"iD": "iata.org:CX104", "usedTransportMeans": {"iD": "id:B-2398", "name": "airbus A350"},
                                              "departureEvent": {"departureDateTime": "2026-06-20T09:30:00Z"}},
            "includedConsignmentItems": consignments
        }
    });
    serde_json::to_vec_pretty(&doc).expect("serialize")
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
