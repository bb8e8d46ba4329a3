//! Reading AD users from Excel workbooks: a filled template, an export opened and saved in Excel.

use hardmatch::anchor::{self, SourceAnchor};
use hardmatch::sources::{read_ad_export, AdExport, Format, ReadOptions};
use hardmatch::InputError;
use rust_xlsxwriter::{ExcelDateTime, Format as CellFormat, Workbook, Worksheet};
use std::path::PathBuf;

const G1: &str = "e0c12033-f50b-42c8-8ccb-deb866e9b12a";
const G2: &str = "f7cc07d7-7c15-447d-876d-c01b0e5a9e38";

fn guid(s: &str) -> SourceAnchor {
    SourceAnchor::from_guid(uuid::Uuid::parse_str(s).expect("test GUID"))
}

struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Self {
        Scratch(tempfile::tempdir().expect("tempdir"))
    }
    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.path().join(name);
        std::fs::write(&p, bytes).expect("write");
        p
    }
    fn read(&self, name: &str, bytes: &[u8], sheet: Option<&str>) -> Result<AdExport, InputError> {
        let opts = ReadOptions {
            sheet: sheet.map(str::to_owned),
            ..ReadOptions::default()
        };
        read_ad_export(&self.file(name, bytes), &opts)
    }
}

/// A workbook whose sheets are filled by `fill`, as bytes.
/// Fills one sheet.
type Fill<'a> = &'a dyn Fn(&mut Worksheet);

fn workbook(sheets: &[(&str, Fill<'_>)]) -> Vec<u8> {
    let mut wb = Workbook::new();
    for (name, fill) in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(*name).expect("sheet name");
        fill(ws);
    }
    wb.save_to_buffer().expect("xlsx")
}

fn header(ws: &mut Worksheet, row: u32, col: u16, names: &[&str]) {
    for (i, n) in names.iter().enumerate() {
        ws.write_string(row, col + i as u16, *n).expect("write");
    }
}

fn text_row(ws: &mut Worksheet, row: u32, col: u16, values: &[&str]) {
    for (i, v) in values.iter().enumerate() {
        if !v.is_empty() {
            ws.write_string(row, col + i as u16, *v).expect("write");
        }
    }
}

fn users_sheet(ws: &mut Worksheet) {
    header(
        ws,
        0,
        0,
        &["UserPrincipalName", "objectGUID", "Mail", "Display Name"],
    );
    text_row(ws, 1, 0, &["a@contoso.com", G1, "a@contoso.com", "Ann"]);
    text_row(ws, 2, 0, &["b@contoso.com", G2, "", "Bob"]);
}

#[test]
fn first_sheet_with_header_on_row_one() {
    let s = Scratch::new();
    let bytes = workbook(&[("Users", &users_sheet), ("Other", &|_| {})]);
    let e = s.read("ad.xlsx", &bytes, None).expect("reads");
    assert_eq!(e.format, Format::Xlsx);
    assert_eq!(e.users.len(), 2);
    assert_eq!(e.users[0].upn, "a@contoso.com");
    assert_eq!(e.users[0].object_guid, Some(guid(G1)));
    assert_eq!(e.users[0].mail.as_deref(), Some("a@contoso.com"));
    assert_eq!(e.users[0].display_name.as_deref(), Some("Ann"));
    assert_eq!(e.users[0].location, "ad.xlsx:Users!A2");
    assert_eq!(e.users[1].mail, None);
    assert_eq!(e.users[1].location, "ad.xlsx:Users!A3");
    assert!(e.users.iter().all(|u| u.problems.is_empty()));
    assert_eq!(e.sha256.len(), 64);
}

#[test]
fn header_is_the_first_non_empty_row_wherever_it_starts() {
    let s = Scratch::new();
    let bytes = workbook(&[("AD users", &|ws: &mut Worksheet| {
        header(ws, 3, 1, &["UPN", "Guid"]);
        text_row(ws, 4, 1, &["a@contoso.com", G1]);
        // A blank row between users is skipped, not an empty user.
        text_row(ws, 6, 1, &["b@contoso.com", G2]);
    })]);
    let e = s.read("ad.xlsx", &bytes, None).expect("reads");
    assert_eq!(e.users.len(), 2);
    assert_eq!(e.users[0].location, "ad.xlsx:'AD users'!B5");
    assert_eq!(e.users[1].location, "ad.xlsx:'AD users'!B7");
    assert_eq!(e.users[1].object_guid, Some(guid(G2)));
}

#[test]
fn sheet_option_chooses_the_sheet() {
    let s = Scratch::new();
    let bytes = workbook(&[
        ("Notes", &|ws: &mut Worksheet| {
            text_row(ws, 0, 0, &["just notes"])
        }),
        ("Users", &users_sheet),
    ]);
    let e = s
        .read("ad.xlsx", &bytes, Some("users"))
        .expect("case-insensitive sheet name");
    assert_eq!(e.users.len(), 2);
    let err = s
        .read("ad.xlsx", &bytes, Some("Nope"))
        .expect_err("no such sheet");
    assert!(err.message.contains("Notes, Users"), "{err}");
    assert!(err.fix.contains("--sheet"), "{err}");
    let err = s
        .read("ad.xlsx", &bytes, None)
        .expect_err("first sheet has no UPN column");
    assert_eq!(err.location, "Notes!A1");
}

#[test]
fn identifiers_excel_turned_into_numbers_dates_or_booleans_are_row_problems() {
    let s = Scratch::new();
    let bytes = workbook(&[("Users", &|ws: &mut Worksheet| {
        header(
            ws,
            0,
            0,
            &["UserPrincipalName", "objectGUID", "DisplayName"],
        );
        text_row(ws, 1, 0, &["a@contoso.com"]);
        ws.write_number(1, 1, 3.2e31).expect("write");
        ws.write_number(1, 2, 42.0).expect("write");
        text_row(ws, 2, 0, &["b@contoso.com"]);
        let date = ExcelDateTime::from_ymd(2024, 1, 2).expect("date");
        ws.write_datetime_with_format(2, 1, &date, &CellFormat::new().set_num_format("yyyy-mm-dd"))
            .expect("write");
        ws.write_number(3, 0, 12345.0).expect("write");
        text_row(ws, 3, 1, &[G1]);
        ws.write_boolean(4, 0, true).expect("write");
        text_row(ws, 4, 1, &[G2]);
    })]);
    let e = s.read("num.xlsx", &bytes, None).expect("reads");
    assert_eq!(e.users.len(), 4);
    let p = &e.users[0].problems;
    assert!(
        p.iter().any(|p| p.contains("(B2)")
            && p.contains("a number")
            && p.contains("Format the column as Text")),
        "{p:?}"
    );
    assert_eq!(
        e.users[0].display_name.as_deref(),
        Some("42"),
        "numbers in text columns are shown as Excel shows them"
    );
    let p = &e.users[1].problems;
    assert!(
        p.iter().any(|p| p.contains("(B3)") && p.contains("a date")),
        "{p:?}"
    );
    let p = &e.users[2].problems;
    assert!(
        p.iter().any(|p| p.contains("(A4)") && p.contains("12345")),
        "{p:?}"
    );
    assert_eq!(e.users[2].object_guid, Some(guid(G1)));
    assert!(!e.users[3].problems.is_empty());
}

#[test]
fn immutable_ids_written_as_text_keep_their_plus_and_lose_an_apostrophe() {
    let s = Scratch::new();
    let v51 = "+7Byu5JQuU2TfrLSegT8VQ==";
    let bytes = workbook(&[("Users", &|ws: &mut Worksheet| {
        header(ws, 0, 0, &["UserPrincipalName", "ImmutableId"]);
        text_row(ws, 1, 0, &["a@contoso.com", v51]);
        text_row(ws, 2, 0, &["b@contoso.com", &format!("'{v51}")]);
    })]);
    let e = s.read("plus.xlsx", &bytes, None).expect("reads");
    let want = anchor::guid_based(v51).expect("canonical");
    for u in &e.users {
        assert_eq!(u.object_guid, Some(want));
        assert!(u.problems.is_empty(), "{:?}", u.problems);
    }
}

#[test]
fn a_stray_cell_far_away_does_not_blow_up_the_read() {
    // worksheet_range would allocate 1,048,576 × 16,384 cells here; the streaming reader must not.
    let s = Scratch::new();
    let bytes = workbook(&[("Users", &|ws: &mut Worksheet| {
        users_sheet(ws);
        ws.write_string(1_048_575, 16_383, "oops").expect("write");
        ws.write_string(2, 200, "stray in row 3").expect("write");
    })]);
    let e = s.read("stray.xlsx", &bytes, None).expect("reads");
    assert_eq!(
        e.users.len(),
        2,
        "the stray cells are outside the header's columns"
    );
    assert!(e.users.iter().all(|u| u.problems.is_empty()));
}

#[test]
fn a_stray_cell_inside_the_columns_far_down_is_one_more_row() {
    let s = Scratch::new();
    let bytes = workbook(&[("Users", &|ws: &mut Worksheet| {
        users_sheet(ws);
        ws.write_string(1_048_575, 3, "x").expect("write");
    })]);
    let e = s.read("stray.xlsx", &bytes, None).expect("reads");
    assert_eq!(e.users.len(), 3);
    let last = &e.users[2];
    assert_eq!(last.location, "stray.xlsx:Users!A1048576");
    assert!(
        last.problems
            .iter()
            .any(|p| p.contains("empty UserPrincipalName")),
        "{:?}",
        last.problems
    );
}

#[test]
fn a_truncated_workbook_is_an_input_error() {
    let s = Scratch::new();
    let bytes = workbook(&[("Users", &users_sheet)]);
    for cut in [bytes.len() / 2, bytes.len() - 10, 100] {
        let err = s
            .read("cut.xlsx", &bytes[..cut], None)
            .expect_err("truncated");
        assert!(err.file.ends_with("cut.xlsx"));
        assert!(err.fix.contains("damaged or incomplete"), "{err}");
    }
}

#[test]
fn empty_sheet_and_header_only_are_input_errors() {
    let s = Scratch::new();
    let err = s
        .read("empty.xlsx", &workbook(&[("Users", &|_| {})]), None)
        .expect_err("empty");
    assert!(err.message.contains("empty"), "{err}");
    let only_header = workbook(&[("Users", &|ws: &mut Worksheet| {
        header(ws, 0, 0, &["UPN", "objectGUID"])
    })]);
    let err = s
        .read("header.xlsx", &only_header, None)
        .expect_err("no users");
    assert!(err.message.contains("no users"), "{err}");
    assert_eq!(err.location, "Users!A1");
}

#[test]
fn missing_guid_column_in_a_workbook_names_the_header_cell() {
    let s = Scratch::new();
    let bytes = workbook(&[("Users", &|ws: &mut Worksheet| {
        header(ws, 1, 2, &["UserPrincipalName", "mail"]);
        text_row(ws, 2, 2, &["a@contoso.com", "a@contoso.com"]);
    })]);
    let err = s.read("noguid.xlsx", &bytes, None).expect_err("no guid");
    assert_eq!(err.location, "Users!C2");
    assert!(err.message.contains("objectGUID"), "{err}");
}

#[test]
fn a_formula_cell_is_read_by_its_cached_text() {
    let s = Scratch::new();
    let bytes = workbook(&[("Users", &|ws: &mut Worksheet| {
        header(ws, 0, 0, &["UserPrincipalName", "objectGUID"]);
        ws.write_formula(1, 0, "=\"a@\"&\"contoso.com\"")
            .expect("write");
        ws.set_formula_result(1, 0, "a@contoso.com");
        text_row(ws, 1, 1, &[G1]);
    })]);
    let e = s.read("formula.xlsx", &bytes, None).expect("reads");
    assert_eq!(e.users[0].upn, "a@contoso.com");
    assert_eq!(e.users[0].object_guid, Some(guid(G1)));
}

#[test]
fn a_text_format_override_on_a_workbook_is_refused() {
    let s = Scratch::new();
    let path = s.file("ad.xlsx", &workbook(&[("Users", &users_sheet)]));
    let opts = ReadOptions {
        format: Some(Format::Csv),
        ..ReadOptions::default()
    };
    let err = read_ad_export(&path, &opts).expect_err("zip is not csv");
    assert!(err.message.contains("--format csv"), "{err}");
    assert!(err.fix.contains("--format xlsx"), "{err}");
    let opts = ReadOptions {
        format: Some(Format::Xlsx),
        ..ReadOptions::default()
    };
    assert_eq!(read_ad_export(&path, &opts).expect("reads").users.len(), 2);
}
