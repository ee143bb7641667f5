//! No input makes the engine panic: arbitrary bytes, arbitrary JSON and XML, and the fixtures
//! with random values spliced in. Whatever is read is also written back.

mod common;

use common::{PROFILE_IDS, plans, sample};
use originhub_core::profile::Plan;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;

fn exercise(plan: &Plan, input: &[u8]) {
    if let Ok((record, _)) = plan.read(input) {
        for other in plans().values() {
            let _ = other.write(&record);
        }
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
        select(vec![
            "AU",
            "2204.21",
            "WP",
            "RVC 40%",
            "450 Kg",
            "2026-01-01",
            "2026-01-01T10:00:00Z",
            "Lao PDR",
            "id:x",
            ""
        ])
        .prop_map(Value::from),
    ];
    let keys = select(vec![
        "iD",
        "items",
        "tradeLineItems",
        "includedConsignmentItems",
        "supplyChainConsignment",
        "goods_items",
        "hs_code",
        "name",
        "code",
        "verifiableCredential",
        "credentialSubject",
        "extensions",
        "$layout",
        "x",
    ]);
    leaf.prop_recursive(6, 64, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((keys.clone(), inner), 0..6).prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

fn xml_element(depth: u32) -> BoxedStrategy<String> {
    let names = select(vec![
        "Header",
        "CertificateNumber",
        "Goods",
        "Item",
        "Tariff",
        "Origin",
        "Criterion",
        "bc:Exporter",
        "bc:Name",
        "bc:Address",
        "bc:Country",
        "Quantity",
        "x:Odd",
    ]);
    let attrs = proptest::collection::vec(
        (
            select(vec![
                "code", "hs", "seq", "unitCode", "percent", "xmlns", "xmlns:x", "bc:code",
            ]),
            "[^\"<&]{0,8}",
        ),
        0..3,
    );
    let text = prop_oneof![
        Just(String::new()),
        "[^<&]{0,10}",
        Just("&amp;&#65;".to_owned()),
        Just("<![CDATA[x<y]]>".to_owned())
    ];
    if depth == 0 {
        return (names, attrs, text)
            .prop_map(|(n, a, t)| element(n, &a, &t))
            .boxed();
    }
    (
        names,
        attrs,
        text,
        proptest::collection::vec(xml_element(depth - 1), 0..4),
    )
        .prop_map(|(n, a, t, children)| element(n, &a, &format!("{t}{}", children.concat())))
        .boxed()
}

fn element(name: &str, attrs: &[(&str, String)], content: &str) -> String {
    let attrs: String = attrs.iter().map(|(k, v)| format!(" {k}=\"{v}\"")).collect();
    format!("<{name}{attrs}>{content}</{name}>")
}

/// Replaces the value at the n-th leaf (in document order) of `tree` with `replacement`.
fn splice(tree: &mut Value, mut n: usize, replacement: Value) {
    fn walk(v: &mut Value, n: &mut usize, r: &Value) -> bool {
        match v {
            Value::Object(m) => m.values_mut().any(|c| walk(c, n, r)),
            Value::Array(a) => a.iter_mut().any(|c| walk(c, n, r)),
            leaf => {
                if *n == 0 {
                    *leaf = r.clone();
                    return true;
                }
                *n -= 1;
                false
            }
        }
    }
    walk(tree, &mut n, &replacement);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(input in proptest::collection::vec(any::<u8>(), 0..512)) {
        for plan in plans().values() {
            exercise(plan, &input);
        }
    }

    #[test]
    fn arbitrary_json(value in json_value()) {
        let input = serde_json::to_vec(&value).unwrap();
        for plan in plans().values() {
            exercise(plan, &input);
        }
    }

    #[test]
    fn arbitrary_xml(body in proptest::collection::vec(xml_element(3), 0..4), wrap in any::<bool>()) {
        let input = if wrap {
            format!(r#"<?xml version="1.0"?><CertificateOfOrigin xmlns="urn:borastria:customs:eco:2" xmlns:bc="urn:borastria:customs:common:2">{}</CertificateOfOrigin>"#, body.concat())
        } else {
            body.concat()
        };
        exercise(&plans()["borastria-xml"], input.as_bytes());
    }

    #[test]
    fn fixtures_with_random_values_spliced_in(profile in select(PROFILE_IDS.to_vec()), at in 0usize..200, value in json_value()) {
        let plans = plans();
        let plan = &plans[profile];
        if profile.ends_with("-xml") {
            let doc = String::from_utf8(sample(profile)).unwrap();
            let text = value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string());
            // Replace the at-th attribute value or text node with the (escaped) random text.
            let escaped = text.replace('&', "&amp;").replace('<', "&lt;").replace('"', "&quot;");
            let mut pieces: Vec<&str> = doc.split('"').collect();
            let slot = 1 + 2 * (at % (pieces.len() / 2).max(1));
            if slot < pieces.len() {
                pieces[slot] = &escaped;
            }
            exercise(plan, pieces.join("\"").as_bytes());
        } else {
            let mut tree: Value = serde_json::from_slice(&sample(profile)).unwrap();
            splice(&mut tree, at, value);
            exercise(plan, &serde_json::to_vec(&tree).unwrap());
        }
    }
}
