//! `--seed`: the simulated tenant starts from a cloud export, deleted users included.
//! Uses `cloud::read_cloud_export`, so it needs the cloud reader (a separate work item).

use hardmatch::sim;

#[test]
fn a_cloud_export_seeds_active_and_deleted_users() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cloud.csv");
    std::fs::write(
        &path,
        "Id,UserPrincipalName,DisplayName,OnPremisesImmutableId,OnPremisesSyncEnabled,DeletedDateTime\r\n\
         00000000-0000-4000-8000-000000000001,jo@contoso.com,Jo,2/9JCtHr0EmH+hL07o11vA==,,\r\n\
         ,new@contoso.com,New,,,\r\n\
         00000000-0000-4000-8000-000000000003,gone@contoso.com,Gone,qUbmzjxXZ0eJjWwFmXzz2Q==,,2025-01-02T03:04:05Z\r\n",
    )
    .unwrap();
    let cloud = hardmatch::cloud::read_cloud_export(&path).expect("cloud export");
    let state = sim::from_cloud_state(cloud);
    let tenant = sim::Tenant::from_state(state);
    assert_eq!(tenant.users.len(), 2);
    assert_eq!(tenant.deleted.len(), 1);
    assert!(
        tenant
            .find_active("new@contoso.com")
            .and_then(|u| u.id.clone())
            .is_some(),
        "a missing id gets a GUID"
    );
    let gone = tenant.deleted.values().next().unwrap();
    assert_eq!(
        gone.user_principal_name.as_deref(),
        Some("00000000000040008000000000000003gone@contoso.com")
    );
    assert_eq!(
        tenant.immutable_holder("qUbmzjxXZ0eJjWwFmXzz2Q=="),
        Some("00000000-0000-4000-8000-000000000003")
    );
}
