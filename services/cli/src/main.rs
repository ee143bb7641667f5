//! `originhub`: the Origin Hub command line.
//!
//! Layout: [`cli`] declares the commands and flags; [`profiles`] loads a directory of profile
//! files; [`translate`], [`check`] and [`schema`] work offline; [`serve`], [`demo`] and
//! [`dev_certs`] run or set up a hub; [`member`] holds the member commands (`submit`, `inbox`,
//! `status`), [`operator`] the operator's and [`audit`] the receipt log's. Errors reach `main` as
//! `anyhow` errors except where a command decides its own exit code (invalid documents,
//! refusals, failed checks).

mod audit;
mod check;
mod cli;
mod custody;
mod demo;
mod dev_certs;
mod member;
mod operator;
mod profiles;
mod schema;
mod serve;
mod translate;

use std::process::ExitCode;

/// mimalloc: the hub allocates many short-lived buffers per request, where glibc's allocator
/// measured slower and noisier.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

use cli::{Cli, Command, ProfileCommand, SchemaCommand};

/// Runs an async command on a multi-threaded runtime.
fn block_on(command: impl Future<Output = anyhow::Result<ExitCode>>) -> anyhow::Result<ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(command)
}

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
        Command::DevCerts(args) => dev_certs::run(&args),
        Command::Serve(args) => block_on(serve::run(args)),
        Command::Demo(args) => block_on(demo::run(args)),
        Command::Submit(args) => block_on(member::submit(args)),
        Command::Inbox(args) => block_on(member::inbox(args)),
        Command::Status(args) => block_on(member::status(args)),
        Command::Audit { command } => block_on(audit::run(command)),
        Command::Operator { command } => block_on(operator::run(command)),
        Command::VerifyDelivery(args) => custody::verify_delivery(&args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
