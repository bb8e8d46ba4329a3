//! What both formats share: writing CRLF lines and comment lines, and the opening comment's
//! provenance and list of the approved rows left out.

use super::quote::{comment_text, EOL};
use super::{Header, NoteKind, Script};
use std::io::{self, Write};

/// Writes lines with CRLF; buffered, so a long script is not one syscall per line.
pub(super) struct Lines<'a> {
    out: io::BufWriter<&'a mut dyn Write>,
}

impl<'a> Lines<'a> {
    pub(super) fn new(out: &'a mut dyn Write) -> Self {
        Lines {
            out: io::BufWriter::with_capacity(1 << 16, out),
        }
    }

    pub(super) fn raw(&mut self, s: &str) -> io::Result<()> {
        self.out.write_all(s.as_bytes())
    }

    pub(super) fn line(&mut self, s: &str) -> io::Result<()> {
        self.out.write_all(s.as_bytes())?;
        self.out.write_all(EOL.as_bytes())
    }

    /// `# text`, the text made safe for a comment line (values from the workbook go here).
    pub(super) fn comment(&mut self, text: &str) -> io::Result<()> {
        if text.is_empty() {
            self.line("#")
        } else {
            self.line(&format!("# {}", comment_text(text)))
        }
    }

    pub(super) fn blank(&mut self) -> io::Result<()> {
        self.out.write_all(EOL.as_bytes())
    }

    pub(super) fn finish(mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Which workbook, AD export, key and options produced the script: a reviewer of a change
/// request can trace it back.
pub(super) fn provenance(w: &mut Lines<'_>, h: &Header) -> io::Result<()> {
    w.comment(&format!(
        "Workbook:  {} (SHA-256 {})",
        h.workbook, h.workbook_sha256
    ))?;
    if let Some((path, sha)) = &h.ad_export {
        w.comment(&format!("AD export: {path} (SHA-256 {sha})"))?;
    }
    w.comment(&format!(
        "Generated: {} by hardmatch {}; rows verified with plan key {}",
        h.generated_at, h.tool_version, h.key_id
    ))?;
    let options = if h.options.is_empty() {
        "(none)".to_string()
    } else {
        h.options.join(" ")
    };
    w.comment(&format!("Options:   {options}"))
}

/// The approved rows that are not entries, at the top where a reviewer of the change sees them
/// first. `what` names the output ("script", "file").
pub(super) fn notes(w: &mut Lines<'_>, script: &Script<'_>, what: &str) -> io::Result<()> {
    for (kind, title) in [
        (
            NoteKind::LeftOut,
            format!("Approved rows NOT in this {what} (each needs a decision or a fix first):"),
        ),
        (
            NoteKind::NothingToWrite,
            "Approved rows with nothing to write:".to_string(),
        ),
    ] {
        let mut any = false;
        for n in script.notes.iter().filter(|n| n.kind == kind) {
            if !any {
                w.comment("")?;
                w.comment(&title)?;
                any = true;
            }
            w.comment(&format!("  Row {} {}: {}", n.row_id, n.upn, n.reason))?;
        }
    }
    Ok(())
}
