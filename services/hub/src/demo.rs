//! The demo's world, also used by the tests and the load test: four fictional members, a
//! bilateral and a multilateral agreement, the shipped profiles (embedded, so the binary needs no
//! files), a complete config directory, and certificates written in any member's profile.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use originhub_core::profile::{Plan, compile};
use serde_json::{Value, json};

use crate::DEMO_MEMBERS;
use crate::certs::{CertError, DevCerts, DevCertsPlan, write_dev_certs};

/// The shipped profiles: file name and source.
pub const SHIPPED_PROFILES: &[(&str, &str)] = &[
    (
        "aanzfta-vc-json.toml",
        include_str!("../../../profiles/aanzfta-vc-json.toml"),
    ),
    (
        "borastria-xml.toml",
        include_str!("../../../profiles/borastria-xml.toml"),
    ),
    (
        "canonical-json.toml",
        include_str!("../../../profiles/canonical-json.toml"),
    ),
    (
        "chafta-form-json.toml",
        include_str!("../../../profiles/chafta-form-json.toml"),
    ),
    (
        "edi3-coo-json.toml",
        include_str!("../../../profiles/edi3-coo-json.toml"),
    ),
];

const TEMPLATE: &str = include_str!("../../../profiles/samples/canonical-json.json");

/// The bilateral agreement: Borastria and Concordia.
pub const BILATERAL: &str = "BCFTA";
/// The multilateral agreement: all four members.
pub const MULTILATERAL: &str = "FRTA";

/// The profile each member speaks (in both agreements).
pub fn profile_of(member: &str) -> &'static str {
    match member {
        "adjikistan" => "canonical-json",
        "borastria" => "borastria-xml",
        "concordia" => "edi3-coo-json",
        // The ChAFTA form pins its agreement to ChAFTA, so Katanga only receives in the demo.
        _ => "chafta-form-json",
    }
}

/// The country a demo member acts for.
pub fn country_of(member: &str) -> &'static str {
    DEMO_MEMBERS
        .iter()
        .find(|(id, _, _)| *id == member)
        .map_or("XX", |(_, _, country)| country)
}

fn party(member: &str) -> String {
    format!(
        "\n[[party]]\nmember = \"{member}\"\nprofile = \"{}\"\n",
        profile_of(member)
    )
}

/// The two agreements: (id, TOML).
pub fn agreements() -> Vec<(&'static str, String)> {
    let bilateral = format!(
        "id = \"{BILATERAL}\"\nname = \"Borastria–Concordia Free Trade Agreement\"\neffective_from = \"2020-01-01\"\n{}{}",
        party("borastria"),
        party("concordia")
    );
    let mut multilateral = format!(
        "id = \"{MULTILATERAL}\"\nname = \"Four Republics Trade Area\"\neffective_from = \"2022-07-01\"\nrequire_signatures = true\n"
    );
    for (member, _, _) in DEMO_MEMBERS {
        multilateral.push_str(&party(member));
    }
    vec![(BILATERAL, bilateral), (MULTILATERAL, multilateral)]
}

/// A member definition as TOML, with its signing keys.
pub fn member_toml(id: &str, name: &str, country: &str, signing_keys: &[&str]) -> String {
    let keys: Vec<String> = signing_keys.iter().map(|k| format!("{k:?}")).collect();
    format!(
        "id = \"{id}\"\nname = \"{name}\"\ncountry = \"{country}\"\nsigning_keys = [{}]\n",
        keys.join(", ")
    )
}

/// One route of the demo's traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// Sending member.
    pub sender: &'static str,
    /// Agreement.
    pub agreement: &'static str,
    /// Receiving member.
    pub receiver: &'static str,
}

/// Every sender, agreement and receiver the demo exchanges certificates between.
pub fn exchanges() -> Vec<Exchange> {
    let mut all = Vec::new();
    for sender in ["borastria", "concordia"] {
        let receiver = if sender == "borastria" {
            "concordia"
        } else {
            "borastria"
        };
        all.push(Exchange {
            sender,
            agreement: BILATERAL,
            receiver,
        });
    }
    for sender in ["adjikistan", "borastria", "concordia"] {
        for (receiver, _, _) in DEMO_MEMBERS {
            if *receiver != sender {
                all.push(Exchange {
                    sender,
                    agreement: MULTILATERAL,
                    receiver,
                });
            }
        }
    }
    all
}

/// What [`write_config`] made.
#[derive(Debug, Clone)]
pub struct DemoDir {
    /// `DIR/hub.toml`.
    pub config: PathBuf,
    /// The certificates and client files.
    pub certs: DevCerts,
}

fn write(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text)
}

/// Why a config directory could not be written.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Certificates.
    #[error(transparent)]
    Certs(#[from] CertError),
    /// Files.
    #[error("cannot write the config directory: {0}")]
    Io(#[from] std::io::Error),
}

/// Writes a complete hub config directory: `hub.toml` (listening on `listen`, data in `dir`),
/// `certs/`, `clients/NAME.toml`, `members/`, `agreements/` and `profiles/`.
pub fn write_config(dir: &Path, listen: SocketAddr) -> Result<DemoDir, DemoError> {
    let certs = write_dev_certs(
        dir,
        &DevCertsPlan::demo(&format!("https://localhost:{}", listen.port())),
    )?;
    for (id, name, country) in DEMO_MEMBERS {
        let keys: Vec<&str> = certs
            .member_keys
            .iter()
            .filter(|(member, _)| member == id)
            .map(|(_, key)| key.as_str())
            .collect();
        write(
            &dir.join("members").join(format!("{id}.toml")),
            &member_toml(id, name, country, &keys),
        )?;
    }
    for (id, toml) in agreements() {
        write(&dir.join("agreements").join(format!("{id}.toml")), &toml)?;
    }
    for (file, source) in SHIPPED_PROFILES {
        write(&dir.join("profiles").join(file), source)?;
    }
    let config = dir.join("hub.toml");
    write(
        &config,
        &format!(
            "# Origin Hub configuration written by `originhub demo`. Paths are relative to this file;\n\
             # DATABASE_URL (if set) selects Postgres instead of the SQLite file data_dir/hub.db.\n\
             listen = \"{listen}\"\n\
             data_dir = \".\"\n\n\
             [tls]\nca = \"certs/ca.pem\"\ncertificate = \"certs/hub.pem\"\nkey = \"certs/hub.key\"\n\n\
             [registry]\nmembers = \"members\"\nagreements = \"agreements\"\nprofiles = \"profiles\"\n"
        ),
    )?;
    Ok(DemoDir { config, certs })
}

/// A shipped profile compiled.
pub fn shipped_plan(id: &str) -> Option<Plan> {
    SHIPPED_PROFILES
        .iter()
        .find(|(file, _)| file.trim_end_matches(".toml") == id)
        .and_then(|(file, source)| compile(source, file).ok())
}

/// Writes certificates for the demo's traffic in any profile.
#[derive(Debug)]
pub struct Factory {
    canonical: Plan,
    template: Value,
}

impl Default for Factory {
    fn default() -> Self {
        Self::new()
    }
}

impl Factory {
    /// A factory over the shipped canonical sample.
    pub fn new() -> Self {
        Self {
            canonical: shipped_plan("canonical-json")
                .expect("the shipped canonical profile compiles"),
            template: serde_json::from_str(TEMPLATE).expect("the shipped canonical sample is JSON"),
        }
    }

    /// A certificate numbered `serial` for `exchange` with `items` goods items, in `profile`.
    pub fn document(
        &self,
        profile: &Plan,
        exchange: &Exchange,
        serial: &str,
        items: usize,
    ) -> Vec<u8> {
        let mut record = self.template.clone();
        let from = country_of(exchange.sender);
        let to = country_of(exchange.receiver);
        record["id"] = json!(serial);
        record["agreement"] = json!(exchange.agreement);
        record["export_country"] = json!(from);
        record["import_country"] = json!(to);
        record["exporter"]["address"]["country"] = json!(from);
        record["importer"]["address"]["country"] = json!(to);
        if let Some(producers) = record["producers"].as_array_mut() {
            for producer in producers {
                producer["address"]["country"] = json!(from);
            }
        }
        if let Some(goods) = record["goods_items"].as_array().cloned() {
            let first = goods.first().cloned().unwrap_or(Value::Null);
            let list: Vec<Value> = (0..items.max(1))
                .map(|i| {
                    let mut item = first.clone();
                    item["sequence"] = json!(i + 1);
                    item["origin_country"] = json!(from);
                    item
                })
                .collect();
            record["goods_items"] = Value::Array(list);
        }
        let bytes = serde_json::to_vec(&record).unwrap_or_default();
        match self.canonical.read(&bytes) {
            Ok((canonical, _)) => profile.write(&canonical).0,
            // The template is shipped and tested: reaching this is a bug worth seeing.
            Err(error) => panic!("demo certificate {serial} is invalid: {error}"),
        }
    }
}
