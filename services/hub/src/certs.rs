//! Development certificates (`originhub dev-certs`): a CA, the hub's server certificate, one
//! client certificate per identity with its role in the OU, and one client file per identity
//! (`clients/NAME.toml`) so every client command takes `--client FILE` instead of four TLS
//! flags.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use thiserror::Error;
use time::{Duration, OffsetDateTime};

use crate::client::ClientFile;
use crate::identity::Role;
use crate::receipts::keys::NoteKey;

/// Why certificates could not be made or written.
#[derive(Debug, Error)]
pub enum CertError {
    /// rcgen refused.
    #[error("cannot generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// Writing failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The hub's signing key could not be made.
    #[error("cannot make the hub's signing key: {0}")]
    Key(String),
}

/// The hub's signing key file in `certs/` (its verifier key is beside it, `.pub`).
pub const SIGNING_KEY_FILE: &str = "hub-signing.key";

/// A certificate and its private key, PEM.
#[derive(Debug, Clone)]
pub struct Pem {
    /// The certificate.
    pub certificate: String,
    /// The private key (PKCS#8).
    pub key: String,
}

/// A development certificate authority.
#[derive(Debug)]
pub struct DevCa {
    issuer: Issuer<'static, KeyPair>,
    pem: Pem,
}

fn validity(params: &mut CertificateParams, not_before: OffsetDateTime, days: i64) {
    params.not_before = not_before;
    params.not_after = not_before + Duration::days(days);
}

impl DevCa {
    /// A new CA named `name`, valid for `days`.
    pub fn generate(name: &str, days: i64) -> Result<Self, CertError> {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        dn.push(DnType::OrganizationName, "Origin Hub development CA");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        validity(
            &mut params,
            OffsetDateTime::now_utc() - Duration::hours(1),
            days,
        );
        let key = KeyPair::generate()?;
        let certificate = params.self_signed(&key)?;
        let pem = Pem {
            certificate: certificate.pem(),
            key: key.serialize_pem(),
        };
        Ok(Self {
            issuer: Issuer::new(params, key),
            pem,
        })
    }

    /// A CA from its certificate and key (e.g. `certs/ca.pem` and `certs/ca.key`), to issue
    /// more certificates.
    pub fn load(pem: &Pem) -> Result<Self, CertError> {
        let key = KeyPair::from_pem(&pem.key)?;
        Ok(Self {
            issuer: Issuer::from_ca_cert_pem(&pem.certificate, key)?,
            pem: pem.clone(),
        })
    }

    /// The CA's own certificate and key.
    pub fn pem(&self) -> &Pem {
        &self.pem
    }

    /// The hub's server certificate for `hosts` (DNS names or IP addresses).
    pub fn server(&self, hosts: &[&str], days: i64) -> Result<Pem, CertError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        for host in hosts {
            params.subject_alt_names.push(match host.parse() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName((*host).try_into()?),
            });
        }
        params
            .distinguished_name
            .push(DnType::CommonName, "originhub");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        validity(
            &mut params,
            OffsetDateTime::now_utc() - Duration::hours(1),
            days,
        );
        self.sign(params)
    }

    /// A client certificate: CN = `name`, OU = `role`, valid from `not_before` for `days`
    /// (tests make expired ones with a past `not_before`).
    pub fn client(
        &self,
        name: &str,
        role: Role,
        not_before: OffsetDateTime,
        days: i64,
    ) -> Result<Pem, CertError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, name);
        params
            .distinguished_name
            .push(DnType::OrganizationalUnitName, role.as_str());
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        validity(&mut params, not_before, days);
        self.sign(params)
    }

    fn sign(&self, params: CertificateParams) -> Result<Pem, CertError> {
        let key = KeyPair::generate()?;
        let certificate = params.signed_by(&key, &self.issuer)?;
        Ok(Pem {
            certificate: certificate.pem(),
            key: key.serialize_pem(),
        })
    }
}

/// What `dev-certs` makes.
#[derive(Debug, Clone)]
pub struct DevCertsPlan {
    /// The address clients dial, e.g. `https://localhost:7443`.
    pub hub_address: String,
    /// Identities and roles; each gets `certs/NAME.pem` and `clients/NAME.toml`.
    pub identities: Vec<(String, Role)>,
    /// Validity in days.
    pub days: i64,
    /// The receipt log's origin: the name of the hub's signing key.
    pub log_origin: String,
}

impl DevCertsPlan {
    /// The four demo members plus `operator` and `auditor`.
    pub fn demo(hub_address: &str) -> Self {
        let mut identities: Vec<(String, Role)> = crate::DEMO_MEMBERS
            .iter()
            .map(|(id, _, _)| ((*id).to_owned(), Role::Member))
            .collect();
        identities.push(("operator".into(), Role::Operator));
        identities.push(("auditor".into(), Role::Auditor));
        Self {
            hub_address: hub_address.to_owned(),
            identities,
            days: 365,
            log_origin: crate::config::HubConfig::default().log_origin,
        }
    }
}

/// The files `dev-certs` wrote.
#[derive(Debug, Clone)]
pub struct DevCerts {
    /// `certs/ca.pem`.
    pub ca: PathBuf,
    /// `certs/hub.pem`.
    pub hub_certificate: PathBuf,
    /// `certs/hub.key`.
    pub hub_key: PathBuf,
    /// `certs/hub-signing.key`: the hub's receipt-log signing key (`.pub` beside it).
    pub signing_key: PathBuf,
    /// `clients/NAME.toml`, one per identity.
    pub clients: Vec<PathBuf>,
    /// Each member's signing verifier key (its private key is `certs/NAME-signing.key`), for
    /// its `signing_keys`.
    pub member_keys: Vec<(String, String)>,
}

fn write(path: &Path, text: &str) -> Result<(), CertError> {
    write_as(path, |path| std::fs::write(path, text))
}

/// Writes a private key: readable by its owner only, as TLS keys must be.
fn write_key(path: &Path, text: &str) -> Result<(), CertError> {
    // PEM from rcgen ends in a newline, which `write_private` adds.
    let text = text.trim_end();
    write_as(path, |path| {
        crate::files::write_private(path, text, crate::files::Existing::Replace)
    })
}

fn write_as(
    path: &Path,
    write: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<(), CertError> {
    let error = |source| CertError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(error)?;
    }
    write(path).map_err(error)
}

/// Writes `out/certs/` (CA, hub, one certificate per identity) and `out/clients/NAME.toml`.
/// Client files name their certificates relative to themselves, so the folder can move.
pub fn write_dev_certs(out: &Path, plan: &DevCertsPlan) -> Result<DevCerts, CertError> {
    let certs = out.join("certs");
    let ca = DevCa::generate("Origin Hub development CA", plan.days)?;
    write(&certs.join("ca.pem"), &ca.pem().certificate)?;
    write_key(&certs.join("ca.key"), &ca.pem().key)?;
    let hub = ca.server(&["localhost", "127.0.0.1", "::1"], plan.days)?;
    write(&certs.join("hub.pem"), &hub.certificate)?;
    write_key(&certs.join("hub.key"), &hub.key)?;
    let signing_key = NoteKey::load_or_create(&certs.join(SIGNING_KEY_FILE), &plan.log_origin)
        .map_err(|e| CertError::Key(e.to_string()))?;
    let mut clients = Vec::new();
    let mut member_keys = Vec::new();
    for (name, role) in &plan.identities {
        let name = name.to_lowercase();
        let pem = ca.client(
            &name,
            *role,
            OffsetDateTime::now_utc() - Duration::hours(1),
            plan.days,
        )?;
        write(&certs.join(format!("{name}.pem")), &pem.certificate)?;
        write_key(&certs.join(format!("{name}.key")), &pem.key)?;
        let file = ClientFile {
            hub: plan.hub_address.clone(),
            ca: PathBuf::from("../certs/ca.pem"),
            certificate: PathBuf::from(format!("../certs/{name}.pem")),
            key: PathBuf::from(format!("../certs/{name}.key")),
            hub_key: Some(signing_key.verifier_key().to_owned()),
            signing_key: (*role == Role::Member)
                .then(|| format!("../certs/{name}-signing.key").into()),
        };
        if *role == Role::Member {
            let key = NoteKey::load_or_create(&certs.join(format!("{name}-signing.key")), &name)
                .map_err(|e| CertError::Key(e.to_string()))?;
            member_keys.push((name.clone(), key.verifier_key().to_owned()));
        }
        let path = out.join("clients").join(format!("{name}.toml"));
        write(&path, &file.to_toml())?;
        clients.push(path);
    }
    // The keys' names, like their contents, must survive a power cut: a hub whose key vanished
    // would not start.
    let client_folder = (!clients.is_empty()).then(|| out.join("clients"));
    for folder in std::iter::once(certs.clone()).chain(client_folder) {
        crate::files::sync_folder(&folder).map_err(|source| CertError::Write {
            path: folder.clone(),
            source,
        })?;
    }
    Ok(DevCerts {
        ca: certs.join("ca.pem"),
        hub_certificate: certs.join("hub.pem"),
        hub_key: certs.join("hub.key"),
        signing_key: certs.join(SIGNING_KEY_FILE),
        clients,
        member_keys,
    })
}
