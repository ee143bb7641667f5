//! `originhub`: the Origin Hub command line.
//!
//! Layout: [`cli`] declares the commands and flags; [`profiles`] loads a directory of profile
//! files; [`translate`], [`check`] and [`schema`] run one command each. Errors reach `main` as
//! `anyhow` errors except where a command decides its own exit code (invalid documents, failed
//! checks).

mod check;
mod cli;
mod profiles;
mod schema;
mod translate;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, ProfileCommand, SchemaCommand};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Translate(args) => translate::run(&args),
        Command::Profile {
            command: ProfileCommand::Check(args),
        } => check::run(&args),
        Command::Schema {
            command: SchemaCommand::Canonical,
        } => schema::run(),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
