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
