//! Reading AD users from PowerShell `Export-Csv` output and Excel-saved CSV files.

use hardmatch::anchor::{self, SourceAnchor};
use hardmatch::sources::{read_ad_export, AdExport, Format, ReadOptions};
use hardmatch::InputError;
use std::path::{Path, PathBuf};

const G1: &str = "e0c12033-f50b-42c8-8ccb-deb866e9b12a";
const G2: &str = "f7cc07d7-7c15-447d-876d-c01b0e5a9e38";
const G3: &str = "a15df3dc-4416-414b-8b7d-5fbdcb5743c1";

fn guid(s: &str) -> SourceAnchor {
    SourceAnchor::from_guid(uuid::Uuid::parse_str(s).expect("test GUID"))
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
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
    fn read(&self, name: &str, bytes: &[u8]) -> Result<AdExport, InputError> {
        read_ad_export(&self.file(name, bytes), &ReadOptions::default())
    }
    fn ok(&self, name: &str, bytes: &[u8]) -> AdExport {
        match self.read(name, bytes) {
            Ok(e) => e,
            Err(e) => panic!("expected a readable export, got: {e}"),
        }
    }
    fn err(&self, name: &str, bytes: &[u8]) -> InputError {
        match self.read(name, bytes) {
            Ok(e) => panic!("expected an error, got {} users", e.users.len()),
            Err(e) => e,
        }
    }
}

fn utf16le_bom(s: &str) -> Vec<u8> {
    let mut v = vec![0xFF, 0xFE];
    for u in s.encode_utf16() {
        v.extend_from_slice(&u.to_le_bytes());
    }
    v
}

fn utf16be_bom(s: &str) -> Vec<u8> {
    let mut v = vec![0xFE, 0xFF];
    for u in s.encode_utf16() {
        v.extend_from_slice(&u.to_be_bytes());
    }
    v
}

/// A Windows PowerShell 5.1 export: `#TYPE` line, every field quoted, CRLF.
fn ps51_csv() -> String {
    format!(
        "#TYPE Selected.Microsoft.ActiveDirectory.Management.ADUser\r\n\
         \"UserPrincipalName\",\"ObjectGUID\",\"mail\",\"DisplayName\",\"SamAccountName\"\r\n\
         \"rene.dupont@contoso.com\",\"{G1}\",\"rene.dupont@contoso.com\",\"René Dupont\",\"rdupont\"\r\n\
         \"tycho.brahe@contoso.com\",\"{G2}\",,\"Tycho Brahe\",\"tbrahe\"\r\n"
    )
}

fn assert_ps51_users(e: &AdExport) {
    assert_eq!(e.users.len(), 2, "{:?}", e.users);
    let u = &e.users[0];
    assert_eq!(u.upn, "rene.dupont@contoso.com");
    assert_eq!(u.object_guid, Some(guid(G1)));
    assert_eq!(u.mail.as_deref(), Some("rene.dupont@contoso.com"));
    assert_eq!(u.display_name.as_deref(), Some("René Dupont"));
    assert_eq!(u.sam_account_name.as_deref(), Some("rdupont"));
    assert!(u.problems.is_empty(), "{:?}", u.problems);
    assert_eq!(e.users[1].object_guid, Some(guid(G2)));
    assert_eq!(e.users[1].mail, None, "an empty unquoted field is no mail");
}

#[test]
fn powershell_7_export_with_empty_unquoted_field_and_no_final_newline() {
    let path = fixture("csv/klemaned_pingone-set-gateway__ad_users.csv");
    let e = read_ad_export(&path, &ReadOptions::default()).expect("fixture reads");
    assert_eq!(e.format, Format::Csv);
    assert_eq!(e.users.len(), 1);
    let u = &e.users[0];
    assert_eq!(u.upn, "sample-user@sample-domain.com");
    assert_eq!(u.object_guid, Some(guid(G1)));
    assert_eq!(u.consistency_guid, None);
    assert_eq!(u.mail, None);
    assert_eq!(
        u.dn.as_deref(),
        Some("CN=sample-user,OU=Users,DC=sample-domain,DC=com")
    );
    assert_eq!(u.sam_account_name.as_deref(), Some("sample-user"));
    assert_eq!(u.location, "klemaned_pingone-set-gateway__ad_users.csv:2");
    assert!(u.problems.is_empty(), "{:?}", u.problems);
    assert!(e.warnings.is_empty(), "{:?}", e.warnings);
}

#[test]
fn sha256_of_the_file_bytes_is_reported() {
    let path = fixture("csv/klemaned_pingone-set-gateway__ad_users.csv");
    let e = read_ad_export(&path, &ReadOptions::default()).expect("fixture reads");
    use sha2::Digest;
    let bytes = std::fs::read(&path).expect("read");
    let want: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(e.sha256, want);
}

#[test]
fn windows_powershell_type_line_and_semicolons_without_guid_column_is_refused() {
    let path = fixture("csv/niva_README_fragment__semicolon_with_TYPE.csv");
    let err = read_ad_export(&path, &ReadOptions::default()).expect_err("no GUID column");
    assert_eq!(err.file, path);
    assert_eq!(
        err.location, "line 2",
        "the header is on line 2, after #TYPE"
    );
    assert!(err.message.contains("objectGUID"), "{err}");
    assert!(
        err.message.contains("UserPrincipalName, GivenName"),
        "lists the columns found: {err}"
    );
    assert!(err.fix.contains("csvde -m"), "{err}");
}

#[test]
fn windows_powershell_type_line_and_semicolons_with_guid_column() {
    let s = Scratch::new();
    let text =
        std::fs::read_to_string(fixture("csv/niva_README_fragment__semicolon_with_TYPE.csv"))
            .expect("fixture")
            .replace("\"SamAccountName\"", "\"SamAccountName\";\"ObjectGUID\"")
            .replace("\"FML\"", &format!("\"FML\";\"{G3}\""));
    let e = s.ok("niva.csv", text.as_bytes());
    assert_eq!(e.users.len(), 1);
    assert_eq!(e.users[0].upn, "Firstname.Lastname@niva.no");
    assert_eq!(e.users[0].sam_account_name.as_deref(), Some("FML"));
    assert_eq!(e.users[0].object_guid, Some(guid(G3)));
    assert_eq!(e.users[0].location, "niva.csv:3");
}

#[test]
fn every_encoding_powershell_and_excel_write_gives_the_same_users() {
    let s = Scratch::new();
    let text = ps51_csv();
    let mut utf8_bom = vec![0xEF, 0xBB, 0xBF];
    utf8_bom.extend_from_slice(text.as_bytes());
    let (cp1252, _, _) = encoding_rs::WINDOWS_1252.encode(&text);
    assert!(cp1252.contains(&0xE9), "é is one byte 0xE9 in Windows-1252");
    for (name, bytes) in [
        ("utf8.csv", text.as_bytes().to_vec()),
        ("utf8bom.csv", utf8_bom),
        ("utf16le.csv", utf16le_bom(&text)),
        ("utf16be.csv", utf16be_bom(&text)),
        ("cp1252.csv", cp1252.into_owned()),
    ] {
        let e = s.ok(name, &bytes);
        assert_ps51_users(&e);
        assert_eq!(e.users[0].location, format!("{name}:3"));
        if name == "cp1252.csv" {
            assert_eq!(e.warnings.len(), 1, "{:?}", e.warnings);
            assert!(e.warnings[0].contains("Windows-1252"), "{:?}", e.warnings);
        } else {
            assert!(e.warnings.is_empty(), "{name}: {:?}", e.warnings);
        }
    }
}

#[test]
fn crlf_lf_and_missing_final_newline_give_the_same_rows_and_lines() {
    let s = Scratch::new();
    let crlf = ps51_csv();
    let lf = crlf.replace("\r\n", "\n");
    let no_final = lf.trim_end().to_owned();
    for (name, text) in [
        ("crlf.csv", crlf),
        ("lf.csv", lf),
        ("nofinal.csv", no_final),
    ] {
        let e = s.ok(name, text.as_bytes());
        assert_ps51_users(&e);
        assert_eq!(e.users[1].location, format!("{name}:4"));
    }
}

#[test]
fn excel_sep_line_and_semicolons() {
    let s = Scratch::new();
    let text = format!(
        "sep=;\r\nUserPrincipalName;objectGUID;DisplayName\r\na@contoso.com;{G1};\"Dupont; René\"\r\n"
    );
    let e = s.ok("sep.csv", text.as_bytes());
    assert_eq!(e.users.len(), 1);
    assert_eq!(e.users[0].display_name.as_deref(), Some("Dupont; René"));
    assert_eq!(e.users[0].object_guid, Some(guid(G1)));
    assert_eq!(e.users[0].location, "sep.csv:3");
}

#[test]
fn excel_unicode_text_is_utf16_and_tab_delimited() {
    let s = Scratch::new();
    let text = format!(
        "UserPrincipalName\tobjectGUID\tDisplayName\r\na@contoso.com\t{G1}\tDupont, René\r\n"
    );
    let e = s.ok("unicode.txt", &utf16le_bom(&text));
    assert_eq!(e.users.len(), 1);
    assert_eq!(e.users[0].display_name.as_deref(), Some("Dupont, René"));
    assert_eq!(e.users[0].object_guid, Some(guid(G1)));
}

#[test]
fn quoted_and_unquoted_fields_read_the_same() {
    let s = Scratch::new();
    let quoted = format!("\"UserPrincipalName\",\"objectGUID\",\"mail\"\n\"a@contoso.com\",\"{G1}\",\"a@contoso.com\"\n");
    let bare = format!("UserPrincipalName,objectGUID,mail\na@contoso.com,{G1},a@contoso.com\n");
    let a = s.ok("quoted.csv", quoted.as_bytes());
    let b = s.ok("bare.csv", bare.as_bytes());
    assert_eq!(a.users[0].upn, b.users[0].upn);
    assert_eq!(a.users[0].object_guid, b.users[0].object_guid);
    assert_eq!(a.users[0].mail, b.users[0].mail);
}

#[test]
fn a_multi_line_quoted_dn_keeps_later_line_numbers_right() {
    let s = Scratch::new();
    let text = format!(
        "\"UserPrincipalName\",\"ObjectGUID\",\"DistinguishedName\"\r\n\
         \"a@contoso.com\",\"{G1}\",\"CN=Dupont,\r\n René\r\n,OU=Users,DC=contoso,DC=com\"\r\n\
         \r\n\
         \"b@contoso.com\",\"{G2}\",\"CN=b,DC=contoso,DC=com\"\r\n"
    );
    let e = s.ok("ml.csv", text.as_bytes());
    assert_eq!(e.users.len(), 2);
    assert_eq!(e.users[0].location, "ml.csv:2");
    assert_eq!(
        e.users[0].dn.as_deref(),
        Some("CN=Dupont,\r\n René\r\n,OU=Users,DC=contoso,DC=com")
    );
    assert_eq!(
        e.users[1].location, "ml.csv:6",
        "3 physical lines, then a blank line"
    );
}

#[test]
fn header_names_match_aliases_in_any_case() {
    let s = Scratch::new();
    let text = format!(
        "upn;GUID;EmailAddress;Name;DN;SAMACCOUNTNAME;ProxyAddresses\n\
         a@contoso.com;{{{}}};A@contoso.com;Ann;CN=Ann,DC=x;ann;\"SMTP:A@contoso.com; smtp:ann@contoso.com ;\"\n",
        G1.to_uppercase()
    );
    let e = s.ok("alias.csv", text.as_bytes());
    let u = &e.users[0];
    assert_eq!(u.object_guid, Some(guid(G1)));
    assert_eq!(u.mail.as_deref(), Some("A@contoso.com"));
    assert_eq!(u.display_name.as_deref(), Some("Ann"));
    assert_eq!(u.dn.as_deref(), Some("CN=Ann,DC=x"));
    assert_eq!(u.sam_account_name.as_deref(), Some("ann"));
    assert_eq!(
        u.proxy_addresses,
        vec!["SMTP:A@contoso.com", "smtp:ann@contoso.com"]
    );
    assert!(u.problems.is_empty(), "{:?}", u.problems);
}

#[test]
fn proxy_addresses_are_split_on_semicolons() {
    let s = Scratch::new();
    let text = format!(
        "UserPrincipalName,objectGUID,proxyAddresses\na@contoso.com,{G1},\"SMTP:a@contoso.com; smtp:a@contoso.mail.onmicrosoft.com;;X500:/o=x\"\n"
    );
    let e = s.ok("proxy.csv", text.as_bytes());
    assert_eq!(
        e.users[0].proxy_addresses,
        vec![
            "SMTP:a@contoso.com",
            "smtp:a@contoso.mail.onmicrosoft.com",
            "X500:/o=x"
        ]
    );
}

#[test]
fn display_name_is_preferred_over_name() {
    let s = Scratch::new();
    let text = format!(
        "Name,UserPrincipalName,objectGUID,DisplayName\nann,a@contoso.com,{G1},Ann Smith\n"
    );
    let e = s.ok("names.csv", text.as_bytes());
    assert_eq!(e.users[0].display_name.as_deref(), Some("Ann Smith"));
}

#[test]
fn ad_property_value_collection_in_some_rows_is_a_row_problem_with_the_fix() {
    let s = Scratch::new();
    let text = format!(
        "\"UserPrincipalName\",\"ObjectGUID\",\"proxyAddresses\"\n\
         \"a@contoso.com\",\"{G1}\",\"Microsoft.ActiveDirectory.Management.ADPropertyValueCollection\"\n\
         \"b@contoso.com\",\"{G2}\",\"SMTP:b@contoso.com\"\n"
    );
    let e = s.ok("coll.csv", text.as_bytes());
    let p = &e.users[0].problems;
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].contains("without -join"), "{p:?}");
    assert!(
        p[0].contains("@{n='proxyAddresses';e={$_.proxyAddresses -join ';'}}"),
        "{p:?}"
    );
    assert!(e.users[1].problems.is_empty());
    assert_eq!(e.users[1].proxy_addresses, vec!["SMTP:b@contoso.com"]);
}

#[test]
fn ad_property_value_collection_in_every_row_is_a_file_error() {
    let s = Scratch::new();
    let text = format!(
        "\"UserPrincipalName\",\"ObjectGUID\",\"proxyAddresses\"\n\
         \"a@contoso.com\",\"{G1}\",\"Microsoft.ActiveDirectory.Management.ADPropertyValueCollection\"\n\
         \"b@contoso.com\",\"{G2}\",\"Microsoft.ActiveDirectory.Management.ADPropertyValueCollection\"\n\
         \"c@contoso.com\",\"{G3}\",\n"
    );
    let err = s.err("coll.csv", text.as_bytes());
    assert!(
        err.location.contains("line 1") && err.location.contains("proxyAddresses"),
        "{err}"
    );
    assert!(err.message.contains("ADPropertyValueCollection"), "{err}");
    assert!(err.fix.contains("-join ';'"), "{err}");
}

#[test]
fn binary_consistency_guid_exported_as_type_name_says_how_to_export_it() {
    let s = Scratch::new();
    let text = format!(
        "\"UserPrincipalName\",\"ObjectGUID\",\"mS-DS-ConsistencyGuid\"\n\"a@contoso.com\",\"{G1}\",\"System.Byte[]\"\n"
    );
    let err = s.err("bytes.csv", text.as_bytes());
    assert!(err.message.contains("System.Byte[]"), "{err}");
    assert!(err.fix.contains("[guid]::new"), "{err}");
}

#[test]
fn consistency_guid_and_object_guid_are_both_kept_and_consistency_guid_is_the_anchor() {
    let s = Scratch::new();
    let text =
        format!("UserPrincipalName,objectGUID,mS-DS-ConsistencyGuid\na@contoso.com,{G1},{G2}\n");
    let e = s.ok("both.csv", text.as_bytes());
    let u = &e.users[0];
    assert_eq!(u.object_guid, Some(guid(G1)));
    assert_eq!(u.consistency_guid, Some(guid(G2)));
    assert_eq!(u.source_anchor(), Some(guid(G2)));
    assert!(u.problems.is_empty());
}

#[test]
fn immutable_ids_starting_with_plus_or_an_excel_apostrophe_are_read() {
    // V51 from the published vectors: a real objectGUID whose base64 starts with `+`.
    let s = Scratch::new();
    let v51 = "+7Byu5JQuU2TfrLSegT8VQ==";
    let want = anchor::guid_based(v51).expect("canonical base64");
    let text =
        format!("UserPrincipalName,ImmutableId\na@contoso.com,{v51}\nb@contoso.com,'{v51}\n");
    let e = s.ok("plus.csv", text.as_bytes());
    for u in &e.users {
        assert_eq!(u.object_guid, Some(want), "{}", u.location);
        assert_eq!(
            u.source_anchor().map(|a| a.immutable_id()).as_deref(),
            Some(v51)
        );
        assert!(u.problems.is_empty(), "{:?}", u.problems);
    }
}

#[test]
fn object_guid_and_immutable_id_that_disagree_are_a_row_problem() {
    let s = Scratch::new();
    let text = format!(
        "UserPrincipalName,objectGUID,ImmutableId\na@contoso.com,{G1},{}\nb@contoso.com,{G2},{}\n",
        guid(G2).immutable_id(),
        guid(G2).immutable_id()
    );
    let e = s.ok("disagree.csv", text.as_bytes());
    assert_eq!(e.users[0].problems.len(), 1, "{:?}", e.users[0].problems);
    assert!(e.users[0].problems[0].contains("different"));
    assert!(e.users[1].problems.is_empty());
}

#[test]
fn a_bad_guid_or_an_empty_upn_marks_only_its_row() {
    let s = Scratch::new();
    let text = format!(
        "UserPrincipalName,objectGUID\n\
         a@contoso.com,{G1}\n\
         b@contoso.com,e6b4csdc-des6-4bd5-8c0a-1a2b3c4d5e6f\n\
         ,{G2}\n\
         d@contoso.com,\n\
         e@contoso.com,{G3}\n"
    );
    let e = s.ok("rows.csv", text.as_bytes());
    assert_eq!(e.users.len(), 5);
    assert!(e.users[0].problems.is_empty());
    assert_eq!(e.users[1].location, "rows.csv:3");
    assert_eq!(e.users[1].object_guid, None);
    assert!(
        e.users[1].problems[0].contains("e6b4csdc"),
        "{:?}",
        e.users[1].problems
    );
    assert!(e.users[2]
        .problems
        .iter()
        .any(|p| p.contains("empty UserPrincipalName")));
    assert_eq!(e.users[2].object_guid, Some(guid(G2)));
    assert!(
        e.users[3]
            .problems
            .iter()
            .any(|p| p.contains("no objectGUID")),
        "{:?}",
        e.users[3].problems
    );
    assert!(e.users[4].problems.is_empty());
    assert_eq!(e.users[4].location, "rows.csv:6");
}

#[test]
fn an_unbalanced_quote_is_reported_on_the_row_where_it_starts() {
    let s = Scratch::new();
    let text = format!(
        "\"UserPrincipalName\",\"DisplayName\",\"ObjectGUID\"\n\"a@contoso.com\",\"Ann \"\"A\"\"\",\"{G1}\"\n\"b@contoso.com\",\"Bob,\"{G2}\"\n\"c@contoso.com\",\"Cy\",\"{G3}\"\n"
    );
    let e = s.ok("quote.csv", text.as_bytes());
    assert_eq!(e.users[0].display_name.as_deref(), Some("Ann \"A\""));
    assert!(e.users[0].problems.is_empty());
    let bad = &e.users[1];
    assert_eq!(bad.location, "quote.csv:3");
    assert!(
        bad.problems.iter().any(|p| p.contains("unbalanced quote")),
        "{:?}",
        bad.problems
    );
}

#[test]
fn missing_upn_column_names_the_file_line_and_fix() {
    let s = Scratch::new();
    let err = s.err(
        "noupn.csv",
        format!("#TYPE X\nmail,objectGUID\na@x,{G1}\n").as_bytes(),
    );
    assert!(err.file.ends_with("noupn.csv"));
    assert_eq!(err.location, "line 2");
    assert!(err.message.contains("UserPrincipalName"), "{err}");
    assert!(err.fix.contains("Select-Object UserPrincipalName"), "{err}");
    let shown = err.to_string();
    assert!(shown.contains("noupn.csv, line 2:"), "{shown}");
}

#[test]
fn console_output_instead_of_csv_gets_a_hint() {
    let s = Scratch::new();
    let text = "UserPrincipalName              objectGUID\n-----------------              ----------\na@x.com  e0c12033-f50b-42c8-8ccb-deb866e9b12a\n";
    let err = s.err("table.txt", text.as_bytes());
    assert!(err.fix.contains("Export-Csv"), "{err}");
}

#[test]
fn empty_header_only_blank_and_binary_files_are_refused() {
    let s = Scratch::new();
    let empty = s.err("empty.csv", b"");
    assert!(empty.message.contains("empty"), "{empty}");
    let header_only = s.err("header.csv", b"\"UserPrincipalName\",\"ObjectGUID\"\r\n");
    assert!(header_only.message.contains("no users"), "{header_only}");
    let type_only = s.err(
        "type.csv",
        b"#TYPE Selected.Microsoft.ActiveDirectory.Management.ADUser\r\n",
    );
    assert!(!type_only.message.is_empty());
    let blank = s.err("blank.csv", b"\r\n\r\n  \r\n");
    assert!(blank.message.contains("blank"), "{blank}");
    let binary = s.err("bin.csv", b"UserPrincipalName,objectGUID\n\x00\x01\x02");
    assert!(binary.message.contains("NUL"), "{binary}");
    assert_eq!(binary.location, "line 2");
}

#[test]
fn a_utf16_file_with_a_broken_byte_order_is_refused() {
    let s = Scratch::new();
    let mut bytes = utf16le_bom("UserPrincipalName,objectGUID\n");
    bytes.push(0x41); // odd length: half a code unit
    let err = s.err("odd.csv", &bytes);
    assert!(err.message.contains("UTF-16"), "{err}");
}

#[test]
fn utf32_and_old_xls_files_are_refused_with_a_fix() {
    let s = Scratch::new();
    let err = s.err("u32.csv", &[0xFF, 0xFE, 0, 0, b'a', 0, 0, 0]);
    assert!(err.message.contains("UTF-32"), "{err}");
    let err = s.err("old.xls", &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
    assert!(err.fix.contains(".xlsx"), "{err}");
}

#[test]
fn a_missing_file_is_an_input_error() {
    let err = read_ad_export(Path::new("/nonexistent/ad.csv"), &ReadOptions::default())
        .expect_err("missing");
    assert!(err.message.contains("cannot read"), "{err}");
}

#[test]
fn hex_guids_need_a_decision() {
    let s = Scratch::new();
    let text = "UserPrincipalName,objectGUID\na@contoso.com,e0c12033f50b42c88ccbdeb866e9b12a\n";
    let e = s.ok("hex.csv", text.as_bytes());
    assert_eq!(e.users[0].object_guid, None);
    assert!(
        e.users[0].problems[0].contains("ambiguous"),
        "{:?}",
        e.users[0].problems
    );
    let path = s.file("hex2.csv", text.as_bytes());
    let opts = ReadOptions {
        hex_as: Some(anchor::HexAs::Guid),
        ..ReadOptions::default()
    };
    let e = read_ad_export(&path, &opts).expect("reads");
    assert_eq!(e.users[0].object_guid, Some(guid(G1)));
}

#[test]
fn the_format_override_forces_csv() {
    let s = Scratch::new();
    // Looks like csvde (first column DN) but is a PowerShell export.
    let text = format!("DN,UserPrincipalName,ObjectGUID\n\"CN=a,DC=x\",a@x.com,{G1}\n");
    let path = s.file("dn.csv", text.as_bytes());
    let detected = read_ad_export(&path, &ReadOptions::default()).expect("reads");
    assert_eq!(detected.format, Format::Csvde);
    let forced = read_ad_export(
        &path,
        &ReadOptions {
            format: Some(Format::Csv),
            ..ReadOptions::default()
        },
    )
    .expect("reads");
    assert_eq!(forced.format, Format::Csv);
    assert_eq!(forced.users[0].object_guid, Some(guid(G1)));
    let err = read_ad_export(
        &path,
        &ReadOptions {
            format: Some(Format::Xlsx),
            ..ReadOptions::default()
        },
    )
    .expect_err("not a zip");
    assert!(err.message.contains("not an XLSX"), "{err}");
}

#[test]
fn the_docs_export_shapes_are_understood() {
    // From PowerShell's own docs/tests: `#TYPE` then quoted header, `;` variant.
    let doc = std::fs::read_to_string(fixture("csv/powershell_docs_export-csv_examples.txt"))
        .expect("fixture");
    assert!(doc.contains(
        "#TYPE System.Management.Automation.PSCustomObject\n\"First\";\"Second\"\n\"1\";\"2\""
    ));
    let s = Scratch::new();
    let shaped = format!(
        "#TYPE System.Management.Automation.PSCustomObject\n\"UserPrincipalName\";\"ObjectGUID\"\n\"1@x.com\";\"{G1}\"\n"
    );
    let e = s.ok("doc.csv", shaped.as_bytes());
    assert_eq!(e.users[0].object_guid, Some(guid(G1)));
    assert_eq!(e.users[0].location, "doc.csv:3");
}

#[test]
fn an_unquoted_delimiter_inside_a_value_is_a_row_problem() {
    // PowerShell 7 `-UseQuotes Never` leaves "Dupont, René" unquoted: the row gets one field too many.
    let s = Scratch::new();
    let text = format!(
        "UserPrincipalName,ObjectGUID,DisplayName,mail\n\
         a@contoso.com,{G1},Dupont, René,a@contoso.com\n\
         b@contoso.com,{G2},Bob,b@contoso.com,,\n"
    );
    let e = s.ok("never.csv", text.as_bytes());
    assert!(
        e.users[0]
            .problems
            .iter()
            .any(|p| p.contains("5 fields but the header has 4")),
        "{:?}",
        e.users[0].problems
    );
    assert!(
        e.users[1].problems.is_empty(),
        "empty trailing fields (Excel) are harmless: {:?}",
        e.users[1].problems
    );
}

#[test]
fn huge_fields_and_many_columns_are_read() {
    let s = Scratch::new();
    let big = "x".repeat(2_000_000);
    let mut header = vec!["UserPrincipalName".to_owned(), "ObjectGUID".to_owned()];
    header.extend((0..5000).map(|i| format!("extra{i}")));
    let mut row = vec!["a@contoso.com".to_owned(), G1.to_owned()];
    row.extend((0..5000).map(|_| "v".to_owned()));
    let text = format!(
        "{}\n{}\n\"b@contoso.com\",\"{G2}\",\"{big}\"\n",
        header.join(","),
        row.join(",")
    );
    let e = s.ok("big.csv", text.as_bytes());
    assert_eq!(e.users.len(), 2);
    assert_eq!(e.users[0].object_guid, Some(guid(G1)));
    assert_eq!(e.users[1].object_guid, Some(guid(G2)));
    assert_eq!(e.users[1].location, "big.csv:3");
}

#[test]
fn formula_like_text_is_kept_verbatim_outside_identifier_columns() {
    let s = Scratch::new();
    let names = [
        "=1+1",
        "+33 1 23",
        "-x",
        "@SUM(A1)",
        "'quoted",
        "=cmd|' /C calc'!A0",
    ];
    let mut text = "UserPrincipalName,ObjectGUID,DisplayName\n".to_owned();
    for (i, n) in names.iter().enumerate() {
        text.push_str(&format!(
            "u{i}@contoso.com,{G1},\"{}\"\n",
            n.replace('"', "\"\"")
        ));
    }
    let e = s.ok("formula.csv", text.as_bytes());
    for (u, n) in e.users.iter().zip(names) {
        assert_eq!(u.display_name.as_deref(), Some(n));
    }
}

#[test]
fn bare_cr_line_ends_from_excel_for_mac_are_lines() {
    let s = Scratch::new();
    let text =
        format!("sep=,\rUserPrincipalName,objectGUID\ra@contoso.com,{G1}\rb@contoso.com,{G2}");
    let e = s.ok("mac.csv", text.as_bytes());
    assert_eq!(e.users.len(), 2);
    assert_eq!(e.users[1].object_guid, Some(guid(G2)));
    assert_eq!(e.users[1].location, "mac.csv:4");
}

#[test]
fn question_marks_from_an_ascii_export_are_pointed_out() {
    // Windows PowerShell 5.1 Export-Csv defaults to ASCII: "René" is written as "Ren?".
    let s = Scratch::new();
    let text = format!(
        "#TYPE Selected.Microsoft.ActiveDirectory.Management.ADUser\r\n\"UserPrincipalName\",\"ObjectGUID\",\"DisplayName\"\r\n\
         \"a@contoso.com\",\"{G1}\",\"Ann\"\r\n\"rene@contoso.com\",\"{G2}\",\"Ren? Dupont\"\r\n"
    );
    let e = s.ok("ascii.csv", text.as_bytes());
    assert_eq!(
        e.users[1].display_name.as_deref(),
        Some("Ren? Dupont"),
        "kept as exported"
    );
    assert_eq!(e.warnings.len(), 1, "{:?}", e.warnings);
    assert!(
        e.warnings[0].contains("ascii.csv:4") && e.warnings[0].contains("-Encoding UTF8"),
        "{:?}",
        e.warnings
    );
}

#[test]
fn a_consistency_guid_joined_as_decimal_bytes_is_read_with_a_warning() {
    // Issue 7 §11: `$_.'mS-DS-ConsistencyGuid' -join ' '` writes the bytes in decimal. It was
    // refused with a message about cloud ImmutableIds and e-mail addresses.
    let cg = guid("3ab39606-c642-489b-84b6-58c038d3ef39");
    let decimal: Vec<String> = cg.as_bytes().iter().map(u8::to_string).collect();
    let decimal = decimal.join(" ");
    assert!(decimal.starts_with("6 150 179 58 "));
    let text = format!(
        "UserPrincipalName,ObjectGUID,mS-DS-ConsistencyGuid\npat@x.com,{G1},{decimal}\nlee@x.com,{G2},\n"
    );
    let e = Scratch::new().ok("ad.csv", text.as_bytes());
    assert_eq!(e.users[0].consistency_guid, Some(cg));
    assert!(e.users[0].problems.is_empty(), "{:?}", e.users[0].problems);
    assert!(
        e.warnings.iter().any(
            |w| w.contains("1 GUID cell(s) hold 16 byte values in decimal")
                && w.contains("ad.csv:2")
                && w.contains("[guid]")
        ),
        "{:?}",
        e.warnings
    );
}

#[test]
fn messages_about_ad_guid_cells_speak_of_ad_not_of_the_cloud() {
    // Issue 7 §11: an AD ObjectGUID of #NAME? got the cloud-oriented text.
    let text = "UserPrincipalName,ObjectGUID\npat@x.com,#NAME?\nlee@x.com,lee@x.com\nkim@x.com,Rm9vQmFyQmF6\n";
    let e = Scratch::new().ok("ad.csv", text.as_bytes());
    let name = e.users[0].problems.join("; ");
    assert!(
        name.contains("Excel error value") && name.contains("from AD again"),
        "{name}"
    );
    for u in &e.users {
        let p = u.problems.join("; ");
        assert!(!p.is_empty(), "{}", u.upn);
        assert!(!p.to_lowercase().contains("cloud"), "{}: {p}", u.upn);
    }
}

#[test]
fn invisible_characters_around_a_upn_are_dropped_and_inside_one_are_a_problem() {
    // Issue 7 §12: a zero-width or non-breaking space pasted with a UPN (into the hand-filled
    // template, say) made a UPN that looks like the cloud user's but matches nothing.
    let text = format!(
        "UserPrincipalName,ObjectGUID,mail\n\
         \u{200b}pat@x.com\u{a0},{G1},\u{feff}pat@x.com\n\
         kim\u{200b}@x.com,{G2},\n\
         lee@x.com\u{a0}\u{a0},{G3},\n"
    );
    let e = Scratch::new().ok("ad.csv", text.as_bytes());
    assert_eq!(e.users[0].upn, "pat@x.com");
    assert_eq!(e.users[0].mail.as_deref(), Some("pat@x.com"));
    assert!(e.users[0].problems.is_empty(), "{:?}", e.users[0].problems);
    assert_eq!(e.users[2].upn, "lee@x.com");
    let p = e.users[1].problems.join("; ");
    assert!(
        p.contains("zero-width space") && p.contains("U+200B"),
        "{p}"
    );
}
