//! The benchmark document: a 20-goods-item edi3 certificate (four consignment items of five
//! trade lines each), the shape of the public ChAFTA sample scaled up. Shared by the criterion
//! benchmark and the instruction-count example, so both measure the same input.

use serde_json::{Value, json};

/// A 20-item edi3 certificate: the shape of the public ChAFTA sample, scaled up.
pub(crate) fn document() -> Vec<u8> {
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
