//! One `apply` (or `revert`) per workbook at a time: `<workbook>.lock` beside it, held with an OS
//! lock (`flock` on Unix, an exclusive open on Windows) for the whole run. The OS releases it when
//! the process ends in any way, so a lock file left by a killed run is recognised as stale and
//! taken over with a warning, with no guessing from process ids. The file names its holder (pid,
//! host, operator, start time) so a refused second run can say who holds it.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A held workbook lock; dropped, it removes the lock file and releases the lock.
#[derive(Debug)]
pub struct WorkbookLock {
    path: PathBuf,
    file: Option<File>,
}

/// Why the lock could not be taken.
#[derive(Debug)]
pub enum LockError {
    /// Another run holds it; its description of itself.
    Held {
        path: PathBuf,
        holder: String,
    },
    Io {
        path: PathBuf,
        error: io::Error,
    },
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Held { path, holder } => write!(
                f,
                "another hardmatch run is using this workbook ({holder}; lock {}): wait for it to finish, then run again",
                path.display()
            ),
            LockError::Io { path, error } => write!(
                f,
                "cannot create the lock file {}: {error}; check write permission on the workbook's folder, or pass --journal on a writable path",
                path.display()
            ),
        }
    }
}

impl std::error::Error for LockError {}

/// `<workbook>.lock`.
pub fn lock_path(workbook: &Path) -> PathBuf {
    let mut name = workbook
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".lock");
    workbook.with_file_name(name)
}

/// Takes the lock of `workbook`, or, when its folder cannot hold a lock file (a read-only
/// share, with `--journal` elsewhere), the lock of the journal.
pub fn acquire(
    workbook: &Path,
    journal: Option<&Path>,
    me: &str,
) -> Result<(WorkbookLock, Option<String>), LockError> {
    match (WorkbookLock::acquire(workbook, me), journal) {
        (Err(LockError::Io { error, .. }), Some(j))
            if matches!(
                error.kind(),
                io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
            ) =>
        {
            WorkbookLock::acquire(j, me)
        }
        (other, _) => other,
    }
}

impl WorkbookLock {
    /// Takes the lock of `workbook`, describing this run as `me`. Returns the lock and, when a
    /// lock file of a run that ended without removing it was found, a warning naming that run.
    pub fn acquire(workbook: &Path, me: &str) -> Result<(WorkbookLock, Option<String>), LockError> {
        let path = lock_path(workbook);
        let io_err = |error| LockError::Io {
            path: path.clone(),
            error,
        };
        // A few tries: the file can be removed by its holder between our open and our lock.
        for _ in 0..5 {
            let mut file = open(&path).map_err(io_err)?;
            match try_lock(&file) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(LockError::Held {
                        holder: holder_text(&mut file),
                        path,
                    })
                }
                Err(e) => return Err(io_err(e)),
            }
            if !same_file(&file, &path) {
                continue;
            }
            let stale = holder_text(&mut file);
            let stale = (!stale.is_empty() && stale != "unknown").then(|| {
                format!(
                    "took over the lock {} left by a run that ended without releasing it ({stale}); \
                     its results are in the journal and are replayed now",
                    path.display()
                )
            });
            file.set_len(0).map_err(io_err)?;
            file.seek(SeekFrom::Start(0)).map_err(io_err)?;
            file.write_all(me.as_bytes()).map_err(io_err)?;
            file.sync_data().map_err(io_err)?;
            return Ok((
                WorkbookLock {
                    path,
                    file: Some(file),
                },
                stale,
            ));
        }
        Err(io_err(io::Error::other(
            "the lock file kept changing under us",
        )))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for WorkbookLock {
    fn drop(&mut self) {
        // Remove it while still holding it, so no other run locks a file about to vanish.
        let _ = std::fs::remove_file(&self.path);
        drop(self.file.take());
    }
}

fn holder_text(file: &mut File) -> String {
    let mut s = String::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.take(4096).read_to_string(&mut s);
    let s = s.trim().to_string();
    if s.is_empty() {
        "unknown".into()
    } else {
        s
    }
}

#[cfg(unix)]
fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

#[cfg(unix)]
fn try_lock(file: &File) -> io::Result<bool> {
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock on a file descriptor we own; no memory is shared with the call.
    let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.kind() == io::ErrorKind::WouldBlock {
        Ok(false)
    } else {
        Err(e)
    }
}

/// Whether `file` is still the file at `path` (its holder may have removed it meanwhile).
#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(windows)]
fn open(path: &Path) -> io::Result<File> {
    use std::os::windows::fs::OpenOptionsExt;
    // No sharing: while a run has it open, nobody else can open it; Windows closes it when the
    // process dies.
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .share_mode(0)
        .open(path)
}

#[cfg(windows)]
fn try_lock(_file: &File) -> io::Result<bool> {
    Ok(true)
}

#[cfg(windows)]
fn same_file(_file: &File, _path: &Path) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_run_is_refused_naming_the_first_and_the_lock_goes_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let wb = dir.path().join("plan.xlsx");
        let (first, stale) = WorkbookLock::acquire(&wb, "pid 1 on host-a").unwrap();
        assert!(stale.is_none());
        assert!(lock_path(&wb).exists());
        match WorkbookLock::acquire(&wb, "pid 2") {
            Err(LockError::Held { holder, .. }) => assert_eq!(holder, "pid 1 on host-a"),
            other => panic!("{other:?}"),
        }
        drop(first);
        assert!(!lock_path(&wb).exists(), "removed on release");
        let (_again, stale) = WorkbookLock::acquire(&wb, "pid 3").unwrap();
        assert!(stale.is_none());
    }

    #[test]
    fn a_lock_file_whose_holder_is_gone_is_taken_over_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let wb = dir.path().join("plan.xlsx");
        // What a killed run leaves: the file, with nobody holding the OS lock.
        std::fs::write(lock_path(&wb), "pid 999999 on host-a, started 2026-01-01").unwrap();
        let (lock, stale) = WorkbookLock::acquire(&wb, "pid 4").unwrap();
        let warning = stale.expect("a warning");
        assert!(warning.contains("pid 999999"), "{warning}");
        assert_eq!(std::fs::read_to_string(lock.path()).unwrap(), "pid 4");
    }
}
