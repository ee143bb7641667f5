//! Loading a folder of profile files into compiled plans.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use originhub_core::profile::{Plan, ProfileError, compile};

/// One profile file's outcome.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) path: PathBuf,
    pub(crate) result: Result<Plan, Vec<ProfileError>>,
}

/// Profile files found at `paths` (files, or folders whose `*.toml` files are read), sorted.
pub(crate) fn files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for path in paths {
        let meta =
            std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        if meta.is_dir() {
            for entry in std::fs::read_dir(path)
                .with_context(|| format!("cannot list {}", path.display()))?
            {
                let entry = entry?.path();
                if entry.extension().is_some_and(|e| e == "toml") && entry.is_file() {
                    found.push(entry);
                }
            }
        } else {
            found.push(path.clone());
        }
    }
    found.sort();
    Ok(found)
}

/// Compiles every file.
pub(crate) fn load(files: &[PathBuf]) -> anyhow::Result<Vec<Loaded>> {
    files
        .iter()
        .map(|path| {
            let source = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Ok(Loaded {
                path: path.clone(),
                result: compile(&source, &path.display().to_string()),
            })
        })
        .collect()
}

/// The plans of a folder by id, for commands that translate. Broken files are only an error
/// when a requested id is missing, so one bad profile does not stop every translation.
pub(crate) fn by_id(dir: &Path, wanted: &[&str]) -> anyhow::Result<BTreeMap<String, Plan>> {
    if !dir.is_dir() {
        bail!(
            "profile folder {} does not exist (set --profiles or ORIGINHUB_PROFILES)",
            dir.display()
        );
    }
    let loaded = load(&files(&[dir.to_path_buf()])?)?;
    let mut plans = BTreeMap::new();
    let mut broken = Vec::new();
    for item in loaded {
        match item.result {
            Ok(plan) => {
                plans.insert(plan.id.clone(), plan);
            }
            Err(errors) => broken.push(format!(
                "{} ({} error(s); run `originhub profile check`)",
                item.path.display(),
                errors.len()
            )),
        }
    }
    for id in wanted {
        if !plans.contains_key(*id) {
            let known = plans.keys().cloned().collect::<Vec<_>>().join(", ");
            let mut message = format!(
                "no profile with id {id:?} in {}; known: {known}",
                dir.display()
            );
            if !broken.is_empty() {
                message.push_str(&format!(
                    "; these files failed to load: {}",
                    broken.join(", ")
                ));
            }
            bail!(message);
        }
    }
    Ok(plans)
}
