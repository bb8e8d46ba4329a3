//! Large CSV exports are read as a stream (never the whole decoded text in memory): what is read
//! must not depend on where the read buffers happen to cut the file. The files here are several
//! MB, so records, multi-line fields, blank lines, characters cut between chunks and the
//! Windows-1252 fallback all land on and across chunk boundaries.

use hardmatch::cloud::read_cloud_export;
use hardmatch::sources::{read_ad_export, ReadOptions};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::path::PathBuf;

const ROWS: usize = 40_000;

/// A PowerShell 5.1 export with a `#TYPE` line, blank lines and multi-line quoted values. Returns
/// the text and the physical line each data row starts on.
fn ad_csv() -> (String, Vec<u64>) {
    let mut text = String::from(
        "#TYPE Selected.Microsoft.ActiveDirectory.Management.ADUser\r\n\
         \"UserPrincipalName\",\"ObjectGUID\",\"DisplayName\"\r\n",
    );
    let mut line = 3u64;
    let mut lines = Vec::with_capacity(ROWS);
    for i in 0..ROWS {
        if i % 997 == 0 {
            text.push_str("\r\n\r\n");
            line += 2;
        }
        lines.push(line);
        let guid = format!("{:08x}-0000-4000-8000-{:012x}", i, i * 7);
        if i % 613 == 0 {
            write!(
                text,
                "\"u{i}@x.test\",\"{guid}\",\"Zoë\r\nline two\r\nthree\"\r\n"
            )
            .ok();
            line += 3;
        } else {
            write!(text, "\"u{i}@x.test\",\"{guid}\",\"Renée Ünal {i}\"\r\n").ok();
            line += 1;
        }
    }
    (text, lines)
}

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).expect("write");
    p
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn every_encoding_gives_the_same_users_lines_and_hash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (text, lines) = ad_csv();
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
    let mut utf8_bom = b"\xEF\xBB\xBF".to_vec();
    utf8_bom.extend_from_slice(text.as_bytes());
    let (cp1252, _, _) = encoding_rs::WINDOWS_1252.encode(&text);
    assert!(cp1252.len() > 1 << 20, "the file spans many read chunks");
    for (name, bytes) in [
        ("utf8.csv", text.as_bytes().to_vec()),
        ("utf8bom.csv", utf8_bom),
        ("utf16.csv", utf16),
        ("cp1252.csv", cp1252.into_owned()),
    ] {
        let path = write(&dir, name, &bytes);
        let export = read_ad_export(&path, &ReadOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(export.sha256, sha(&bytes), "{name}");
        assert_eq!(export.users.len(), ROWS, "{name}");
        for (i, u) in export.users.iter().enumerate() {
            assert_eq!(u.location, format!("{name}:{}", lines[i]), "{name} row {i}");
            assert_eq!(u.upn, format!("u{i}@x.test"), "{name}");
            assert!(u.problems.is_empty(), "{name} row {i}: {:?}", u.problems);
        }
        assert_eq!(
            export.users[613].display_name.as_deref(),
            Some("Zoë\r\nline two\r\nthree"),
            "{name}"
        );
        assert_eq!(
            export.users[ROWS - 1].display_name,
            Some(format!("Renée Ünal {}", ROWS - 1)),
            "{name}"
        );
        let fallback = export.warnings.iter().any(|w| w.contains("Windows-1252"));
        assert_eq!(
            fallback,
            name == "cp1252.csv",
            "{name}: {:?}",
            export.warnings
        );
    }
}

#[test]
fn a_late_invalid_byte_falls_back_to_windows_1252_and_names_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (text, lines) = ad_csv();
    // Valid UTF-8 up to a Windows-1252 "é" near the end: the whole file is read as 1252.
    let at = text.find("u39000@").expect("row 39000");
    let mut bytes = text.as_bytes()[..at].to_vec();
    bytes.extend_from_slice(b"\xE9");
    bytes.extend_from_slice(&text.as_bytes()[at..]);
    let path = write(&dir, "late.csv", &bytes);
    let export = read_ad_export(&path, &ReadOptions::default()).expect("readable");
    assert_eq!(export.users.len(), ROWS);
    let w = export
        .warnings
        .iter()
        .find(|w| w.contains("Windows-1252"))
        .expect("fallback warning");
    assert!(
        w.contains(&format!("line {}", lines[39000])),
        "{w} (expected line {})",
        lines[39000]
    );
    assert_eq!(export.users[39000].upn, "éu39000@x.test");
    // Multi-byte UTF-8 read as 1252 is mojibake, as with the whole-file decoder.
    assert_eq!(
        export.users[1].display_name.as_deref(),
        Some("RenÃ©e Ãœnal 1")
    );

    // A UTF-8 character cut off by the end of the file is an invalid byte too.
    let mut cut = text.as_bytes().to_vec();
    cut.extend_from_slice(b"\xC3");
    let path = write(&dir, "cut.csv", &cut);
    let export = read_ad_export(&path, &ReadOptions::default()).expect("readable");
    let last_line = text.matches('\n').count() + 1;
    assert!(
        export
            .warnings
            .iter()
            .any(|w| w.contains(&format!("first invalid byte on line {last_line})"))),
        "{:?}",
        export.warnings
    );
}

#[test]
fn a_late_nul_byte_is_refused_with_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (text, lines) = ad_csv();
    let at = text.find("u30000@").expect("row 30000");
    let mut bytes = text.as_bytes().to_vec();
    bytes.insert(at, 0);
    let path = write(&dir, "nul.csv", &bytes);
    let e = read_ad_export(&path, &ReadOptions::default()).expect_err("NUL refused");
    assert!(e.message.contains("NUL"), "{e}");
    assert_eq!(e.location, format!("line {}", lines[30000]), "{e}");
}

#[test]
fn a_large_cloud_export_is_streamed_with_its_lines_and_hash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut text = String::from("sep=;\nId;UserPrincipalName;OnPremisesImmutableId\n");
    for i in 0..ROWS {
        if i % 1000 == 999 {
            text.push('\n');
        }
        writeln!(text, "{i:08x}-0000-4000-8000-000000000000;c{i}@x.test;").ok();
    }
    // Excel for Mac: bare CRs only.
    let mac = text.replace('\n', "\r");
    for (name, t) in [("cloud.csv", &text), ("mac.csv", &mac)] {
        let path = write(&dir, name, t.as_bytes());
        let state = read_cloud_export(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(state.users.len(), ROWS, "{name}");
        assert_eq!(
            state.sources[0].sha256.as_deref(),
            Some(&*sha(t.as_bytes()))
        );
        assert_eq!(state.sources[0].rows, ROWS);
        // Row i is on line 3 + i, plus one blank line per thousand rows before it.
        for i in [0, 998, 999, 1000, ROWS - 1] {
            let line = 3 + i + (i + 1) / 1000;
            assert_eq!(state.users[i].location, format!("{name}:{line}"), "row {i}");
            assert_eq!(state.users[i].upn, format!("c{i}@x.test"));
        }
    }
}

#[test]
fn unread_attributes_are_left_out_and_nothing_else_changes() {
    use hardmatch::sources::Unread;
    let dir = tempfile::tempdir().expect("tempdir");
    let ad = write(
        &dir,
        "ad.csv",
        b"UserPrincipalName,ObjectGUID,DistinguishedName,SamAccountName,proxyAddresses,mail\n\
          a@x.test,e0c12033-f50b-42c8-8ccb-deb866e9b12a,\"CN=a,DC=x\",a,SMTP:a@x.test;smtp:b@x.test,a@x.test\n\
          bad,not-a-guid,\"CN=b,DC=x\",b,SMTP:b@x.test,\n",
    );
    let full = read_ad_export(&ad, &ReadOptions::default()).expect("reads");
    assert_eq!(full.users[0].proxy_addresses.len(), 2);
    for unread in [
        Unread {
            dn: true,
            sam_account_name: true,
            proxy_addresses: true,
        },
        Unread {
            dn: true,
            ..Unread::default()
        },
    ] {
        let opts = ReadOptions {
            unread,
            ..ReadOptions::default()
        };
        let lean = read_ad_export(&ad, &opts).expect("reads");
        let mut expected = full.users.clone();
        for u in &mut expected {
            if unread.dn {
                u.dn = None;
            }
            if unread.sam_account_name {
                u.sam_account_name = None;
            }
            if unread.proxy_addresses {
                u.proxy_addresses.clear();
            }
        }
        assert_eq!(lean.users, expected, "{unread:?}");
        assert_eq!(lean.warnings, full.warnings);
        assert!(!lean.users[1].problems.is_empty(), "row checks still run");
    }

    let cloud = write(
        &dir,
        "cloud.csv",
        b"Id,UserPrincipalName,OnPremisesImmutableId,ProxyAddresses\n\
          1,a@x.test,,SMTP:a@x.test;smtp:c@x.test\n",
    );
    let full = read_cloud_export(&cloud).expect("reads");
    assert_eq!(full.users[0].proxy_addresses.len(), 2);
    let lean = hardmatch::cloud::read_cloud_export_unread(
        &cloud,
        Unread {
            proxy_addresses: true,
            ..Unread::default()
        },
    )
    .expect("reads");
    let mut expected = full.users.clone();
    expected[0].proxy_addresses.clear();
    assert_eq!(lean.users, expected);
    assert_eq!(lean.sources, full.sources);
}
