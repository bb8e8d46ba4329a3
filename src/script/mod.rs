//! `hardmatch script`: the approved rows as a script an organisation runs through its own change
//! process, instead of `apply` talking to Graph itself.
//!
//! Two directions of the same fix:
//! - [`Format::GraphPowershell`]: a Microsoft Graph PowerShell script that sets each cloud
//!   user's `onPremisesImmutableId` to its AD user's anchor (what `apply` does).
//! - [`Format::Ldif`]: an `ldifde -i` file that sets each AD user's `mS-DS-ConsistencyGuid` to
//!   the ImmutableId its cloud user already has, for domain migrations where the cloud users
//!   still carry the old domain's anchors. Nothing is written to the cloud.
//!
//! Which rows go in is decided by [`crate::review::select_row`], the rule `apply` uses, so a
//! script never runs a row `apply` would refuse. Approved rows left out are listed with the
//! reason ([`Script::notes`]), never dropped silently. Rendering is pure: rows in, text out.

mod ldif;
mod powershell;
pub mod quote;
mod text;

pub use ldif::AdDirectory;

use crate::anchor::{self, SourceAnchor};
use crate::review::{select_row, Action, PlanKey, ReviewRow, SelectOptions, Selected};
use std::io::{self, Write};

/// What the script is written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Microsoft Graph PowerShell: `Update-MgUser -OnPremisesImmutableId` per row.
    GraphPowershell,
    /// `ldifde -i`: `mS-DS-ConsistencyGuid` on the AD user, keeping the cloud anchor.
    Ldif,
}

impl Format {
    /// The flags that gate rows in [`select_row`], as they apply to this format. The LDIF
    /// direction overwrites no cloud anchor and purges nothing, so the two flags that guard
    /// exactly those (`--allow-replace`, `--purge-deleted-conflicts`) have nothing to guard:
    /// choosing `--format ldif` is the explicit choice.
    pub fn select_options(self, given: &SelectOptions) -> SelectOptions {
        match self {
            Format::GraphPowershell => *given,
            Format::Ldif => SelectOptions {
                allow_replace: true,
                purge_deleted_conflicts: true,
                trust_workbook: given.trust_workbook,
            },
        }
    }
}

/// Where the script came from, for its opening comment: an admin reading it in a change
/// request sees which workbook, which key and which options produced it.
#[derive(Clone, Debug, Default)]
pub struct Header {
    /// The workbook as named on the command line.
    pub workbook: String,
    /// The output's file name, for the command line the LDIF file's comment shows.
    pub output: String,
    pub workbook_sha256: String,
    /// The AD export the distinguished names came from (LDIF), with its SHA-256.
    pub ad_export: Option<(String, String)>,
    /// RFC 3339, UTC.
    pub generated_at: String,
    pub tool_version: String,
    pub key_id: String,
    /// The options given (`--allow-replace`, …), as typed.
    pub options: Vec<String>,
}

/// One row the script changes.
#[derive(Clone, Debug)]
pub struct Entry<'a> {
    pub row: &'a ReviewRow,
    /// Accepted through `--trust-workbook` (planned elsewhere, or by hardmatch 0.1).
    pub unsigned: bool,
    pub change: Change,
}

/// What the script writes for an [`Entry`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Set the cloud user's ImmutableId, after purging the soft-deleted holder `purge` if any.
    Graph { purge: Option<String> },
    /// Set the AD user at `dn`'s mS-DS-ConsistencyGuid to `cloud_anchor`; `previous` is what
    /// the AD export shows it held.
    Ldif {
        dn: String,
        cloud_anchor: SourceAnchor,
        previous: Option<SourceAnchor>,
    },
}

/// An approved row the script does not change, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub row_id: u64,
    pub upn: String,
    pub kind: NoteKind,
    pub reason: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoteKind {
    /// Nothing to write: the target already holds the value (AlreadyMatched, or done before).
    NothingToWrite,
    /// Not in the script although approved: refused, skipped, or an unclear Approve value.
    /// The operator must act on these.
    LeftOut,
}

/// The rows of one script, chosen and checked, ready to render.
#[derive(Clone, Debug)]
pub struct Script<'a> {
    pub format: Format,
    pub entries: Vec<Entry<'a>>,
    /// Approved rows that are not entries, in Row-id order.
    pub notes: Vec<Note>,
}

impl Script<'_> {
    /// Approved rows the script leaves out (the operator must act on them).
    pub fn left_out(&self) -> impl Iterator<Item = &Note> {
        self.notes.iter().filter(|n| n.kind == NoteKind::LeftOut)
    }

    /// Writes the script: a PowerShell script (UTF-8 with a byte-order mark, so that Windows
    /// PowerShell 5.1 reads the comments right) or an LDIF file (ASCII apart from comments).
    /// Both with CRLF line ends.
    pub fn render(&self, header: &Header, out: &mut dyn Write) -> io::Result<()> {
        match self.format {
            Format::GraphPowershell => powershell::render(self, header, out),
            Format::Ldif => ldif::render(self, header, out),
        }
    }
}

/// The script for `rows`: each approved row [`select_row`] runs (with `opts` as
/// [`Format::select_options`] adjusts them) becomes an [`Entry`] if this format can do it;
/// every other approved row becomes a [`Note`]. `ad` is required for [`Format::Ldif`] (where
/// the distinguished names come from); without it every LDIF row is left out, saying so.
pub fn build<'a>(
    rows: &'a [ReviewRow],
    format: Format,
    key: &PlanKey,
    opts: &SelectOptions,
    ad: Option<&AdDirectory<'_>>,
) -> Script<'a> {
    let opts = format.select_options(opts);
    let mut entries = Vec::new();
    let mut notes = Vec::new();
    let mut ordered: Vec<&ReviewRow> = rows.iter().collect();
    ordered.sort_by_key(|r| r.plan.row_id);
    for row in ordered {
        let note = |kind, reason: String| Note {
            row_id: row.plan.row_id,
            upn: row.plan.upn.clone(),
            kind,
            reason,
        };
        let unsigned = match select_row(row, key, &opts) {
            Selected::NotApproved => continue,
            Selected::Run { unsigned } => unsigned,
            Selected::AlreadyDone => {
                notes.push(note(
                    NoteKind::NothingToWrite,
                    "Done: applied in an earlier run".into(),
                ));
                continue;
            }
            Selected::Reverted => {
                notes.push(note(
                    NoteKind::NothingToWrite,
                    "Reverted by hardmatch revert: plan again to apply it anew".into(),
                ));
                continue;
            }
            Selected::UnclearApproval(r) => {
                notes.push(note(NoteKind::LeftOut, format!("Unclear approval: {r}")));
                continue;
            }
            Selected::Refused(r) => {
                notes.push(note(NoteKind::LeftOut, format!("Refused: {r}")));
                continue;
            }
            Selected::Skipped(r) => {
                notes.push(note(NoteKind::LeftOut, format!("Skipped: {r}")));
                continue;
            }
        };
        let decided = match format {
            Format::GraphPowershell => graph_change(row),
            Format::Ldif => ldif::change(row, ad),
        };
        match decided {
            Decided::Change(change) => entries.push(Entry {
                row,
                unsigned,
                change,
            }),
            Decided::Nothing(r) => notes.push(note(NoteKind::NothingToWrite, r)),
            Decided::Refused(r) => notes.push(note(NoteKind::LeftOut, format!("Refused: {r}"))),
            Decided::Skipped(r) => notes.push(note(NoteKind::LeftOut, format!("Skipped: {r}"))),
        }
    }
    Script {
        format,
        entries,
        notes,
    }
}

/// What one selected row becomes in a given format.
pub(crate) enum Decided {
    Change(Change),
    Nothing(String),
    /// The row's values cannot be used as they stand (only possible for rows let in by
    /// `--trust-workbook`, or a bug: signed rows come from `plan`).
    Refused(String),
    /// This format cannot do what the row needs; the reason names what can.
    Skipped(String),
}

/// A selected row as a Graph change. The values are checked for the shape Graph needs even
/// though they are signed: a row let in by `--trust-workbook` was signed by someone else.
fn graph_change(row: &ReviewRow) -> Decided {
    let p = &row.plan;
    let action = match p.action {
        Some(Action::AlreadyMatched) => {
            return Decided::Nothing(format!(
                "AlreadyMatched: the cloud user already holds ImmutableId {}",
                p.new_immutable_id
            ))
        }
        Some(a @ (Action::Set | Action::Replace | Action::ConflictDeleted)) => a,
        // select_row runs nothing else; refuse rather than guess if that ever changes.
        other => {
            return Decided::Refused(format!(
                "{} is not a change a script can make",
                other.map_or("(no Action)", |a| a.as_str())
            ))
        }
    };
    if uuid::Uuid::parse_str(&p.cloud_object_id).is_err() {
        return Decided::Refused(format!(
            "the Cloud object id '{}' is not an object id; plan again",
            quote::comment_text(&p.cloud_object_id)
        ));
    }
    if anchor::guid_based(&p.new_immutable_id).is_none() {
        return Decided::Refused(format!(
            "the New ImmutableId '{}' is not base64 of a 16-byte GUID; plan again",
            quote::comment_text(&p.new_immutable_id)
        ));
    }
    if action == Action::Replace && p.cloud_immutable_id.is_empty() {
        return Decided::Refused(
            "a Replace row without the cloud user's current ImmutableId; plan again".into(),
        );
    }
    let purge = if action == Action::ConflictDeleted {
        if uuid::Uuid::parse_str(&p.holder_object_id).is_err() {
            return Decided::Refused(format!(
                "the Holder object id '{}' is not an object id; plan again",
                quote::comment_text(&p.holder_object_id)
            ));
        }
        Some(p.holder_object_id.clone())
    } else {
        None
    };
    Decided::Change(Change::Graph { purge })
}
