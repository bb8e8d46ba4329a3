//! The hand-fill template is an AD export like any other: `plan` reads what an admin typed into it.

use hardmatch::anchor::SourceAnchor;
use hardmatch::sources::{read_ad_export, ReadOptions};
use hardmatch::workbook::write_template;
use rust_xlsxwriter::Workbook;

#[test]
fn the_blank_template_has_headers_the_reader_knows_and_no_users() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("input.xlsx");
    write_template(&path).expect("template");
    let err = read_ad_export(&path, &ReadOptions::default()).expect_err("no users yet");
    let text = err.to_string();
    // Not "no UPN column" or "no GUID column": the headers were recognised, the rows are missing.
    assert!(!text.to_lowercase().contains("column"), "{text}");
    assert!(text.contains("input.xlsx"), "{text}");
}

#[test]
fn a_filled_template_reads_every_notation_an_admin_may_paste() {
    // Same sheet name and header as the template, filled the way an admin would: one GUID per
    // notation in the objectGUID column.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("filled.xlsx");
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Users").expect("name");
    for (c, h) in ["UserPrincipalName", "objectGUID", "Approve", "Comment"]
        .iter()
        .enumerate()
    {
        ws.write_string(0, c as u16, *h).expect("header");
    }
    let rows = [
        ("a@contoso.com", "3ab39606-c642-489b-84b6-58c038d3ef39"),
        ("b@contoso.com", "BpazOkLGm0iEtljAONPvOQ=="),
        ("c@contoso.com", "{3AB39606-C642-489B-84B6-58C038D3EF39}"),
        (
            "d@contoso.com",
            "06 96 B3 3A 42 C6 9B 48 84 B6 58 C0 38 D3 EF 39",
        ),
    ];
    for (r, (upn, guid)) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        ws.write_string(r, 0, *upn).expect("upn");
        ws.write_string(r, 1, *guid).expect("guid");
        ws.write_string(r, 2, "Yes").expect("approve");
    }
    wb.save(&path).expect("save");

    let export = read_ad_export(&path, &ReadOptions::default()).expect("read");
    assert_eq!(export.users.len(), 4);
    let expected = SourceAnchor::from_guid(
        uuid::Uuid::parse_str("3ab39606-c642-489b-84b6-58c038d3ef39").expect("uuid"),
    );
    for u in &export.users {
        assert!(u.problems.is_empty(), "{}: {:?}", u.upn, u.problems);
        assert_eq!(u.source_anchor(), Some(expected), "{}", u.upn);
        assert_eq!(expected.immutable_id(), "BpazOkLGm0iEtljAONPvOQ==");
    }
    assert_eq!(export.users[3].location, "filled.xlsx:Users!A5");
}
