//! The registry: members, agreements and compiled profiles, as one immutable snapshot the
//! request handlers read without locking. It is rebuilt from the store after every change, so
//! the database stays the one source of truth; the config directory is imported into the store
//! at start-up, where a member or agreement file does not undo a change the operator API made
//! after the file last changed ([`file_import`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use originhub_core::agreement::{AgreementDef, DefinitionError, MemberDef};
use originhub_core::profile::{Plan, ProfileError, compile};
use thiserror::Error;

use crate::receipts::custody::IssuerKey;
use crate::store::{DefinitionRow, ProfilePut, ProfileRow, RegistryRows, Store, StoreError};

/// Why the registry could not be loaded or changed.
#[derive(Debug, Error)]
pub enum RegistryError {
    /// A member or agreement definition is wrong.
    #[error(transparent)]
    Definition(#[from] DefinitionError),
    /// A profile does not compile.
    #[error("{origin}: {} error(s): {}", errors.len(), errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Profile {
        /// File or id.
        origin: String,
        /// Every error.
        errors: Vec<ProfileError>,
    },
    /// That profile version exists with other content.
    #[error(
        "profile {id:?} version {version:?} already exists with other content; give the new content a new version"
    )]
    VersionExists {
        /// Profile id.
        id: String,
        /// Version.
        version: String,
    },
    /// A config file could not be read.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A member's signing key is not a valid verifier key, or names another member.
    #[error("{origin}: signing_keys: {message}")]
    SigningKey {
        /// File or id.
        origin: String,
        /// Why.
        message: String,
    },
}

/// Reads a member definition and its signing keys, each checked.
pub fn parse_member(
    source: &str,
    origin: &str,
) -> Result<(MemberDef, Vec<IssuerKey>), RegistryError> {
    let def = MemberDef::parse(source, origin)?;
    let error = |message: String| RegistryError::SigningKey {
        origin: origin.to_owned(),
        message,
    };
    let mut keys = Vec::with_capacity(def.signing_keys.len());
    for text in &def.signing_keys {
        let key = IssuerKey::parse(text).map_err(|e| error(e.to_string()))?;
        if key.name != def.id {
            return Err(error(format!(
                "key {text:?} is named {:?}; a member's keys carry its id {:?}",
                key.name, def.id
            )));
        }
        keys.push(key);
    }
    Ok((def, keys))
}

/// A compiled profile version.
#[derive(Debug)]
pub struct CompiledProfile {
    /// The plan.
    pub plan: Plan,
    /// The file it came from.
    pub source: String,
}

impl CompiledProfile {
    /// `id@version`, as deliveries record it.
    pub fn label(&self) -> String {
        format!("{}@{}", self.plan.id, self.plan.version)
    }
}

/// Every stored version of one profile, and the current one compiled.
#[derive(Debug)]
pub struct ProfileEntry {
    /// The newest version, compiled.
    pub current: Arc<CompiledProfile>,
    /// Every version, oldest first: (version, source).
    pub versions: Vec<(String, String)>,
}

/// One consistent view of members, agreements and profiles.
#[derive(Debug, Default)]
pub struct Registry {
    /// By id: the definition and its TOML.
    pub members: BTreeMap<String, (MemberDef, String)>,
    /// By id: the definition and its TOML.
    pub agreements: BTreeMap<String, (AgreementDef, String)>,
    /// By id.
    pub profiles: BTreeMap<String, ProfileEntry>,
    /// Each member's registered signing keys.
    pub issuer_keys: BTreeMap<String, Vec<IssuerKey>>,
}

impl Registry {
    /// A member's definition.
    pub fn member(&self, id: &str) -> Option<MemberDef> {
        self.members.get(id).map(|(def, _)| def.clone())
    }

    /// The current version of a profile.
    pub fn profile(&self, id: &str) -> Option<&Arc<CompiledProfile>> {
        self.profiles.get(id).map(|entry| &entry.current)
    }

    /// Builds the snapshot from stored rows. A definition that does not pass today's checks (a
    /// member or agreement that does not parse, a profile version that does not compile, an
    /// agreement naming a member or profile left out) is left out, and returned with why: the
    /// hub still starts, routes by the rest, and the operator API can put it right. Refusing to
    /// start would leave no way to fix what only the database holds.
    pub fn from_rows(rows: RegistryRows) -> (Self, Vec<RegistryError>) {
        let mut registry = Self::default();
        let mut left_out = Vec::new();
        for row in rows.members {
            match parse_member(&row.definition, &format!("member {:?}", row.id)) {
                Ok((def, keys)) => {
                    registry.issuer_keys.insert(row.id.clone(), keys);
                    registry.members.insert(row.id, (def, row.definition));
                }
                Err(error) => left_out.push(error),
            }
        }
        for row in rows.profiles {
            let origin = format!("profile {:?} version {:?}", row.id, row.version);
            let plan = match compile_profile(&row.source, &origin) {
                Ok(plan) => plan,
                Err(error) => {
                    left_out.push(error);
                    continue;
                }
            };
            let mut versions = match registry.profiles.remove(&row.id) {
                Some(entry) => entry.versions,
                None => Vec::new(),
            };
            versions.push((row.version, row.source.clone()));
            registry.profiles.insert(
                row.id,
                ProfileEntry {
                    current: Arc::new(CompiledProfile {
                        plan,
                        source: row.source,
                    }),
                    versions,
                },
            );
        }
        for row in rows.agreements {
            let checked = AgreementDef::parse(&row.definition, &format!("agreement {:?}", row.id))
                .and_then(|def| registry.check_agreement(&def).map(|()| def));
            match checked {
                Ok(def) => {
                    registry.agreements.insert(row.id, (def, row.definition));
                }
                Err(error) => left_out.push(error.into()),
            }
        }
        (registry, left_out)
    }

    /// Checks the members and profiles an agreement names.
    pub fn check_agreement(&self, def: &AgreementDef) -> Result<(), DefinitionError> {
        def.check_references(|id| self.member(id), |id| self.profiles.contains_key(id))
    }

    /// Checks every agreement against the registry as it would be with `changed` added or
    /// replacing the member of its id: a new country must not make two parties of one
    /// agreement act for the same country.
    pub fn check_member(&self, changed: &MemberDef) -> Result<(), DefinitionError> {
        let member = |id: &str| {
            if id == changed.id {
                Some(changed.clone())
            } else {
                self.member(id)
            }
        };
        for (def, _) in self.agreements.values() {
            def.check_references(member, |id| self.profiles.contains_key(id))
                .map_err(|error| DefinitionError {
                    what: format!("member {:?}", changed.id),
                    message: format!("it would break {}: {}", error.what, error.message),
                })?;
        }
        Ok(())
    }
}

/// Compiles a profile for the hub: its rules apply to what members submit.
pub fn compile_profile(source: &str, origin: &str) -> Result<Plan, RegistryError> {
    compile(source, origin).map_err(|errors| RegistryError::Profile {
        origin: origin.to_owned(),
        errors,
    })
}

/// Reads `*.toml` in `dir`, sorted; a missing directory is empty.
fn toml_files(dir: &Path) -> Result<Vec<(PathBuf, String)>, RegistryError> {
    let io = |path: &Path, e: std::io::Error| RegistryError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
            Ok((path, text))
        })
        .collect()
}

/// Where the declarative registry lives.
#[derive(Debug, Clone)]
pub struct RegistryDirs {
    /// `members/*.toml`.
    pub members: PathBuf,
    /// `agreements/*.toml`.
    pub agreements: PathBuf,
    /// `profiles/*.toml`.
    pub profiles: PathBuf,
}

/// What importing a member's or an agreement's config file does, given what is stored under its
/// id ([`file_import`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileImport {
    /// Nothing is stored under the id: the file's definition is stored.
    New,
    /// The stored definition is the file's text: nothing changes (nor its time).
    Same,
    /// The file changed after the stored definition was stored: the file's replaces it.
    FileNewer,
    /// The stored definition was stored after the file last changed (the operator API put it
    /// while the hub ran): it stays, so a restart does not undo an operator's change.
    StoredNewer,
}

/// Decides what importing a config file does. `file_changed_at` is the file's modification
/// time in microseconds since the Unix epoch; without one the file wins, as an edited file would.
pub fn file_import(
    text: &str,
    file_changed_at: Option<i64>,
    stored: Option<&DefinitionRow>,
) -> FileImport {
    match (stored, file_changed_at) {
        (None, _) => FileImport::New,
        (Some(row), _) if row.definition == text => FileImport::Same,
        (Some(row), Some(changed)) if changed <= row.updated_at => FileImport::StoredNewer,
        (Some(_), _) => FileImport::FileNewer,
    }
}

/// The file's modification time in microseconds since the Unix epoch, if the system has one.
fn changed_at(path: &Path) -> Option<i64> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    let since_epoch = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(since_epoch.as_micros()).ok()
}

/// Whether to store a member's or an agreement's config file, by [`file_import`]; says why in the
/// log when the file and the stored definition differ.
fn should_store(kind: &str, path: &Path, text: &str, stored: &[DefinitionRow], id: &str) -> bool {
    let row = stored.iter().find(|row| row.id == id);
    match file_import(text, changed_at(path), row) {
        FileImport::New => true,
        FileImport::Same => false,
        FileImport::FileNewer => {
            tracing::info!(file = %path.display(), "{kind} {id:?}: the file changed since the stored definition; importing it");
            true
        }
        FileImport::StoredNewer => {
            tracing::warn!(
                file = %path.display(),
                "{kind} {id:?}: the file differs from the definition the operator API stored after the file last changed; keeping that one (update or remove the file to use it instead)"
            );
            false
        }
    }
}

/// Imports the config directories into the store: profiles first (new versions are added, a
/// changed file under an existing version is an error), then members, then agreements (checked
/// against what is stored). A member or agreement file replaces what is stored under its id
/// unless the operator API stored that after the file last changed ([`file_import`]). Returns
/// how many files were read.
pub async fn import<S: Store>(
    store: &S,
    dirs: &RegistryDirs,
    now: i64,
) -> Result<usize, RegistryError> {
    let mut count = 0;
    for (path, source) in toml_files(&dirs.profiles)? {
        let origin = path.display().to_string();
        let plan = compile_profile(&source, &origin)?;
        let row = ProfileRow {
            id: plan.id.clone(),
            version: plan.version.clone(),
            source,
        };
        if store.put_profile(&row, now).await? == ProfilePut::Conflict {
            return Err(RegistryError::VersionExists {
                id: row.id,
                version: row.version,
            });
        }
        count += 1;
    }
    let stored = store.registry().await?;
    // One snapshot for the members' and agreements' checks, kept up to date as member files are
    // stored. What the stored rows leave out is said when the hub loads them
    // ([`Registry::from_rows`]).
    let (mut snapshot, _) = Registry::from_rows(store.registry().await?);
    for (path, source) in toml_files(&dirs.members)? {
        let (def, keys) = parse_member(&source, &path.display().to_string())?;
        if should_store("member", &path, &source, &stored.members, &def.id) {
            // As through the operator API: checked against the agreements before it is stored.
            snapshot.check_member(&def).map_err(|e| DefinitionError {
                what: path.display().to_string(),
                message: e.message,
            })?;
            store.put_member(&def.id, &source, now).await?;
            snapshot.issuer_keys.insert(def.id.clone(), keys);
            snapshot.members.insert(def.id.clone(), (def, source));
        }
        count += 1;
    }
    for (path, source) in toml_files(&dirs.agreements)? {
        let def = AgreementDef::parse(&source, &path.display().to_string())?;
        if should_store("agreement", &path, &source, &stored.agreements, &def.id) {
            snapshot
                .check_agreement(&def)
                .map_err(|e| DefinitionError {
                    what: path.display().to_string(),
                    message: e.message,
                })?;
            store.put_agreement(&def.id, &source, now).await?;
        }
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(definition: &str, updated_at: i64) -> DefinitionRow {
        DefinitionRow {
            id: "katanga".into(),
            definition: definition.into(),
            updated_at,
        }
    }

    #[test]
    fn stored_definitions_that_fail_their_checks_are_left_out_with_why() {
        let row = |id: &str, definition: String| DefinitionRow {
            id: id.into(),
            definition,
            updated_at: 1,
        };
        let member = |id: &str, country: &str| {
            row(
                id,
                format!("id = \"{id}\"\nname = \"{id}\"\ncountry = \"{country}\"\n"),
            )
        };
        let shipped = crate::demo::SHIPPED_PROFILES[0].1;
        let plan = compile_profile(shipped, "shipped").unwrap();
        let agreement = |id: &str, a: &str, b: &str| {
            let p = &plan.id;
            row(
                id,
                format!(
                    "id = \"{id}\"\nname = \"{id}\"\n[[party]]\nmember = \"{a}\"\n\
                     profile = \"{p}\"\n[[party]]\nmember = \"{b}\"\nprofile = \"{p}\"\n"
                ),
            )
        };
        let profile = |version: &str, source: String| ProfileRow {
            id: plan.id.clone(),
            version: version.into(),
            source,
        };
        let rows = RegistryRows {
            members: vec![member("xa", "XA"), member("xb", "XB"), member("bad", "QQ")],
            agreements: vec![
                agreement("GOOD", "xa", "xb"),
                agreement("NAMES-BAD", "xa", "bad"),
            ],
            profiles: vec![
                profile(&plan.version, shipped.into()),
                profile("99", "[profile]\nbroken".into()),
            ],
        };
        let (registry, left_out) = Registry::from_rows(rows);
        assert_eq!(
            registry.members.keys().collect::<Vec<_>>(),
            ["xa", "xb"],
            "{left_out:?}"
        );
        assert_eq!(registry.agreements.keys().collect::<Vec<_>>(), ["GOOD"]);
        // The newest version that compiles is the current one.
        assert_eq!(
            registry.profile(&plan.id).unwrap().plan.version,
            plan.version
        );
        let said: Vec<String> = left_out.iter().map(ToString::to_string).collect();
        assert_eq!(said.len(), 3, "{said:?}");
        assert!(
            said[0].contains("member \"bad\"") && said[0].contains("\"QQ\""),
            "{said:?}"
        );
        assert!(said[1].contains("version \"99\""), "{said:?}");
        assert!(said[2].contains("agreement \"NAMES-BAD\""), "{said:?}");
        assert!(said[2].contains("unknown member \"bad\""), "{said:?}");
    }

    #[test]
    fn a_file_replaces_what_is_stored_only_when_it_changed_later() {
        assert_eq!(file_import("a", Some(5), None), FileImport::New);
        assert_eq!(
            file_import("a", Some(50), Some(&stored("a", 10))),
            FileImport::Same
        );
        assert_eq!(
            file_import("b", Some(50), Some(&stored("a", 10))),
            FileImport::FileNewer
        );
        assert_eq!(
            file_import("b", Some(10), Some(&stored("a", 50))),
            FileImport::StoredNewer
        );
        // Stored in the same microsecond the file changed: the stored one was put last.
        assert_eq!(
            file_import("b", Some(50), Some(&stored("a", 50))),
            FileImport::StoredNewer
        );
        // No modification time: the file wins, as an edited one would.
        assert_eq!(
            file_import("b", None, Some(&stored("a", 50))),
            FileImport::FileNewer
        );
    }
}
