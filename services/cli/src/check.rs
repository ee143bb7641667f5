//! `originhub profile check`.

use std::collections::BTreeMap;
use std::process::ExitCode;

use serde_json::json;

use crate::cli::CheckArgs;
use crate::profiles;

pub(crate) fn run(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let paths = if args.paths.is_empty() {
        vec![args.profiles.profiles.clone()]
    } else {
        args.paths.clone()
    };
    let files = profiles::files(&paths)?;
    if files.is_empty() {
        anyhow::bail!(
            "no profile files (*.toml) under {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let loaded = profiles::load(&files)?;
    let mut failed = 0;
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    let mut results = Vec::new();
    for item in &loaded {
        let path = item.path.display().to_string();
        match &item.result {
            Ok(plan) => {
                if let Some(first) = ids.insert(plan.id.clone(), path.clone()) {
                    failed += 1;
                    let message = format!("profile id {:?} is also declared by {first}", plan.id);
                    if !args.json {
                        eprintln!("{path}: {message}");
                    }
                    results.push(json!({"path": path, "ok": false, "errors": [{"line": 0, "location": "profile.id", "message": message}]}));
                    continue;
                }
                if !args.json {
                    println!("ok    {path}  ({} {})", plan.id, plan.version);
                }
                results.push(
                    json!({"path": path, "ok": true, "id": plan.id, "version": plan.version}),
                );
            }
            Err(errors) => {
                failed += 1;
                if !args.json {
                    for error in errors {
                        eprintln!("{error}");
                    }
                    println!("FAIL  {path}  ({} error(s))", errors.len());
                }
                let errors: Vec<_> = errors
                    .iter()
                    .map(|e| json!({"line": e.line, "location": e.location, "message": e.message}))
                    .collect();
                results.push(json!({"path": path, "ok": false, "errors": errors}));
            }
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"checked": loaded.len(), "failed": failed, "profiles": results})
            )?
        );
    } else {
        println!("{} profile(s) checked, {failed} failed", loaded.len());
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
