//! `originhub schema canonical`.

use std::process::ExitCode;

pub(crate) fn run() -> anyhow::Result<ExitCode> {
    println!(
        "{}",
        serde_json::to_string_pretty(originhub_core::canonical::json_schema())?
    );
    Ok(ExitCode::SUCCESS)
}
