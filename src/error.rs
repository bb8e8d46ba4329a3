//! Errors an admin can act on: every one names the file, the place in it, what is wrong and what to do.

use std::fmt;
use std::path::{Path, PathBuf};

/// Bad input: the run stops, exit code 2, and no output file is left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub file: PathBuf,
    /// `line 12`, `line 12, column 3`, `Plan!C7`; empty when the whole file is at fault.
    pub location: String,
    pub message: String,
    /// What the admin should do about it.
    pub fix: String,
}

impl InputError {
    pub fn new(
        file: impl AsRef<Path>,
        location: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        InputError {
            file: file.as_ref().to_path_buf(),
            location: location.into(),
            message: message.into(),
            fix: fix.into(),
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if !self.location.is_empty() {
            write!(f, ", {}", self.location)?;
        }
        write!(f, ": {}", self.message)?;
        if !self.fix.is_empty() {
            write!(f, "\n  fix: {}", self.fix)?;
        }
        Ok(())
    }
}

impl std::error::Error for InputError {}
