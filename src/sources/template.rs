//! What a reviewer typed into a hand-filled `hardmatch template` besides the users: Approve and
//! Comment, by the sheet row they are on. `plan` and `apply` (given a template) both carry them
//! into the planned rows by one rule ([`crate::plan::carry_typed_review`]).

use crate::error::InputError;
use std::collections::HashMap;
use std::path::Path;

/// What a reviewer typed into the hand-filled template's Approve and Comment for one row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TypedReview {
    pub approve: String,
    pub comment: String,
}

/// Approve and Comment typed into a template, by sheet row (1-based, as Excel shows it).
pub type TypedReviews = HashMap<u32, TypedReview>;

/// The row number of an XLSX location (`input.xlsx:Users!A7` → 7).
pub fn sheet_row(location: &str) -> Option<u32> {
    let cell = location.rsplit('!').next()?;
    cell.trim_start_matches(|c: char| c.is_ascii_alphabetic() || c == '$')
        .parse()
        .ok()
}

/// Reads the Approve and Comment a reviewer typed into a template (`sheet`, else the first),
/// streamed cell by cell. Rows where both are empty are left out.
pub fn read_typed_reviews(path: &Path, sheet: Option<&str>) -> Result<TypedReviews, InputError> {
    use calamine::Reader;
    let unreadable = |e: &dyn std::fmt::Display| {
        InputError::new(
            path,
            "",
            format!("cannot read the template's Approve and Comment: {e}"),
            "save the workbook again from Excel or LibreOffice, or start from a new hardmatch template",
        )
    };
    let file = std::fs::File::open(path).map_err(|e| unreadable(&e))?;
    let mut wb = calamine::Xlsx::new(std::io::BufReader::new(file)).map_err(|e| unreadable(&e))?;
    let names = wb.sheet_names();
    let name = match sheet {
        Some(s) => names.iter().find(|n| n.eq_ignore_ascii_case(s)),
        None => names.first(),
    }
    .cloned()
    .ok_or_else(|| unreadable(&"no such sheet"))?;
    let mut cells = wb
        .worksheet_cells_reader(&name)
        .map_err(|e| unreadable(&e))?;
    let text = |v: &calamine::DataRef<'_>| match v {
        calamine::DataRef::String(s) => s.trim().to_string(),
        calamine::DataRef::SharedString(s) => s.trim().to_string(),
        calamine::DataRef::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        calamine::DataRef::Int(i) => i.to_string(),
        calamine::DataRef::Float(f) => f.to_string(),
        // An error or a date in Approve or Comment is no decision anyone typed.
        _ => String::new(),
    };
    let (mut approve_col, mut comment_col, mut header_row) = (None, None, None);
    let mut typed = TypedReviews::new();
    while let Some(cell) = cells.next_cell().map_err(|e| unreadable(&e))? {
        let (r, c) = cell.get_position();
        let value = text(cell.get_value());
        if value.is_empty() {
            continue;
        }
        let header = *header_row.get_or_insert(r);
        if r == header {
            if value.eq_ignore_ascii_case("Approve") {
                approve_col = Some(c);
            } else if value.eq_ignore_ascii_case("Comment") {
                comment_col = Some(c);
            }
        } else if Some(c) == approve_col {
            typed.entry(r + 1).or_default().approve = value;
        } else if Some(c) == comment_col {
            typed.entry(r + 1).or_default().comment = value;
        }
    }
    Ok(typed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sheet_row_is_read_from_a_location() {
        assert_eq!(sheet_row("input.xlsx:Users!A7"), Some(7));
        assert_eq!(sheet_row("input.xlsx:Users!$B$12"), Some(12));
        assert_eq!(sheet_row("ad.csv:12"), None);
    }
}
