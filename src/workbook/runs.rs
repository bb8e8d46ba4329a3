//! The Runs sheet: one line per `apply` or `revert` run whose results the workbook holds, so the
//! workbook itself says who changed the tenant, when, with which flags, and with what outcome.
//! Rewriting the workbook keeps earlier runs: the reader gives them back in
//! [`super::ReviewMeta::runs`] and the writer appends the new one.

use super::reader::{stream_sheet, Raw};
use super::writer::{set_up_printing, Orientation, PageLabels};
use crate::error::InputError;
use rust_xlsxwriter::{Format, FormatAlign, Worksheet, XlsxError};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

pub(super) const RUNS_SHEET: &str = "Runs";

/// One run, as the Runs sheet shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunRecord {
    /// A UUID; the journal's lines carry it too.
    pub run_id: String,
    /// `apply` or `revert`.
    pub command: String,
    /// RFC 3339.
    pub started: String,
    pub ended: String,
    /// `user@host` of the OS account that ran it.
    pub operator: String,
    pub tenant: String,
    pub client_id: String,
    pub national_cloud: String,
    /// The flags that change what runs (`--allow-replace`, `--trust-workbook`, …), space-separated.
    pub flags: String,
    /// Rows per Status after the run, in [`STATUS_COLUMNS`] order.
    pub counts: [u64; STATUS_COLUMNS.len()],
    pub tool_version: String,
    /// Where the journal of this run is.
    pub journal: String,
}

/// The Status counts a run line carries, in column order.
pub const STATUS_COLUMNS: [&str; 6] = [
    "Done", "Failed", "Skipped", "Refused", "In doubt", "Reverted",
];

const TEXT_COLUMNS: [(&str, f64); 9] = [
    ("Run id", 38.0),
    ("Command", 10.0),
    ("Started", 22.0),
    ("Ended", 22.0),
    ("Operator", 24.0),
    ("Tenant", 38.0),
    ("Client id", 38.0),
    ("National cloud", 14.0),
    ("Flags", 40.0),
];
const TAIL_COLUMNS: [(&str, f64); 2] = [("Tool version", 12.0), ("Journal", 50.0)];

fn headers() -> impl Iterator<Item = (&'static str, f64)> {
    TEXT_COLUMNS
        .into_iter()
        .chain(STATUS_COLUMNS.into_iter().map(|s| (s, 10.0)))
        .chain(TAIL_COLUMNS)
}

impl RunRecord {
    fn text(&self, header: &str) -> Option<&str> {
        Some(match header {
            "Run id" => &self.run_id,
            "Command" => &self.command,
            "Started" => &self.started,
            "Ended" => &self.ended,
            "Operator" => &self.operator,
            "Tenant" => &self.tenant,
            "Client id" => &self.client_id,
            "National cloud" => &self.national_cloud,
            "Flags" => &self.flags,
            "Tool version" => &self.tool_version,
            "Journal" => &self.journal,
            _ => return None,
        })
    }

    fn set(&mut self, header: &str, value: String) {
        if let Some(i) = STATUS_COLUMNS.iter().position(|s| *s == header) {
            self.counts[i] = value.trim().parse::<f64>().map_or(0, |f| f.max(0.0) as u64);
            return;
        }
        let slot = match header {
            "Run id" => &mut self.run_id,
            "Command" => &mut self.command,
            "Started" => &mut self.started,
            "Ended" => &mut self.ended,
            "Operator" => &mut self.operator,
            "Tenant" => &mut self.tenant,
            "Client id" => &mut self.client_id,
            "National cloud" => &mut self.national_cloud,
            "Flags" => &mut self.flags,
            "Tool version" => &mut self.tool_version,
            "Journal" => &mut self.journal,
            _ => return,
        };
        *slot = value;
    }
}

/// Writes the Runs sheet (oldest run first). Every cell is text except the counts.
pub(super) fn write_runs_sheet(
    ws: &mut Worksheet,
    runs: &[RunRecord],
    header: &Format,
    labels: &PageLabels,
) -> Result<(), XlsxError> {
    ws.set_name(RUNS_SHEET)?;
    // Printed with the change record like every other sheet: one page wide, not a page per
    // two columns.
    set_up_printing(ws, Orientation::Landscape, labels, true)?;
    let text = Format::new()
        .set_num_format_index(49)
        .set_align(FormatAlign::Top)
        .set_text_wrap();
    for (c, (h, width)) in headers().enumerate() {
        let c = c as u16;
        ws.set_column_width(c, width)?;
        ws.write_string_with_format(0, c, h, header)?;
    }
    ws.set_freeze_panes(1, 0)?;
    for (r, run) in runs.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, (h, _)) in headers().enumerate() {
            let c = c as u16;
            match run.text(h) {
                Some(v) => ws.write_string_with_format(r, c, v, &text)?,
                None => {
                    let i = STATUS_COLUMNS.iter().position(|s| *s == h).unwrap_or(0);
                    ws.write_number(r, c, run.counts[i] as f64)?
                }
            };
        }
    }
    Ok(())
}

/// Reads the Runs sheet back: columns by header, rows without a Run id skipped.
pub(super) fn read_runs_sheet(
    xlsx: &mut calamine::Xlsx<BufReader<File>>,
    path: &Path,
    warnings: &mut Vec<String>,
) -> Result<Vec<RunRecord>, InputError> {
    let bound = headers().count() as u32 + 8;
    let mut columns: Option<Vec<Option<&'static str>>> = None;
    let mut runs = Vec::new();
    let stray = stream_sheet(xlsx, path, RUNS_SHEET, bound, |_, cells| {
        let Some(map) = &columns else {
            let mut map = vec![None; bound as usize];
            for (c, raw) in cells.drain(..) {
                let text = raw.into_text();
                map[c as usize] = headers()
                    .map(|(h, _)| h)
                    .find(|h| h.eq_ignore_ascii_case(text.trim()));
            }
            columns = Some(map);
            return Ok(());
        };
        let mut run = RunRecord::default();
        for (c, raw) in cells.drain(..) {
            if let Some(Some(h)) = map.get(c as usize) {
                let v = match raw {
                    Raw::Number(f) if f.fract() == 0.0 => format!("{f:.0}"),
                    raw => raw.into_text(),
                };
                run.set(h, v);
            }
        }
        if !run.run_id.trim().is_empty() {
            runs.push(run);
        }
        Ok(())
    })?;
    warnings.extend(stray);
    Ok(runs)
}
