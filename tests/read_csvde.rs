//! Reading AD users from csvde exports: `DN` first, binary and non-ASCII values as `X'hex'`.

use hardmatch::sources::{read_ad_export, Format, ReadOptions};
use std::path::{Path, PathBuf};

/// V46: the same bytes published as csvde hex and as ldifde base64.
const V46_HEX: &str = "9a6b3176c5dbd2118bd00000f875b660";
const V46_IMMUTABLE_ID: &str = "mmsxdsXb0hGL0AAA+HW2YA==";

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

#[test]
fn microsofts_csvde_sample_is_detected_and_refused_for_lack_of_users() {
    // A schema-class export: csvde format, but no userPrincipalName attribute.
    let path = fixture("csvde/microsoft_win32_csv-scripts__csvde_example.csv");
    let err = read_ad_export(&path, &ReadOptions::default()).expect_err("no UPN");
    assert_eq!(err.location, "line 1");
    assert!(err.message.contains("UserPrincipalName"), "{err}");
    assert!(err.fix.contains("csvde -l"), "recognised as csvde: {err}");
}

#[test]
fn microsofts_csvde_row_shape_reads_binary_values_in_raw_byte_order() {
    // The same real row, with its attribute names swapped for the ones a user export has.
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(fixture(
        "csvde/microsoft_win32_csv-scripts__csvde_example.csv",
    ))
    .expect("fixture")
    .replacen("schemaIDGUID", "objectGUID", 1)
    .replacen(",lDAPDisplayName,", ",userPrincipalName,", 1)
    .replacen(",mustContain,", ",proxyAddresses,", 1);
    let path = write(&dir, "csvde.csv", text.as_bytes());
    let e = read_ad_export(&path, &ReadOptions::default()).expect("reads");
    assert_eq!(e.format, Format::Csvde);
    assert_eq!(e.users.len(), 1);
    let u = &e.users[0];
    assert_eq!(u.upn, "myTestAuxiliaryClass1");
    let a = u.object_guid.expect("objectGUID");
    assert_eq!(a.octet_hex(), V46_HEX);
    assert_eq!(a.immutable_id(), V46_IMMUTABLE_ID);
    assert_eq!(
        u.dn.as_deref(),
        Some("CN=My-Test-Auxiliary-Class1,CN=Schema,CN=Configuration,DC=myorg,DC=mytest,DC=Fabrikam,DC=com"),
        "the DN column comes first; distinguishedName (later) is an alias of lower priority"
    );
    assert_eq!(
        u.proxy_addresses,
        vec!["description", "myTestAttributeUnicodeString"],
        "`;` joins values"
    );
    assert!(u.problems.is_empty(), "{:?}", u.problems);
}

#[test]
fn csvde_hex_strings_are_utf8_text_and_short_hex_is_not_a_guid() {
    let dir = tempfile::tempdir().expect("tempdir");
    // "René" and a two-line description are hex-encoded by csvde; an 8-byte value is not a GUID.
    let rene = "52656ec3a9";
    let text = format!(
        "DN,objectClass,userPrincipalName,displayName,objectGUID,mail\r\n\
         \"CN=Rene,OU=Users,DC=contoso,DC=com\",user,rene@contoso.com,X'{rene}',X'{V46_HEX}',\r\n\
         \"CN=Bad,OU=Users,DC=contoso,DC=com\",user,bad@contoso.com,Bad,X'0102030405060708',bad@contoso.com\r\n\
         \"CN=Odd,OU=Users,DC=contoso,DC=com\",user,odd@contoso.com,Odd,X'zz',\r\n"
    );
    let path = write(&dir, "users.csv", text.as_bytes());
    let e = read_ad_export(&path, &ReadOptions::default()).expect("reads");
    assert_eq!(e.format, Format::Csvde);
    let rene_user = &e.users[0];
    assert_eq!(rene_user.display_name.as_deref(), Some("René"));
    assert_eq!(
        rene_user.object_guid.map(|a| a.immutable_id()).as_deref(),
        Some(V46_IMMUTABLE_ID)
    );
    assert_eq!(
        rene_user.dn.as_deref(),
        Some("CN=Rene,OU=Users,DC=contoso,DC=com")
    );
    assert_eq!(rene_user.location, "users.csv:2");
    let bad = &e.users[1];
    assert_eq!(bad.object_guid, None);
    assert!(
        bad.problems.iter().any(|p| p.contains("8 bytes")),
        "{:?}",
        bad.problems
    );
    assert_eq!(bad.mail.as_deref(), Some("bad@contoso.com"));
    assert!(!e.users[2].problems.is_empty(), "X'zz' is not hex");
}

#[test]
fn csvde_without_object_guid_explains_the_m_and_n_switches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "DN,objectClass,userPrincipalName\r\n\"CN=a,DC=x\",user,a@x.com\r\n";
    let path = write(&dir, "m.csv", text.as_bytes());
    let err = read_ad_export(&path, &ReadOptions::default()).expect_err("no objectGUID");
    assert!(err.fix.contains("csvde -m / -n"), "{err}");
}

#[test]
fn csvde_unicode_export_is_utf16() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text =
        format!("DN,userPrincipalName,objectGUID\r\n\"CN=José,DC=x\",jose@x.com,X'{V46_HEX}'\r\n");
    let mut bytes = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        bytes.extend_from_slice(&u.to_le_bytes());
    }
    let path = write(&dir, "u.csv", &bytes);
    let e = read_ad_export(&path, &ReadOptions::default()).expect("reads");
    assert_eq!(e.format, Format::Csvde);
    assert_eq!(e.users[0].dn.as_deref(), Some("CN=José,DC=x"));
    assert_eq!(
        e.users[0].object_guid.map(|a| a.octet_hex()).as_deref(),
        Some(V46_HEX)
    );
}
