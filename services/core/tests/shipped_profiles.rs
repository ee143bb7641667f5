//! The shipped profiles against their own fixture documents: round trips, cross translations,
//! validation errors and reports.

mod common;

use common::{PROFILE_IDS, leaves, plans, sample};
use originhub_core::engine::{Loss, Report, TranslateError, Violation, translate};
use originhub_core::limits::InputError;

fn lost_paths(report: &Report) -> Vec<&str> {
    report
        .not_representable
        .iter()
        .map(|l| l.path.as_str())
        .collect()
}

fn reports(losses: &[Loss], wanted: impl Fn(&Loss) -> bool) -> bool {
    losses.iter().any(wanted)
}

fn violations(result: Result<impl std::fmt::Debug, TranslateError>) -> Vec<Violation> {
    match result {
        Err(TranslateError::Invalid(v)) => v,
        other => panic!("expected violations, got {other:?}"),
    }
}

#[test]
fn the_five_profiles_are_shipped_and_compile() {
    let plans = plans();
    assert_eq!(
        plans.keys().map(String::as_str).collect::<Vec<_>>(),
        PROFILE_IDS
    );
}

#[test]
fn every_fixture_is_valid_in_its_profile() {
    let plans = plans();
    for id in PROFILE_IDS {
        let (record, _) = plans[id]
            .read(&sample(id))
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        let certificate = record.certificate().unwrap();
        assert!(!certificate.goods_items.is_empty(), "{id}");
        assert!(
            certificate.export_country.is_some() && certificate.import_country.is_some(),
            "{id}"
        );
    }
}

#[test]
fn json_fixtures_survive_a_round_trip_through_the_canonical_record_unchanged() {
    let plans = plans();
    for id in [
        "aanzfta-vc-json",
        "canonical-json",
        "chafta-form-json",
        "edi3-coo-json",
    ] {
        let plan = &plans[id];
        let original: serde_json::Value = serde_json::from_slice(&sample(id)).unwrap();
        let (record, _) = plan.read(&sample(id)).unwrap();
        let (written, losses) = plan.write(&record);
        assert!(losses.is_empty(), "{id}: {losses:?}");
        let written: serde_json::Value = serde_json::from_slice(&written).unwrap();
        assert_eq!(leaves(&written), leaves(&original), "{id}");
    }
}

#[test]
fn the_xml_fixture_survives_a_round_trip_unchanged() {
    let plan = &plans()["borastria-xml"];
    let original = plan.parse(&sample("borastria-xml")).unwrap();
    let (record, to_extensions) = plan.read(&sample("borastria-xml")).unwrap();
    assert!(to_extensions.is_empty(), "{to_extensions:?}");
    let (written, losses) = plan.write(&record);
    assert!(losses.is_empty(), "{losses:?}");
    assert_eq!(
        plan.parse(&written).unwrap(),
        original,
        "{}",
        String::from_utf8_lossy(&written)
    );
}

#[test]
fn every_fixture_translates_to_every_profile_and_reads_back() {
    let plans = plans();
    for from in PROFILE_IDS {
        for to in PROFILE_IDS {
            let translation = translate(&plans[from], &plans[to], &sample(from))
                .unwrap_or_else(|e| panic!("{from} -> {to}: {e}"));
            // The target can read what it was given, leaving rules aside (a ChAFTA form given an
            // RVC criterion it cannot print is a valid translation but not a valid ChAFTA form).
            let lenient = plans[to].clone().without_rules();
            let (back, _) = lenient
                .read(&translation.output)
                .unwrap_or_else(|e| panic!("{from} -> {to} -> read: {e}"));
            let (original, _) = plans[from].read(&sample(from)).unwrap();
            assert_eq!(back.value()["id"], original.value()["id"], "{from} -> {to}");
            let lost = lost_paths(&translation.report);
            // Anything that changed on the way is named in the report.
            let back = leaves(&back.value());
            for (path, value) in leaves(&original.value()) {
                if path.starts_with("extensions") || lost.iter().any(|l| common::under(&path, l)) {
                    continue;
                }
                assert_eq!(
                    back.get(&path),
                    Some(&value),
                    "{from} -> {to}: {path} changed silently"
                );
            }
        }
    }
}

#[test]
fn translating_reports_what_the_target_cannot_hold() {
    let plans = plans();
    let translation = translate(
        &plans["borastria-xml"],
        &plans["chafta-form-json"],
        &sample("borastria-xml"),
    )
    .unwrap();
    let lost = lost_paths(&translation.report);
    for expected in [
        "goods_items[1].fob_value",
        "goods_items[0].packages",
        "transport.mode",
        "issue_location",
    ] {
        assert!(lost.contains(&expected), "{expected} missing from {lost:?}");
    }
    // RVC has no ChAFTA code: the criterion is dropped and said to be.
    assert!(reports(
        translation.report.not_representable.as_slice(),
        |l| l.path == "goods_items[1].origin_criterion" && l.reason.contains("RVC")
    ));
    // The issue time does not fit a date-only form.
    assert!(reports(
        translation.report.not_representable.as_slice(),
        |l| l.path == "issue_date_time"
    ));
}

#[test]
fn unmapped_input_goes_to_extensions_and_comes_back_for_the_same_profile() {
    let plans = plans();
    let plan = &plans["aanzfta-vc-json"];
    let (record, to_extensions) = plan.read(&sample("aanzfta-vc-json")).unwrap();
    assert!(
        to_extensions.contains(&"verifiableCredential.issuer".to_owned()),
        "{to_extensions:?}"
    );
    assert_eq!(
        record.value()["extensions"]["aanzfta-vc-json"]["verifiableCredential.issuer"]["id"],
        "did:example:issuer-au-origin-office"
    );
    let other = translate(plan, &plans["edi3-coo-json"], &sample("aanzfta-vc-json")).unwrap();
    assert!(reports(other.report.not_representable.as_slice(), |l| l
        .path
        == "extensions.aanzfta-vc-json.verifiableCredential.issuer"));
}

#[test]
fn every_violation_names_its_source_path_rule_and_value() {
    let plans = plans();
    let doc = String::from_utf8(sample("borastria-xml")).unwrap();
    let broken = doc
        .replace(r#"<bc:Country code="SGP"/>"#, r#"<bc:Country code="XXX"/>"#)
        .replace(r#"<FOB currency="USD">18400.00</FOB>"#, "")
        .replace(r#"hs="081340""#, r#"hs="0813""#)
        .replace(r#"<Criterion code="A"/>"#, r#"<Criterion code="Q"/>"#)
        .replace(
            "<IssueTime>09:15:00+07:00</IssueTime>",
            "<IssueTime>9.15am</IssueTime>",
        );
    let found = violations(plans["borastria-xml"].read(broken.as_bytes()));
    let find = |path: &str, rule: &str| {
        found
            .iter()
            .find(|v| v.path == path && v.rule == rule)
            .unwrap_or_else(|| panic!("no {rule} at {path} in {found:#?}"))
    };
    assert_eq!(
        find("bc:Importer/bc:Address/bc:Country/@code", "country-code")
            .value
            .as_deref(),
        Some("XXX")
    );
    assert_eq!(
        find("Goods/Item[1]/Tariff/@hs", "hs-code").value.as_deref(),
        Some("0813")
    );
    assert_eq!(
        find("Goods/Item[0]/Origin/Criterion[0]/@code", "code-list")
            .value
            .as_deref(),
        Some("Q")
    );
    assert!(
        find("Goods/Item[1]/FOB", "required")
            .message
            .contains("FOB value is required")
    );
    assert_eq!(
        find("Header/IssueDate", "date-time").value.as_deref(),
        Some("2026-03-02")
    );
    assert_eq!(found.len(), 5, "{found:#?}");
}

#[test]
fn a_member_constant_must_hold_its_value() {
    let plans = plans();
    let doc = String::from_utf8(sample("aanzfta-vc-json"))
        .unwrap()
        .replace("AANZFTA_COO", "CHAFTA_COO");
    let found = violations(plans["aanzfta-vc-json"].read(doc.as_bytes()));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (
            found[0].path.as_str(),
            found[0].rule.as_str(),
            found[0].value.as_deref()
        ),
        ("schemaType", "constant", Some("CHAFTA_COO"))
    );
}

#[test]
fn bad_input_is_refused_before_it_is_read() {
    let plans = plans();
    let edi3 = &plans["edi3-coo-json"];
    let mut small = edi3.clone();
    small.limits.max_bytes = 100;
    assert!(matches!(
        small.read(&sample("edi3-coo-json")),
        Err(TranslateError::Input(InputError::TooLarge { .. }))
    ));
    for levels in [100, 300] {
        let deep = format!("{{\"iD\": {}1{}}}", "[".repeat(levels), "]".repeat(levels));
        assert!(
            matches!(
                edi3.read(deep.as_bytes()),
                Err(TranslateError::Input(InputError::TooDeep { .. }))
            ),
            "{levels}"
        );
    }
    assert!(matches!(
        edi3.read(b"{\"iD\": "),
        Err(TranslateError::Input(InputError::Malformed {
            syntax: "JSON",
            ..
        }))
    ));
    assert!(matches!(
        edi3.read(b"[1, 2]"),
        Err(TranslateError::Input(InputError::NotAnObject { .. }))
    ));
    let xml = &plans["borastria-xml"];
    let billion_laughs = br#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<CertificateOfOrigin xmlns="urn:borastria:customs:eco:2"><Remarks>&lol2;</Remarks></CertificateOfOrigin>"#;
    assert!(matches!(
        xml.read(billion_laughs),
        Err(TranslateError::Input(InputError::Doctype { .. }))
    ));
    let external = br#"<CertificateOfOrigin xmlns="urn:borastria:customs:eco:2"><Remarks>&xxe;</Remarks></CertificateOfOrigin>"#;
    assert!(matches!(
        xml.read(external),
        Err(TranslateError::Input(InputError::UndefinedEntity { .. }))
    ));
    let wrong_ns = br#"<CertificateOfOrigin xmlns="urn:other"/>"#;
    assert!(matches!(
        xml.read(wrong_ns),
        Err(TranslateError::Input(InputError::WrongRoot { .. }))
    ));
}

#[test]
fn a_document_with_no_goods_is_refused() {
    let plans = plans();
    let found = violations(plans["chafta-form-json"].read(br#"{"id": "X1", "issuedDate": "2026-01-01", "exporter": {"name": "A"}, "importer": {"name": "B"}, "exportCountry": "Australia", "importCountry": "China"}"#));
    assert!(
        found
            .iter()
            .any(|v| v.path == "items[]" && v.rule == "required"),
        "{found:?}"
    );
}
