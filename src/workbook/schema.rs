//! The Plan sheet's columns, defined once for the writer and the reader.
//!
//! Each [`Column`] says what its header reads, how wide it is, whether reviewers may edit it,
//! whether it is hidden, and (through [`Field`]) how a [`ReviewRow`] value goes into a cell and
//! comes back out. The writer walks [`PLAN_COLUMNS`] in order; the reader finds each column by its
//! header text, so a reviewer who moves columns around does not break the read-back.

use crate::fold::Folded;
use crate::review::{Action, Approval, MatchedBy, PlanRow, ReviewRow, Status};
use std::borrow::Cow;

/// Which [`ReviewRow`] value a column carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    RowId,
    Approve,
    Action,
    Reason,
    Checks,
    Upn,
    OnpremGuid,
    NewImmutableId,
    CloudObjectId,
    CloudUpn,
    CloudImmutableId,
    HolderObjectId,
    MailOnprem,
    MailCloud,
    DisplayNameOnprem,
    DisplayNameCloud,
    MatchedBy,
    Source,
    Status,
    Result,
    AppliedAt,
    Attempts,
    PreviousImmutableId,
    Revert,
    Comment,
    Fingerprint,
    ResultFingerprint,
}

/// What kind of value a column holds, which decides its cell type and how oddities are reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A whole number written as a number cell (Row id, Attempts).
    Count,
    /// An identifier Graph or AD will see: always a text cell, kept exactly; a number found here
    /// on read-back means someone retyped it and Excel converted it.
    Identifier,
    /// Free text for people.
    Text,
}

/// One Plan-sheet column.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub field: Field,
    pub header: &'static str,
    /// Excel character widths.
    pub width: f64,
    /// Reviewers may edit it (the cell is unlocked under sheet protection).
    pub editable: bool,
    pub hidden: bool,
    /// The reader refuses a Plan sheet without it.
    pub required: bool,
    /// In the board block: the columns a change board decides on, printed.
    pub board: bool,
    /// Workbooks written before this column existed lack it; reading one is not worth a warning.
    pub added_later: bool,
    pub kind: Kind,
}

const fn col(field: Field, header: &'static str, width: f64, kind: Kind) -> Column {
    Column {
        field,
        header,
        width,
        editable: false,
        hidden: false,
        required: false,
        board: false,
        added_later: false,
        kind,
    }
}

const fn editable(mut c: Column) -> Column {
    c.editable = true;
    c
}

const fn required(mut c: Column) -> Column {
    c.required = true;
    c
}

const fn board(mut c: Column) -> Column {
    c.board = true;
    c
}

const fn added_later(mut c: Column) -> Column {
    c.added_later = true;
    c
}

const fn hidden(mut c: Column) -> Column {
    c.hidden = true;
    c
}

/// The Plan sheet, left to right: first the board block (what a change board decides on, and the
/// print area: a print area is one block of columns, and hiding a column to keep it off paper
/// would hide it on screen too), then the detail columns.
pub const PLAN_COLUMNS: &[Column] = &[
    board(required(col(Field::RowId, "Row id", 7.0, Kind::Count))),
    board(required(editable(col(
        Field::Approve,
        "Approve",
        9.0,
        Kind::Text,
    )))),
    board(required(col(Field::Action, "Action", 16.0, Kind::Text))),
    board(col(Field::Upn, "UPN", 30.0, Kind::Identifier)),
    board(col(
        Field::NewImmutableId,
        "New ImmutableId",
        27.0,
        Kind::Identifier,
    )),
    board(col(Field::Reason, "Reason", 42.0, Kind::Text)),
    board(col(Field::Checks, "Checks", 32.0, Kind::Text)),
    board(col(Field::Status, "Status", 9.0, Kind::Text)),
    board(col(Field::Result, "Result", 32.0, Kind::Text)),
    // A reviewer's decision on a Done row, made after reading its Status and Result.
    board(added_later(editable(col(
        Field::Revert,
        "Revert",
        8.0,
        Kind::Text,
    )))),
    board(editable(col(Field::Comment, "Comment", 24.0, Kind::Text))),
    col(Field::OnpremGuid, "On-prem GUID", 38.0, Kind::Identifier),
    col(
        Field::CloudObjectId,
        "Cloud object id",
        38.0,
        Kind::Identifier,
    ),
    col(
        Field::CloudUpn,
        "Cloud UPN if different",
        32.0,
        Kind::Identifier,
    ),
    col(
        Field::CloudImmutableId,
        "Cloud current ImmutableId",
        27.0,
        Kind::Identifier,
    ),
    // Next to the value plan saw: what apply found and replaced, which revert restores.
    added_later(col(
        Field::PreviousImmutableId,
        "Previous ImmutableId",
        27.0,
        Kind::Identifier,
    )),
    col(
        Field::HolderObjectId,
        "Holder object id",
        38.0,
        Kind::Identifier,
    ),
    col(Field::MailOnprem, "Mail on-prem", 30.0, Kind::Identifier),
    col(
        Field::MailCloud,
        "Mail cloud if different",
        30.0,
        Kind::Identifier,
    ),
    col(
        Field::DisplayNameOnprem,
        "Display name on-prem",
        24.0,
        Kind::Text,
    ),
    col(
        Field::DisplayNameCloud,
        "Display name cloud if different",
        24.0,
        Kind::Text,
    ),
    col(Field::MatchedBy, "Matched by", 13.0, Kind::Text),
    col(Field::Source, "Source", 24.0, Kind::Text),
    col(Field::AppliedAt, "Applied at", 22.0, Kind::Text),
    col(Field::Attempts, "Attempts", 9.0, Kind::Count),
    hidden(col(
        Field::Fingerprint,
        "Fingerprint",
        34.0,
        Kind::Identifier,
    )),
    // Not the Fingerprint's width, so each hidden column keeps a <col> element of its own.
    hidden(added_later(col(
        Field::ResultFingerprint,
        "Result fingerprint",
        36.0,
        Kind::Identifier,
    ))),
];

/// How many columns, from the left, form the board block (the Plan sheet's print area).
pub fn board_columns() -> usize {
    PLAN_COLUMNS.iter().take_while(|c| c.board).count()
}

/// How Checks are joined in one cell; a check is one line.
pub const CHECKS_SEPARATOR: &str = "\n";

/// A value on its way into a cell.
#[derive(Clone, Debug, PartialEq)]
pub enum CellValue<'a> {
    Text(Cow<'a, str>),
    Number(f64),
    Empty,
}

/// What an empty cloud value is shown as when the on-prem one is not empty, so that a blank
/// cell can mean "the same as on-prem".
pub const NONE_IN_CLOUD: &str = "(none)";

/// Cloud UPN, mail and display name are shown only where they differ from the on-prem value
/// (UPN and mail ignoring case, as Entra compares them): a reviewer's eye goes to the
/// differences, and at a million rows the repeated values were a fifth of the sheet.
fn same(onprem: &str, cloud: &str, ignore_case: bool) -> bool {
    if ignore_case {
        Folded::new(onprem) == Folded::new(cloud)
    } else {
        onprem == cloud
    }
}

fn shown_if_different<'a>(
    p: &PlanRow,
    onprem: &str,
    cloud: &'a str,
    ignore_case: bool,
) -> CellValue<'a> {
    if p.cloud_object_id.is_empty() || same(onprem, cloud, ignore_case) {
        CellValue::Empty
    } else if cloud.is_empty() {
        CellValue::Text(Cow::Borrowed(NONE_IN_CLOUD))
    } else {
        CellValue::Text(Cow::Borrowed(cloud))
    }
}

/// After a row is read back: a blank cloud value means "as on-prem" (see [`shown_cloud_upn`]),
/// and "(none)" means empty.
pub fn fill_cloud_values_shown_as_same(row: &mut ReviewRow) {
    let p = &mut row.plan;
    if p.cloud_object_id.is_empty() {
        return;
    }
    if p.cloud_upn.is_empty() {
        p.cloud_upn = p.upn.clone();
    }
    for (cloud, onprem) in [
        (&mut p.mail_cloud, &p.mail_onprem),
        (&mut p.display_name_cloud, &p.display_name_onprem),
    ] {
        if cloud.is_empty() {
            cloud.clone_from(onprem);
        } else if cloud == NONE_IN_CLOUD {
            cloud.clear();
        }
    }
}

impl Field {
    /// Index of this field's column in [`PLAN_COLUMNS`].
    pub fn index(self) -> usize {
        PLAN_COLUMNS
            .iter()
            .position(|c| c.field == self)
            .expect("every Field has a column in PLAN_COLUMNS")
    }

    pub fn column(self) -> &'static Column {
        &PLAN_COLUMNS[self.index()]
    }

    /// The cell this field gets for `row`.
    pub fn value(self, row: &ReviewRow) -> CellValue<'_> {
        fn s(s: &str) -> CellValue<'_> {
            if s.is_empty() {
                CellValue::Empty
            } else {
                CellValue::Text(Cow::Borrowed(s))
            }
        }
        let p = &row.plan;
        let text = |s: &'static str| CellValue::Text(Cow::Borrowed(s));
        match self {
            // Row ids stay far below 2^53, so the float Excel stores is exact.
            Field::RowId => CellValue::Number(p.row_id as f64),
            Field::Approve => s(row.approve.as_str()),
            Field::Revert => s(row.revert.as_str()),
            Field::Action => p.action.map_or(CellValue::Empty, |a| text(a.as_str())),
            Field::Reason => s(&p.reason),
            Field::Checks => {
                if p.checks.is_empty() {
                    CellValue::Empty
                } else {
                    CellValue::Text(Cow::Owned(p.checks.join(CHECKS_SEPARATOR)))
                }
            }
            Field::Upn => s(&p.upn),
            Field::OnpremGuid => s(&p.onprem_guid),
            Field::NewImmutableId => s(&p.new_immutable_id),
            Field::CloudObjectId => s(&p.cloud_object_id),
            Field::CloudUpn => s(p.shown_cloud_upn()),
            Field::CloudImmutableId => s(&p.cloud_immutable_id),
            Field::HolderObjectId => s(&p.holder_object_id),
            Field::MailOnprem => s(&p.mail_onprem),
            Field::MailCloud => shown_if_different(p, &p.mail_onprem, &p.mail_cloud, true),
            Field::DisplayNameOnprem => s(&p.display_name_onprem),
            Field::DisplayNameCloud => {
                shown_if_different(p, &p.display_name_onprem, &p.display_name_cloud, false)
            }
            Field::MatchedBy => p.matched_by.map_or(CellValue::Empty, |m| text(m.as_str())),
            Field::Source => s(&p.source),
            Field::Status => s(row.status.as_str()),
            Field::Result => s(&row.result),
            Field::AppliedAt => s(&row.applied_at),
            Field::Attempts => {
                if row.attempts == 0 {
                    CellValue::Empty
                } else {
                    CellValue::Number(f64::from(row.attempts))
                }
            }
            Field::PreviousImmutableId => match row.previous_immutable_id.as_deref() {
                None => CellValue::Empty,
                Some("") => text(NONE_IN_CLOUD),
                Some(v) => s(v),
            },
            Field::Comment => s(&row.comment),
            Field::Fingerprint => s(&row.fingerprint),
            Field::ResultFingerprint => s(&row.result_fingerprint),
        }
    }

    /// Put a text value read back from a cell into `row`. Numbers are handled by the reader
    /// (Row id and Attempts) before this is called; everything else arrives as text.
    /// Returns a complaint for the reader to turn into a warning or error.
    pub fn set(self, row: &mut ReviewRow, value: String) -> Result<(), String> {
        let p = &mut row.plan;
        match self {
            Field::RowId => {
                p.row_id = parse_whole(&value).filter(|n| *n >= 1).ok_or_else(|| {
                    format!("Row id '{value}' is not a whole number of at least 1")
                })?;
            }
            Field::Attempts => {
                row.attempts = if value.trim().is_empty() {
                    0
                } else {
                    parse_whole(&value)
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(|| format!("Attempts '{value}' is not a whole number"))?
                };
            }
            Field::Approve => row.approve = Approval::parse(&value),
            Field::Revert => row.revert = Approval::parse(&value),
            Field::Action => {
                if value.trim().is_empty() {
                    p.action = None;
                } else {
                    p.action = Some(
                        Action::parse(&value).ok_or_else(|| format!("unknown Action '{value}'"))?,
                    );
                }
            }
            Field::Reason => p.reason = value,
            Field::Checks => {
                p.checks = value
                    .split(CHECKS_SEPARATOR)
                    .map(|c| c.trim_end_matches('\r'))
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect();
            }
            Field::Upn => p.upn = value,
            Field::OnpremGuid => p.onprem_guid = value,
            Field::NewImmutableId => p.new_immutable_id = value,
            Field::CloudObjectId => p.cloud_object_id = value,
            Field::CloudUpn => p.cloud_upn = value,
            Field::CloudImmutableId => p.cloud_immutable_id = value,
            Field::HolderObjectId => p.holder_object_id = value,
            Field::MailOnprem => p.mail_onprem = value,
            Field::MailCloud => p.mail_cloud = value,
            Field::DisplayNameOnprem => p.display_name_onprem = value,
            Field::DisplayNameCloud => p.display_name_cloud = value,
            Field::MatchedBy => {
                p.matched_by = if value.trim().is_empty() {
                    None
                } else {
                    Some(MatchedBy::parse(&value))
                };
            }
            Field::Source => p.source = value,
            Field::Status => row.status = Status::parse(&value),
            Field::Result => row.result = value,
            Field::AppliedAt => row.applied_at = value,
            Field::PreviousImmutableId => {
                row.previous_immutable_id = match value.trim() {
                    "" => None,
                    NONE_IN_CLOUD => Some(String::new()),
                    _ => Some(value),
                }
            }
            Field::Comment => row.comment = value,
            Field::Fingerprint => row.fingerprint = value,
            Field::ResultFingerprint => row.result_fingerprint = value,
        }
        Ok(())
    }
}

/// A whole number from text a person may have typed ("12", " 12 ", "12.0").
fn parse_whole(s: &str) -> Option<u64> {
    let t = s.trim();
    if let Ok(n) = t.parse::<u64>() {
        return Some(n);
    }
    t.parse::<f64>().ok().and_then(whole_from_float)
}

/// A float that is exactly a whole number ≥ 0 and below 2^53 (where every integer is exact).
pub fn whole_from_float(f: f64) -> Option<u64> {
    const MAX_EXACT: f64 = 9_007_199_254_740_992.0;
    if (0.0..MAX_EXACT).contains(&f) && f.fract() == 0.0 {
        Some(f as u64)
    } else {
        None
    }
}

/// Find a column by the header text a reviewer sees (trimmed, case-insensitive).
pub fn by_header(header: &str) -> Option<&'static Column> {
    let h = header.trim();
    PLAN_COLUMNS
        .iter()
        .find(|c| c.header.eq_ignore_ascii_case(h))
}

/// Spreadsheet column letters for a 0-based column index (0 → A, 16383 → XFD).
pub fn column_letters(col: u32) -> String {
    // Excel has 16,384 columns; anything past XFD is clamped rather than wrapped.
    rust_xlsxwriter::utility::column_number_to_name(col.min(16_383) as u16)
}

/// `Sheet!B7` for a 0-based (row, column).
pub fn cell_ref(sheet: &str, row: u32, col: u32) -> String {
    format!("{sheet}!{}{}", column_letters(col), u64::from(row) + 1)
}

/// The "Unmatched cloud users" sheet: (header, width).
pub const UNMATCHED_COLUMNS: &[(&str, f64)] = &[
    ("Cloud object id", 38.0),
    ("UPN", 34.0),
    ("Mail", 32.0),
    ("Display name", 26.0),
    ("ImmutableId", 27.0),
    ("Sync enabled", 13.0),
    ("Location", 30.0),
];

/// The hand-fill input template's "Users" sheet: (header, width). The AD-export reader knows
/// these names as aliases, so the filled template can be planned like any export.
pub const TEMPLATE_COLUMNS: &[(&str, f64)] = &[
    ("UserPrincipalName", 36.0),
    ("objectGUID", 40.0),
    ("Approve", 10.0),
    ("Comment", 40.0),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_has_exactly_one_column() {
        let mut seen = std::collections::HashSet::new();
        for c in PLAN_COLUMNS {
            assert!(seen.insert(c.field), "{:?} twice", c.field);
            assert_eq!(by_header(c.header).map(|x| x.field), Some(c.field));
        }
        assert_eq!(PLAN_COLUMNS.len(), 27);
    }

    #[test]
    fn the_board_block_comes_first_in_one_piece_and_holds_every_decision() {
        let n = board_columns();
        let board: Vec<Field> = PLAN_COLUMNS[..n].iter().map(|c| c.field).collect();
        assert_eq!(
            board,
            vec![
                Field::RowId,
                Field::Approve,
                Field::Action,
                Field::Upn,
                Field::NewImmutableId,
                Field::Reason,
                Field::Checks,
                Field::Status,
                Field::Result,
                Field::Revert,
                Field::Comment,
            ]
        );
        assert!(
            PLAN_COLUMNS[n..].iter().all(|c| !c.board),
            "one contiguous block"
        );
        // What a reviewer types, and what a printed page must identify a row by, is printed.
        for c in PLAN_COLUMNS {
            if c.editable || c.required {
                assert!(c.board, "{} is off paper", c.header);
            }
            assert!(!(c.board && c.hidden), "{} is hidden", c.header);
        }
    }

    #[test]
    fn only_approve_revert_and_comment_are_editable() {
        let editable: Vec<_> = PLAN_COLUMNS
            .iter()
            .filter(|c| c.editable)
            .map(|c| c.field)
            .collect();
        assert_eq!(
            editable,
            vec![Field::Approve, Field::Revert, Field::Comment]
        );
    }

    #[test]
    fn column_letters_cover_excel_range() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
        assert_eq!(column_letters(16383), "XFD");
        assert_eq!(cell_ref("Plan", 1048575, 16383), "Plan!XFD1048576");
    }

    #[test]
    fn whole_numbers_from_floats_are_exact_or_refused() {
        assert_eq!(whole_from_float(1.0), Some(1));
        assert_eq!(whole_from_float(1_000_000.0), Some(1_000_000));
        assert_eq!(whole_from_float(1.5), None);
        assert_eq!(whole_from_float(0.0), Some(0));
        assert_eq!(whole_from_float(-3.0), None);
        assert_eq!(whole_from_float(f64::NAN), None);
        assert_eq!(whole_from_float(1e17), None);
        assert_eq!(parse_whole(" 42 "), Some(42));
        assert_eq!(parse_whole("42.0"), Some(42));
        assert_eq!(parse_whole("4x"), None);
    }

    #[test]
    fn row_id_must_be_at_least_one_but_attempts_may_be_zero() {
        let mut row = ReviewRow::default();
        assert!(Field::RowId.set(&mut row, "0".into()).is_err());
        assert!(Field::RowId.set(&mut row, "3".into()).is_ok());
        assert_eq!(row.plan.row_id, 3);
        row.attempts = 9;
        assert!(Field::Attempts.set(&mut row, "0".into()).is_ok());
        assert_eq!(row.attempts, 0);
        assert!(Field::Attempts.set(&mut row, "2".into()).is_ok());
        assert_eq!(row.attempts, 2);
        assert!(Field::Attempts.set(&mut row, "-1".into()).is_err());
        assert!(Field::Attempts.set(&mut row, "5000000000".into()).is_err());
    }

    #[test]
    fn cloud_values_show_only_where_they_differ_and_come_back_whole() {
        let mut row = ReviewRow::default();
        let p = &mut row.plan;
        p.upn = "Ann.Lee@Fabrikam.com".into();
        p.cloud_object_id = "11111111-2222-3333-4444-555555555555".into();
        p.cloud_upn = "ann.lee@fabrikam.com".into();
        p.mail_onprem = "Ann.Lee@fabrikam.com".into();
        p.mail_cloud = String::new();
        p.display_name_onprem = "Ann Lee".into();
        p.display_name_cloud = "ann lee".into();
        let shown = |f: Field, r: &ReviewRow| match f.value(r) {
            CellValue::Text(t) => Some(t.into_owned()),
            _ => None,
        };
        assert_eq!(shown(Field::CloudUpn, &row), None, "same UPN up to case");
        assert_eq!(shown(Field::MailCloud, &row).as_deref(), Some("(none)"));
        // Display names are compared exactly: a change of case is a change a reviewer sees.
        assert_eq!(
            shown(Field::DisplayNameCloud, &row).as_deref(),
            Some("ann lee")
        );

        let mut back = ReviewRow::default();
        for c in PLAN_COLUMNS {
            if let Some(t) = shown(c.field, &row) {
                c.field.set(&mut back, t).unwrap();
            }
        }
        fill_cloud_values_shown_as_same(&mut back);
        assert_eq!(back.plan.cloud_upn, "Ann.Lee@Fabrikam.com");
        assert_eq!(back.plan.mail_cloud, "");
        assert_eq!(back.plan.display_name_cloud, "ann lee");
        let key = crate::review::PlanKey::from_bytes([9; 32]);
        assert_eq!(key.sign(&back.plan), key.sign(&row.plan));

        // Without a cloud user nothing is "the same": the cloud cells stay empty.
        let mut none = ReviewRow::default();
        none.plan.upn = "x@fabrikam.com".into();
        none.plan.mail_onprem = "x@fabrikam.com".into();
        assert_eq!(shown(Field::MailCloud, &none), None);
        fill_cloud_values_shown_as_same(&mut none);
        assert_eq!(none.plan.mail_cloud, "");
        assert_eq!(none.plan.cloud_upn, "");
    }

    #[test]
    fn values_round_trip_through_their_cells() {
        let mut row = ReviewRow::default();
        row.plan.checks = vec!["one; with semicolon".into(), "two".into()];
        row.plan.matched_by = Some(MatchedBy::ProxyAddress);
        row.plan.action = Some(Action::ConflictDeleted);
        row.approve = Approval::Yes;
        row.revert = Approval::No;
        row.status = Status::InDoubt;
        let mut back = ReviewRow::default();
        for c in PLAN_COLUMNS {
            if let CellValue::Text(t) = c.field.value(&row) {
                c.field.set(&mut back, t.into_owned()).unwrap();
            }
        }
        assert_eq!(back.plan.checks, row.plan.checks);
        assert_eq!(back.plan.matched_by, row.plan.matched_by);
        assert_eq!(back.plan.action, row.plan.action);
        assert_eq!(back.approve, Approval::Yes);
        assert_eq!(back.revert, Approval::No);
        assert_eq!(back.status, Status::InDoubt);
    }

    #[test]
    fn previous_immutable_id_tells_none_recorded_from_had_none() {
        for prev in [
            None,
            Some(String::new()),
            Some("BpazOkLGm0iEtljAONPvOQ==".to_string()),
        ] {
            let row = ReviewRow {
                previous_immutable_id: prev.clone(),
                ..ReviewRow::default()
            };
            let mut back = ReviewRow::default();
            if let CellValue::Text(t) = Field::PreviousImmutableId.value(&row) {
                Field::PreviousImmutableId
                    .set(&mut back, t.into_owned())
                    .unwrap();
            }
            assert_eq!(back.previous_immutable_id, prev);
        }
    }
}
