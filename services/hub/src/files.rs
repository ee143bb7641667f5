//! Writing the files the hub and its clients keep: private keys readable by their owner only,
//! and folders synced so that new files survive a power cut.

use std::path::Path;

/// Syncs the folder `dir`, so the names created or renamed in it since are on disk (a file's
/// own sync does not cover its name). `""` (a bare file name's parent) means the current
/// folder. A no-op where folders cannot be opened as files (Windows).
pub fn sync_folder(dir: &Path) -> std::io::Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    if cfg!(unix) {
        std::fs::File::open(dir)?.sync_all()
    } else {
        Ok(())
    }
}

/// Whether [`write_private`] may replace a file that is already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Fail with `AlreadyExists`: the file holds a key that signed something.
    Keep,
    /// Write over it, and make it owner-only if it was not.
    Replace,
}

/// Writes `text` and a newline to `path`, readable and writable by its owner only (mode 0600 on
/// Unix), and syncs it. The caller syncs the folder ([`sync_folder`]) once all its files are
/// written.
pub fn write_private(path: &Path, text: &str, existing: Existing) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    match existing {
        Existing::Keep => options.create_new(true),
        Existing::Replace => options.create(true).truncate(true),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        // The mode applies only to a file this call creates.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        finish(file, text)
    }
    #[cfg(not(unix))]
    finish(options.open(path)?, text)
}

fn finish(mut file: std::fs::File, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    writeln!(file, "{text}")?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_sync_and_missing_ones_say_so() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "x").unwrap();
        sync_folder(dir.path()).unwrap();
        sync_folder(Path::new("")).unwrap();
        let missing = sync_folder(&dir.path().join("missing")).unwrap_err();
        assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    }

    #[test]
    fn private_files_are_owner_only_and_kept_or_replaced_as_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        write_private(&path, "first", Existing::Keep).unwrap();
        let again = write_private(&path, "second", Existing::Keep).unwrap_err();
        assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "first\n");

        // A key file someone left readable by all becomes owner-only when replaced.
        let loose = dir.path().join("loose.key");
        std::fs::write(&loose, "a much longer old text").unwrap();
        write_private(&loose, "new", Existing::Replace).unwrap();
        assert_eq!(std::fs::read_to_string(&loose).unwrap(), "new\n");
        #[cfg(unix)]
        for path in [&path, &loose] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", path.display());
        }
    }
}
