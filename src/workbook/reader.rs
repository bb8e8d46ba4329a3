//! Reading the Plan sheet(s) back after review.
//!
//! Reviewers sort, filter, and sometimes type far away from the table. So: streaming cell
//! readers only (a dense range over a stray cell at XFD1048576 would need hundreds of GB), columns
//! found by header text and bounded to the schema's width, rows keyed by Row id. Plan sheets go
//! through the parallel reader in [`super::sheet_stream`]; calamine's cell reader reads whatever
//! that one refuses, and the Summary and Unmatched sheets.

use super::runs::RUNS_SHEET;
use super::schema::UNMATCHED_COLUMNS;
use super::schema::{self, cell_ref, whole_from_float, Field, Kind, PLAN_COLUMNS};
use super::sheet_stream::{self, Book, Failure};
use super::writer::{sheet_name, INSTRUCTIONS_SHEET, PLAN_SHEET, SUMMARY_SHEET, UNMATCHED_SHEET};
use super::{InputSummary, Review, ReviewMeta};
use crate::cloud::CloudUser;
use crate::error::InputError;
use crate::review::{Approval, ReviewRow};
use calamine::{open_workbook, DataRef, Reader, Xlsx, XlsxError};
use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

/// Columns beyond the schema's width that may still hold a moved or reviewer-added column.
/// Anything further right is a stray cell and ignored (with a warning).
const EXTRA_COLUMNS: u32 = 16;

const REGENERATE: &str =
    "open it in Excel and save it as an Excel Workbook (.xlsx), or run hardmatch plan again";

/// `base` → 0, `base (2)` → 1, …; anything else → None.
fn numbered_sheet(name: &str, base: &str) -> Option<usize> {
    if name == base {
        return Some(0);
    }
    let n = name
        .strip_prefix(base)?
        .strip_prefix(" (")?
        .strip_suffix(')')?;
    let n: usize = n.parse().ok()?;
    (n >= 2 && sheet_name(base, n - 1) == name).then_some(n - 1)
}

fn is_plan_sheet(name: &str) -> Option<usize> {
    numbered_sheet(name, PLAN_SHEET)
}

/// What is at `path` when it is not a workbook at all: a folder, or a text export someone passed
/// where the plan workbook belongs. `None` when it may be a workbook.
pub(super) fn not_a_workbook(path: &Path) -> Option<InputError> {
    if !path.exists() {
        return None;
    }
    if path.is_dir() {
        return Some(InputError::new(
            path,
            "",
            "this is a folder, not a workbook",
            "pass the workbook hardmatch plan wrote with -o (a .xlsx file)",
        ));
    }
    if !starts_as_text(path) {
        // An xlsx is a zip; anything else binary cannot be one.
        let mut magic = [0u8; 4];
        let is_zip = std::fs::File::open(path)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
            .is_ok_and(|()| magic == *b"PK\x03\x04");
        return (!is_zip).then(|| {
            InputError::new(
                path,
                "",
                "this is not an .xlsx workbook (it is neither a zip file nor text)",
                REGENERATE,
            )
        });
    }
    let sniffed = crate::sources::sniff::sniff(path)?;
    match sniffed.format {
        Some(crate::sources::Format::Xlsx) => None,
        Some(_) => Some(InputError::new(
            path,
            "",
            format!("this is {}, not a plan workbook", sniffed.describe()),
            "plan it first (hardmatch plan AD_EXPORT --cloud …) and pass the workbook plan writes",
        )),
        None => None,
    }
}

/// Whether the file starts as text (UTF-8, or UTF-16 with a BOM): its first bytes hold no control
/// characters but tabs and line ends.
fn starts_as_text(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 512];
    let n = match std::fs::File::open(path).and_then(|mut f| f.read(&mut head)) {
        Ok(n) => n,
        Err(_) => return false,
    };
    let head = &head[..n];
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return true;
    }
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        // Cut mid-character at the end of the sample.
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    !text.is_empty()
        && text
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\t' | '\r' | '\n'))
}

fn open_error(path: &Path, e: XlsxError) -> InputError {
    if let Some(e) = not_a_workbook(path) {
        return e;
    }
    match e {
        XlsxError::Io(io) if io.kind() == std::io::ErrorKind::NotFound => InputError::new(
            path,
            "",
            "file not found",
            "check the path; the plan workbook is the file hardmatch plan wrote with -o",
        ),
        XlsxError::Io(io) => InputError::new(
            path,
            "",
            format!("cannot read the file: {io}"),
            "check the file's permissions and close it in Excel if it is locked, then run again",
        ),
        other => InputError::new(
            path,
            "",
            format!("not a readable .xlsx workbook ({other})"),
            REGENERATE,
        ),
    }
}

/// A cell value as read, before it is checked against its column.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Raw {
    Text(String),
    Number(f64),
    Bool(bool),
    Odd(String),
}

impl Raw {
    pub(super) fn from_data(d: &DataRef<'_>) -> Option<Raw> {
        Some(match d {
            DataRef::Empty => return None,
            DataRef::String(s) if s.is_empty() => return None,
            DataRef::String(s) => Raw::Text(s.clone()),
            DataRef::SharedString("") => return None,
            DataRef::SharedString(s) => Raw::Text((*s).to_string()),
            DataRef::Float(f) => Raw::Number(*f),
            DataRef::Int(i) => Raw::Number(*i as f64),
            DataRef::Bool(b) => Raw::Bool(*b),
            DataRef::DateTime(dt) => Raw::Odd(format!("{}", dt.as_f64())),
            DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Raw::Odd(s.clone()),
            DataRef::Error(e) => Raw::Odd(format!("{e}")),
        })
    }

    /// The text a person would see, for columns that are text.
    pub(super) fn into_text(self) -> String {
        match self {
            Raw::Text(s) | Raw::Odd(s) => s,
            Raw::Number(f) => format_number(f),
            Raw::Bool(b) => if b { "TRUE" } else { "FALSE" }.to_string(),
        }
    }
}

fn format_number(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.0}")
    } else {
        format!("{f}")
    }
}

/// One sheet row being gathered: (value, column) per schema field.
type RowCells = Vec<Option<(Raw, u32)>>;

struct SheetReader<'a> {
    path: &'a Path,
    sheet: &'a str,
    /// Column index → schema field index, for the header's columns.
    columns: Vec<Option<usize>>,
    header_row: Option<u32>,
    rowid_col: u32,
    out: SheetRows,
    /// Reused for every row: one slot per schema column.
    fields: RowCells,
}

/// One Plan sheet's rows, in sheet order, with the 0-based sheet row of each (for errors about
/// duplicates, which are found once every sheet is in).
#[derive(Default)]
struct SheetRows {
    rows: Vec<ReviewRow>,
    at: Vec<u32>,
    rowid_col: u32,
    warnings: Vec<String>,
    /// Header texts of columns hardmatch does not know (a reviewer's own column).
    foreign_columns: Vec<String>,
}

impl SheetReader<'_> {
    fn read_header(&mut self, row: u32, cells: Vec<(u32, Raw)>) -> Result<(), InputError> {
        let bound = (PLAN_COLUMNS.len() as u32 + EXTRA_COLUMNS) as usize;
        self.columns = vec![None; bound];
        let mut found = vec![false; PLAN_COLUMNS.len()];
        for (col, raw) in cells {
            let text = raw.into_text();
            if schema::by_header(&text).is_none() && !text.trim().is_empty() {
                self.out.foreign_columns.push(format!(
                    "column \"{}\" ({})",
                    text.trim(),
                    cell_ref(self.sheet, row, col)
                ));
            }
            if let Some(c) = schema::by_header(&text) {
                let idx = c.field.index();
                if found[idx] {
                    self.out.warnings.push(format!(
                        "{}: a second \"{}\" column is ignored",
                        cell_ref(self.sheet, row, col),
                        c.header
                    ));
                    continue;
                }
                found[idx] = true;
                self.columns[col as usize] = Some(idx);
                if c.field == Field::RowId {
                    self.rowid_col = col;
                }
            }
        }
        let missing: Vec<&str> = PLAN_COLUMNS
            .iter()
            .enumerate()
            .filter(|(i, c)| c.required && !found[*i])
            .map(|(_, c)| c.header)
            .collect();
        if !missing.is_empty() {
            return Err(InputError::new(
                self.path,
                format!("{}!{}", self.sheet, row + 1),
                format!(
                    "the header row lacks the column(s) {}",
                    missing
                        .iter()
                        .map(|h| format!("\"{h}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "restore the original header text (Row id, Approve, Action, …), or run \
                 hardmatch plan again and re-enter the approvals",
            ));
        }
        for (i, c) in PLAN_COLUMNS.iter().enumerate() {
            // A workbook from before a column existed reads as it always did: the column's
            // values are empty, which for Revert and Previous ImmutableId means "nothing yet".
            if !found[i] && !c.required && !c.added_later {
                self.out.warnings.push(format!(
                    "{}: no \"{}\" column; its values are read as empty",
                    self.sheet, c.header
                ));
            }
        }
        self.header_row = Some(row);
        Ok(())
    }

    fn finish_row(&mut self, row: u32, cells: &mut Vec<(u32, Raw)>) -> Result<(), InputError> {
        if cells.is_empty() {
            return Ok(());
        }
        if self.header_row.is_none() {
            return self.read_header(row, std::mem::take(cells));
        }
        let mut fields = std::mem::take(&mut self.fields);
        fields.clear();
        fields.resize_with(PLAN_COLUMNS.len(), || None);
        let mut any = false;
        for (col, raw) in cells.drain(..) {
            if let Some(Some(idx)) = self.columns.get(col as usize) {
                fields[*idx] = Some((raw, col));
                any = true;
            }
        }
        if !any {
            self.fields = fields;
            return Ok(());
        }
        let mut review = ReviewRow::default();
        let rowid_ref = || cell_ref(self.sheet, row, self.rowid_col);
        let comment_only = fields
            .iter()
            .enumerate()
            .all(|(i, f)| f.is_none() || i == Field::Comment.index());
        if comment_only {
            // A note typed below the table (the Comment column is unlocked all the way down)
            // approves nothing; keep it out of the plan but do not stop the run over it.
            let col = fields[Field::Comment.index()]
                .as_ref()
                .map_or(0, |(_, c)| *c);
            self.out.warnings.push(format!(
                "{}: a Comment on a row without a Row id is ignored",
                cell_ref(self.sheet, row, col)
            ));
            fields.iter_mut().for_each(|f| *f = None);
            self.fields = fields;
            return Ok(());
        }
        let row_id =
            match fields[Field::RowId.index()].take() {
                None => return Err(InputError::new(
                    self.path,
                    rowid_ref(),
                    "this row has values but no Row id",
                    "restore the Row id (undo the edit), or delete the stray values in this row",
                )),
                Some((Raw::Number(f), _)) => whole_from_float(f).filter(|n| *n >= 1),
                Some((Raw::Text(s), _)) => s.trim().parse::<u64>().ok().filter(|n| *n >= 1),
                Some(_) => None,
            };
        let Some(row_id) = row_id else {
            return Err(InputError::new(
                self.path,
                rowid_ref(),
                "the Row id is not a whole number of at least 1",
                "restore the Row id written by hardmatch plan (undo the edit)",
            ));
        };
        review.plan.row_id = row_id;

        for (idx, cell) in fields.iter_mut().enumerate() {
            let Some((raw, col)) = cell.take() else {
                continue;
            };
            let column = &PLAN_COLUMNS[idx];
            let at = || cell_ref(self.sheet, row, col);
            let value = match (column.kind, raw) {
                (Kind::Count, Raw::Number(f)) => match whole_from_float(f) {
                    Some(n) => n.to_string(),
                    None => format_number(f),
                },
                (Kind::Identifier, raw @ (Raw::Number(_) | Raw::Bool(_) | Raw::Odd(_))) => {
                    let text = raw.into_text();
                    self.out.warnings.push(format!(
                        "{}: {} holds a number or date ({text}), not text; Excel may have \
                         changed what was typed. Re-enter it as text (start with ') or plan again",
                        at(),
                        column.header
                    ));
                    text
                }
                (_, raw) => raw.into_text(),
            };
            if let Err(problem) = column.field.set(&mut review, value) {
                self.out.warnings.push(format!("{}: {problem}", at()));
            }
            let mark = match column.field {
                Field::Approve => Some((&review.approve, "approved")),
                Field::Revert => Some((&review.revert, "marked for revert")),
                _ => None,
            };
            if let Some((Approval::Other(v), meaning)) = mark {
                self.out.warnings.push(format!(
                    "{}: {} is \"{v}\", not Yes or No; the row is treated as not {meaning}",
                    at(),
                    column.header
                ));
            }
        }
        schema::fill_cloud_values_shown_as_same(&mut review);
        self.fields = fields;
        self.out.rows.push(review);
        self.out.at.push(row);
        Ok(())
    }
}

/// Rows go from the parsing thread to the converting one in batches, to keep the channel cheap.
const BATCH_ROWS: usize = 512;

/// A run of rows: each row's index and cell count, and all their cells in one vector (one
/// allocation per batch rather than per row).
#[derive(Default)]
struct Batch {
    rows: Vec<(u32, usize)>,
    cells: Vec<(u32, Raw)>,
}

impl Batch {
    fn new() -> Self {
        Batch {
            rows: Vec::with_capacity(BATCH_ROWS),
            cells: Vec::with_capacity(BATCH_ROWS * PLAN_COLUMNS.len()),
        }
    }
}

/// Stream one sheet row by row: `each_row` gets the row index and its non-empty cells left of
/// `bound`. Cells at or right of `bound` are only counted; the warning about them is returned.
///
/// calamine parses on a second thread while this one builds rows: the XML parse is most of the
/// cost, and on two cores the two halves overlap.
pub(super) fn stream_sheet(
    xlsx: &mut Xlsx<BufReader<File>>,
    path: &Path,
    sheet: &str,
    bound: u32,
    mut each_row: impl FnMut(u32, &mut Vec<(u32, Raw)>) -> Result<(), InputError>,
) -> Result<Option<String>, InputError> {
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(8);
        let producer = scope.spawn(move || parse_sheet(xlsx, path, sheet, bound, &tx));
        let mut consumed = Ok(());
        let mut row_cells = Vec::with_capacity(bound as usize);
        'batches: for batch in rx.iter() {
            let mut cells = batch.cells.into_iter();
            for (r, n) in batch.rows {
                row_cells.clear();
                row_cells.extend(cells.by_ref().take(n));
                if let Err(e) = each_row(r, &mut row_cells) {
                    consumed = Err(e);
                    break 'batches;
                }
            }
        }
        // Hanging up makes a parser blocked on a full channel stop.
        drop(rx);
        let parsed = producer
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        // A row error is about an earlier row than any parse error still in flight.
        consumed?;
        parsed
    })
}

fn parse_sheet(
    xlsx: &mut Xlsx<BufReader<File>>,
    path: &Path,
    sheet: &str,
    bound: u32,
    tx: &std::sync::mpsc::SyncSender<Batch>,
) -> Result<Option<String>, InputError> {
    let mut stray = 0usize;
    let mut first_stray = None;
    let mut last_stray = (0, 0);
    let mut reader = xlsx
        .worksheet_cells_reader(sheet)
        .map_err(|e| open_error(path, e))?;
    let mut current_row = None;
    let mut row_start = 0;
    let mut batch = Batch::new();
    loop {
        let cell = reader.next_cell().map_err(|e| {
            InputError::new(
                path,
                sheet,
                format!("the sheet is damaged ({e})"),
                REGENERATE,
            )
        })?;
        let Some(cell) = cell else { break };
        let (r, c) = cell.get_position();
        if c >= bound {
            if Raw::from_data(cell.get_value()).is_some() {
                stray += 1;
                first_stray.get_or_insert((r, c));
                last_stray = (r, c);
            }
            continue;
        }
        if current_row != Some(r) {
            if let Some(prev) = current_row {
                batch.rows.push((prev, batch.cells.len() - row_start));
                if batch.rows.len() >= BATCH_ROWS
                    && tx
                        .send(std::mem::replace(&mut batch, Batch::new()))
                        .is_err()
                {
                    // The reader stopped on an error of its own; that is the one to report.
                    return Ok(None);
                }
                row_start = batch.cells.len();
            }
            current_row = Some(r);
        }
        if let Some(raw) = Raw::from_data(cell.get_value()) {
            batch.cells.push((c, raw));
        }
    }
    if let Some(prev) = current_row {
        batch.rows.push((prev, batch.cells.len() - row_start));
    }
    if !batch.rows.is_empty() && tx.send(batch).is_err() {
        return Ok(None);
    }
    Ok(first_stray.map(|(r, c)| {
        format!(
            "{sheet}: ignored {stray} cell(s) right of the expected columns (first at {}, last at {})",
            cell_ref(sheet, r, c),
            cell_ref(sheet, last_stray.0, last_stray.1)
        )
    }))
}

fn open(path: &Path) -> Result<Xlsx<BufReader<File>>, InputError> {
    open_workbook(path).map_err(|e| open_error(path, e))
}

fn read_plan_sheet(
    xlsx: &mut Xlsx<BufReader<File>>,
    fast: Option<(&Book, sheet_stream::Options)>,
    path: &Path,
    sheet: &str,
) -> Result<SheetRows, InputError> {
    let new_state = || SheetReader {
        path,
        sheet,
        columns: Vec::new(),
        header_row: None,
        rowid_col: 0,
        out: SheetRows::default(),
        fields: Vec::new(),
    };
    let bound = PLAN_COLUMNS.len() as u32 + EXTRA_COLUMNS;
    if let Some((book, opts)) = fast {
        let mut state = new_state();
        match book.stream_sheet(sheet, bound, opts, |r, cells| state.finish_row(r, cells)) {
            Ok(stray) => return finish_plan_sheet(state, stray.warning(sheet)),
            Err(Failure::Input(e)) => return Err(e),
            // Some rows may have gone into `state` already; calamine starts over on a fresh one.
            Err(Failure::Unsupported(why)) => tracing::debug!(
                "{}: sheet {sheet:?} is read with calamine: the parallel reader does not \
                 support it ({why})",
                path.display()
            ),
        }
    }
    let mut state = new_state();
    let stray = stream_sheet(xlsx, path, sheet, bound, |r, cells| {
        state.finish_row(r, cells)
    })?;
    finish_plan_sheet(state, stray)
}

fn finish_plan_sheet(
    mut state: SheetReader<'_>,
    stray: Option<String>,
) -> Result<SheetRows, InputError> {
    let (path, sheet) = (state.path, state.sheet);
    if state.header_row.is_none() {
        return Err(InputError::new(
            path,
            sheet,
            "the sheet is empty: no header row",
            REGENERATE,
        ));
    }
    state.out.rowid_col = state.rowid_col;
    state.out.warnings.extend(stray);
    Ok(state.out)
}

/// Read every Plan sheet, one after another: the parallel reader uses every core on each. When
/// it cannot open the workbook at all, calamine reads the sheets instead.
fn read_plan_sheets(
    xlsx: &mut Xlsx<BufReader<File>>,
    path: &Path,
    sheets: &[&String],
) -> Vec<Result<SheetRows, InputError>> {
    let book = Book::open(path)
        .map_err(|why| {
            tracing::debug!(
                "{}: the Plan sheets are read with calamine: the parallel reader does not \
                 support the workbook ({why})",
                path.display()
            )
        })
        .ok();
    let fast = book.as_ref().map(|b| (b, sheet_stream::Options::default()));
    sheets
        .iter()
        .map(|s| read_plan_sheet(xlsx, fast, path, s))
        .collect()
}

pub(super) fn read_review(path: &Path) -> Result<Review, InputError> {
    let mut xlsx = open(path)?;
    let names = xlsx.sheet_names();
    let mut numbered: Vec<(usize, &String)> = names
        .iter()
        .filter_map(|n| is_plan_sheet(n).map(|i| (i, n)))
        .collect();
    numbered.sort();
    let sheets: Vec<&String> = numbered.into_iter().map(|(_, n)| n).collect();
    if sheets.is_empty() {
        return Err(InputError::new(
            path,
            "",
            "no \"Plan\" sheet: this is not a hardmatch plan workbook",
            "pass the workbook written by hardmatch plan -o, with its Plan sheet name unchanged",
        ));
    }

    // Errors in sheet order, so the same file always gives the same first complaint.
    let mut per_sheet = Vec::with_capacity(sheets.len());
    for result in read_plan_sheets(&mut xlsx, path, &sheets) {
        per_sheet.push(result?);
    }
    let total = per_sheet.iter().map(|s| s.rows.len()).sum();
    let mut rows = Vec::with_capacity(total);
    let mut seen: HashMap<u64, (usize, u32)> = HashMap::with_capacity(total);
    let mut warnings = Vec::new();
    let mut foreign = Vec::new();
    let rowid_cols: Vec<u32> = per_sheet.iter().map(|s| s.rowid_col).collect();
    for (i, sheet) in per_sheet.into_iter().enumerate() {
        for (row, at) in sheet.rows.into_iter().zip(sheet.at) {
            if let Some((first_sheet, first_at)) = seen.insert(row.plan.row_id, (i, at)) {
                let first = cell_ref(sheets[first_sheet], first_at, rowid_cols[first_sheet]);
                return Err(InputError::new(
                    path,
                    cell_ref(sheets[i], at, sheet.rowid_col),
                    format!(
                        "Row id {} appears twice (first at {first})",
                        row.plan.row_id
                    ),
                    "delete the duplicated row (rows copied and pasted inside the plan), or run \
                     hardmatch plan again",
                ));
            }
            rows.push(row);
        }
        warnings.extend(sheet.warnings);
        foreign.extend(sheet.foreign_columns);
    }
    drop(seen);
    rows.sort_unstable_by_key(|r: &ReviewRow| r.plan.row_id);

    let mut meta = if names.iter().any(|n| n == SUMMARY_SHEET) {
        read_summary(&mut xlsx, path, &mut warnings)?
    } else {
        warnings.push(format!(
            "no \"{SUMMARY_SHEET}\" sheet; input details are unknown"
        ));
        ReviewMeta::default()
    };
    let mut unmatched = Vec::new();
    let mut unmatched_sheets: Vec<(usize, &String)> = names
        .iter()
        .filter_map(|n| numbered_sheet(n, UNMATCHED_SHEET).map(|i| (i, n)))
        .collect();
    unmatched_sheets.sort();
    for (_, sheet) in unmatched_sheets {
        read_unmatched(&mut xlsx, path, sheet, &mut unmatched, &mut warnings)?;
    }
    if names.iter().any(|n| n == RUNS_SHEET) {
        meta.runs = super::runs::read_runs_sheet(&mut xlsx, path, &mut warnings)?;
    }
    let known = |n: &str| {
        n == SUMMARY_SHEET
            || n == RUNS_SHEET
            || n == INSTRUCTIONS_SHEET
            || is_plan_sheet(n).is_some()
            || numbered_sheet(n, UNMATCHED_SHEET).is_some()
    };
    foreign.extend(
        names
            .iter()
            .filter(|n| !known(n))
            .map(|n| format!("sheet \"{n}\"")),
    );
    Ok(Review {
        rows,
        warnings,
        unmatched,
        meta,
        foreign,
    })
}

/// The Summary sheet back into [`ReviewMeta`], so apply can rewrite the workbook without losing it.
/// Best effort: it is for people, so anything unexpected is skipped, not refused. The Inputs
/// columns are found by their headers, and a warning is the first text right of column A, so the
/// layouts of earlier versions read back too.
fn read_summary(
    xlsx: &mut Xlsx<BufReader<File>>,
    path: &Path,
    warnings: &mut Vec<String>,
) -> Result<ReviewMeta, InputError> {
    #[derive(PartialEq)]
    enum Part {
        Top,
        InputsHeader,
        Inputs,
        Warnings,
        Other,
    }
    let mut meta = ReviewMeta::default();
    let mut part = Part::Top;
    let mut last_row = 0u32;
    // Role, Path, SHA-256, Rows: where each is, as the header row says (earlier versions' order
    // until it is read).
    let mut input_cols = [0usize, 1, 2, 3];
    let stray = stream_sheet(xlsx, path, SUMMARY_SHEET, 4, |r, cells| {
        let gap = r > last_row + 1;
        last_row = r;
        let mut cols: [Option<String>; 4] = Default::default();
        for (c, raw) in cells.drain(..) {
            cols[c as usize] = Some(raw.into_text());
        }
        match cols[0].as_deref() {
            Some("Generated at") => meta.generated_at = cols[1].take().unwrap_or_default(),
            Some("Tool version") => meta.tool_version = cols[1].take().unwrap_or_default(),
            Some("Inputs") => part = Part::InputsHeader,
            Some("Warnings") => part = Part::Warnings,
            _ => match part {
                Part::InputsHeader => {
                    for (i, name) in ["Role", "Path", "SHA-256", "Rows"].iter().enumerate() {
                        if let Some(c) = cols.iter().position(|h| h.as_deref() == Some(*name)) {
                            input_cols[i] = c;
                        }
                    }
                    part = Part::Inputs;
                }
                Part::Inputs if !gap => {
                    let mut take = |i: usize| cols[input_cols[i]].take().unwrap_or_default();
                    meta.inputs.push(InputSummary {
                        role: take(0),
                        path: take(1),
                        sha256: take(2),
                        rows: take(3).parse().unwrap_or(0),
                    })
                }
                Part::Inputs => part = Part::Other,
                Part::Warnings => meta
                    .warnings
                    .extend(cols[1..].iter_mut().find_map(Option::take)),
                Part::Top | Part::Other => {}
            },
        }
        Ok(())
    })?;
    warnings.extend(stray);
    Ok(meta)
}

/// An "Unmatched cloud users" sheet back into [`CloudUser`]s, columns found by header.
fn read_unmatched(
    xlsx: &mut Xlsx<BufReader<File>>,
    path: &Path,
    sheet: &str,
    out: &mut Vec<CloudUser>,
    warnings: &mut Vec<String>,
) -> Result<(), InputError> {
    let bound = UNMATCHED_COLUMNS.len() as u32 + EXTRA_COLUMNS;
    let mut columns: Option<Vec<Option<usize>>> = None;
    let stray = stream_sheet(xlsx, path, sheet, bound, |_, cells| {
        let Some(map) = &columns else {
            let mut map = vec![None; bound as usize];
            for (c, raw) in cells.drain(..) {
                let text = raw.into_text();
                map[c as usize] = UNMATCHED_COLUMNS
                    .iter()
                    .position(|(h, _)| h.eq_ignore_ascii_case(text.trim()));
            }
            columns = Some(map);
            return Ok(());
        };
        let mut v: [String; 7] = Default::default();
        for (c, raw) in cells.drain(..) {
            if let Some(i) = map[c as usize] {
                v[i] = raw.into_text();
            }
        }
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        out.push(CloudUser {
            id: v[0].clone(),
            upn: v[1].clone(),
            mail: opt(&v[2]),
            display_name: opt(&v[3]),
            immutable_id: opt(&v[4]),
            sync_enabled: match v[5].trim().to_ascii_lowercase().as_str() {
                "yes" | "true" => Some(true),
                "no" | "false" => Some(false),
                _ => None,
            },
            location: v[6].clone(),
            ..CloudUser::default()
        });
        Ok(())
    })?;
    warnings.extend(stray);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_sheet_names_are_recognised_exactly() {
        assert_eq!(is_plan_sheet("Plan"), Some(0));
        assert_eq!(is_plan_sheet("Plan (2)"), Some(1));
        assert_eq!(is_plan_sheet("Plan (12)"), Some(11));
        assert_eq!(is_plan_sheet("Plan (1)"), None);
        assert_eq!(is_plan_sheet("Plan (02)"), None);
        assert_eq!(is_plan_sheet("plan"), None);
        assert_eq!(is_plan_sheet("Planning"), None);
    }

    /// A copy of `from` with the Plan sheet's XML edited.
    fn edit_plan_sheet(from: &Path, to: &Path, edit: impl Fn(&str) -> String) {
        use std::io::{Read, Write};
        let mut zin = zip::ZipArchive::new(File::open(from).expect("open")).expect("zip");
        let mut zout = zip::ZipWriter::new(File::create(to).expect("create"));
        let opts = zip::write::SimpleFileOptions::default();
        for i in 0..zin.len() {
            let mut entry = zin.by_index(i).expect("entry");
            let name = entry.name().expect("entry name").to_string();
            let mut text = String::new();
            entry.read_to_string(&mut text).expect("read");
            if name.starts_with("xl/worksheets/") {
                text = edit(&text);
            }
            zout.start_file(name, opts).expect("start");
            zout.write_all(text.as_bytes()).expect("write");
        }
        zout.finish().expect("finish");
    }

    #[test]
    fn a_sheet_refused_after_some_rows_is_read_again_from_the_start() {
        use crate::review::{PlanKey, PlanRow};
        let key = PlanKey::from_bytes([5; 32]);
        let dir = tempfile::tempdir().expect("tempdir");
        let original = dir.path().join("plan.xlsx");
        let rows: Vec<ReviewRow> = (1..=300)
            .map(|id| {
                let plan = PlanRow {
                    row_id: id,
                    upn: format!("u{id}@contoso.com"),
                    ..PlanRow::default()
                };
                ReviewRow {
                    fingerprint: key.sign(&plan),
                    plan,
                    ..ReviewRow::default()
                }
            })
            .collect();
        super::super::write_review(
            &original,
            &rows,
            &[],
            &ReviewMeta::default(),
            &super::super::WriteOptions::default(),
        )
        .expect("write");
        let odd = dir.path().join("odd.xlsx");
        // Late in the sheet, so that with small chunks many rows were delivered before it.
        edit_plan_sheet(&original, &odd, |xml| xml.replace("<c r=\"A280\"", "<c"));
        let small = sheet_stream::Options {
            chunk_bytes: 2_000,
            workers: 2,
        };

        let plain = Book::open(&original).expect("book");
        let fast = plain.stream_sheet(PLAN_SHEET, 40, small, |_, _| Ok(()));
        assert!(
            fast.is_ok(),
            "the writer's own sheets are read in parallel: {fast:?}"
        );

        let book = Book::open(&odd).expect("book");
        let mut delivered = 0;
        let fast = book.stream_sheet(PLAN_SHEET, 40, small, |_, _| {
            delivered += 1;
            Ok(())
        });
        assert!(matches!(fast, Err(Failure::Unsupported(_))), "{fast:?}");
        assert!(delivered > 100, "{delivered}");

        let mut xlsx = open(&original).expect("open");
        let expected = read_plan_sheet(&mut xlsx, None, &original, PLAN_SHEET).expect("calamine");
        let mut xlsx = open(&odd).expect("open");
        let got =
            read_plan_sheet(&mut xlsx, Some((&book, small)), &odd, PLAN_SHEET).expect("falls back");
        assert_eq!(got.rows.len(), 300);
        assert_eq!(got.rows, expected.rows);
        assert_eq!(got.at, expected.at);
        assert_eq!(got.warnings, expected.warnings);
    }

    #[test]
    fn numbers_read_back_as_people_see_them() {
        assert_eq!(format_number(123.0), "123");
        assert_eq!(format_number(1e5), "100000");
        assert_eq!(format_number(1.5), "1.5");
        assert_eq!(format_number(1.2345678901234567e16), "12345678901234568");
    }
}
