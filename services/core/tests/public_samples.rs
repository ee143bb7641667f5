//! The public e-CO documents in `../shared/samples/`, when that folder exists beside the
//! repository (it does on the team's machines and in CI; the documents are not copied here).

mod common;

use std::path::PathBuf;

use common::{PROFILE_IDS, plans};
use originhub_core::engine::{TranslateError, translate};

fn shared(name: &str) -> Option<Vec<u8>> {
    let path = common::repo().join("../shared/samples").join(name);
    if !PathBuf::from(&path).exists() {
        eprintln!("skipping: {} not found", path.display());
        return None;
    }
    Some(std::fs::read(path).unwrap())
}

#[test]
fn edi3_chafta_samples_translate_to_every_profile() {
    let plans = plans();
    for name in ["edi3-chafta-coo.full.json", "edi3-chafta-coo.minimal.json"] {
        let Some(doc) = shared(name) else { return };
        for to in PROFILE_IDS {
            let out = translate(&plans["edi3-coo-json"], &plans[to], &doc)
                .unwrap_or_else(|e| panic!("{name} -> {to}: {e}"));
            assert!(!out.output.is_empty());
        }
        let (record, _) = plans["edi3-coo-json"].read(&doc).unwrap();
        let certificate = record.certificate().unwrap();
        assert_eq!(certificate.goods_items.len(), 3, "{name}");
        assert_eq!(
            certificate.goods_items[0]
                .hs_code
                .as_ref()
                .unwrap()
                .as_str(),
            "220421"
        );
        let criterion = certificate.goods_items[2]
            .origin_criterion
            .as_ref()
            .unwrap();
        assert_eq!(criterion.criteria[0].as_str(), "PSR");
        assert_eq!(
            certificate.goods_items[1]
                .origin_criterion
                .as_ref()
                .unwrap()
                .criteria[0]
                .as_str(),
            "PE"
        );
    }
}

#[test]
fn edi3_full_sample_round_trips_exactly() {
    let Some(doc) = shared("edi3-chafta-coo.full.json") else {
        return;
    };
    let plans = plans();
    let out = translate(&plans["edi3-coo-json"], &plans["edi3-coo-json"], &doc).unwrap();
    let original: serde_json::Value = serde_json::from_slice(&doc).unwrap();
    let back: serde_json::Value = serde_json::from_slice(&out.output).unwrap();
    assert_eq!(back, original);
    assert!(out.report.not_representable.is_empty());
}

#[test]
fn aanzfta_sample_fails_on_its_invalid_country_codes_and_names_them() {
    let Some(doc) = shared("dvp-aanzfta-coo.vc.json") else {
        return;
    };
    let plans = plans();
    let Err(TranslateError::Invalid(violations)) = plans["aanzfta-vc-json"].read(&doc) else {
        panic!("the AANZFTA sample must fail validation");
    };
    let countries: Vec<(&str, &str)> = violations
        .iter()
        .filter(|v| v.rule == "country-code")
        .map(|v| (v.path.as_str(), v.value.as_deref().unwrap_or_default()))
        .collect();
    let base = "verifiableCredential.credentialSubject.supplyChainConsignment";
    assert!(
        countries.contains(&(
            &format!("{base}.consignor.postalAddress.countryCode"),
            "AUD"
        )),
        "{countries:?}"
    );
    assert!(
        countries.contains(&(
            &format!("{base}.consignee.postalAddress.countryCode"),
            "SNG"
        )),
        "{countries:?}"
    );
    assert!(
        countries
            .iter()
            .any(|(p, v)| p.ends_with("tradeProduct.originCountry.code") && *v == "aud"),
        "{countries:?}"
    );
}
