//! Property: canonical → profile → canonical keeps every field the profile can express, and
//! whatever it cannot express is named in the report. Nothing changes silently.

mod common;

use common::{PROFILE_IDS, leaves, plans, under};
use originhub_core::canonical::Certificate;
use originhub_core::engine::Canonical;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value, json};

const TEXT: &str = "[A-Za-z0-9][A-Za-z0-9 ,.&<>'\"/:()-]{0,24}[A-Za-z0-9.)]";

fn text() -> impl Strategy<Value = Value> {
    TEXT.prop_map(Value::String)
}

fn opt(s: impl Strategy<Value = Value>) -> impl Strategy<Value = Option<Value>> {
    proptest::option::of(s)
}

fn country() -> impl Strategy<Value = Value> {
    select(
        rust_iso3166::ALL
            .iter()
            .map(|c| c.alpha2)
            .collect::<Vec<_>>(),
    )
    .prop_map(Value::from)
}

fn date() -> impl Strategy<Value = String> {
    (1990u32..2040, 1u32..=12, 1u32..=28).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}"))
}

fn date_time() -> impl Strategy<Value = Value> {
    let offset = prop_oneof![
        Just("Z".to_owned()),
        (0u32..=14, select(vec![0u32, 30, 45]), any::<bool>())
            .prop_map(|(h, m, neg)| format!("{}{h:02}:{m:02}", if neg { '-' } else { '+' }))
    ];
    (date(), 0u32..24, 0u32..60, 0u32..60, offset)
        .prop_map(|(d, h, mi, s, o)| Value::String(format!("{d}T{h:02}:{mi:02}:{s:02}{o}")))
}

fn date_or_date_time() -> impl Strategy<Value = Value> {
    prop_oneof![date().prop_map(Value::String), date_time()]
}

fn decimal() -> impl Strategy<Value = Value> {
    (0u32..1_000_000, proptest::option::of(0u32..1000)).prop_map(|(i, f)| {
        Value::String(match f {
            Some(f) => format!("{i}.{f}"),
            None => i.to_string(),
        })
    })
}

fn object(fields: Vec<(&'static str, Option<Value>)>) -> Value {
    Value::Object(
        fields
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
            .collect::<Map<_, _>>(),
    )
}

fn non_empty(value: Value) -> Option<Value> {
    (value.as_object().is_some_and(|o| !o.is_empty())).then_some(value)
}

fn address() -> impl Strategy<Value = Value> {
    (
        proptest::collection::vec(text(), 0..4),
        opt(text()),
        opt(text()),
        opt(text()),
        opt(country()),
    )
        .prop_map(|(lines, city, postcode, subdivision, country)| {
            object(vec![
                ("lines", (!lines.is_empty()).then(|| Value::Array(lines))),
                ("city", city),
                ("postcode", postcode),
                ("subdivision", subdivision),
                ("country", country),
            ])
        })
}

fn party() -> impl Strategy<Value = Value> {
    (opt(text()), opt(text()), text(), opt(address())).prop_map(|(id, scheme, name, address)| {
        object(vec![
            ("id", id.clone()),
            ("id_scheme", id.and(scheme)),
            ("name", Some(name)),
            ("address", address.and_then(non_empty)),
        ])
    })
}

fn location() -> impl Strategy<Value = Value> {
    (
        opt((country(), "[A-Z2-9]{3}")
            .prop_map(|(c, l)| Value::String(format!("{}{l}", c.as_str().unwrap_or_default())))),
        opt(text()),
    )
        .prop_map(|(locode, name)| object(vec![("locode", locode), ("name", name)]))
}

fn criterion() -> impl Strategy<Value = Value> {
    let codes = proptest::collection::vec(
        select(vec![
            "WO", "PE", "RVC", "CTC", "CC", "CTH", "CTSH", "PSR", "SP", "CR", "PC", "OTHER",
        ]),
        1..3,
    );
    let modifiers = proptest::collection::vec(select(vec!["ACU", "DMI", "2.6.6A", "2.6.6B"]), 0..2);
    (
        codes,
        modifiers,
        opt(select(vec!["40", "35.5", "100", "0"]).prop_map(Value::from)),
        any::<bool>(),
    )
        .prop_map(|(codes, modifiers, percentage, with_text)| {
            let mut printed = codes.join(" ");
            if let Some(p) = &percentage {
                printed.push_str(&format!(" {}%", p.as_str().unwrap_or_default()));
            }
            for m in &modifiers {
                printed.push(' ');
                printed.push_str(m);
            }
            object(vec![
                ("criteria", Some(json!(codes))),
                (
                    "modifiers",
                    (!modifiers.is_empty()).then(|| json!(modifiers)),
                ),
                ("percentage", percentage),
                ("text", with_text.then(|| Value::String(printed))),
            ])
        })
}

fn measure() -> impl Strategy<Value = Value> {
    (
        decimal(),
        select(vec!["KGM", "LTR", "MTQ", "TNE", "H87", "XHG", "KWH"]),
    )
        .prop_map(|(v, u)| json!({"value": v, "unit": u}))
}

fn goods_item() -> impl Strategy<Value = Value> {
    let packages = proptest::collection::vec(
        (
            opt((1u32..500).prop_map(Value::from)),
            opt("[A-Z0-9]{2}".prop_map(Value::String)),
        )
            .prop_map(|(c, k)| object(vec![("count", c), ("kind", k)])),
        0..3,
    );
    let invoices = proptest::collection::vec(
        (opt(text()), opt(date_or_date_time()))
            .prop_map(|(n, d)| object(vec![("number", n), ("date", d)])),
        0..3,
    );
    (
        (
            opt((1u32..999).prop_map(Value::from)),
            opt(text()),
            packages,
            text(),
            opt(text()),
        ),
        (
            "[0-9]{6}",
            opt("[0-9]{1,4}".prop_map(Value::String)),
            opt(Just(Value::from("HS2022"))),
            criterion(),
        ),
        (
            opt(measure()),
            opt(measure()),
            opt((decimal(), select(vec!["AUD", "USD", "SGD", "CNY"]))
                .prop_map(|(v, c)| json!({"value": v, "currency": c}))),
            invoices,
            opt(country()),
            opt(text()),
        ),
    )
        .prop_map(
            |(
                (sequence, marks, packages, description, product),
                (hs, national, edition, criterion),
                (quantity, weight, fob, invoices, origin, producer),
            )| {
                let packages: Vec<Value> = packages.into_iter().filter_map(non_empty).collect();
                let invoices: Vec<Value> = invoices.into_iter().filter_map(non_empty).collect();
                object(vec![
                    ("sequence", sequence),
                    ("marks", marks),
                    (
                        "packages",
                        (!packages.is_empty()).then(|| Value::Array(packages)),
                    ),
                    ("description", Some(description)),
                    ("product_id", product),
                    ("hs_code", Some(Value::String(hs))),
                    ("hs_edition", edition),
                    ("national_code", national),
                    ("origin_criterion", Some(criterion)),
                    ("quantity", quantity),
                    ("gross_weight", weight),
                    ("fob_value", fob),
                    (
                        "invoices",
                        (!invoices.is_empty()).then(|| Value::Array(invoices)),
                    ),
                    ("origin_country", origin),
                    ("producer_reference", producer),
                ])
            },
        )
}

fn declaration() -> impl Strategy<Value = Value> {
    (
        opt(text()),
        opt(text()),
        opt(date_or_date_time()),
        opt(text()),
        opt(text()),
    )
        .prop_map(|(statement, place, date, signatory, signature)| {
            object(vec![
                ("statement", statement),
                ("place", place),
                ("date", date),
                ("signatory", signatory),
                ("signature", signature),
            ])
        })
}

fn certificate() -> impl Strategy<Value = Value> {
    let header = (
        "[A-Z0-9][A-Z0-9:./-]{0,33}",
        date_time(),
        opt(location()),
        opt(select(vec!["CHAFTA", "AANZFTA", "RCEP", "ATIGA"]).prop_map(Value::from)),
        opt(any::<bool>().prop_map(Value::Bool)),
        opt(select(vec!["normal", "back_to_back", "replacement"]).prop_map(Value::from)),
        opt(select(vec!["issued", "revoked", "replaced", "cancelled"]).prop_map(Value::from)),
    );
    let parties = (
        opt(party()),
        party(),
        proptest::collection::vec(party(), 0..3),
        party(),
        country(),
        country(),
    );
    let transport = opt((
        opt(date_or_date_time()),
        opt("[0-9]".prop_map(Value::String)),
        opt(text()),
        opt(text()),
        opt(text()),
        opt(location()),
        opt(location()),
    )
        .prop_map(|(d, m, n, i, v, l, u)| {
            object(vec![
                ("departure_date", d),
                ("mode", m),
                ("means_name", n),
                ("means_id", i),
                ("voyage", v),
                ("loading_port", l.and_then(non_empty)),
                ("discharge_port", u.and_then(non_empty)),
            ])
        }));
    let rest = (
        proptest::collection::vec(goods_item(), 1..5),
        opt(declaration()),
        opt(declaration()),
        opt(text()),
        opt((any::<bool>(), any::<bool>()).prop_map(|(r, e)| json!({"issued_retroactively": r, "exhibition": e}))),
        opt(text().prop_map(|uri| json!({"uri": uri.as_str().unwrap_or_default().replace(' ', "_"), "media_type": "application/pdf"}))),
    );
    (header, parties, transport, rest).prop_map(
        |(
            (id, issued, location, agreement, preferential, kind, status),
            (authority, exporter, producers, importer, export, import),
            transport,
            (goods, exporter_declaration, authority_certification, remarks, flags, attachment),
        )| {
            object(vec![
                ("id", Some(Value::String(id))),
                ("issue_date_time", Some(issued)),
                ("issue_location", location.and_then(non_empty)),
                ("agreement", agreement),
                ("preferential", preferential),
                ("kind", kind),
                ("status", status),
                ("issuing_authority", authority),
                ("exporter", Some(exporter)),
                (
                    "producers",
                    (!producers.is_empty()).then(|| Value::Array(producers)),
                ),
                ("importer", Some(importer)),
                ("export_country", Some(export)),
                ("import_country", Some(import)),
                ("transport", transport.and_then(non_empty)),
                ("goods_items", Some(Value::Array(goods))),
                ("flags", flags),
                (
                    "exporter_declaration",
                    exporter_declaration.and_then(non_empty),
                ),
                (
                    "authority_certification",
                    authority_certification.and_then(non_empty),
                ),
                ("remarks", remarks),
                ("attachments", attachment.map(|a| Value::Array(vec![a]))),
            ])
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn canonical_to_profile_to_canonical_loses_nothing_silently(record in certificate()) {
        let certificate: Certificate = serde_json::from_value(record.clone()).map_err(|e| TestCaseError::fail(format!("generator made an invalid record: {e}\n{record:#}")))?;
        let canonical = Canonical::from_certificate(&certificate);
        let original = leaves(&canonical.value());
        for (id, plan) in plans() {
            // Translation, not validation: the target's own rules are tested elsewhere.
            let plan = plan.without_rules();
            let (document, losses) = plan.write(&canonical);
            let (back, _) = plan.read(&document).map_err(|e| TestCaseError::fail(format!("{id}: cannot read its own output: {e}\n{}", String::from_utf8_lossy(&document))))?;
            let back = leaves(&back.value());
            let lost: Vec<&str> = losses.iter().map(|l| l.path.as_str()).collect();
            for (path, value) in &original {
                if lost.iter().any(|l| under(path, l)) {
                    continue;
                }
                prop_assert_eq!(back.get(path), Some(value), "{}: {} changed silently; losses: {:?}", id, path, lost);
            }
            // The identifying fields are never lost, whatever the profile.
            for path in ["id", "issue_date_time", "goods_items[0].hs_code"] {
                prop_assert!(!lost.iter().any(|l| under(path, l)) || (id == "chafta-form-json" && path == "issue_date_time"), "{}: {} reported lost", id, path);
            }
            if id == "canonical-json" {
                prop_assert!(losses.is_empty(), "canonical-json lost {:?}", losses);
            }
        }
    }
}

#[test]
fn profile_ids_cover_the_property() {
    assert_eq!(plans().len(), PROFILE_IDS.len());
}
