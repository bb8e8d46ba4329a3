//! Never leave a half-written output: write beside the target, then rename over it.

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
}
