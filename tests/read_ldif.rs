//! Reading ldifde and ldapsearch exports through the one public entry point,
//! `hardmatch::sources::read_ad_export`: detection, decoding, and what an admin gets back.

use hardmatch::anchor::HexAs;
use hardmatch::sources::{read_ad_export, AdExport, Format, ReadOptions};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ldif")
        .join(name)
}

fn read(path: &Path) -> AdExport {
    read_ad_export(path, &ReadOptions::default())
        .unwrap_or_else(|e| panic!("{}: unexpected error: {e}", path.display()))
}

fn read_as_ldif(path: &Path) -> Result<AdExport, hardmatch::InputError> {
    let opts = ReadOptions {
        format: Some(Format::Ldif),
        ..ReadOptions::default()
    };
    read_ad_export(path, &opts)
}

fn utf16le_with_bom(text: &str) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    bytes
}

const USER_LDF: &str = "dn: CN=Anna Berg,OU=Users,DC=contoso,DC=com\r\n\
changetype: add\r\n\
objectClass: top\r\n\
objectClass: person\r\n\
objectClass: organizationalPerson\r\n\
objectClass: user\r\n\
displayName:: QW5uYSBCZXJnIMOFc3Ryw7Zt\r\n\
objectGUID:: +7Byu5JQuU2TfrLSegT8VQ==\r\n\
userPrincipalName: anna.berg@contoso.com\r\n\
mail: anna.berg@contoso.com\r\n\
proxyAddresses: SMTP:anna.berg@contoso.com\r\n\
proxyAddresses: smtp:anna@contoso.onmicrosoft.com\r\n\
sAMAccountName: anna.berg\r\n\
\r\n";

#[test]
fn ldapsearch_dump_of_cascade_user_gives_its_immutable_id() {
    let path = fixture("ctf_cascade_ldapsearch__user_and_folded_dn.ldif");
    let export = read(&path);
    assert_eq!(export.format, Format::Ldif);
    assert_eq!(export.users.len(), 1, "GPO entries are not users");
    let u = &export.users[0];
    assert_eq!(u.upn, "r.thompson@cascade.local");
    assert_eq!(
        u.source_anchor().map(|a| a.immutable_id()).as_deref(),
        Some("LfpD6qngUkupEy9bFXBBjA==")
    );
    assert_eq!(
        u.dn.as_deref(),
        Some("CN=Ryan Thompson,OU=Users,OU=UK,DC=cascade,DC=local")
    );
    assert_eq!(
        u.location,
        "ctf_cascade_ldapsearch__user_and_folded_dn.ldif:2"
    );
    assert!(u.problems.is_empty(), "{:?}", u.problems);
    assert_eq!(export.sha256.len(), 64);
}

#[test]
fn ldifde_schema_file_without_users_is_refused_with_the_export_command() {
    // A schema extension file parses (the unit tests check its warnings), but as an AD
    // export it has nothing to plan: the admin gets one error that says how to export users.
    let path = fixture("microsoft_win32_ldif-scripts__myschemaext_fragment.ldf");
    let err = read_ad_export(&path, &ReadOptions::default()).expect_err("no users");
    let text = err.to_string();
    assert!(text.contains("no user entries"), "{text}");
    assert!(text.contains("ldifde -f"), "{text}");
}

#[test]
fn ldifde_unicode_export_utf16le_with_crlf_is_read() {
    // `ldifde -u` writes UTF-16LE with a byte-order mark.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("users.ldf");
    std::fs::write(&path, utf16le_with_bom(USER_LDF)).expect("write");
    let export = read(&path);
    assert_eq!(export.format, Format::Ldif);
    assert_eq!(export.users.len(), 1);
    let u = &export.users[0];
    assert_eq!(u.upn, "anna.berg@contoso.com");
    assert_eq!(u.display_name.as_deref(), Some("Anna Berg Åström"));
    assert_eq!(
        u.object_guid.map(|a| a.immutable_id()).as_deref(),
        Some("+7Byu5JQuU2TfrLSegT8VQ==")
    );
    assert_eq!(
        u.proxy_addresses,
        [
            "SMTP:anna.berg@contoso.com",
            "smtp:anna@contoso.onmicrosoft.com"
        ]
    );
    assert_eq!(u.sam_account_name.as_deref(), Some("anna.berg"));
    assert_eq!(u.location, "users.ldf:1");
}

#[test]
fn stray_password_prompt_line_is_skipped_with_a_warning() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("export.ldif");
    std::fs::write(&path, format!("Enter LDAP Password: \n{}", USER_LDF)).expect("write");
    let export = read_as_ldif(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(export.users.len(), 1);
    assert_eq!(export.users[0].location, "export.ldif:2");
    assert!(
        export
            .warnings
            .iter()
            .any(|w| w.contains("export.ldif:1") && w.contains("Enter LDAP Password")),
        "{:?}",
        export.warnings
    );
}

#[test]
fn corrupted_guid_becomes_a_row_problem_not_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("users.ldf");
    let text = USER_LDF.replace(
        "+7Byu5JQuU2TfrLSegT8VQ==",
        "77+9O++/vVEhb3hJ77+9alnvv71oKmlJ",
    );
    std::fs::write(&path, format!("{text}{USER_LDF}")).expect("write");
    let export = read(&path);
    assert_eq!(export.users.len(), 2);
    assert!(
        export.users[0]
            .problems
            .iter()
            .any(|p| p.contains("24 bytes, not 16")),
        "{:?}",
        export.users[0].problems
    );
    assert!(export.users[1].problems.is_empty());
}

#[test]
fn fragment_without_dn_lines_is_an_error_naming_the_line_and_the_fix() {
    let path = fixture("ctf_group_folded_plaintext_values.ldif");
    let err = read_as_ldif(&path).expect_err("no entries");
    assert_eq!(err.file, path);
    assert_eq!(err.location, "line 1, column 1");
    assert!(err.message.contains("`dn:`"), "{err}");
    assert!(!err.fix.is_empty());
}

#[test]
fn export_without_object_guid_is_an_error_that_explains_ldifde_m() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("users.ldf");
    let text: String = USER_LDF
        .lines()
        .filter(|l| !l.starts_with("objectGUID"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, text).expect("write");
    let err = read_as_ldif(&path).expect_err("no objectGUID anywhere");
    assert!(err.message.contains("objectGUID"), "{err}");
    assert!(err.fix.contains("-m or -n"), "{err}");
}

fn write_ldif(dir: &Path, name: &str, guid_line: &str) -> PathBuf {
    let path = dir.join(name);
    let text = format!(
        "dn: CN=Ryan Thompson,OU=Users,DC=cascade,DC=local\n\
         objectClass: user\n\
         userPrincipalName: r.thompson@cascade.local\n\
         {guid_line}\n"
    );
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn plain_guid_text_in_object_guid_is_read_in_ad_byte_order() {
    // Some tools write the GUID as text rather than ldifde's base64 bytes.
    let dir = tempfile::tempdir().expect("temp dir");
    for value in [
        "ea43fa2d-e0a9-4b52-a913-2f5b1570418c",
        "{EA43FA2D-E0A9-4B52-A913-2F5B1570418C}",
    ] {
        let path = write_ldif(dir.path(), "text.ldf", &format!("objectGUID: {value}"));
        let export = read_as_ldif(&path).unwrap_or_else(|e| panic!("{e}"));
        let u = &export.users[0];
        assert!(u.problems.is_empty(), "{value}: {:?}", u.problems);
        assert_eq!(
            u.object_guid.map(|a| a.immutable_id()).as_deref(),
            Some("LfpD6qngUkupEy9bFXBBjA=="),
            "{value}"
        );
    }
}

#[test]
fn plain_32_hex_object_guid_needs_hex_as_to_decide() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_ldif(
        dir.path(),
        "hex.ldf",
        "objectGUID: 2dfa43eaa9e0524ba9132f5b1570418c",
    );
    let ambiguous = read_as_ldif(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ambiguous.users[0].object_guid, None);
    assert!(
        ambiguous.users[0]
            .problems
            .iter()
            .any(|p| p.contains("objectGUID")),
        "{:?}",
        ambiguous.users[0].problems
    );

    let opts = ReadOptions {
        format: Some(Format::Ldif),
        hex_as: Some(HexAs::Octets),
        ..ReadOptions::default()
    };
    let export = read_ad_export(&path, &opts).unwrap_or_else(|e| panic!("{e}"));
    assert!(export.users[0].problems.is_empty());
    assert_eq!(
        export.users[0]
            .object_guid
            .map(|a| a.immutable_id())
            .as_deref(),
        Some("LfpD6qngUkupEy9bFXBBjA==")
    );
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

        /// Plain-text GUID values reach the GUID parser (`anchor::parse_one`); nothing panics and
        /// every answer is a row or a clear error.
        #[test]
        fn plain_guid_values_in_ldif_never_panic(
            lines in proptest::collection::vec(prop_oneof![
                Just("dn: CN=A,DC=x".to_string()),
                Just(String::new()),
                Just("objectClass: user".to_string()),
                Just("userPrincipalName: a@x".to_string()),
                "objectGUID: [0-9a-fA-F{}\\\\ X'x=+/-]{0,40}",
                "mS-DS-ConsistencyGuid: .{0,40}",
                "[ \\t][0-9a-f-]{0,8}",
            ], 1..30),
            hex_as in proptest::option::of(prop_oneof![Just(HexAs::Guid), Just(HexAs::Octets)]),
        ) {
            let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let path = dir.path().join("fuzz.ldf");
            std::fs::write(&path, lines.join("\n")).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let opts = ReadOptions { format: Some(Format::Ldif), hex_as, ..ReadOptions::default() };
            match read_ad_export(&path, &opts) {
                Ok(export) => {
                    for u in export.users {
                        prop_assert!(u.location.starts_with("fuzz.ldf:"));
                        prop_assert!(u.source_anchor().is_some() || !u.problems.is_empty());
                    }
                }
                Err(e) => prop_assert!(!e.message.is_empty()),
            }
        }
    }
}
