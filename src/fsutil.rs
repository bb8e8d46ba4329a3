//! Never leave a half-written output, and never destroy a file the admin still needs: every
//! command that writes a file checks the path first ([`check_output`]: before any input is read
//! or Graph is called), writes beside the target, then renames over it ([`AtomicFile`]); a file
//! it replaces is kept as a backup ([`keep_backup`]).

use crate::error::InputError;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A temporary file in the target's directory; [`AtomicFile::commit`] renames it into place.
/// Dropped without commit, it is deleted, so a failed or killed run leaves no partial output.
pub struct AtomicFile {
    target: PathBuf,
    tmp: tempfile::NamedTempFile,
}

impl AtomicFile {
    pub fn create(target: &Path) -> io::Result<Self> {
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "output".into());
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        // A temp file is private (0600) by default; the output is an ordinary file the admin
        // shares with a change board, so give it the permissions any new file gets (umask applies).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let tmp = builder.tempfile_in(dir)?;
        Ok(AtomicFile {
            target: target.to_path_buf(),
            tmp,
        })
    }

    /// Path of the temporary file, for writers that want a path rather than a handle.
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    pub fn file(&mut self) -> &mut std::fs::File {
        self.tmp.as_file_mut()
    }

    pub fn commit(self) -> io::Result<()> {
        self.tmp.as_file().sync_all()?;
        self.tmp
            .persist(&self.target)
            .map_err(|e| e.error)
            .map(|_| ())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tmp.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tmp.flush()
    }
}

/// Write `bytes` to `target` atomically.
pub fn write_atomic(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = AtomicFile::create(target)?;
    f.write_all(bytes)?;
    f.commit()
}

/// Says what an existing file holds ("4 approvals and 0 results"), or `None`.
pub type Describe = dyn Fn(&Path) -> Option<String>;

/// What a command is about to write, and what must not be lost by writing it.
pub struct OutputRules<'a> {
    /// The flag that named it, for the messages (`-o`, `--state`).
    pub flag: &'a str,
    /// Accepted extensions, lower case without the dot (`["xlsx"]`); the first one is suggested.
    pub extensions: &'a [&'a str],
    /// Every file this run reads: the output may not be one of them, whatever the spelling.
    pub inputs: &'a [&'a Path],
    /// A file name to suggest instead of an input (`plan.xlsx`).
    pub example: &'a str,
    /// `--force`: an existing file may be replaced (and is kept as a backup).
    pub force: bool,
    /// What an existing file at the path holds, for the refusal ("4 approvals and 0 results");
    /// `None` when it cannot tell.
    pub describe: Option<&'a Describe>,
}

/// An output path that passed [`check_output`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedOutput {
    pub path: PathBuf,
    /// A file is there now (allowed by `--force`): call [`CheckedOutput::keep_previous`] before
    /// writing.
    pub replaces: bool,
}

impl CheckedOutput {
    /// With `--force` over an existing file, keep it as a backup (see [`keep_backup`]) before
    /// it is replaced; `None` when there is nothing to keep.
    pub fn keep_previous(&self) -> io::Result<Option<Backup>> {
        if self.replaces && self.path.is_file() {
            keep_backup(&self.path).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// Checks an output path before anything is read or requested, so a bad `-o` costs nothing:
/// the extension is one of `rules.extensions`; the folder exists; the path is not a folder;
/// it is not one of `rules.inputs` (compared as files, so `./x`, `../d/x`, a symlink or a hard
/// link to an input all count); and an existing file is replaced only with `rules.force`.
pub fn check_output(path: &Path, rules: &OutputRules<'_>) -> Result<CheckedOutput, InputError> {
    let flag = rules.flag;
    check_output_place(path, flag)?;
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    if !ext
        .as_deref()
        .is_some_and(|e| rules.extensions.contains(&e))
    {
        let wanted: Vec<String> = rules.extensions.iter().map(|e| format!(".{e}")).collect();
        return Err(InputError::new(
            path,
            "",
            format!(
                "{flag} must name a {} file: that is what is written, whatever the name says",
                wanted.join(" or ")
            ),
            format!("give {flag} a name ending in {}", wanted.join(" or ")),
        ));
    }
    if let Some(input) = rules.inputs.iter().find(|i| same_file(path, i)) {
        return Err(InputError::new(
            path,
            "",
            format!(
                "{flag} names a file this run reads ({}): writing it would destroy the input",
                input.display()
            ),
            format!(
                "give {flag} another path, e.g. {}",
                path.with_file_name(rules.example).display()
            ),
        ));
    }
    let exists = path.symlink_metadata().is_ok();
    if exists && !rules.force {
        let holds = rules
            .describe
            .and_then(|d| d(path))
            .map(|h| format!(" and holds {h}"))
            .unwrap_or_default();
        return Err(InputError::new(
            path,
            "",
            format!("the file already exists{holds}"),
            format!(
                "give {flag} another path, or add --force to replace it (the file there now is kept as {})",
                backup_path(path).display()
            ),
        ));
    }
    Ok(CheckedOutput {
        path: path.to_path_buf(),
        replaces: exists,
    })
}

/// The part of [`check_output`] for a file that is read and written on purpose (a state file):
/// its folder exists and it is not a folder itself.
pub fn check_output_place(path: &Path, flag: &str) -> Result<(), InputError> {
    if path.as_os_str().is_empty() {
        return Err(InputError::new(
            path,
            "",
            format!("{flag} is empty"),
            format!("give {flag} a file name"),
        ));
    }
    if path.is_dir() {
        return Err(InputError::new(
            path,
            "",
            format!("{flag} names a folder, not a file"),
            format!(
                "give {flag} a file name, e.g. {}",
                path.join("NAME").display()
            ),
        ));
    }
    let dir = parent_dir(path);
    match dir.metadata() {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(InputError::new(
            path,
            "",
            format!("{} is not a folder", dir.display()),
            format!("give {flag} a path in an existing folder"),
        )),
        Err(_) => Err(InputError::new(
            path,
            "",
            format!("the folder {} does not exist", dir.display()),
            format!("create it, or give {flag} a path in an existing folder"),
        )),
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Whether two paths name the same file (`./x`, a symlink or a hard link to it). A path that
/// does not exist is no file at all.
pub fn same_file(a: &Path, b: &Path) -> bool {
    let (Ok(ma), Ok(mb)) = (a.metadata(), b.metadata()) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        ma.dev() == mb.dev() && ma.ino() == mb.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (ma, mb);
        match (a.canonicalize(), b.canonicalize()) {
            (Ok(x), Ok(y)) => x == y,
            _ => false,
        }
    }
}

/// Where the newest backup of `target` goes: `<stem>.bak.<ext>` beside it (`plan.bak.xlsx`).
pub fn backup_path(target: &Path) -> PathBuf {
    with_suffix(target, ".bak")
}

/// `plan.xlsx` + `.bak` → `plan.bak.xlsx`.
fn with_suffix(target: &Path, suffix: &str) -> PathBuf {
    let stem = target
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match target.extension() {
        Some(ext) => format!("{stem}{suffix}.{}", ext.to_string_lossy()),
        None => format!("{stem}{suffix}"),
    };
    target.with_file_name(name)
}

/// A backup made by [`keep_backup`]. Dropped without [`Backup::keep`] (the write that was to
/// replace the file failed, so the file is still there) it is removed again.
#[derive(Debug)]
pub struct Backup {
    path: PathBuf,
    kept: bool,
}

impl Backup {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The replacement was written: the backup stays. Returns its path.
    pub fn keep(mut self) -> PathBuf {
        self.kept = true;
        std::mem::take(&mut self.path)
    }
}

impl Drop for Backup {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Keeps `target` as `<stem>.bak.<ext>` before it is replaced, for every command that replaces
/// a file (`plan --force`, `cloud export --force`, `template --force`, and `apply` writing
/// results into its workbook). The newest backup always has that name; an older one there is
/// first renamed after its own modification time, `<stem>.bak.<YYYYMMDD-HHMMSS>.<ext>` (UTC),
/// so no backup is ever overwritten and they sort by age. The target itself stays in place (a
/// hard link, or a copy where links are not possible) until the new file is renamed over it.
pub fn keep_backup(target: &Path) -> io::Result<Backup> {
    let backup = backup_path(target);
    if backup.symlink_metadata().is_ok() {
        let older = backup
            .metadata()
            .and_then(|m| m.modified())
            .map(chrono::DateTime::<chrono::Utc>::from)
            .unwrap_or_else(|_| chrono::Utc::now());
        let stamp = older.format("%Y%m%d-%H%M%S").to_string();
        let mut rotated = with_suffix(target, &format!(".bak.{stamp}"));
        let mut n = 2;
        while rotated.symlink_metadata().is_ok() {
            rotated = with_suffix(target, &format!(".bak.{stamp}-{n}"));
            n += 1;
        }
        std::fs::rename(&backup, &rotated)?;
    }
    if std::fs::hard_link(target, &backup).is_err() {
        copy_preserving_time(target, &backup)?;
    }
    Ok(Backup {
        path: backup,
        kept: false,
    })
}

fn copy_preserving_time(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::copy(from, to)?;
    if let Ok(modified) = from.metadata().and_then(|m| m.modified()) {
        let f = std::fs::OpenOptions::new().write(true).open(to)?;
        f.set_modified(modified)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_renames_into_place_and_drop_leaves_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("out.xlsx");
        write_atomic(&target, b"done").expect("write");
        assert_eq!(std::fs::read(&target).expect("read"), b"done");

        let other = dir.path().join("half.xlsx");
        {
            let mut f = AtomicFile::create(&other).expect("create");
            f.write_all(b"half").expect("write");
            // dropped without commit, as when a run fails or is interrupted
        }
        assert!(!other.exists());
        let left: Vec<_> = std::fs::read_dir(dir.path()).expect("ls").collect();
        assert_eq!(left.len(), 1, "only out.xlsx remains");
    }

    #[cfg(unix)]
    #[test]
    fn output_gets_ordinary_file_permissions_not_the_temp_files_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("plan.xlsx");
        write_atomic(&target, b"x").expect("write");
        let mode = std::fs::metadata(&target)
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        // Whatever the umask, group/other read is only ever removed by it, never by us:
        // with the usual 022 that is 0644.
        let umask_bits = 0o666 & !mode;
        assert_eq!(mode | umask_bits, 0o666, "mode {mode:o}");
        assert_ne!(mode, 0o600, "still the temp file's private mode");
    }

    fn rules<'a>(inputs: &'a [&'a Path], force: bool) -> OutputRules<'a> {
        OutputRules {
            flag: "-o",
            extensions: &["xlsx"],
            inputs,
            example: "plan.xlsx",
            force,
            describe: None,
        }
    }

    fn refusal(path: &Path, rules: &OutputRules<'_>) -> String {
        check_output(path, rules).expect_err("refused").to_string()
    }

    #[test]
    fn an_output_that_is_an_input_is_refused_however_it_is_spelled() {
        let dir = tempfile::tempdir().expect("temp dir");
        let input = dir.path().join("ad-users.csv");
        std::fs::write(&input, "UserPrincipalName,ObjectGUID\n").expect("write");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        let inputs = [input.as_path()];
        let rules = OutputRules {
            extensions: &["csv"],
            ..rules(&inputs, true)
        };
        let dotted = dir
            .path()
            .join("sub")
            .join("..")
            .join(".")
            .join("ad-users.csv");
        for spelled in [input.clone(), dotted] {
            let e = refusal(&spelled, &rules);
            assert!(e.contains("destroy the input"), "{e}");
        }
        #[cfg(unix)]
        {
            let link = dir.path().join("link.csv");
            std::os::unix::fs::symlink(&input, &link).expect("symlink");
            assert!(refusal(&link, &rules).contains("ad-users.csv"));
            let hard = dir.path().join("hard.csv");
            std::fs::hard_link(&input, &hard).expect("hard link");
            assert!(refusal(&hard, &rules).contains("destroy the input"));
        }
        assert_eq!(
            std::fs::read(&input).expect("read"),
            b"UserPrincipalName,ObjectGUID\n"
        );
    }

    #[test]
    fn the_extension_folder_and_existing_file_are_checked() {
        let dir = tempfile::tempdir().expect("temp dir");
        let r = rules(&[], false);
        for name in ["plan.csv", "plan", "plan.xlsx.tmp"] {
            let e = refusal(&dir.path().join(name), &r);
            assert!(e.contains("must name a .xlsx file"), "{name}: {e}");
        }
        assert!(check_output(&dir.path().join("Plan.XLSX"), &r).is_ok());
        let e = refusal(&dir.path().join("missing").join("plan.xlsx"), &r);
        assert!(e.contains("does not exist") && e.contains("missing"), "{e}");
        let e = refusal(dir.path(), &r);
        assert!(e.contains("names a folder"), "{e}");
        let file = dir.path().join("file");
        std::fs::write(&file, "x").expect("write");
        let e = refusal(&file.join("plan.xlsx"), &r);
        assert!(e.contains("is not a folder"), "{e}");

        let existing = dir.path().join("plan.xlsx");
        std::fs::write(&existing, "old").expect("write");
        let describe = |_: &Path| Some("4 approvals and 0 results".to_string());
        let e = refusal(
            &existing,
            &OutputRules {
                describe: Some(&describe),
                ..rules(&[], false)
            },
        );
        assert!(
            e.contains("already exists and holds 4 approvals and 0 results")
                && e.contains("--force")
                && e.contains("plan.bak.xlsx"),
            "{e}"
        );
        let ok = check_output(&existing, &rules(&[], true)).expect("--force");
        assert!(ok.replaces);
    }

    #[test]
    fn backups_are_never_overwritten_and_the_newest_has_the_plain_name() {
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("plan.xlsx");
        let checked = CheckedOutput {
            path: target.clone(),
            replaces: true,
        };
        for version in ["one", "two", "three"] {
            std::fs::write(&target, version).expect("write");
            let backup = checked
                .keep_previous()
                .expect("backup")
                .expect("a file to keep");
            write_atomic(&target, b"new").expect("replace");
            assert_eq!(backup.keep(), dir.path().join("plan.bak.xlsx"));
        }
        assert_eq!(std::fs::read(&target).expect("read"), b"new");
        assert_eq!(
            std::fs::read(dir.path().join("plan.bak.xlsx")).expect("read"),
            b"three"
        );
        let mut older: Vec<Vec<u8>> = std::fs::read_dir(dir.path())
            .expect("ls")
            .map(|e| e.expect("entry").path())
            .filter(|p| {
                let n = p.file_name().map(|n| n.to_string_lossy().into_owned());
                n.is_some_and(|n| n.starts_with("plan.bak.2") && n.ends_with(".xlsx"))
            })
            .map(|p| std::fs::read(p).expect("read"))
            .collect();
        older.sort();
        assert_eq!(
            older,
            [b"one".to_vec(), b"two".to_vec()],
            "rotated, not lost"
        );
    }

    #[test]
    fn a_backup_whose_replacement_failed_is_removed_and_the_file_is_untouched() {
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("cloud.csv");
        std::fs::write(&target, "snapshot").expect("write");
        {
            let backup = keep_backup(&target).expect("backup");
            assert_eq!(backup.path(), dir.path().join("cloud.bak.csv"));
            // the write fails here
        }
        assert!(!dir.path().join("cloud.bak.csv").exists());
        assert_eq!(std::fs::read(&target).expect("read"), b"snapshot");
    }
}
