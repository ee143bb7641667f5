//! Commands and flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Origin Hub: a clearing house for electronic certificates of origin.
#[derive(Debug, Parser)]
#[command(
    name = "originhub",
    version,
    about,
    long_about = None,
    propagate_version = true,
    after_help = "Exit codes: 0 done; 1 the document is invalid or refused, or a check failed; 2 usage or configuration error."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Translate a certificate from one profile to another, through the canonical dataset.
    ///
    /// The translated document goes to stdout. What went to extensions and what the target
    /// cannot represent is reported on stderr (or inside the --json output). An invalid
    /// document exits 1 and lists every violation with its path in the source document.
    #[command(
        after_help = "Examples:\n  originhub translate --from edi3-coo-json --to borastria-xml cert.json\n  cat cert.xml | originhub translate --from borastria-xml --to canonical-json --json -"
    )]
    Translate(TranslateArgs),
    /// Work with profile files.
    Profile {
        #[command(subcommand)]
        command: ProfileCommand,
    },
    /// Print schemas.
    Schema {
        #[command(subcommand)]
        command: SchemaCommand,
    },
    /// Run the hub: gRPC over mutual TLS on SQLite (default) or Postgres (DATABASE_URL).
    ///
    /// With no --config it keeps everything in ./data (database, and development certificates
    /// made on first start), reads members/, agreements/ and profiles/ in the working directory,
    /// and listens on 127.0.0.1:7443. Stop it with Ctrl-C or SIGTERM.
    #[command(
        after_help = "Environment (over the config file): ORIGINHUB_LISTEN, ORIGINHUB_DATA_DIR, ORIGINHUB_MAX_DOCUMENT_BYTES, ORIGINHUB_MAX_DEPTH, ORIGINHUB_MAX_BATCH, ORIGINHUB_PARALLEL_BATCHES, ORIGINHUB_POLL_INTERVAL_MS, ORIGINHUB_TLS_HANDSHAKE_TIMEOUT_MS, ORIGINHUB_SIGNING_KEY, ORIGINHUB_LOG_ORIGIN, DATABASE_URL, RUST_LOG."
    )]
    Serve(ServeArgs),
    /// Run a whole hub with four members exchanging certificates, and print a summary.
    ///
    /// Makes certificates and a config, starts a hub on SQLite with TLS (Postgres when
    /// DATABASE_URL is set), registers Adjikistan, Borastria, Concordia and Katanga under a
    /// bilateral and a multilateral agreement, and runs them as gRPC clients that submit,
    /// receive and acknowledge. Exits 0 only if every submission reached every receiver.
    Demo(DemoArgs),
    /// Make a development CA, hub and client certificates, and a client file per identity.
    DevCerts(DevCertsArgs),
    /// Submit a document to the hub as the member of --client.
    ///
    /// The document is signed (Ed25519 over its bytes) with the client file's signing_key when
    /// it names one; the hub checks the signature against the member's registered keys.
    Submit(SubmitArgs),
    /// Save deliveries for the member of --client into a folder and acknowledge them.
    ///
    /// Each delivery becomes ID.json (envelope: sender, agreement, profiles, hashes, fields not
    /// representable, the hub's attestation and the issuer's signature), ID.document.EXT (in
    /// your profile) and ID.original.EXT (the sender's bytes). A delivery is acknowledged only
    /// after its files are written. `originhub verify-delivery ID.json` checks them offline.
    Inbox(InboxArgs),
    /// Check a delivery saved by `inbox`, offline: the hub's attestation (signature and the
    /// hashes of both files), and the issuer's signature of the original bytes.
    ///
    /// The hub's key comes from --hub-key, else the hub_key of a client file (--client or
    /// ORIGINHUB_CLIENT), else the envelope (saved from your client file when it was received).
    /// Exit 0 only if every check passes.
    #[command(after_help = "Example:\n  originhub verify-delivery inbox/0193c5d2-….json")]
    VerifyDelivery(VerifyDeliveryArgs),
    /// Show where each receiver's copy of a submission stands.
    Status(StatusArgs),
    /// Read and check the hub's receipt log (auditors; members see their own receipts).
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Manage a running hub's members, agreements and profiles, and read its delivery
    /// statistics (operator role).
    ///
    /// Definitions are the same TOML as the files in the hub's members/, agreements/ and
    /// profiles/ folders. The hub checks each before storing it and routes by it at once; a
    /// profile keeps every version, and the newest is current.
    Operator {
        #[command(subcommand)]
        command: OperatorCommand,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum OperatorCommand {
    /// List the members, agreements or profiles the hub routes by (a table, or --json with
    /// each definition's TOML).
    #[command(
        after_help = "Examples:\n  originhub operator list members --client DIR/clients/operator.toml\n  originhub operator list profiles --client DIR/clients/operator.toml --json"
    )]
    List(OperatorListArgs),
    /// Print a member's, an agreement's or a profile's definition (TOML) as the hub holds it.
    #[command(
        after_help = "Examples:\n  originhub operator get agreement BCFTA --client DIR/clients/operator.toml > BCFTA.toml\n  originhub operator get profile borastria-xml@2.1.0 --client DIR/clients/operator.toml"
    )]
    Get(OperatorGetArgs),
    /// Add or replace a member or an agreement, or add a profile version, from a TOML file.
    ///
    /// The hub checks the definition first (a profile is compiled, and every error is printed
    /// with its line; an agreement must name known members and profiles) and stores nothing
    /// it refuses. A profile version cannot be changed once stored: give the new text a new
    /// version.
    #[command(
        after_help = "Examples:\n  originhub operator put member members/dorvania.toml --client DIR/clients/operator.toml\n  originhub operator put profile profiles/borastria-xml.toml --client DIR/clients/operator.toml"
    )]
    Put(OperatorPutArgs),
    /// Deliveries per agreement and receiver: delivered, acknowledged, pending.
    Stats(StatsArgs),
}

/// What an operator command is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum RegistryKind {
    /// A member (customs administration or issuing authority).
    #[value(alias = "members")]
    Member,
    /// An agreement: its parties, their profiles, its copies.
    #[value(alias = "agreements")]
    Agreement,
    /// A profile (a format under an agreement), by version.
    #[value(alias = "profiles")]
    Profile,
}

impl RegistryKind {
    /// The singular name, as the command line spells it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Agreement => "agreement",
            Self::Profile => "profile",
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct OperatorListArgs {
    /// members, agreements or profiles.
    #[arg(value_enum, value_name = "KIND")]
    pub(crate) kind: RegistryKind,
    #[command(flatten)]
    pub(crate) client: ClientArg,
    /// Print a JSON array (id, version for profiles, toml) instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct OperatorGetArgs {
    /// member, agreement or profile.
    #[arg(value_enum, value_name = "KIND")]
    pub(crate) kind: RegistryKind,
    /// Its id; for a profile version other than the current one, ID@VERSION.
    #[arg(value_name = "ID")]
    pub(crate) id: String,
    #[command(flatten)]
    pub(crate) client: ClientArg,
    /// Print JSON (id, version and stored versions for profiles, toml) instead of the TOML.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct OperatorPutArgs {
    /// member, agreement or profile.
    #[arg(value_enum, value_name = "KIND")]
    pub(crate) kind: RegistryKind,
    /// The definition (TOML); - or nothing for stdin.
    #[arg(value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) client: ClientArg,
    /// Print what was stored as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    #[command(flatten)]
    pub(crate) client: ClientArg,
    /// Print a JSON array of rows instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// List receipt events matching the filters, oldest first (a table, or --json lines).
    #[command(
        after_help = "Examples:\n  originhub audit query --client DIR/clients/auditor.toml --certificate CO-1\n  originhub audit query --client DIR/clients/borastria.toml --kind acknowledged --since 2026-11-01T00:00:00Z --json"
    )]
    Query(AuditQueryArgs),
    /// Save the whole log up to a fresh signed checkpoint (auditor role).
    ///
    /// jsonl (the default) writes the checkpoint on line 1 and one leaf per line with its
    /// inclusion proof, so `audit verify` can check the file offline and name any altered leaf.
    /// csv is for spreadsheets and cannot be verified.
    #[command(
        after_help = "Example:\n  originhub audit export --client DIR/clients/auditor.toml --format jsonl > log.jsonl"
    )]
    Export(AuditExportArgs),
    /// Check an export offline, or that the hub's log still extends a checkpoint saved earlier.
    ///
    /// With FILE: recomputes the Merkle tree from every line, checks each line's proof and the
    /// root against the checkpoint's signature, and names every altered, missing or moved leaf.
    /// The hub's key comes from --hub-key, else the client file's hub_key (--client or
    /// ORIGINHUB_CLIENT), else the export itself (then the check proves the file is intact,
    /// not who signed it). With --hub CLIENT_FILE --since CHECKPOINT: asks the hub for its
    /// current checkpoint and a consistency proof from the saved one.
    #[command(
        after_help = "Examples:\n  originhub audit verify log.jsonl\n  originhub audit checkpoint --client DIR/clients/auditor.toml > cp.txt\n  originhub audit verify --hub DIR/clients/auditor.toml --since cp.txt"
    )]
    Verify(AuditVerifyArgs),
    /// Print the hub's current signed checkpoint (save it to check consistency later).
    Checkpoint(ClientArg),
}

#[derive(Debug, Args)]
pub(crate) struct VerifyDeliveryArgs {
    /// The delivery's envelope, ID.json, as `inbox` saved it (its two files beside it).
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// The hub's verifier key (`<origin>+<id>+<base64>`), or a file holding it.
    #[arg(long, value_name = "KEY|FILE")]
    pub(crate) hub_key: Option<String>,
    /// A client file whose hub_key to pin.
    #[arg(long, env = "ORIGINHUB_CLIENT", value_name = "FILE")]
    pub(crate) client: Option<PathBuf>,
    /// The issuer key you expect (`<member>+<id>+<base64>`), or a file holding it; without it the
    /// key the hub attests is used.
    #[arg(long, value_name = "KEY|FILE")]
    pub(crate) issuer_key: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct AuditQueryArgs {
    #[command(flatten)]
    pub(crate) client: ClientArg,
    /// Certificate id.
    #[arg(long = "certificate", value_name = "ID")]
    pub(crate) certificate_id: Option<String>,
    /// Hub tracking id.
    #[arg(long = "tracking-id", value_name = "ID")]
    pub(crate) tracking_id: Option<String>,
    /// A member acting, sending or receiving.
    #[arg(long, value_name = "ID")]
    pub(crate) member: Option<String>,
    /// Agreement id.
    #[arg(long, value_name = "ID")]
    pub(crate) agreement: Option<String>,
    /// Event kind (repeat): accepted, queued, acknowledged, refused, denied.
    #[arg(long = "kind", value_name = "KIND")]
    pub(crate) kinds: Vec<String>,
    /// From this time (RFC 3339, inclusive).
    #[arg(long, value_name = "TIME")]
    pub(crate) since: Option<String>,
    /// Before this time (RFC 3339, exclusive).
    #[arg(long, value_name = "TIME")]
    pub(crate) until: Option<String>,
    /// At most this many events.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub(crate) limit: usize,
    /// One JSON entry per line (the exact leaves) instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ExportFormat {
    /// Verifiable: checkpoint, then one leaf per line with its proof.
    Jsonl,
    /// One row per event, for spreadsheets (not verifiable).
    Csv,
}

#[derive(Debug, Args)]
pub(crate) struct AuditExportArgs {
    #[command(flatten)]
    pub(crate) client: ClientArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
    pub(crate) format: ExportFormat,
    /// Write here instead of stdout. The file appears only once the export is complete and its
    /// leaves make the root the hub signed; a failed export leaves none.
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct AuditVerifyArgs {
    /// An export made by `audit export --format jsonl` ('-' for stdin).
    #[arg(
        value_name = "FILE",
        required_unless_present = "hub",
        conflicts_with = "hub"
    )]
    pub(crate) file: Option<PathBuf>,
    /// The hub's verifier key (`<origin>+<id>+<base64>`), or a file holding it.
    #[arg(long, value_name = "KEY|FILE")]
    pub(crate) hub_key: Option<String>,
    /// A client file whose hub_key to pin.
    #[arg(long, env = "ORIGINHUB_CLIENT", value_name = "FILE")]
    pub(crate) client: Option<PathBuf>,
    /// Check the live hub of this client file instead of an export.
    #[arg(long, value_name = "CLIENT_FILE", requires = "since")]
    pub(crate) hub: Option<PathBuf>,
    /// A checkpoint saved earlier (`audit checkpoint`, or line 1 of an export).
    #[arg(long, value_name = "CHECKPOINT_FILE")]
    pub(crate) since: Option<PathBuf>,
}

/// The client file of the identity to act as.
#[derive(Debug, Args)]
pub(crate) struct ClientArg {
    /// Client file (hub address, CA, certificate, key), e.g. DIR/clients/borastria.toml.
    #[arg(long, env = "ORIGINHUB_CLIENT", value_name = "FILE")]
    pub(crate) client: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// hub.toml to read (relative paths in it are relative to its folder).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// How many certificates to exchange.
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub(crate) certificates: usize,
    /// Where to keep config, certificates and database (default: a new folder, named at start).
    /// A folder from an earlier demo is reused: the same hub continues.
    #[arg(long, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// Submissions in flight at once.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub(crate) concurrency: usize,
    /// Print the summary as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DevCertsArgs {
    /// Output folder: certs/ and clients/ are made inside it.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// Member identities (repeat); default the demo members.
    #[arg(long = "member", value_name = "ID")]
    pub(crate) members: Vec<String>,
    /// Address clients dial.
    #[arg(long, default_value = "https://localhost:7443", value_name = "URL")]
    pub(crate) hub_address: String,
    /// Validity in days.
    #[arg(long, default_value_t = 365)]
    pub(crate) days: i64,
}

#[derive(Debug, Args)]
pub(crate) struct SubmitArgs {
    #[command(flatten)]
    pub(crate) client: ClientArg,
    /// Agreement id.
    #[arg(long)]
    pub(crate) agreement: String,
    /// Your profile id under that agreement.
    #[arg(long)]
    pub(crate) profile: String,
    /// Makes resubmission safe; default the certificate id.
    #[arg(long, value_name = "KEY")]
    pub(crate) idempotency_key: Option<String>,
    /// Do not sign, even though the client file names a signing_key (agreements that require
    /// signatures then refuse it).
    #[arg(long)]
    pub(crate) unsigned: bool,
    /// Print the receipt as JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// The document; - or nothing for stdin.
    #[arg(value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct InboxArgs {
    #[command(flatten)]
    pub(crate) client: ClientArg,
    /// Folder to save deliveries in.
    #[arg(long, default_value = "inbox", value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// Keep waiting for new deliveries, and subscribe again whenever the hub is lost (it stops,
    /// restarts or cannot be reached); Ctrl-C to stop.
    #[arg(long)]
    pub(crate) follow: bool,
    /// Resume after this delivery sequence (0: every unacknowledged delivery).
    #[arg(long, default_value_t = 0, value_name = "SEQUENCE")]
    pub(crate) after: u64,
}

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    pub(crate) client: ClientArg,
    /// Print as JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// The tracking id from the receipt.
    pub(crate) tracking_id: String,
}

/// Where profiles come from.
#[derive(Debug, Args)]
pub(crate) struct ProfilesArg {
    /// Folder of profile files (*.toml).
    #[arg(
        long,
        env = "ORIGINHUB_PROFILES",
        default_value = "profiles",
        value_name = "DIR"
    )]
    pub(crate) profiles: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct TranslateArgs {
    /// Profile id of the input document.
    #[arg(long, value_name = "ID")]
    pub(crate) from: String,
    /// Profile id to translate to.
    #[arg(long, value_name = "ID")]
    pub(crate) to: String,
    #[command(flatten)]
    pub(crate) profiles: ProfilesArg,
    /// Print one JSON object with the document, the report, or the violations.
    #[arg(long)]
    pub(crate) json: bool,
    /// Refuse documents larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = originhub_core::limits::DEFAULT_MAX_BYTES)]
    pub(crate) max_bytes: usize,
    /// Refuse documents nested deeper than this.
    #[arg(long, value_name = "LEVELS", default_value_t = originhub_core::limits::DEFAULT_MAX_DEPTH)]
    pub(crate) max_depth: usize,
    /// The document; `-` or nothing reads stdin.
    #[arg(value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ProfileCommand {
    /// Check profile files or folders of them; errors point at the line and key.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Profile files or folders (default: the --profiles folder).
    #[arg(value_name = "PATH")]
    pub(crate) paths: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) profiles: ProfilesArg,
    /// Print the results as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SchemaCommand {
    /// The canonical e-CO dataset's JSON Schema (generated from the Rust types).
    Canonical,
}

#[cfg(test)]
mod tests {
    /// clap's own checks of every command and flag (unique names, valid defaults), which it
    /// otherwise makes only for a command when that command is run.
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
