//! XLSX input through calamine's streaming cell reader. `worksheet_range` would allocate a dense
//! grid over the used extent, so one stray keystroke at XFD1048576 would cost hundreds of GB;
//! here only cells inside the header's columns are kept, one row at a time. Cell types are kept
//! too: Excel turns identifiers into numbers and dates, and the readers must say so rather than
//! trust the conversion.

use super::columns::column_letters;
use super::table::{file_label, Header, NotTextKind, Row, TableVisitor, Value};
use crate::error::InputError;
use calamine::{DataRef, Reader, Xlsx};
use std::borrow::Cow;
use std::io::Cursor;
use std::path::Path;

/// Columns considered while looking for the header row; cells further right are ignored.
const MAX_HEADER_COLUMNS: u32 = 1024;

pub(crate) type Workbook = Xlsx<Cursor<Vec<u8>>>;

const DAMAGED_FIX: &str =
    "the workbook is damaged or incomplete (e.g. a truncated copy): open and save it again in Excel, or copy it again";

/// Open a workbook from its bytes.
pub(crate) fn open(path: &Path, bytes: Vec<u8>) -> Result<Workbook, InputError> {
    let opened = std::panic::catch_unwind(move || Xlsx::new(Cursor::new(bytes)));
    match opened {
        Ok(Ok(wb)) => Ok(wb),
        Ok(Err(e)) => Err(InputError::new(
            path,
            "",
            format!("not a readable XLSX workbook: {e}"),
            DAMAGED_FIX,
        )),
        Err(_) => Err(InputError::new(
            path,
            "",
            "not a readable XLSX workbook (the reader failed on its contents)",
            DAMAGED_FIX,
        )),
    }
}

/// `Users` or `'My users'`, as Excel writes sheet names in references.
pub(crate) fn sheet_ref(sheet: &str) -> String {
    if sheet
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
    {
        sheet.to_owned()
    } else {
        format!("'{}'", sheet.replace('\'', "''"))
    }
}

pub(crate) fn sheet_names(wb: &Workbook) -> Vec<String> {
    wb.sheet_names()
}

/// Pick the sheet: the one asked for (exact, then case-insensitive), else the first.
pub(crate) fn choose_sheet(
    path: &Path,
    wb: &Workbook,
    wanted: Option<&str>,
) -> Result<String, InputError> {
    let names = wb.sheet_names();
    match wanted {
        Some(w) => names
            .iter()
            .find(|n| *n == w)
            .or_else(|| names.iter().find(|n| n.eq_ignore_ascii_case(w)))
            .cloned()
            .ok_or_else(|| {
                InputError::new(
                    path,
                    "",
                    format!(
                        "there is no sheet named \"{w}\"; the sheets are: {}",
                        names.join(", ")
                    ),
                    "give one of those names with --sheet",
                )
            }),
        None => names
            .first()
            .cloned()
            .ok_or_else(|| InputError::new(path, "", "the workbook has no sheets", DAMAGED_FIX)),
    }
}

fn value(v: DataRef<'_>) -> Value<'static> {
    let not_text = |kind, shown: String| Value::NotText { kind, shown };
    match v {
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) if s.is_empty() => {
            Value::Empty
        }
        DataRef::SharedString("") => Value::Empty,
        DataRef::String(s) => Value::Text(Cow::Owned(s)),
        DataRef::SharedString(s) => Value::Text(Cow::Owned(s.to_owned())),
        DataRef::Float(f) => not_text(NotTextKind::Number, show_number(f)),
        DataRef::Int(i) => not_text(NotTextKind::Number, i.to_string()),
        DataRef::Bool(b) => not_text(
            NotTextKind::Bool(b),
            if b { "TRUE" } else { "FALSE" }.into(),
        ),
        DataRef::DateTime(d) => not_text(NotTextKind::Date, d.to_string()),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => not_text(NotTextKind::Date, s),
        DataRef::Error(e) => not_text(NotTextKind::Error, e.to_string()),
        DataRef::Empty => Value::Empty,
    }
}

/// A float as Excel's General format shows it: `12345` rather than `12345.0`.
fn show_number(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        f.to_string()
    }
}

/// Stream one sheet into the visitor. Returns the number of data rows.
pub(crate) fn visit(
    path: &Path,
    wb: &mut Workbook,
    sheet: &str,
    visitor: &mut dyn TableVisitor,
) -> Result<usize, InputError> {
    // A damaged sheet must be an error for the admin, even if the XML reader trips over it.
    let read = std::panic::AssertUnwindSafe(|| visit_cells(path, wb, sheet, visitor));
    std::panic::catch_unwind(read).unwrap_or_else(|_| {
        Err(InputError::new(
            path,
            sheet_ref(sheet),
            "the sheet cannot be read (the reader failed on its contents)",
            DAMAGED_FIX,
        ))
    })
}

fn visit_cells(
    path: &Path,
    wb: &mut Workbook,
    sheet: &str,
    visitor: &mut dyn TableVisitor,
) -> Result<usize, InputError> {
    let label = file_label(path);
    let sref = sheet_ref(sheet);
    let damaged = |e: &dyn std::fmt::Display, row: u32| {
        InputError::new(
            path,
            if row > 0 {
                format!("{sref}!A{row}")
            } else {
                sref.clone()
            },
            format!("the sheet cannot be read: {e}"),
            DAMAGED_FIX,
        )
    };
    let mut cells = wb
        .worksheet_cells_reader(sheet)
        .map_err(|e| damaged(&e, 0))?;

    // (first column, width) once the header is known.
    let mut header: Option<(u32, u32)> = None;
    let mut current_row: Option<u32> = None;
    let mut buf: Vec<(u32, Value<'static>)> = Vec::new();
    let mut rows = 0usize;
    let mut last_row = 0u32;

    let mut flush = |row: u32,
                     buf: &mut Vec<(u32, Value<'static>)>,
                     header: &mut Option<(u32, u32)>|
     -> Result<(), InputError> {
        if buf.iter().all(|(_, v)| v.display().is_none()) {
            buf.clear();
            return Ok(());
        }
        match *header {
            None => {
                let first = buf.iter().map(|(c, _)| *c).min().unwrap_or(0);
                let last = buf.iter().map(|(c, _)| *c).max().unwrap_or(0);
                let mut names = vec![String::new(); (last - first + 1) as usize];
                for (c, v) in buf.drain(..) {
                    names[(c - first) as usize] = v.display().unwrap_or_default().trim().to_owned();
                }
                visitor.header(&Header {
                    names,
                    place: format!("{sref}!{}{}", column_letters(first), row + 1),
                })?;
                *header = Some((first, last - first + 1));
            }
            Some((first, width)) => {
                let mut out = vec![Value::Empty; width as usize];
                for (c, v) in buf.drain(..) {
                    out[(c - first) as usize] = v;
                }
                rows += 1;
                visitor.row(Row {
                    location: format!("{label}:{sref}!{}{}", column_letters(first), row + 1),
                    cells: out,
                    fields: None,
                    sheet_row: Some((sheet, row + 1)),
                    first_col: first,
                });
            }
        }
        Ok(())
    };

    loop {
        let next = match cells.next_cell() {
            Ok(n) => n,
            Err(e) => return Err(damaged(&e, last_row + 1)),
        };
        let Some(cell) = next else { break };
        let (row, col) = cell.get_position();
        last_row = row;
        if current_row != Some(row) {
            if let Some(r) = current_row {
                flush(r, &mut buf, &mut header)?;
            }
            current_row = Some(row);
        }
        let keep = match header {
            None => col < MAX_HEADER_COLUMNS,
            Some((first, width)) => col >= first && col < first + width,
        };
        if keep {
            let v = value(cell.get_value().clone());
            if !matches!(v, Value::Empty) {
                buf.push((col, v));
            }
        }
    }
    if let Some(r) = current_row {
        flush(r, &mut buf, &mut header)?;
    }
    if header.is_none() {
        return Err(InputError::new(
            path,
            sref.clone(),
            "the sheet is empty: no header row and no users",
            "put the column names in the first row and one user per row below it (or choose the sheet with --sheet)",
        ));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_show_like_excel_general() {
        assert_eq!(show_number(100000.0), "100000");
        assert_eq!(show_number(1.5), "1.5");
    }

    #[test]
    fn sheet_names_are_quoted_when_needed() {
        assert_eq!(sheet_ref("Users"), "Users");
        assert_eq!(sheet_ref("Deleted users"), "'Deleted users'");
        assert_eq!(sheet_ref("O'Brien"), "'O''Brien'");
    }
}
