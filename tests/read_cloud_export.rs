//! Reading the cloud side from an export file (Get-MgUser / Get-MsolUser / `hardmatch cloud export`).

use hardmatch::anchor::SourceAnchor;
use hardmatch::cloud::read_cloud_export;
use rust_xlsxwriter::{Workbook, Worksheet};
use std::path::{Path, PathBuf};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).expect("write");
    p
}

/// `Key : Value` lines of a Format-List console capture.
fn fl_value(text: &str, key: &str) -> String {
    text.lines()
        .filter_map(|l| l.trim_start_matches('>').split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(key))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_else(|| panic!("{key} not in fixture"))
}

#[test]
fn get_mguser_export_with_published_values() {
    // A published pair (easy365manager) and a published non-GUID ImmutableId (msgraph-sdk-powershell #3110).
    let easy = std::fs::read_to_string(fixture("cloud/easy365manager__Get-MsolUser_fl_output.txt"))
        .expect("fixture");
    let guid = fl_value(&easy, "objectGuid");
    let immutable_id = fl_value(&easy, "ImmutableId");
    let issue = std::fs::read_to_string(fixture(
        "cloud/msgraph-sdk-powershell_issues__non-GUID_ImmutableIds.txt",
    ))
    .expect("fixture");
    let odd_id = fl_value(&issue, "ImmutableId");
    let type_lines =
        std::fs::read_to_string(fixture("cloud/export_type_lines_evidence.txt")).expect("fixture");
    let type_line = type_lines
        .lines()
        .find(|l| l.starts_with("#TYPE Selected.Microsoft.Graph"))
        .expect("Get-MgUser #TYPE line");

    let text = format!(
        "{type_line}\r\n\
         \"Id\",\"UserPrincipalName\",\"OnPremisesImmutableId\",\"OnPremisesSyncEnabled\",\"Mail\",\"ProxyAddresses\",\"DisplayName\",\"DeletedDateTime\",\"OnPremisesObjectIdentifier\"\r\n\
         \"11111111-1111-1111-1111-111111111111\",\"tycho.brahe@easy365manager.com\",\"{immutable_id}\",\"True\",\"tycho.brahe@easy365manager.com\",\"SMTP:tycho.brahe@easy365manager.com;smtp:tb@x.onmicrosoft.com\",\"Tycho Brahe\",,\r\n\
         \"22222222-2222-2222-2222-222222222222\",\"username@federated.domain.edu\",\"{odd_id}\",\"false\",,,,,\r\n\
         \"33333333-3333-3333-3333-333333333333\",\"xxxx@myorg.org\",\"xxxx@myorg.org\",,,,,,\"a0b1\"\r\n\
         \"44444444-4444-4444-4444-444444444444\",\"gone@contoso.com\",\"{immutable_id}\",,,,\"Gone\",\"2026-11-01T10:00:00Z\",\r\n"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(&dir, "cloud.csv", text.as_bytes());
    let state = read_cloud_export(&path).expect("reads");

    assert_eq!(state.users.len(), 3);
    assert_eq!(state.deleted.len(), 1);
    let tycho = &state.users[0];
    assert_eq!(tycho.id, "11111111-1111-1111-1111-111111111111");
    assert_eq!(tycho.immutable_id.as_deref(), Some(immutable_id.as_str()));
    let want = SourceAnchor::from_guid(uuid::Uuid::parse_str(&guid).expect("guid"));
    assert_eq!(tycho.anchor(), Some(want), "the published pair agrees");
    assert_eq!(tycho.sync_enabled, Some(true));
    assert_eq!(tycho.proxy_addresses.len(), 2);
    assert_eq!(tycho.display_name.as_deref(), Some("Tycho Brahe"));
    assert_eq!(
        tycho.privileged_roles, None,
        "no PrivilegedRoles column: unknown"
    );
    assert_eq!(tycho.location, "cloud.csv:3");

    let odd = &state.users[1];
    assert_eq!(
        odd.immutable_id.as_deref(),
        Some(odd_id.as_str()),
        "kept as is"
    );
    assert_eq!(odd.anchor(), None);
    assert_eq!(odd.sync_enabled, Some(false));
    let mail_anchor = &state.users[2];
    assert_eq!(mail_anchor.immutable_id.as_deref(), Some("xxxx@myorg.org"));
    assert_eq!(mail_anchor.sync_enabled, None);
    assert_eq!(
        mail_anchor.on_prem_object_identifier.as_deref(),
        Some("a0b1")
    );
    assert!(
        state
            .warnings
            .iter()
            .any(|w| w.contains("2 user(s)") && w.contains("not base64")),
        "{:?}",
        state.warnings
    );

    let gone = &state.deleted[0];
    assert!(gone.is_deleted());
    assert_eq!(
        gone.deleted_date_time.as_deref(),
        Some("2026-11-01T10:00:00Z")
    );
    assert_eq!(
        gone.anchor(),
        Some(want),
        "a deleted user still holds its ImmutableId"
    );

    assert_eq!(state.sources.len(), 1);
    assert_eq!(state.sources[0].rows, 4);
    assert_eq!(state.sources[0].sha256.as_deref().map(str::len), Some(64));
    assert!(state.sources[0].description.contains("cloud.csv"));
}

#[test]
fn get_msoluser_names_and_excel_booleans() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "#TYPE Selected.Microsoft.Online.Administration.User\n\
                ObjectId;UserPrincipalName;ImmutableID;DirSyncEnabled;DisplayName\n\
                a;a@contoso.com;3PNdoRZES0GLfV+9y1dDwQ==;TRUE;Ann\n\
                b;b@contoso.com;;FALSE;Bob\n\
                c;c@contoso.com;;maybe;Cy\n";
    let path = write(&dir, "msol.csv", text.as_bytes());
    let state = read_cloud_export(&path).expect("reads");
    assert_eq!(state.users.len(), 3);
    assert_eq!(state.users[0].id, "a");
    assert_eq!(state.users[0].sync_enabled, Some(true));
    assert!(state.users[0].anchor().is_some());
    assert_eq!(state.users[1].sync_enabled, Some(false));
    assert_eq!(state.users[1].immutable_id, None);
    assert_eq!(state.users[2].sync_enabled, None);
    assert!(
        state
            .warnings
            .iter()
            .any(|w| w.contains("msol.csv:5") && w.contains("maybe")),
        "{:?}",
        state.warnings
    );
}

#[test]
fn privileged_roles_column_is_read_when_present() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "Id,UserPrincipalName,OnPremisesImmutableId,OnPremisesSyncEnabled,PrivilegedRoles\n\
                1,admin@contoso.com,,False,Global Administrator;User Administrator\n\
                2,user@contoso.com,,False,\n";
    let state = read_cloud_export(&write(&dir, "roles.csv", text.as_bytes())).expect("reads");
    assert_eq!(
        state.users[0].privileged_roles,
        Some(vec![
            "Global Administrator".to_owned(),
            "User Administrator".to_owned()
        ])
    );
    assert_eq!(state.users[1].privileged_roles, Some(vec![]));
}

fn cloud_sheet(ws: &mut Worksheet) {
    for (i, h) in [
        "Id",
        "UserPrincipalName",
        "OnPremisesImmutableId",
        "OnPremisesSyncEnabled",
        "Mail",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(0, i as u16, *h).expect("write");
    }
    ws.write_string(1, 0, "1").expect("write");
    ws.write_string(1, 1, "a@contoso.com").expect("write");
    ws.write_string(1, 2, "+7Byu5JQuU2TfrLSegT8VQ==")
        .expect("write");
    ws.write_boolean(1, 3, false).expect("write");
    ws.write_string(2, 0, "2").expect("write");
    ws.write_string(2, 1, "b@contoso.com").expect("write");
    ws.write_boolean(2, 3, true).expect("write");
    ws.write_string(1_048_575, 16_383, "stray").expect("write");
}

#[test]
fn xlsx_export_with_a_deleted_users_sheet() {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Users").expect("name");
    cloud_sheet(ws);
    let del = wb.add_worksheet();
    del.set_name("Deleted users").expect("name");
    for (i, h) in [
        "Id",
        "UserPrincipalName",
        "OnPremisesImmutableId",
        "DeletedDateTime",
    ]
    .iter()
    .enumerate()
    {
        del.write_string(0, i as u16, *h).expect("write");
    }
    del.write_string(1, 0, "9").expect("write");
    del.write_string(1, 1, "old@contoso.com").expect("write");
    del.write_string(1, 2, "+7Byu5JQuU2TfrLSegT8VQ==")
        .expect("write");
    del.write_string(2, 0, "10").expect("write");
    del.write_string(2, 1, "older@contoso.com").expect("write");
    let bytes = wb.save_to_buffer().expect("xlsx");
    let dir = tempfile::tempdir().expect("tempdir");
    let state = read_cloud_export(&write(&dir, "cloud.xlsx", &bytes)).expect("reads");

    assert_eq!(state.users.len(), 2);
    assert_eq!(
        state.users[0].sync_enabled,
        Some(false),
        "Excel booleans count"
    );
    assert_eq!(state.users[1].sync_enabled, Some(true));
    assert_eq!(
        state.users[0].immutable_id.as_deref(),
        Some("+7Byu5JQuU2TfrLSegT8VQ==")
    );
    assert!(state.users[0].anchor().is_some());
    assert_eq!(state.users[0].location, "cloud.xlsx:Users!A2");
    assert_eq!(state.deleted.len(), 2);
    assert!(
        state.deleted.iter().all(|u| u.is_deleted()),
        "every row of the Deleted users sheet is deleted"
    );
    assert_eq!(state.deleted[0].location, "cloud.xlsx:'Deleted users'!A2");
    assert_eq!(state.sources[0].rows, 4);
    assert!(state.sources[0].description.contains("Deleted users"));
}

#[test]
fn missing_columns_name_the_file_line_and_the_export_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "Id,UserPrincipalName,Mail\n1,a@contoso.com,a@contoso.com\n";
    let err =
        read_cloud_export(&write(&dir, "c.csv", text.as_bytes())).expect_err("no ImmutableId");
    assert_eq!(err.location, "line 1");
    assert!(err.message.contains("OnPremisesImmutableId"), "{err}");
    assert!(err.fix.contains("-Property"), "{err}");
}

#[test]
fn console_table_output_is_not_an_export() {
    let err = read_cloud_export(&fixture("cloud/pete-thomas__Get-MsolUser_table_output.txt"))
        .expect_err("not csv");
    assert!(err.fix.contains("Export-Csv"), "{err}");
}

#[test]
fn empty_header_only_and_truncated_files_are_input_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = read_cloud_export(&write(&dir, "e.csv", b"")).expect_err("empty");
    assert!(err.message.contains("empty"));
    let err = read_cloud_export(&write(
        &dir,
        "h.csv",
        b"Id,UserPrincipalName,OnPremisesImmutableId\r\n",
    ))
    .expect_err("header only");
    assert!(err.message.contains("no users"), "{err}");
    let mut wb = Workbook::new();
    cloud_sheet(wb.add_worksheet());
    let bytes = wb.save_to_buffer().expect("xlsx");
    let err = read_cloud_export(&write(&dir, "t.xlsx", &bytes[..bytes.len() / 3]))
        .expect_err("truncated");
    assert!(err.fix.contains("damaged"), "{err}");
}

#[test]
fn proxy_addresses_exported_without_join_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "Id,UserPrincipalName,OnPremisesImmutableId,ProxyAddresses\n1,a@x.com,,System.String[]\n2,b@x.com,,System.String[]\n";
    let err = read_cloud_export(&write(&dir, "p.csv", text.as_bytes())).expect_err("type names");
    assert!(err.message.contains("System.String[]"), "{err}");
    assert!(err.fix.contains("-join ';'"), "{err}");
}

#[test]
fn an_all_empty_immutable_id_column_warns_about_get_mguser_property() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "Id,UserPrincipalName,OnPremisesImmutableId,OnPremisesSyncEnabled\n1,a@x.com,,False\n2,b@x.com,,False\n";
    let state = read_cloud_export(&write(&dir, "mg.csv", text.as_bytes())).expect("reads");
    assert!(
        state.warnings.iter().any(|w| w.contains("-Property")),
        "{:?}",
        state.warnings
    );
}

#[test]
fn rows_without_upn_are_skipped_with_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "Id,UserPrincipalName,OnPremisesImmutableId,OnPremisesSyncEnabled\n1,,,False\n2,b@x.com,,False\n";
    let state = read_cloud_export(&write(&dir, "s.csv", text.as_bytes())).expect("reads");
    assert_eq!(state.users.len(), 1);
    assert!(
        state
            .warnings
            .iter()
            .any(|w| w.contains("s.csv:2") && w.contains("skipped")),
        "{:?}",
        state.warnings
    );
}

#[test]
fn a_shifted_row_is_left_out_rather_than_paired_with_the_wrong_immutable_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "Id,DisplayName,UserPrincipalName,OnPremisesImmutableId\n\
                1,\"Ann\",a@x.com,3PNdoRZES0GLfV+9y1dDwQ==\n\
                2,Dupont, René,b@x.com,3PNdoRZES0GLfV+63oIXxQ==\n";
    let state = read_cloud_export(&write(&dir, "shift.csv", text.as_bytes())).expect("reads");
    assert_eq!(state.users.len(), 1);
    assert_eq!(state.users[0].upn, "a@x.com");
    assert!(
        state
            .warnings
            .iter()
            .any(|w| w.contains("shift.csv:3") && w.contains("skipped")),
        "{:?}",
        state.warnings
    );
}

#[test]
fn a_few_proxy_address_type_names_are_a_warning_not_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "Id,UserPrincipalName,OnPremisesImmutableId,ProxyAddresses\n\
                1,a@x.com,,System.String[]\n2,b@x.com,,SMTP:b@x.com\n3,c@x.com,,\n";
    let state = read_cloud_export(&write(&dir, "p.csv", text.as_bytes())).expect("reads");
    assert!(state.users[0].proxy_addresses.is_empty());
    assert_eq!(state.users[1].proxy_addresses, vec!["SMTP:b@x.com"]);
    assert!(
        state
            .warnings
            .iter()
            .any(|w| w.contains("1 row(s)") && w.contains("-join")),
        "{:?}",
        state.warnings
    );
}

#[test]
fn a_recycle_bin_is_recognised_by_its_name_or_its_upns_never_by_an_empty_column() {
    // Issue 7 §2: Get-MgDirectoryDeletedItemAsUser leaves DeletedDateTime empty unless selected.
    let dir = tempfile::tempdir().expect("tempdir");
    let rows = "Id,UserPrincipalName,OnPremisesImmutableId,DeletedDateTime\n\
                d1,a@x.com,BpazOkLGm0iEtljAONPvOQ==,\n\
                d2,b@x.com,,\n\
                d3,c@x.com,,2026-10-01T08:00:00Z\n";
    let bin = read_cloud_export(&write(&dir, "cloud-deleted.csv", rows.as_bytes())).expect("reads");
    assert_eq!((bin.users.len(), bin.deleted.len()), (0, 3));
    assert!(bin.deleted.iter().all(|u| u.is_deleted()));
    assert_eq!(bin.deleted[0].deleted_date_time.as_deref(), Some(""));
    assert!(
        bin.warnings.iter().any(
            |w| w.contains("2 soft-deleted user(s) have no DeletedDateTime")
                && w.contains("deletion date is unknown")
        ),
        "{:?}",
        bin.warnings
    );
    assert!(!bin.unchecked.deleted_users, "the recycle bin was read");
    assert!(!bin.unchecked.privileged_roles, "no active users to check");

    // Under a neutral name, the object-id prefix of a deleted user's UPN tells them apart.
    let id = "7e06b566-15f3-4013-8bf8-79874d52e68a";
    let text = format!(
        "Id,UserPrincipalName,OnPremisesImmutableId,DeletedDateTime\n\
         {id},{}jo@x.com,BpazOkLGm0iEtljAONPvOQ==,\n\
         a1,active@x.com,,\n",
        id.replace('-', "")
    );
    let mixed = read_cloud_export(&write(&dir, "export.csv", text.as_bytes())).expect("reads");
    assert_eq!(mixed.deleted.len(), 1);
    assert_eq!(mixed.deleted[0].original_upn(), "jo@x.com");
    assert_eq!(mixed.users.len(), 1);
    assert!(!mixed.unchecked.deleted_users);

    // No sign of deletion at all: active, and the recycle bin counts as not read.
    let plain = read_cloud_export(&write(&dir, "users.csv", rows.as_bytes())).expect("reads");
    assert_eq!((plain.users.len(), plain.deleted.len()), (2, 1));
    let active = "Id,UserPrincipalName,OnPremisesImmutableId,DeletedDateTime\n1,a@x.com,,\n";
    let users = read_cloud_export(&write(&dir, "active.csv", active.as_bytes())).expect("reads");
    assert!(users.unchecked.deleted_users);
}

#[test]
fn an_empty_recycle_bin_file_is_read_not_refused() {
    // `hardmatch cloud export -o x.csv` writes x-deleted.csv with just its header when the
    // recycle bin is empty.
    let dir = tempfile::tempdir().expect("tempdir");
    let header = "Id,UserPrincipalName,OnPremisesImmutableId,DeletedDateTime\r\n";
    let state =
        read_cloud_export(&write(&dir, "x-deleted.csv", header.as_bytes())).expect("an empty bin");
    assert!(state.users.is_empty() && state.deleted.is_empty());
    assert!(!state.unchecked.deleted_users);
}

#[test]
fn excel_renderings_of_identifiers_refuse_the_file_naming_the_cell() {
    // Issue 7 §5: a CSV that went through Excel has #NAME? where +t70Y…== was.
    let dir = tempfile::tempdir().expect("tempdir");
    for (bad, what) in [
        ("#NAME?", "Excel error"),
        ("#VALUE!", "Excel error"),
        ("#N/A", "Excel error"),
        ("1.23457E+11", "scientific"),
        ("3/1/2024", "date"),
    ] {
        let text = format!(
            "Id,UserPrincipalName,OnPremisesImmutableId\n1,a@x.com,\n2,b@x.com,{bad}\n3,c@x.com,{bad}\n"
        );
        let err = read_cloud_export(&write(&dir, "c.csv", text.as_bytes())).expect_err(bad);
        assert_eq!(
            err.location, "line 3, column OnPremisesImmutableId",
            "{bad}: {err}"
        );
        assert!(
            err.message.contains(bad) && err.message.contains(what),
            "{err}"
        );
        assert!(err.message.contains("1 more"), "{err}");
        assert!(err.fix.contains("hardmatch cloud export"), "{err}");
    }
    // An error value in the Id or UPN is as untrustworthy.
    let text = "Id,UserPrincipalName,OnPremisesImmutableId\n#REF!,a@x.com,\n";
    let err = read_cloud_export(&write(&dir, "i.csv", text.as_bytes())).expect_err("#REF!");
    assert_eq!(err.location, "line 2, column Id");

    // An XLSX cell Excel holds as a number or an error is refused the same way (it was kept
    // as text with a warning).
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    cloud_sheet(ws);
    ws.write_number(2, 2, 123456789012.0).expect("write");
    let bytes = wb.save_to_buffer().expect("xlsx");
    let err = read_cloud_export(&write(&dir, "n.xlsx", &bytes)).expect_err("a number");
    assert!(err.location.contains("(C3)"), "{err}");
    assert!(err.message.contains("a number"), "{err}");
}

#[test]
fn a_recycle_bin_sheet_under_another_name_is_read_and_unread_sheets_are_named() {
    // Issue 7 §9: a sheet named "Deleted" was ignored without a word.
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Users").expect("name");
    cloud_sheet(ws);
    let del = wb.add_worksheet();
    del.set_name("Deleted").expect("name");
    for (i, h) in ["Id", "UserPrincipalName", "OnPremisesImmutableId"]
        .iter()
        .enumerate()
    {
        del.write_string(0, i as u16, *h).expect("write");
    }
    del.write_string(1, 0, "9").expect("write");
    del.write_string(1, 1, "old@contoso.com").expect("write");
    del.write_string(1, 2, "BpazOkLGm0iEtljAONPvOQ==")
        .expect("write");
    wb.add_worksheet().set_name("Notes").expect("name");
    let bytes = wb.save_to_buffer().expect("xlsx");
    let dir = tempfile::tempdir().expect("tempdir");
    let state = read_cloud_export(&write(&dir, "cloud.xlsx", &bytes)).expect("reads");
    assert_eq!(state.deleted.len(), 1);
    assert_eq!(state.deleted[0].upn, "old@contoso.com");
    assert!(!state.unchecked.deleted_users);
    assert!(
        state
            .warnings
            .iter()
            .any(|w| w.contains("Notes") && w.contains("not read")),
        "{:?}",
        state.warnings
    );

    // Without any recycle-bin sheet, the recycle bin counts as not read.
    let mut wb = Workbook::new();
    cloud_sheet(wb.add_worksheet());
    let bytes = wb.save_to_buffer().expect("xlsx");
    let state = read_cloud_export(&write(&dir, "users.xlsx", &bytes)).expect("reads");
    assert!(state.unchecked.deleted_users);
}

#[test]
fn columns_hard_match_blocks_are_read_from_are_unchecked_when_missing() {
    // Issue 7 §10.
    let dir = tempfile::tempdir().expect("tempdir");
    let mg = "Id,UserPrincipalName,OnPremisesImmutableId,Mail\n1,a@x.com,,a@x.com\n";
    let state = read_cloud_export(&write(&dir, "mg.csv", mg.as_bytes())).expect("reads");
    let u = state.unchecked;
    assert!(u.privileged_roles && u.object_identifier && u.sync_enabled && u.deleted_users);
    for column in [
        "PrivilegedRoles",
        "OnPremisesObjectIdentifier",
        "OnPremisesSyncEnabled",
    ] {
        assert!(
            state
                .warnings
                .iter()
                .any(|w| w.contains(&format!("no {column} column"))),
            "{column}: {:?}",
            state.warnings
        );
    }
    let full = "Id,UserPrincipalName,OnPremisesImmutableId,OnPremisesSyncEnabled,OnPremisesObjectIdentifier,\
                PrivilegedRoles,DeletedDateTime\n1,a@x.com,,False,,,\n2,b@x.com,,False,,,2026-01-01T00:00:00Z\n";
    let state = read_cloud_export(&write(&dir, "full.csv", full.as_bytes())).expect("reads");
    assert!(state.unchecked.is_empty(), "{:?}", state.unchecked);

    // A skipped row could have been anyone's holder.
    let text = "Id,UserPrincipalName,OnPremisesImmutableId,OnPremisesSyncEnabled,OnPremisesObjectIdentifier,\
                PrivilegedRoles,DeletedDateTime\n1,,,False,,,\n2,b@x.com,,False,,,2026-01-01T00:00:00Z\n";
    let state = read_cloud_export(&write(&dir, "skip.csv", text.as_bytes())).expect("reads");
    assert!(state.unchecked.skipped_rows);
}

#[test]
fn a_cloud_export_snapshot_reads_with_nothing_unchecked_and_no_unread_sheet() {
    // `hardmatch cloud export` writes every column, the recycle bin and a Tenant sheet (read by
    // plan as the snapshot's description, so not "not read").
    use hardmatch::cloud::export::{write_export, SnapshotInfo};
    use hardmatch::cloud::{CloudState, CloudUser};
    let state = CloudState {
        users: vec![CloudUser {
            id: "1".into(),
            upn: "a@x.com".into(),
            sync_enabled: Some(false),
            privileged_roles: Some(vec![]),
            ..CloudUser::default()
        }],
        ..CloudState::default()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("snap.xlsx");
    write_export(&path, &state, &SnapshotInfo::default()).expect("export");
    let back = read_cloud_export(&path).expect("reads");
    assert!(back.unchecked.is_empty(), "{:?}", back.unchecked);
    assert!(
        !back.warnings.iter().any(|w| w.contains("not read")),
        "{:?}",
        back.warnings
    );
}
