//! Writing the review workbook and the input template with rust_xlsxwriter.
//!
//! The big sheets (Plan, Unmatched cloud users) use constant-memory worksheets: a million rows
//! cost a few MB of RAM instead of gigabytes. Their rules shape the code: rows go out strictly in
//! order, sheet-level settings (validation, conditional formats, protection) are set before the
//! first row, and a cell written without a format does not inherit its column's format, so every
//! cell is written with an explicit one.

use super::schema::{
    self, column_letters, CellValue, Field, Kind, PLAN_COLUMNS, TEMPLATE_COLUMNS, UNMATCHED_COLUMNS,
};
use super::summary::{self, Tally};
use super::{ReviewMeta, WriteOptions};
use crate::cloud::CloudUser;
use crate::error::InputError;
use crate::fsutil::AtomicFile;
use crate::review::{Action, ReviewRow};
use rust_xlsxwriter::{
    Color, ConditionalFormatFormula, DataValidation, Format, FormatAlign, FormatBorder, Note,
    ProtectionOptions, Workbook, Worksheet, XlsxError,
};
use std::borrow::{Borrow, Cow};
use std::path::Path;

/// Excel's last row index (0-based) and cell-text limit (UTF-16 units).
const EXCEL_MAX_DATA_ROWS: u32 = 1_048_575;
const EXCEL_MAX_TEXT: usize = 32_767;

/// Excel's built-in "@" (Text) number format. The built-in id, not a custom "@" format, so every
/// spreadsheet program recognises the column as text.
const TEXT_FORMAT: u8 = 49;

pub(super) const PLAN_SHEET: &str = "Plan";
pub(super) const UNMATCHED_SHEET: &str = "Unmatched cloud users";
pub(super) const SUMMARY_SHEET: &str = "Summary";
pub(super) const INSTRUCTIONS_SHEET: &str = "Instructions";

/// "Plan", "Plan (2)", "Plan (3)"…
pub(super) fn sheet_name(base: &str, index: usize) -> String {
    if index == 0 {
        base.to_string()
    } else {
        format!("{base} ({})", index + 1)
    }
}

pub(super) struct Formats {
    pub(super) header: Format,
    /// Locked text: "@" so a reviewer who unprotects and retypes still gets text, not a number.
    pub(super) text: Format,
    pub(super) wrap: Format,
    pub(super) number: Format,
    /// A count on the Summary: thousands separated, next to its label rather than far right.
    pub(super) count: Format,
    pub(super) unlocked: Format,
    pub(super) heading: Format,
    pub(super) title: Format,
    pub(super) paragraph: Format,
}

impl Formats {
    fn new() -> Self {
        Formats {
            header: Format::new()
                .set_bold()
                .set_background_color(Color::RGB(0x1F4E78))
                .set_font_color(Color::White)
                .set_border_bottom(FormatBorder::Thin)
                .set_align(FormatAlign::Top),
            text: Format::new()
                .set_num_format_index(TEXT_FORMAT)
                .set_align(FormatAlign::Top),
            wrap: Format::new()
                .set_num_format_index(TEXT_FORMAT)
                .set_text_wrap()
                .set_align(FormatAlign::Top),
            number: Format::new()
                .set_num_format_index(1)
                .set_align(FormatAlign::Top),
            count: Format::new()
                .set_num_format_index(3)
                .set_align(FormatAlign::Left)
                .set_align(FormatAlign::Top),
            unlocked: Format::new()
                .set_num_format_index(TEXT_FORMAT)
                .set_unlocked()
                .set_background_color(Color::RGB(0xFFF2CC))
                .set_border(FormatBorder::Hair)
                .set_align(FormatAlign::Top),
            heading: Format::new().set_bold().set_font_size(13),
            title: Format::new().set_bold().set_font_size(16),
            paragraph: Format::new().set_text_wrap().set_align(FormatAlign::Top),
        }
    }

    fn for_column(&self, c: &schema::Column) -> &Format {
        if c.editable {
            &self.unlocked
        } else if c.kind == Kind::Count {
            &self.number
        } else if WRAPPED.contains(&c.field) {
            &self.wrap
        } else {
            &self.text
        }
    }
}

/// Fill colour per Action: green = will change, amber = needs care, red = blocked, grey = nothing to do.
pub(super) fn action_colour(action: Action) -> u32 {
    match action {
        Action::Set => 0xC6EFCE,
        Action::Replace => 0xFFD966,
        Action::AlreadyMatched => 0xE7E6E6,
        Action::BlockedSynced => 0xF4B084,
        Action::NoCloudUser => 0xDDEBF7,
        Action::ConflictActive => 0xFFC7CE,
        Action::ConflictDeleted => 0xFCE4D6,
        Action::Ambiguous => 0xE4DFEC,
        Action::DuplicateSource => 0xF8CBAD,
        Action::InvalidInput => 0xFF9999,
    }
}

/// Excel refuses cells over 32,767 UTF-16 units; keep free text readable rather than fail the run.
pub(super) fn fit(s: &str) -> Cow<'_, str> {
    if s.len() <= EXCEL_MAX_TEXT || s.encode_utf16().count() <= EXCEL_MAX_TEXT {
        return Cow::Borrowed(s);
    }
    const MARK: &str = " … [truncated]";
    let budget = EXCEL_MAX_TEXT - MARK.encode_utf16().count();
    let mut units = 0;
    let mut end = 0;
    for (i, ch) in s.char_indices() {
        units += ch.len_utf16();
        if units > budget {
            break;
        }
        end = i + ch.len_utf8();
    }
    Cow::Owned(format!("{}{MARK}", &s[..end]))
}

fn create_error(path: &Path, e: &std::io::Error) -> InputError {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.display().to_string(),
        _ => ".".to_string(),
    };
    // The io error names the hidden temporary file; the admin only knows the target and its folder.
    let why = match e.kind() {
        std::io::ErrorKind::NotFound => format!("the folder {dir} does not exist"),
        std::io::ErrorKind::PermissionDenied => format!("no permission to write in {dir}"),
        kind => format!("{kind} in {dir}"),
    };
    InputError::new(
        path,
        "",
        format!("cannot create the output file: {why}"),
        "check that the folder exists and is writable, or choose another -o path",
    )
}

fn xlsx_error(path: &Path, e: &XlsxError) -> InputError {
    InputError::new(
        path,
        "",
        format!("cannot write the workbook: {e}"),
        "check free disk space and write permission on the output directory (and on the \
         temporary directory), then run again",
    )
}

/// Build `wb` with `build`, save it beside `path` and rename it into place only on success.
fn save_atomically(
    path: &Path,
    build: impl FnOnce(&mut Workbook) -> Result<(), XlsxError>,
) -> Result<(), InputError> {
    let atomic = AtomicFile::create(path).map_err(|e| create_error(path, &e))?;
    let mut wb = Workbook::new();
    // Level 2 (zlib-rs's fast, no-lazy-match deflate) makes a Plan sheet as small as level 3
    // (68 MB for 300k rows both) in 0.5 s less per 300k rows; the default 6 is slower still, and
    // level 1 is faster again but 30% bigger.
    wb.set_zip_compression_level(1);
    // Constant-memory sheets spill to temp files; keep them on the output's filesystem rather
    // than a possibly small /tmp.
    if let Some(dir) = atomic.path().parent() {
        let _ = wb.set_tempdir(dir);
    }
    // Constant-memory sheets write rows to their temp file as they go, and rust_xlsxwriter
    // panics there when the disk fills up (a 1M-row plan spills 1.3 GB) instead of returning an
    // error: turn that into the error it is, and leave no file at `path`.
    let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        build(&mut wb)?;
        wb.save(atomic.path())
    }));
    match built {
        Ok(result) => result.map_err(|e| xlsx_error(path, &e))?,
        Err(panic) => {
            let why = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("the xlsx writer stopped");
            return Err(xlsx_error(
                path,
                &XlsxError::IoError(std::io::Error::other(why.to_string())),
            ));
        }
    }
    atomic.commit().map_err(|e| {
        InputError::new(
            path,
            "",
            format!("cannot move the finished workbook into place: {e}"),
            "close the file if it is open in Excel, check write permission, then run again",
        )
    })
}

/// What every printed page says besides its content: the workbook's file name and the sheet
/// (Excel and LibreOffice fill both in when printing, so a renamed copy prints its own name), when
/// the plan was generated, the tool's version, and page N of M.
pub(super) struct PageLabels {
    header: String,
    footer: String,
}

impl PageLabels {
    fn new(generated_at: &str, tool_version: &str) -> Self {
        // Header and footer are codes (&P, &F…) plus literal text, 255 characters at most; the
        // values come from the Summary sheet on a rewrite, so they are cleaned and cut.
        let literal = |s: &str| -> String {
            s.chars()
                .filter(|c| !c.is_control())
                .take(64)
                .collect::<String>()
                .replace('&', "&&")
        };
        let mut header = "&L&F&C&A".to_string();
        if !generated_at.is_empty() {
            header.push_str(&format!("&RPlan generated {}", literal(generated_at)));
        }
        let mut footer = String::new();
        if !tool_version.is_empty() {
            footer.push_str(&format!("&Lhardmatch {}", literal(tool_version)));
        }
        footer.push_str("&CPage &P of &N");
        PageLabels { header, footer }
    }
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Orientation {
    Portrait,
    Landscape,
}

/// Every sheet prints at the page's width, as many pages tall as it needs: a change board gets
/// whole rows on each page instead of a stack of pages with one or two columns each.
pub(super) fn set_up_printing(
    ws: &mut Worksheet,
    orientation: Orientation,
    labels: &PageLabels,
    repeat_header_row: bool,
) -> Result<(), XlsxError> {
    match orientation {
        Orientation::Portrait => ws.set_portrait(),
        Orientation::Landscape => ws.set_landscape(),
    };
    ws.set_print_fit_to_pages(1, 0);
    // Narrow side margins give the columns a tenth more room; top and bottom keep space for the
    // header and footer.
    ws.set_margins(0.4, 0.4, 0.65, 0.65, 0.3, 0.3);
    ws.set_header(labels.header.as_str());
    ws.set_footer(labels.footer.as_str());
    if repeat_header_row {
        ws.set_repeat_rows(0, 0)?;
    }
    Ok(())
}

pub(super) fn write_review<R: Borrow<ReviewRow>>(
    path: &Path,
    total_rows: usize,
    rows: impl Iterator<Item = R>,
    unmatched: &[&CloudUser],
    meta: &ReviewMeta,
    opts: &WriteOptions,
) -> Result<(), InputError> {
    let per_sheet = opts.max_rows_per_sheet.clamp(1, EXCEL_MAX_DATA_ROWS) as usize;
    save_atomically(path, |wb| {
        let f = Formats::new();
        let labels = PageLabels::new(&meta.generated_at, &meta.tool_version);
        write_instructions(wb.add_worksheet(), &f, &labels)?;
        // The Summary sheet comes second but is filled last: its counts are taken while the rows
        // stream past, so the rows never have to be held.
        wb.add_worksheet();
        let summary_index = 1;
        let mut tally = Tally::default();
        let mut rows = rows.peekable();
        let mut spans = Vec::new();
        let mut first = 1usize;
        loop {
            // Size each sheet's validation and filter ranges from the announced total; rows past
            // it (a caller that miscounted) still go out, on further sheets if need be.
            let expected = total_rows.saturating_sub(first - 1).min(per_sheet);
            let ws = wb.add_worksheet_with_constant_memory()?;
            let name = sheet_name(PLAN_SHEET, spans.len());
            let written = write_plan_sheet(
                ws,
                &name,
                expected,
                rows.by_ref().take(per_sheet),
                &mut tally,
                &f,
                &labels,
            )?;
            spans.push((name, first, written));
            first += written;
            if rows.peek().is_none() {
                break;
            }
        }
        if tally.total != total_rows {
            // Rows made on another thread that stopped early (it panicked): a plan missing rows
            // must not be left at `path` looking complete.
            return Err(XlsxError::ParameterError(format!(
                "{} plan rows were announced but {} arrived",
                total_rows, tally.total
            )));
        }
        let unmatched_chunks: Vec<&[&CloudUser]> = if unmatched.is_empty() {
            vec![&[]]
        } else {
            unmatched.chunks(per_sheet).collect()
        };
        for (i, chunk) in unmatched_chunks.iter().enumerate() {
            let ws = wb.add_worksheet_with_constant_memory()?;
            write_unmatched_sheet(ws, &sheet_name(UNMATCHED_SHEET, i), chunk, &f, &labels)?;
        }
        if !meta.runs.is_empty() {
            super::runs::write_runs_sheet(wb.add_worksheet(), &meta.runs, &f.header, &labels)?;
        }
        let ws = wb.worksheet_from_index(summary_index)?;
        summary::write_summary(ws, &tally, &spans, unmatched.len(), meta, &f, &labels)
    })
}

/// Write one Plan sheet: the header, then the rows. `expected` sizes the validation, filter and
/// colour ranges, which constant-memory mode needs before the first row. Returns the row count.
fn write_plan_sheet<R: Borrow<ReviewRow>>(
    ws: &mut Worksheet,
    name: &str,
    expected: usize,
    rows: impl Iterator<Item = R>,
    tally: &mut Tally,
    f: &Formats,
    labels: &PageLabels,
) -> Result<usize, XlsxError> {
    ws.set_name(name)?;
    let last_col = (PLAN_COLUMNS.len() - 1) as u16;
    // Validation and colours cover at least one data row so an empty sheet still behaves.
    let last_row = expected.max(1) as u32;
    let column_formats: Vec<&Format> = PLAN_COLUMNS.iter().map(|c| f.for_column(c)).collect();

    // Sheet-level settings first: constant-memory mode writes rows out as they come.
    for (i, c) in PLAN_COLUMNS.iter().enumerate() {
        let col = i as u16;
        ws.set_column_width(col, c.width)?;
        ws.set_column_format(col, column_formats[i])?;
        if c.hidden {
            ws.set_column_hidden(col)?;
        }
    }
    // The header, and the columns that say which row this is, stay in view while scrolling
    // right to the detail columns.
    ws.set_freeze_panes(1, Field::Upn.index() as u16 + 1)?;
    ws.autofilter(0, 0, last_row, last_col)?;
    // Change boards print: the board block (the first columns) is the print area, landscape,
    // one page wide, the header row on every page. The detail columns stay on screen.
    set_up_printing(ws, Orientation::Landscape, labels, true)?;

    let approve = Field::Approve.index() as u16;
    let dv = DataValidation::new()
        .allow_list_strings(&["Yes", "No"])?
        .set_input_title("Approve")?
        .set_input_message("Yes = apply may execute this row. Empty or No = leave it alone.")?
        .set_error_title("Approve")?
        .set_error_message("Choose Yes or No, or leave the cell empty.")?;
    ws.add_data_validation(1, approve, last_row, approve, &dv)?;
    let revert = Field::Revert.index() as u16;
    let dv = DataValidation::new()
        .allow_list_strings(&["Yes", "No"])?
        .set_input_title("Revert")?
        .set_input_message(
            "After apply: Yes = hardmatch revert may put back this Done row's Previous \
             ImmutableId. Empty or No = leave it.",
        )?
        .set_error_title("Revert")?
        .set_error_message("Choose Yes or No, or leave the cell empty.")?;
    ws.add_data_validation(1, revert, last_row, revert, &dv)?;

    let action_col = column_letters(Field::Action.index() as u32);
    for action in Action::ALL {
        let cf = ConditionalFormatFormula::new()
            .set_rule(format!("=${action_col}2=\"{}\"", action.as_str()).as_str())
            .set_format(Format::new().set_background_color(Color::RGB(action_colour(action))));
        ws.add_conditional_format(1, 0, last_row, last_col, &cf)?;
    }

    // No password: this guards against slips, it is not security. The fingerprint catches edits.
    ws.protect_with_options(&ProtectionOptions {
        use_autofilter: true,
        sort: true,
        format_columns: true,
        ..ProtectionOptions::new()
    });

    for (i, c) in PLAN_COLUMNS.iter().enumerate() {
        ws.write_string_with_format(0, i as u16, c.header, &f.header)?;
    }
    let mut written = 0usize;
    let row_heights = expected <= ROW_HEIGHTS_UP_TO;
    let mut last_row_is_tall = false;
    for row in rows {
        let row = row.borrow();
        tally.add(row);
        written += 1;
        let r = written as u32;
        // Excel does not grow a row for wrapped text it did not lay out itself; without this a
        // row with three Checks shows one and prints the others over the next rows. Set before
        // the row's cells: set afterwards, a constant-memory sheet writes the last row twice,
        // which Excel repairs. rust_xlsxwriter keeps every explicit row height (about 600 bytes
        // each, even in constant-memory mode), so a sheet past ROW_HEIGHTS_UP_TO rows keeps the
        // default height: at a million rows that is 600 MB, and nobody reads such a sheet row
        // by row.
        if row_heights {
            let lines = WRAPPED
                .iter()
                .map(|field| match field.value(row) {
                    CellValue::Text(s) => wrapped_lines(&s, field.column().width),
                    _ => 1,
                })
                .max()
                .unwrap_or(1);
            if lines > 1 {
                ws.set_row_height(r, DEFAULT_ROW_HEIGHT * lines as f64)?;
            }
            last_row_is_tall = lines > 1;
        }
        for (i, c) in PLAN_COLUMNS.iter().enumerate() {
            let col = i as u16;
            // Text and number cells take their column's format (constant-memory sheets apply it
            // to cells written without one): looking a Format up per cell hashes the whole
            // struct, which was a large share of writing a million rows.
            match c.field.value(row) {
                // write_string only: an ImmutableId like "=1+1" or "+7Byu…" must stay text.
                CellValue::Text(s) => {
                    ws.write_string(r, col, fit(&s))?;
                }
                CellValue::Number(n) => {
                    ws.write_number(r, col, n)?;
                }
                // No blank cell for an empty Approve or Comment: the column's own format (set
                // above) is what Excel and LibreOffice give every cell that has no record
                // (ECMA-376 §18.3.1.13), so they are unlocked anyway, and a million blank
                // records were a tenth of the sheet's XML.
                CellValue::Empty => {}
            }
        }
    }
    if last_row_is_tall {
        // rust_xlsxwriter 0.102 writes a constant-memory sheet's last row a second time, as an
        // empty <row> with the same number, when that row has a height of its own; Excel repairs
        // such a sheet. A blank cell below the table, formatted like its column, makes that row
        // an ordinary one; the reader skips blank cells.
        let comment = Field::Comment.index() as u16;
        ws.write_blank(
            written as u32 + 1,
            comment,
            column_formats[comment as usize],
        )?;
    }
    // Known only now; the print area is a defined name, written when the workbook is saved.
    ws.set_print_area(
        0,
        0,
        written.max(1) as u32,
        (schema::board_columns() - 1) as u16,
    )?;
    Ok(written)
}

const DEFAULT_ROW_HEIGHT: f64 = 15.0;
/// The Plan columns whose text wraps: long sentences and lists, in narrow board columns.
const WRAPPED: [Field; 3] = [Field::Reason, Field::Checks, Field::Result];
const ROW_HEIGHTS_UP_TO: usize = 100_000;

/// Wrapped text gets the row height it needs: neither Excel nor LibreOffice grows a row for
/// wrapped text they did not lay out themselves, and a chart placed below is anchored by these
/// heights.
pub(super) fn fit_row_height(
    ws: &mut Worksheet,
    r: u32,
    text: &str,
    width: f64,
) -> Result<(), XlsxError> {
    let lines = wrapped_lines(text, width);
    if lines > 1 {
        ws.set_row_height(r, DEFAULT_ROW_HEIGHT * lines as f64)?;
    }
    Ok(())
}

/// Lines a wrapped cell of `width` (Excel character units) needs for `text`: one per line break,
/// and as many as greedy wrapping takes. Lines break at spaces and after hyphens (a GUID breaks
/// at its dashes); a piece too long for a line (a base64 ImmutableId) starts a line of its own.
/// An estimate: Calibri (and Carlito, its stand-in in LibreOffice) fits 1.1 to 1.3 characters per
/// unit depending on the letters; counting 1.1 leaves a little space rather than cutting text off.
fn wrapped_lines(text: &str, width: f64) -> usize {
    let per_line = (width * 1.1).max(1.0) as usize;
    let paragraph = |part: &str| {
        let (mut lines, mut used) = (1, 0);
        for word in part.split(' ') {
            for (i, piece) in word.split_inclusive('-').enumerate() {
                let space = usize::from(i == 0 && used > 0);
                let n = piece.chars().count();
                if used + space + n <= per_line {
                    used += space + n;
                    continue;
                }
                if used > 0 {
                    lines += 1;
                }
                // A piece longer than a line is broken wherever the line ends.
                let extra = n.saturating_sub(1) / per_line;
                lines += extra;
                used = n - extra * per_line;
            }
        }
        lines
    };
    text.split('\n').map(paragraph).sum::<usize>().min(15)
}

fn write_unmatched_sheet(
    ws: &mut Worksheet,
    name: &str,
    users: &[&CloudUser],
    f: &Formats,
    labels: &PageLabels,
) -> Result<(), XlsxError> {
    ws.set_name(name)?;
    set_up_printing(ws, Orientation::Landscape, labels, true)?;
    for (i, (_, width)) in UNMATCHED_COLUMNS.iter().enumerate() {
        ws.set_column_width(i as u16, *width)?;
        ws.set_column_format(i as u16, &f.text)?;
    }
    ws.set_freeze_panes(1, 0)?;
    ws.autofilter(
        0,
        0,
        users.len().max(1) as u32,
        (UNMATCHED_COLUMNS.len() - 1) as u16,
    )?;
    for (i, (header, _)) in UNMATCHED_COLUMNS.iter().enumerate() {
        ws.write_string_with_format(0, i as u16, *header, &f.header)?;
    }
    for (r, u) in users.iter().enumerate() {
        let r = r as u32 + 1;
        let sync = match u.sync_enabled {
            Some(true) => "Yes",
            Some(false) => "No",
            None => "",
        };
        let values: [&str; 7] = [
            &u.id,
            &u.upn,
            u.mail.as_deref().unwrap_or(""),
            u.display_name.as_deref().unwrap_or(""),
            u.immutable_id.as_deref().unwrap_or(""),
            sync,
            &u.location,
        ];
        for (i, v) in values.iter().enumerate() {
            if !v.is_empty() {
                ws.write_string_with_format(r, i as u16, fit(v), &f.text)?;
            }
        }
    }
    Ok(())
}

/// Paragraph rows for an Instructions sheet: (heading?, text).
enum Line<'a> {
    Title(&'a str),
    Heading(&'a str),
    Text(Cow<'a, str>),
    Pair(&'a str, &'a str),
    Blank,
}

fn write_lines(
    ws: &mut Worksheet,
    name: &str,
    lines: &[Line],
    f: &Formats,
) -> Result<(), XlsxError> {
    const TEXT_WIDTH: f64 = 100.0;
    ws.set_name(name)?;
    ws.set_column_width(0, 20)?;
    ws.set_column_width(1, TEXT_WIDTH)?;
    for (r, line) in lines.iter().enumerate() {
        let r = r as u32;
        match line {
            Line::Title(t) => {
                ws.write_string_with_format(r, 0, *t, &f.title)?;
            }
            Line::Heading(t) => {
                ws.write_string_with_format(r, 0, *t, &f.heading)?;
            }
            Line::Text(t) => {
                ws.write_string_with_format(r, 1, t.as_ref(), &f.paragraph)?;
                fit_row_height(ws, r, t, TEXT_WIDTH)?;
            }
            Line::Pair(a, b) => {
                ws.write_string_with_format(r, 0, *a, &f.text)?;
                ws.write_string_with_format(r, 1, *b, &f.paragraph)?;
                fit_row_height(ws, r, b, TEXT_WIDTH)?;
            }
            Line::Blank => {}
        }
    }
    Ok(())
}

fn write_instructions(
    ws: &mut Worksheet,
    f: &Formats,
    labels: &PageLabels,
) -> Result<(), XlsxError> {
    use Line::*;
    let t = |s: &'static str| Text(Cow::Borrowed(s));
    let mut lines = vec![
        Title("hardmatch review workbook"),
        Blank,
        Heading("What hard matching does"),
        t("Entra Connect joins an on-premises AD user to an existing Entra ID (Microsoft 365) user when the cloud user's onPremisesImmutableId equals the AD user's source anchor: base64 of the objectGUID (or of mS-DS-ConsistencyGuid when that is set). Without that link Entra Connect creates a duplicate cloud user."),
        t("This workbook lists, for every AD user, what hardmatch found in the cloud and what it plans to change. Nothing has been changed yet."),
        Blank,
        Heading("How to review"),
        t("Work on the Plan sheet (continued on \"Plan (2)\", \"Plan (3)\"… when there are more rows than fit on one sheet). Filter freely. Excel does not sort locked cells on a protected sheet; to sort, use Review > Unprotect Sheet (there is no password). Sorting is safe: rows are identified by Row id, never by position."),
        t("Set Approve to Yes on each row that may be executed. Leave it empty, or set No, otherwise. Only Approve, Revert and Comment can be edited; the other cells are locked. The protection has no password: it prevents slips, not deliberate changes."),
        t("The cloud columns \"Cloud UPN if different\", \"Mail cloud if different\" and \"Display name cloud if different\" are empty when the cloud user's value is the on-prem one (UPN and mail ignoring case), so what differs stands out; \"(none)\" means the cloud user has no value there."),
        t("Replace rows overwrite an ImmutableId the cloud user already has. Each one needs its own explicit Yes: filter on Action before filling Yes down a column."),
        t("ConflictDeleted rows: Yes means \"permanently delete (purge) the soft-deleted user in the recycle bin that holds this ImmutableId, then set it on this user\". A purge cannot be undone."),
        t("Rows whose Action is not Set, Replace or ConflictDeleted have nothing to execute; a Yes on them is ignored and reported."),
        t("The Summary sheet counts and charts the rows per Action (and per Status once apply has run) and lists the input files with their SHA-256, so the board can check what the plan was built from."),
        t("Printing: the Plan sheet prints its first columns, Row id to Comment (what the board decides on), one page wide with the header row on every page; the detail columns to the right of Comment are for the screen. Every page names the file, the sheet, the page and when the plan was generated."),
        Blank,
        Heading("What apply does"),
        t("hardmatch apply plan.xlsx executes only rows with Approve = Yes, against Microsoft Graph, within Graph's throttling limits."),
        t("It writes each row's outcome back into Status, Result, Applied at and Attempts, the ImmutableId it replaced into Previous ImmutableId, and one line per run on the Runs sheet. A rerun touches only rows that are not Done, so an interrupted run can simply be started again."),
        t("To undo Done rows, set Revert to Yes on them and run hardmatch revert plan.xlsx: each goes back to its Previous ImmutableId (cleared where it had none)."),
        t("Each row carries a hidden Fingerprint of its planned values. If a locked cell (UPN, GUID, ImmutableId, object id, Action…) was edited, apply detects it and refuses that row: plan again instead of editing the plan."),
        Blank,
        Heading("What each Action means"),
    ];
    for a in Action::ALL {
        lines.push(Pair(a.as_str(), a.meaning()));
    }
    write_lines(ws, INSTRUCTIONS_SHEET, &lines, f)?;
    set_up_printing(ws, Orientation::Portrait, labels, false)?;
    ws.set_active(true);
    Ok(())
}

/// The blank input workbook: "Users" first, because AD-export readers take the first sheet.
pub(super) fn write_template(path: &Path) -> Result<(), InputError> {
    save_atomically(path, |wb| {
        let f = Formats::new();
        let labels = PageLabels::new("", env!("CARGO_PKG_VERSION"));
        let ws = wb.add_worksheet();
        ws.set_name("Users")?;
        set_up_printing(ws, Orientation::Portrait, &labels, true)?;
        let last_col = (TEMPLATE_COLUMNS.len() - 1) as u16;
        for (i, (header, width)) in TEMPLATE_COLUMNS.iter().enumerate() {
            ws.set_column_width(i as u16, *width)?;
            // "@": Excel keeps what the admin types as text ("00123", "1e5", "+7Byu…==").
            ws.set_column_format(i as u16, &f.text)?;
            ws.write_string_with_format(0, i as u16, *header, &f.header)?;
        }
        ws.set_freeze_panes(1, 0)?;
        ws.autofilter(0, 0, 0, last_col)?;
        let dv = DataValidation::new()
            .allow_list_strings(&["Yes", "No"])?
            .set_error_title("Approve")?
            .set_error_message("Choose Yes or No, or leave the cell empty.")?;
        ws.add_data_validation(1, 2, EXCEL_MAX_DATA_ROWS, 2, &dv)?;
        ws.insert_note(
            0,
            0,
            &Note::new("The user's userPrincipalName in AD, e.g. jane.doe@contoso.com.")
                .add_author_prefix(false),
        )?;
        ws.insert_note(
            0,
            1,
            &Note::new(
                "The AD objectGUID in any notation: GUID (with or without braces/dashes), \
                 base64 ImmutableId, ldifde objectGUID:: value, or octets (spaced hex, \\XX \
                 escapes, csvde X'…'). 32 hex digits are read as a GUID without dashes.",
            )
            .add_author_prefix(false)
            .set_width(300)
            .set_height(100),
        )?;
        ws.insert_note(
            0,
            2,
            &Note::new("Yes = this row may be applied. Empty or No = skip it.")
                .add_author_prefix(false),
        )?;

        use Line::*;
        let t = |s: &'static str| Text(Cow::Borrowed(s));
        let lines = [
            Title("hardmatch input template"),
            Blank,
            Heading("What this is"),
            t("A hand-filled list of AD users to hard match with their Entra ID (Microsoft 365) users. Use it when you have no AD export, or only a few users."),
            Blank,
            Heading("How to fill it"),
            Pair("UserPrincipalName", "The user's UPN, e.g. jane.doe@contoso.com. hardmatch finds the cloud user by it."),
            Pair("objectGUID", "The AD objectGUID in any notation: a GUID with or without braces or dashes (0b7a...-...), a base64 ImmutableId (24 characters, e.g. DpzH4nJ+SUu3bqT01tkKzQ==), an ldifde objectGUID:: value, or octets (spaced hex, LDAP \\XX escapes, csvde X'...'). 32 hex digits in a row are read as a GUID without dashes. Use hardmatch convert VALUE to check one."),
            Pair("Approve", "Yes = this row may be applied. Empty or No = it is skipped."),
            Pair("Comment", "Free text for your change record; hardmatch keeps it."),
            t("The columns are formatted as text so that Excel does not turn an entry into a number or a formula. Keep the header row as it is, one user per row, and do not add other sheets before \"Users\"."),
            Blank,
            Heading("Then"),
            t("Run hardmatch plan input.xlsx --cloud CLOUD_EXPORT -o plan.xlsx to check every row against the tenant, or hardmatch apply input.xlsx to apply the approved rows directly."),
        ];
        let ws = wb.add_worksheet();
        write_lines(ws, "Instructions", &lines, &f)?;
        set_up_printing(ws, Orientation::Portrait, &labels, false)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_short_text_and_cuts_long_text_to_excel_limit() {
        assert!(matches!(fit("abc"), Cow::Borrowed("abc")));
        let long = "é".repeat(40_000);
        let cut = fit(&long);
        assert!(cut.encode_utf16().count() <= EXCEL_MAX_TEXT);
        assert!(cut.ends_with("[truncated]"));
        // Astral characters count as two UTF-16 units in Excel's limit.
        let emoji = "😀".repeat(20_000);
        assert!(fit(&emoji).encode_utf16().count() <= EXCEL_MAX_TEXT);
    }

    #[test]
    fn a_writer_that_panics_mid_sheet_is_an_error_and_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.xlsx");
        let err = save_atomically(&path, |wb| {
            let ws = wb.add_worksheet_with_constant_memory()?;
            ws.write_string(0, 0, "a")?;
            panic!("Couldn't write to xml file: No space left on device (os error 28)");
        })
        .unwrap_err();
        assert!(err.to_string().contains("No space left on device"), "{err}");
        assert!(!path.exists());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "no temp file left"
        );
    }

    #[test]
    fn sheet_names_continue_with_numbers() {
        assert_eq!(sheet_name("Plan", 0), "Plan");
        assert_eq!(sheet_name("Plan", 1), "Plan (2)");
        assert_eq!(sheet_name(UNMATCHED_SHEET, 2), "Unmatched cloud users (3)");
    }
}

#[cfg(test)]
mod row_height_tests {
    use super::wrapped_lines;

    #[test]
    fn one_line_per_break_and_more_for_long_lines() {
        assert_eq!(wrapped_lines("short", 40.0), 1);
        assert_eq!(wrapped_lines("a\nb\nc", 40.0), 3);
        // 40 units hold 44 characters: 100 characters need 3 lines, 88 need 2.
        assert_eq!(wrapped_lines(&"x".repeat(100), 40.0), 3);
        assert_eq!(wrapped_lines(&"x".repeat(88), 40.0), 2);
        // Words are not split: a word that does not fit starts the next line.
        let words = format!("{} {}", "a".repeat(30), "b".repeat(30));
        assert_eq!(wrapped_lines(&words, 40.0), 2);
        let three = format!("{} {} c", "a".repeat(47), "b".repeat(47));
        assert_eq!(wrapped_lines(&three, 40.0), 4);
        // A word longer than a line takes lines of its own.
        let long = format!("see {} here", "x".repeat(100));
        assert_eq!(wrapped_lines(&long, 40.0), 4);
        // Hyphens are break points too: a GUID needs no line of its own.
        let guid = format!(
            "{} (id c7f49a57-8fbb-49fa-8fe4-5d5c0d0df89a)",
            "a".repeat(20)
        );
        assert_eq!(wrapped_lines(&guid, 40.0), 2);
        assert_eq!(
            wrapped_lines(&format!("{} c7f49a57-8fbb", "a".repeat(30)), 40.0),
            1
        );
        assert_eq!(
            wrapped_lines(&format!("{} c7f49a57-8fbb", "a".repeat(38)), 40.0),
            2
        );
        assert_eq!(wrapped_lines("", 40.0), 1);
        // A pathological cell does not make a page-high row.
        assert_eq!(wrapped_lines(&"x\n".repeat(100), 40.0), 15);
    }
}
