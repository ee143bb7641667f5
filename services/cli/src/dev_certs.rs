//! `originhub dev-certs`.

use std::process::ExitCode;

use originhub_hub::certs::{DevCertsPlan, write_dev_certs};
use originhub_hub::identity::Role;

use crate::cli::DevCertsArgs;

pub(crate) fn run(args: &DevCertsArgs) -> anyhow::Result<ExitCode> {
    let mut plan = DevCertsPlan::demo(&args.hub_address);
    plan.days = args.days;
    if !args.members.is_empty() {
        plan.identities = args
            .members
            .iter()
            .map(|m| (m.to_lowercase(), Role::Member))
            .chain([
                ("operator".to_owned(), Role::Operator),
                ("auditor".to_owned(), Role::Auditor),
            ])
            .collect();
    }
    let made = write_dev_certs(&args.out, &plan)?;
    println!("CA:      {}", made.ca.display());
    println!(
        "hub:     {} and {}",
        made.hub_certificate.display(),
        made.hub_key.display()
    );
    for client in &made.clients {
        println!("client:  {}", client.display());
    }
    println!(
        "development use only: the CA key is in {}",
        args.out.join("certs/ca.key").display()
    );
    Ok(ExitCode::SUCCESS)
}
