//! `hardmatch cloud export` as a library: the live read builds the same CloudState an export
//! file gives, and the snapshot it writes (XLSX or CSV pair) reads back to exactly that state,
//! every identifier cell text.

mod live_support;

use calamine::{open_workbook, Data, Reader, Xlsx};
use hardmatch::cloud::export::{
    deleted_csv_path, read_snapshot_info, tenant_csv_path, write_export, ExportFormat, SnapshotInfo,
};
use hardmatch::cloud::live::LiveOptions;
use hardmatch::cloud::read_cloud_export;
use live_support::*;
use std::path::Path;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_read_has_users_recycle_bin_roles_and_features() {
    let sim = start(tenant()).await;
    let state = read(&sim, LiveOptions::default()).await;
    assert_eq!(state.users.len(), 4);
    assert_eq!(state.deleted.len(), 1);
    let adele = by_id(&state.users, ADELE);
    assert_eq!(adele.immutable_id.as_deref(), Some(PLUS_ID));
    assert_eq!(
        adele.privileged_roles,
        Some(vec!["Global Administrator".to_string()])
    );
    assert_eq!(
        by_id(&state.users, BOB).privileged_roles,
        Some(vec!["User Administrator".to_string()]),
        "eligible counts; Reports Reader is not privileged"
    );
    let carol = by_id(&state.users, CAROL);
    assert_eq!(carol.privileged_roles, Some(vec![]), "checked: none");
    assert_eq!(carol.sync_enabled, Some(true));
    assert_eq!(carol.proxy_addresses.len(), 2);
    let gone = by_id(&state.deleted, GONE);
    assert_eq!(
        gone.deleted_date_time.as_deref(),
        Some("2026-11-01T08:00:00Z")
    );
    assert_eq!(
        gone.immutable_id.as_deref(),
        Some("qUbmzjxXZ0eJjWwFmXzz2Q==")
    );
    let features = state.features.clone().expect("features read");
    assert!(!features.block_cloud_object_takeover_through_hard_match);
    assert!(state.sources[0].description.contains(&sim.base_url()));
    assert_eq!(
        (state.sources[0].rows, state.sources[1].rows),
        (4, 1),
        "sources count the users"
    );

    // Roles are read per privileged role, never per user.
    let per_user = sim
        .requests()
        .iter()
        .filter(|r| r.path.contains("principalId"))
        .count();
    assert_eq!(per_user, 0, "no per-user role queries");

    let sequential = read(
        &sim,
        LiveOptions {
            partitioned: false,
            ..LiveOptions::default()
        },
    )
    .await;
    assert_eq!(comparable(&sequential.users), comparable(&state.users));
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_takeover_block_and_soft_match_block_are_read() {
    let mut t = tenant();
    t.on_premises_synchronization
        .block_cloud_object_takeover_through_hard_match_enabled = true;
    t.on_premises_synchronization.block_soft_match_enabled = true;
    let sim = start(t).await;
    let state = read(&sim, LiveOptions::default()).await;
    let f = state.features.expect("features");
    assert!(f.block_cloud_object_takeover_through_hard_match && f.block_soft_match);
    assert!(
        state
            .warnings
            .iter()
            .any(|w| w.contains("BlockSoftMatchEnabled")),
        "{:?}",
        state.warnings
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_xlsx_snapshot_reads_back_as_the_same_state_with_text_cells() {
    let sim = start(tenant()).await;
    let state = read(&sim, LiveOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cloud.xlsx");
    assert_eq!(
        write_export(&path, &state, &info(&state)).unwrap(),
        vec![path.clone()]
    );

    let back = read_cloud_export(&path).expect("plan's cloud reader reads the snapshot");
    assert_eq!(comparable(&back.users), comparable(&state.users));
    let deleted = comparable(&back.deleted);
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].id, GONE);
    assert_eq!(
        deleted[0].immutable_id.as_deref(),
        Some("qUbmzjxXZ0eJjWwFmXzz2Q==")
    );
    assert_eq!(
        deleted[0].deleted_date_time.as_deref(),
        Some("2026-11-01T08:00:00Z")
    );

    let mut wb: Xlsx<_> = open_workbook(&path).unwrap();
    assert_eq!(wb.sheet_names(), vec!["Users", "Deleted users", "Tenant"]);
    let users = wb.worksheet_range("Users").unwrap();
    let header: Vec<String> = users
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(
        header,
        [
            "Id",
            "UserPrincipalName",
            "OnPremisesImmutableId",
            "OnPremisesSyncEnabled",
            "Mail",
            "ProxyAddresses",
            "DisplayName",
            "OnPremisesObjectIdentifier",
            "DeletedDateTime",
            "PrivilegedRoles"
        ]
    );
    let mut seen = 0;
    for row in users.rows().skip(1) {
        for cell in row {
            assert!(
                matches!(cell, Data::String(_) | Data::Empty),
                "every cell is text: {cell:?}"
            );
        }
        if row[2] == Data::String(PLUS_ID.into()) || row[2] == Data::String(FORMULA_ID.into()) {
            seen += 1;
        }
        if row[0] == Data::String(CAROL.into()) {
            assert_eq!(row[3], Data::String("True".into()));
            assert_eq!(
                row[5],
                Data::String(
                    "SMTP:carol@contoso.com;smtp:carol@contoso.mail.onmicrosoft.com".into()
                )
            );
        }
    }
    assert_eq!(seen, 2, "+… and =… ImmutableIds are stored as text values");
    let formulas = wb.worksheet_formula("Users").unwrap();
    assert!(
        formulas.used_cells().all(|(_, _, f)| f.is_empty()),
        "no cell is a formula"
    );
    sim.shutdown().await.unwrap();
}

fn read_pair(main: &Path) -> hardmatch::cloud::CloudState {
    let mut state = read_cloud_export(main).unwrap();
    let deleted = read_cloud_export(&deleted_csv_path(main)).unwrap();
    assert!(
        deleted.users.is_empty(),
        "the deleted file holds only deleted users"
    );
    state.deleted = deleted.deleted;
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_snapshot_is_a_pair_of_files_that_reads_back_the_same() {
    let sim = start(tenant()).await;
    let state = read(&sim, LiveOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snap.csv");
    let written = write_export(&path, &state, &info(&state)).unwrap();
    assert_eq!(
        written,
        vec![
            path.clone(),
            dir.path().join("snap-deleted.csv"),
            dir.path().join("snap-tenant.csv")
        ]
    );

    let back = read_pair(&path);
    assert_eq!(comparable(&back.users), comparable(&state.users));
    assert_eq!(back.deleted.len(), 1);
    assert_eq!(back.deleted[0].id, GONE);
    let raw = std::fs::read_to_string(&path).unwrap();
    assert!(raw.contains(PLUS_ID), "CSV keeps the value as is");
    assert!(raw.contains("Global Administrator"));
    let deleted_raw = std::fs::read_to_string(&written[1]).unwrap();
    assert!(
        deleted_raw.contains("DeletedDateTime") && deleted_raw.contains("2026-11-01T08:00:00Z")
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_roles_the_snapshot_has_no_roles_column_and_roles_read_as_unknown() {
    let sim = start(tenant()).await;
    let state = read(
        &sim,
        LiveOptions {
            roles: false,
            ..LiveOptions::default()
        },
    )
    .await;
    assert!(state.users.iter().all(|u| u.privileged_roles.is_none()));
    assert!(
        !sim.requests()
            .iter()
            .any(|r| r.path.contains("roleManagement")),
        "no role reads"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cloud.csv");
    write_export(&path, &state, &info(&state)).unwrap();
    assert!(!std::fs::read_to_string(&path)
        .unwrap()
        .contains("PrivilegedRoles"));
    let back = read_pair(&path);
    assert!(back.users.iter().all(|u| u.privileged_roles.is_none()));
    sim.shutdown().await.unwrap();
}

#[test]
fn only_xlsx_and_csv_are_written_and_a_failed_write_leaves_nothing() {
    assert_eq!(
        ExportFormat::from_path(Path::new("a/B.XLSX")).unwrap(),
        ExportFormat::Xlsx
    );
    assert_eq!(
        ExportFormat::from_path(Path::new("b.csv")).unwrap(),
        ExportFormat::Csv
    );
    let err = ExportFormat::from_path(Path::new("cloud.json")).unwrap_err();
    assert!(err.to_string().contains(".xlsx or .csv"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir").join("cloud.csv");
    assert!(write_export(&missing, &Default::default(), &SnapshotInfo::default()).is_err());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// What `cloud export` records about a read of `state`.
fn info(state: &hardmatch::cloud::CloudState) -> SnapshotInfo {
    SnapshotInfo {
        tenant: "contoso.onmicrosoft.com".into(),
        graph: "http://127.0.0.1:1/v1.0".into(),
        read_at: "2026-11-02T09:30:00Z".into(),
        features: state.features.clone(),
        roles_read: true,
        warnings: state.warnings.clone(),
        tool_version: "9.9.9".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_snapshot_forms_keep_the_tenant_the_read_time_and_the_sync_features() {
    let mut t = tenant();
    t.on_premises_synchronization
        .block_cloud_object_takeover_through_hard_match_enabled = true;
    t.on_premises_synchronization.block_soft_match_enabled = true;
    let sim = start(t).await;
    let state = read(&sim, LiveOptions::default()).await;
    let expected = info(&state);
    assert!(
        expected
            .features
            .as_ref()
            .is_some_and(|f| f.block_cloud_object_takeover_through_hard_match),
        "the tenant blocks takeover"
    );
    assert!(
        !expected.warnings.is_empty(),
        "the soft-match warning is kept too"
    );
    let dir = tempfile::tempdir().unwrap();
    for name in ["cloud.xlsx", "cloud.csv"] {
        let path = dir.path().join(name);
        write_export(&path, &state, &expected).unwrap();
        let (from, back) = read_snapshot_info(&path)
            .unwrap()
            .expect("a tenant description");
        assert_eq!(back, expected, "{name}");
        if name.ends_with(".csv") {
            assert_eq!(from, tenant_csv_path(&path));
            // The deleted users' file finds the same description.
            let (from_deleted, _) = read_snapshot_info(&deleted_csv_path(&path))
                .unwrap()
                .expect("found from -deleted.csv");
            assert_eq!(from_deleted, from);
        }
    }
    let unknown = SnapshotInfo {
        features: None,
        ..expected.clone()
    };
    let path = dir.path().join("unknown.csv");
    write_export(&path, &state, &unknown).unwrap();
    assert_eq!(read_snapshot_info(&path).unwrap().unwrap().1.features, None);
    assert!(
        read_snapshot_info(&hardmatch_samples_cloud())
            .unwrap()
            .is_none(),
        "a Get-MgUser export has no tenant description"
    );
    sim.shutdown().await.unwrap();
}

fn hardmatch_samples_cloud() -> std::path::PathBuf {
    samples().join("cloud-users.csv")
}
