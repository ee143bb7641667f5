//! The auditor commands: `audit query`, `audit export`, `audit verify` and `audit checkpoint`.
//! A refusal by the hub or a failed check exits 1; a connection or usage problem exits 2.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use originhub_hub::client::ClientFile;
use originhub_hub::proto::audit_service_client::AuditServiceClient;
use originhub_hub::proto::export_events_response::Part;
use originhub_hub::proto::{
    ExportEventsRequest, GetCheckpointRequest, GetCheckpointResponse, GetConsistencyProofRequest,
    QueryEventsRequest,
};
use originhub_hub::receipts::entry::Entry;
use originhub_hub::receipts::export::{self, KeySource};
use originhub_hub::receipts::keys::{VerifiedCheckpoint, verify_checkpoint};
use originhub_hub::receipts::tree::{self, Hash, leaf_hash};
use tokio_stream::StreamExt;
use tonic::transport::Channel;

use crate::cli::{AuditCommand, AuditExportArgs, AuditQueryArgs, AuditVerifyArgs, ExportFormat};
use crate::member::refused;

pub(crate) async fn run(command: AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Query(args) => query(args).await,
        AuditCommand::Export(args) => export_log(args).await,
        AuditCommand::Verify(args) => verify(args).await,
        AuditCommand::Checkpoint(client) => {
            let (mut audit, _) = connect(&client.client).await?;
            match audit.get_checkpoint(GetCheckpointRequest {}).await {
                Ok(response) => {
                    print!("{}", response.into_inner().checkpoint);
                    Ok(ExitCode::SUCCESS)
                }
                Err(status) => Ok(refused(&status)),
            }
        }
    }
}

async fn connect(path: &Path) -> anyhow::Result<(AuditServiceClient<Channel>, ClientFile)> {
    let file = ClientFile::load(path)?;
    Ok((file.audit().await?, file))
}

fn timestamp(text: &str, flag: &str) -> anyhow::Result<prost_types::Timestamp> {
    let time = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .with_context(|| {
            format!("{flag} {text:?} is not an RFC 3339 time (e.g. 2026-11-01T00:00:00Z)")
        })?;
    Ok(prost_types::Timestamp {
        seconds: time.unix_timestamp(),
        nanos: i32::try_from(time.nanosecond()).unwrap_or(0),
    })
}

fn time_of(micros: i64) -> String {
    crate::member::time_text(Some(&prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: i32::try_from(micros.rem_euclid(1_000_000) * 1000).unwrap_or(0),
    }))
}

async fn query(args: AuditQueryArgs) -> anyhow::Result<ExitCode> {
    let (mut audit, _) = connect(&args.client.client).await?;
    let mut request = QueryEventsRequest {
        certificate_id: args.certificate_id.unwrap_or_default(),
        tracking_id: args.tracking_id.unwrap_or_default(),
        member: args.member.unwrap_or_default(),
        agreement: args.agreement.unwrap_or_default(),
        kinds: args.kinds,
        from_time: args
            .since
            .as_deref()
            .map(|t| timestamp(t, "--since"))
            .transpose()?,
        to_time: args
            .until
            .as_deref()
            .map(|t| timestamp(t, "--until"))
            .transpose()?,
        page_size: u32::try_from(args.limit.min(1000)).unwrap_or(1000),
        page_token: String::new(),
    };
    let mut entries = Vec::new();
    while entries.len() < args.limit {
        let page = match audit.query_events(request.clone()).await {
            Ok(page) => page.into_inner(),
            Err(status) => return Ok(refused(&status)),
        };
        entries.extend(page.events.into_iter().map(|e| e.entry));
        if page.next_page_token.is_empty() {
            break;
        }
        request.page_token = page.next_page_token;
    }
    entries.truncate(args.limit);
    if args.json {
        for entry in &entries {
            println!("{entry}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<[String; 7]> = entries
        .iter()
        .map(|text| {
            let e: Entry =
                serde_json::from_str(text).context("the hub sent an unreadable entry")?;
            let parties = match (&e.sender, &e.receiver) {
                (Some(s), Some(r)) => format!("{s} -> {r}"),
                (Some(s), None) => s.clone(),
                (None, Some(r)) => format!("-> {r}"),
                (None, None) => String::new(),
            };
            Ok([
                e.index.to_string(),
                time_of(e.at),
                e.kind.to_string(),
                e.member,
                parties,
                e.certificate_id.unwrap_or_default(),
                e.agreement.unwrap_or_default(),
            ])
        })
        .collect::<anyhow::Result<_>>()?;
    print_table(
        &[
            "INDEX",
            "TIME",
            "KIND",
            "MEMBER",
            "PARTIES",
            "CERTIFICATE",
            "AGREEMENT",
        ],
        &rows,
    );
    eprintln!("{} event(s)", rows.len());
    Ok(ExitCode::SUCCESS)
}

fn print_table(head: &[&str; 7], rows: &[[String; 7]]) {
    let mut widths: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let text: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", text.join("  ").trim_end());
    };
    line(head.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

fn bar(length: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(length);
    if let Ok(style) = ProgressStyle::with_template(&format!(
        "{what} {{bar:40}} {{pos}}/{{len}} leaves ({{eta}})"
    )) {
        bar.set_style(style);
    }
    bar
}

/// The key to check checkpoints against: `--hub-key` (text or file), else the client file's.
pub(crate) fn pinned_key(
    hub_key: Option<&str>,
    client: Option<&Path>,
) -> anyhow::Result<Option<String>> {
    if let Some(key) = hub_key {
        let path = Path::new(key);
        return Ok(Some(if path.is_file() {
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .trim()
                .to_owned()
        } else {
            key.trim().to_owned()
        }));
    }
    match client {
        Some(path) => Ok(ClientFile::load(path)?.hub_key),
        None => Ok(None),
    }
}

/// Checks a checkpoint the hub sent against the pinned key (or its own, when none is pinned).
fn checked(
    checkpoint: &GetCheckpointResponse,
    pinned: Option<&str>,
) -> anyhow::Result<VerifiedCheckpoint> {
    let key = pinned.unwrap_or(&checkpoint.verifier_key);
    verify_checkpoint(&checkpoint.checkpoint, key)
        .with_context(|| format!("the hub's checkpoint does not verify against {key}"))
}

async fn export_log(args: AuditExportArgs) -> anyhow::Result<ExitCode> {
    let (mut audit, file) = connect(&args.client.client).await?;
    let mut stream = match audit.export_events(ExportEventsRequest {}).await {
        Ok(stream) => stream.into_inner(),
        Err(status) => return Ok(refused(&status)),
    };
    let Some(Part::Checkpoint(checkpoint)) = stream.next().await.transpose()?.and_then(|m| m.part)
    else {
        bail!("the hub's export did not start with a checkpoint");
    };
    let signed = match checked(&checkpoint, file.hub_key.as_deref()) {
        Ok(signed) => signed,
        Err(error) => return Ok(export_failed(format!("{error:#}"))),
    };
    // Created first, so an output that cannot be written fails before the download.
    let output = Output::open(args.output.as_deref())?;
    // Pass 1: the leaves (JSONL) or the rows (CSV) to a scratch file, hashing as they come: a
    // proof needs the whole tree, and nothing reaches the output before the leaves make the
    // root the hub signed.
    let scratch = tempfile::tempfile()?;
    let mut leaves = Vec::with_capacity(usize::try_from(signed.size).unwrap_or(0));
    let mut pass = match args.format {
        ExportFormat::Csv => FirstPass::Csv(Box::new(csv::Writer::from_writer(scratch))),
        ExportFormat::Jsonl => FirstPass::Jsonl(BufWriter::new(scratch)),
    };
    if let FirstPass::Csv(csv) = &mut pass {
        csv.write_record([
            "index",
            "at",
            "kind",
            "member",
            "sender",
            "receiver",
            "tracking_id",
            "certificate_id",
            "agreement",
            "delivery_id",
            "detail",
        ])?;
    }
    let progress = bar(signed.size, "receiving");
    while let Some(message) = stream.next().await {
        let message = match message {
            Ok(message) => message,
            Err(status) => return Ok(refused(&status)),
        };
        let Some(Part::Events(batch)) = message.part else {
            continue;
        };
        for event in batch.events {
            if event.index != leaves.len() as u64 {
                progress.finish_and_clear();
                return Ok(export_failed(format!(
                    "the hub sent leaf {} where {} was due",
                    event.index,
                    leaves.len()
                )));
            }
            leaves.push(leaf_hash(event.entry.as_bytes()));
            match &mut pass {
                FirstPass::Csv(csv) => {
                    let e: Entry = serde_json::from_str(&event.entry)?;
                    let detail = serde_json::to_string(&e.detail)?;
                    csv.write_record([
                        e.index.to_string(),
                        time_of(e.at),
                        e.kind.to_string(),
                        e.member,
                        e.sender.unwrap_or_default(),
                        e.receiver.unwrap_or_default(),
                        e.tracking_id.unwrap_or_default(),
                        e.certificate_id.unwrap_or_default(),
                        e.agreement.unwrap_or_default(),
                        e.delivery_id.unwrap_or_default(),
                        detail,
                    ])?;
                }
                FirstPass::Jsonl(raw) => writeln!(raw, "{}", event.entry)?,
            }
            progress.inc(1);
        }
    }
    progress.finish_and_clear();
    if leaves.len() as u64 != signed.size {
        return Ok(export_failed(format!(
            "the hub sent {} leaves for a checkpoint of {}",
            leaves.len(),
            signed.size
        )));
    }
    // The hub's leaves must make the root it signed, or the export would not verify later.
    let (tree, size) = tree::build(leaves)?;
    if tree.root(size)? != signed.root {
        return Ok(export_failed(format!(
            "the hub's {size} leaves do not make the root {} of its signed checkpoint: \
             the log was rewritten after it was signed",
            hex(&signed.root)
        )));
    }
    let mut scratch = match pass {
        FirstPass::Csv(csv) => csv.into_inner().map_err(|e| e.into_error())?,
        FirstPass::Jsonl(raw) => raw.into_inner().map_err(|e| e.into_error())?,
    };
    std::io::Seek::rewind(&mut scratch)?;
    let mut out = BufWriter::new(output.writer()?);
    match args.format {
        ExportFormat::Csv => {
            std::io::copy(&mut scratch, &mut out)?;
        }
        ExportFormat::Jsonl => {
            writeln!(
                out,
                "{}",
                export::header_line(
                    &checkpoint.checkpoint,
                    &checkpoint.verifier_key,
                    &signed.origin,
                    size
                )?
            )?;
            let progress = bar(size, "writing");
            export::write_leaf_lines(
                &mut out,
                &tree,
                size,
                BufReader::new(scratch).lines(),
                &mut |n| progress.set_position(n),
            )?;
            progress.finish_and_clear();
        }
    }
    out.flush()?;
    drop(out);
    output.finish()?;
    eprintln!(
        "exported {size} leaves up to the checkpoint of {} ({})",
        signed.origin,
        hex(&signed.root)
    );
    Ok(ExitCode::SUCCESS)
}

/// What an export writes to its scratch file as the leaves come: the CSV rows, or the leaves'
/// lines (written out with their proofs once the tree is built).
enum FirstPass {
    Csv(Box<csv::Writer<File>>),
    Jsonl(BufWriter<File>),
}

/// A failed check of an export: said on stderr (stdout may be the export), exit 1. Nothing was
/// written to the output.
fn export_failed(problem: String) -> ExitCode {
    eprintln!("FAILED: {problem}; nothing exported");
    ExitCode::from(1)
}

/// Where an export goes: standard output, or a file that appears under its name only once it
/// is complete (written beside it, synced, then renamed), so a failed export leaves no file
/// that looks like one.
enum Output<'a> {
    Stdout,
    File {
        path: &'a Path,
        partial: tempfile::NamedTempFile,
    },
}

impl<'a> Output<'a> {
    fn open(path: Option<&'a Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::Stdout);
        };
        let dir = path
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut partial = tempfile::Builder::new();
        partial.prefix(".originhub-export-");
        // As a file it creates itself: readable by others unless the umask says otherwise.
        #[cfg(unix)]
        partial.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        let partial = partial
            .tempfile_in(dir)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Self::File { path, partial })
    }

    fn writer(&self) -> anyhow::Result<Box<dyn Write>> {
        Ok(match self {
            Self::Stdout => Box::new(std::io::stdout().lock()),
            Self::File { partial, .. } => Box::new(partial.as_file().try_clone()?),
        })
    }

    fn finish(self) -> anyhow::Result<()> {
        let Self::File { path, partial } = self else {
            return Ok(());
        };
        partial.as_file().sync_all()?;
        partial
            .persist(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new(""));
        originhub_hub::files::sync_folder(dir)
            .with_context(|| format!("cannot sync {}", dir.display()))
    }
}

fn hex(hash: &Hash) -> String {
    hash.0.iter().map(|b| format!("{b:02x}")).collect()
}

async fn verify(args: AuditVerifyArgs) -> anyhow::Result<ExitCode> {
    let pinned = pinned_key(
        args.hub_key.as_deref(),
        args.client.as_deref().or(args.hub.as_deref()),
    )?;
    if let (Some(hub), Some(since)) = (&args.hub, &args.since) {
        return verify_live(hub, since, pinned.as_deref()).await;
    }
    let Some(path) = args.file else {
        bail!("give an export FILE, or --hub CLIENT_FILE --since CHECKPOINT_FILE");
    };
    let input: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        Box::new(BufReader::new(
            File::open(&path).with_context(|| format!("cannot open {}", path.display()))?,
        ))
    };
    let progress = ProgressBar::new_spinner();
    let report = match export::verify(input, pinned.as_deref(), &mut |n| {
        if n % 4096 == 0 {
            progress.set_message(format!("{n} leaves checked"));
            progress.tick();
        }
    }) {
        Ok(report) => report,
        Err(error) => {
            progress.finish_and_clear();
            eprintln!("FAILED: {error}");
            return Ok(ExitCode::from(1));
        }
    };
    progress.finish_and_clear();
    let source = match report.key_source {
        KeySource::Pinned => "pinned",
        KeySource::Export => "taken from the export itself; pin it with --hub-key or --client",
    };
    if report.ok() {
        println!(
            "ok: {} leaves make the signed root {} of {} (key {}, {source})",
            report.lines,
            hex(&report.checkpoint.root),
            report.checkpoint.origin,
            report.hub_key
        );
        return Ok(ExitCode::SUCCESS);
    }
    for problem in &report.problems {
        println!("{problem}");
    }
    if report.problem_count > report.problems.len() as u64 {
        println!(
            "... and {} more",
            report.problem_count - report.problems.len() as u64
        );
    }
    println!(
        "FAILED: {} problem(s); the file is not the log the hub signed (key {}, {source})",
        report.problem_count, report.hub_key
    );
    Ok(ExitCode::from(1))
}

/// Checks that the hub's current checkpoint extends one saved earlier.
async fn verify_live(hub: &Path, since: &Path, pinned: Option<&str>) -> anyhow::Result<ExitCode> {
    let saved_text = std::fs::read_to_string(since)
        .with_context(|| format!("cannot read {}", since.display()))?;
    // A checkpoint file, or an export whose first line holds one.
    let saved_note =
        match serde_json::from_str::<export::Header>(saved_text.lines().next().unwrap_or_default())
        {
            Ok(header) => header.checkpoint,
            Err(_) => saved_text,
        };
    let (mut audit, _) = connect(hub).await?;
    let current = match audit.get_checkpoint(GetCheckpointRequest {}).await {
        Ok(response) => response.into_inner(),
        Err(status) => return Ok(refused(&status)),
    };
    if pinned.is_none() {
        eprintln!(
            "note: no pinned key (--hub-key, or hub_key in the client file); using the key the hub sends"
        );
    }
    let key = pinned.unwrap_or(&current.verifier_key);
    let old = match verify_checkpoint(&saved_note, key) {
        Ok(old) => old,
        Err(error) => {
            println!("FAILED: the saved checkpoint: {error}");
            return Ok(ExitCode::from(1));
        }
    };
    let new = checked(&current, Some(key))?;
    if new.size < old.size {
        println!(
            "FAILED: the hub's log has {} leaves, fewer than the {} of the saved checkpoint",
            new.size, old.size
        );
        return Ok(ExitCode::from(1));
    }
    let proof = match audit
        .get_consistency_proof(GetConsistencyProofRequest {
            from_size: old.size,
            to_size: new.size,
        })
        .await
    {
        Ok(response) => response.into_inner(),
        Err(status) => return Ok(refused(&status)),
    };
    let hashes: Option<Vec<Hash>> = proof
        .hashes
        .into_iter()
        .map(|h| h.try_into().ok().map(Hash))
        .collect();
    let consistent = hashes.is_some_and(|hashes| {
        tree::verify_consistency(&hashes, old.size, old.root, new.size, new.root).is_ok()
    });
    if !consistent {
        println!(
            "FAILED: the hub's tree of {} leaves does not extend the saved one of {}: history was rewritten",
            new.size, old.size
        );
        return Ok(ExitCode::from(1));
    }
    println!(
        "ok: the hub's log ({} leaves, root {}) extends the saved checkpoint ({} leaves, root {})",
        new.size,
        hex(&new.root),
        old.size,
        hex(&old.root)
    );
    Ok(ExitCode::SUCCESS)
}
