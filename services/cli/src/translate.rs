//! `originhub translate`.

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::Context;
use originhub_core::engine::{TranslateError, translate};
use originhub_core::limits::Limits;
use serde_json::json;

use crate::cli::TranslateArgs;
use crate::profiles;

fn read_input(args: &TranslateArgs) -> anyhow::Result<Vec<u8>> {
    // Read one byte past the limit so an oversized document is refused without reading it all.
    let cap = u64::try_from(args.max_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let mut input = Vec::new();
    match args.file.as_deref() {
        None => std::io::stdin()
            .lock()
            .take(cap)
            .read_to_end(&mut input)
            .context("cannot read stdin")?,
        Some(path) if path.as_os_str() == "-" => std::io::stdin()
            .lock()
            .take(cap)
            .read_to_end(&mut input)
            .context("cannot read stdin")?,
        Some(path) => std::fs::File::open(path)
            .with_context(|| format!("cannot open {}", path.display()))?
            .take(cap)
            .read_to_end(&mut input)
            .with_context(|| format!("cannot read {}", path.display()))?,
    };
    Ok(input)
}

pub(crate) fn run(args: &TranslateArgs) -> anyhow::Result<ExitCode> {
    let mut plans = profiles::by_id(&args.profiles.profiles, &[&args.from, &args.to])?;
    let limits = Limits {
        max_bytes: args.max_bytes,
        max_depth: args.max_depth,
    };
    for plan in plans.values_mut() {
        plan.limits = limits;
    }
    let input = read_input(args)?;
    let (from, to) = (&plans[&args.from], &plans[&args.to]);
    match translate(from, to, &input) {
        Ok(translation) => {
            let report = &translation.report;
            if args.json {
                let document = String::from_utf8_lossy(&translation.output);
                let out = json!({"from": args.from, "to": args.to, "document": document, "report": report});
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                let mut stdout = std::io::stdout().lock();
                stdout.write_all(&translation.output)?;
                if !translation.output.ends_with(b"\n") {
                    stdout.write_all(b"\n")?;
                }
                for path in &report.to_extensions {
                    eprintln!(
                        "note: {path} is not mapped by {}; kept in the record's extensions",
                        args.from
                    );
                }
                for loss in &report.not_representable {
                    eprintln!(
                        "warning: not representable in {}: {}: {}",
                        args.to, loss.path, loss.reason
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(TranslateError::Invalid(violations)) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &json!({"from": args.from, "error": "invalid document", "violations": violations})
                    )?
                );
            } else {
                eprintln!(
                    "error: the document is not valid {} ({} violation(s)):",
                    args.from,
                    violations.len()
                );
                for v in &violations {
                    eprintln!("  {v}");
                }
            }
            Ok(ExitCode::FAILURE)
        }
        Err(TranslateError::Input(refused)) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &json!({"from": args.from, "error": "refused", "reason": refused.to_string()})
                    )?
                );
            } else {
                eprintln!("error: document refused: {refused}");
            }
            Ok(ExitCode::FAILURE)
        }
    }
}
