//! The operator commands (`originhub operator list|get|put|stats`): a running hub's members,
//! agreements and profiles, and its delivery statistics, through `OperatorService` as the
//! operator identity of a client file. Definitions travel as the same TOML text as the files in
//! the config folders. A refusal by the hub exits 1 with its reasons (for a profile, every error
//! with its line); a connection or usage problem exits 2.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use originhub_hub::client::ClientFile;
use originhub_hub::proto::operator_service_client::OperatorServiceClient;
use originhub_hub::proto::{
    Agreement, GetAgreementRequest, GetDeliveryStatsRequest, GetMemberRequest, GetProfileRequest,
    ListAgreementsRequest, ListMembersRequest, ListProfilesRequest, Member, Profile,
    PutAgreementRequest, PutMemberRequest, PutProfileRequest,
};
use serde_json::json;
use tonic::transport::Channel;

use crate::cli::{
    ClientArg, OperatorCommand, OperatorGetArgs, OperatorListArgs, OperatorPutArgs, RegistryKind,
    StatsArgs,
};
use crate::member::refused;

async fn connect(client: &ClientArg) -> anyhow::Result<OperatorServiceClient<Channel>> {
    let file = ClientFile::load(&client.client)?;
    Ok(file.operator().await?)
}

/// Runs one operator command.
pub(crate) async fn run(command: OperatorCommand) -> anyhow::Result<ExitCode> {
    match command {
        OperatorCommand::List(args) => list(args).await,
        OperatorCommand::Get(args) => get(args).await,
        OperatorCommand::Put(args) => put(args).await,
        OperatorCommand::Stats(args) => stats(args).await,
    }
}

/// One registry entry as the hub returned it.
struct Entry {
    id: String,
    version: Option<String>,
    toml: String,
}

impl From<Member> for Entry {
    fn from(member: Member) -> Self {
        Self {
            id: member.id,
            version: None,
            toml: member.toml,
        }
    }
}

impl From<Agreement> for Entry {
    fn from(agreement: Agreement) -> Self {
        Self {
            id: agreement.id,
            version: None,
            toml: agreement.toml,
        }
    }
}

impl From<Profile> for Entry {
    fn from(profile: Profile) -> Self {
        Self {
            id: profile.id,
            version: Some(profile.version),
            toml: profile.toml,
        }
    }
}

impl Entry {
    fn json(&self) -> serde_json::Value {
        let mut out = json!({ "id": self.id, "toml": self.toml });
        if let Some(version) = &self.version {
            out["version"] = json!(version);
        }
        out
    }
}

/// A string field of a definition's TOML, or "" when it has none (the hub checked the text when
/// it was stored, so a missing field is an optional one).
fn field(table: &toml::Table, key: &str) -> String {
    table
        .get(key)
        .and_then(toml::Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The columns `list` prints for one entry, after its id.
fn columns(kind: RegistryKind, entry: &Entry) -> Vec<String> {
    let table: toml::Table = entry.toml.parse().unwrap_or_default();
    match kind {
        RegistryKind::Member => vec![field(&table, "country"), field(&table, "name")],
        RegistryKind::Agreement => {
            let members = |key: &str| {
                table
                    .get(key)
                    .and_then(toml::Value::as_array)
                    .map(|parties| {
                        parties
                            .iter()
                            .filter_map(|p| p.get("member").and_then(toml::Value::as_str))
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .unwrap_or_default()
            };
            vec![members("party"), members("copy"), field(&table, "name")]
        }
        RegistryKind::Profile => vec![entry.version.clone().unwrap_or_default()],
    }
}

fn headings(kind: RegistryKind) -> &'static [&'static str] {
    match kind {
        RegistryKind::Member => &["member", "country", "name"],
        RegistryKind::Agreement => &["agreement", "parties", "copies", "name"],
        RegistryKind::Profile => &["profile", "version"],
    }
}

/// Prints rows as left-aligned columns; the last column is not padded.
fn print_table(headings: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headings.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let text: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                if i == last {
                    (*cell).to_owned()
                } else {
                    format!("{cell:<width$}", width = widths[i])
                }
            })
            .collect();
        println!("{}", text.join("  ").trim_end());
    };
    line(headings.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

fn entries<T: Into<Entry>>(all: Vec<T>) -> Vec<Entry> {
    all.into_iter().map(Into::into).collect()
}

async fn list(args: OperatorListArgs) -> anyhow::Result<ExitCode> {
    let mut client = connect(&args.client).await?;
    let answer = match args.kind {
        RegistryKind::Member => client
            .list_members(ListMembersRequest {})
            .await
            .map(|r| entries(r.into_inner().members)),
        RegistryKind::Agreement => client
            .list_agreements(ListAgreementsRequest {})
            .await
            .map(|r| entries(r.into_inner().agreements)),
        RegistryKind::Profile => client
            .list_profiles(ListProfilesRequest {})
            .await
            .map(|r| entries(r.into_inner().profiles)),
    };
    let entries = match answer {
        Ok(entries) => entries,
        Err(status) => return Ok(refused(&status)),
    };
    if args.json {
        let out: Vec<_> = entries.iter().map(Entry::json).collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let rows: Vec<Vec<String>> = entries
            .iter()
            .map(|entry| {
                let mut row = vec![entry.id.clone()];
                row.extend(columns(args.kind, entry));
                row
            })
            .collect();
        print_table(headings(args.kind), &rows);
    }
    Ok(ExitCode::SUCCESS)
}

async fn get(args: OperatorGetArgs) -> anyhow::Result<ExitCode> {
    let (id, version) = match args.id.split_once('@') {
        Some((id, version)) if args.kind == RegistryKind::Profile => {
            (id.to_owned(), version.to_owned())
        }
        _ => (args.id, String::new()),
    };
    let mut client = connect(&args.client).await?;
    let answer = match args.kind {
        RegistryKind::Member => client
            .get_member(GetMemberRequest { id })
            .await
            .map(|r| (r.into_inner().member.map(Entry::from), Vec::new())),
        RegistryKind::Agreement => client
            .get_agreement(GetAgreementRequest { id })
            .await
            .map(|r| (r.into_inner().agreement.map(Entry::from), Vec::new())),
        RegistryKind::Profile => client
            .get_profile(GetProfileRequest { id, version })
            .await
            .map(|r| {
                let r = r.into_inner();
                (r.profile.map(Entry::from), r.versions)
            }),
    };
    let (found, versions) = match answer {
        Ok(answer) => answer,
        Err(status) => return Ok(refused(&status)),
    };
    let Some(entry) = found else {
        anyhow::bail!("the hub answered without the definition");
    };
    if args.json {
        let mut out = entry.json();
        if args.kind == RegistryKind::Profile {
            out["versions"] = json!(versions);
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        if let Some(version) = &entry.version {
            eprintln!(
                "profile {} version {version} (versions stored: {})",
                entry.id,
                versions.join(", ")
            );
        }
        print!("{}", entry.toml);
        if !entry.toml.ends_with('\n') {
            println!();
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_definition(file: Option<&Path>) -> anyhow::Result<String> {
    let mut text = String::new();
    match file {
        Some(path) if path.as_os_str() != "-" => {
            std::fs::File::open(path)
                .and_then(|mut f| f.read_to_string(&mut text))
                .with_context(|| format!("cannot read {}", path.display()))?;
        }
        _ => {
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read stdin")?;
        }
    }
    Ok(text)
}

async fn put(args: OperatorPutArgs) -> anyhow::Result<ExitCode> {
    let toml = read_definition(args.file.as_deref())?;
    let mut client = connect(&args.client).await?;
    let answer = match args.kind {
        RegistryKind::Member => client
            .put_member(PutMemberRequest { toml })
            .await
            .map(|r| (r.into_inner().member.map(|m| (m.id, None)), true)),
        RegistryKind::Agreement => client
            .put_agreement(PutAgreementRequest { toml })
            .await
            .map(|r| (r.into_inner().agreement.map(|a| (a.id, None)), true)),
        RegistryKind::Profile => client
            .put_profile(PutProfileRequest { toml })
            .await
            .map(|r| {
                let r = r.into_inner();
                (r.profile.map(|p| (p.id, Some(p.version))), r.created)
            }),
    };
    let (stored, created) = match answer {
        Ok(answer) => answer,
        Err(status) => return Ok(refused(&status)),
    };
    let Some((id, version)) = stored else {
        anyhow::bail!("the hub answered without what it stored");
    };
    if args.json {
        let mut out = json!({ "kind": args.kind.name(), "id": id });
        if let Some(version) = &version {
            out["version"] = json!(version);
            out["created"] = json!(created);
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        match version {
            Some(version) if created => println!("profile {id} version {version} stored"),
            Some(version) => println!(
                "profile {id} version {version} was stored already with this text; nothing changed"
            ),
            None => println!("{} {id} stored", args.kind.name()),
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn stats(args: StatsArgs) -> anyhow::Result<ExitCode> {
    let mut client = connect(&args.client).await?;
    let rows = match client.get_delivery_stats(GetDeliveryStatsRequest {}).await {
        Ok(response) => response.into_inner().rows,
        Err(status) => return Ok(refused(&status)),
    };
    if args.json {
        let out: Vec<_> = rows
            .iter()
            .map(|row| {
                json!({
                    "agreement": row.agreement,
                    "receiver": row.receiver,
                    "delivered": row.delivered,
                    "acknowledged": row.acknowledged,
                    "pending": row.pending,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|row| {
                vec![
                    row.agreement.clone(),
                    row.receiver.clone(),
                    row.delivered.to_string(),
                    row.acknowledged.to_string(),
                    row.pending.to_string(),
                ]
            })
            .collect();
        print_table(
            &[
                "agreement",
                "receiver",
                "delivered",
                "acknowledged",
                "pending",
            ],
            &rows,
        );
    }
    Ok(ExitCode::SUCCESS)
}
