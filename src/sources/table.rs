//! A header plus rows of cells, whatever file they came from. The AD and cloud readers map columns
//! and validate values once, here, instead of once per file format; CSV and XLSX only have to say
//! where each row is and whether a cell is really text (Excel may have turned an identifier into a
//! number or a date).

use crate::error::InputError;
use std::borrow::Cow;

/// One cell.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value<'a> {
    Text(Cow<'a, str>),
    /// An Excel number, date, boolean or error: `kind` names it, `shown` is how it displays.
    NotText {
        kind: NotTextKind,
        shown: String,
    },
    Empty,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NotTextKind {
    Number,
    Date,
    Bool(bool),
    Error,
}

impl NotTextKind {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            NotTextKind::Number => "a number",
            NotTextKind::Date => "a date",
            NotTextKind::Bool(_) => "a TRUE/FALSE value",
            NotTextKind::Error => "an Excel error",
        }
    }
}

impl Value<'_> {
    /// The cell as text, numbers shown as Excel shows them; `None` when empty.
    pub(crate) fn display(&self) -> Option<&str> {
        match self {
            Value::Text(s) if !s.trim().is_empty() => Some(s),
            Value::NotText { shown, .. } => Some(shown),
            _ => None,
        }
    }
}

/// The header row.
pub(crate) struct Header {
    pub names: Vec<String>,
    /// `line 3` or `Users!A1`.
    pub place: String,
}

/// One data row.
pub(crate) struct Row<'r> {
    /// `ad.csv:12` or `ad.xlsx:Users!A7`: the start of the record.
    pub location: String,
    /// Cells by header column; may be shorter than the header.
    pub cells: Vec<Value<'r>>,
    /// CSV: how many fields the record had (a short record means a broken quote or delimiter).
    pub fields: Option<usize>,
    /// XLSX: sheet name and 1-based row, for cell references in messages.
    pub sheet_row: Option<(&'r str, u32)>,
    /// XLSX: column index of the first header cell (cells are relative to it).
    pub first_col: u32,
}

impl Row<'_> {
    pub(crate) fn get(&self, col: Option<usize>) -> &Value<'_> {
        match col.and_then(|c| self.cells.get(c)) {
            Some(v) => v,
            None => &Value::Empty,
        }
    }

    /// A CSV record that does not line up with the header: too short to reach the column at
    /// index `needed`, or longer than the header with values in the extra fields. Either means the
    /// values may sit under the wrong column names.
    pub(crate) fn shape_problem(&self, header_len: usize, needed: usize) -> Option<String> {
        let fields = self.fields?;
        if fields <= needed {
            return Some(format!(
                "the row has {fields} field(s) but the header has {header_len}: an unbalanced quote or a missing delimiter"
            ));
        }
        let extra_values = self
            .cells
            .iter()
            .skip(header_len)
            .any(|v| v.display().is_some());
        extra_values.then(|| {
            format!(
                "the row has {fields} fields but the header has {header_len}: a delimiter inside an unquoted value? \
                 Values may sit under the wrong columns; quote the field or export again with Export-Csv"
            )
        })
    }

    /// ` (C7)` for XLSX, empty for CSV: appended to messages about one cell.
    pub(crate) fn cell_ref(&self, col: usize) -> String {
        match self.sheet_row {
            Some((_, row)) => format!(
                " ({}{row})",
                super::columns::column_letters(self.first_col + col as u32)
            ),
            None => String::new(),
        }
    }
}

/// Receives the header, then every non-blank row, in file order.
pub(crate) trait TableVisitor {
    /// Check the columns; an error stops the read (a required column is missing).
    fn header(&mut self, header: &Header) -> Result<(), InputError>;
    fn row(&mut self, row: Row<'_>);
}

/// The name Excel shows for a file in locations: the file name without its directory.
pub(crate) fn file_label(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}
