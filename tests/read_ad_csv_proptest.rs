//! Property tests for the CSV reader: no input makes it panic, and whatever the csv crate writes
//! (any delimiter, quoting, line ending, encoding PowerShell uses) reads back to the same users at
//! the right lines.

use hardmatch::anchor::SourceAnchor;
use hardmatch::sources::{read_ad_export, Format, ReadOptions};
use proptest::prelude::*;

fn read_bytes(
    dir: &tempfile::TempDir,
    bytes: &[u8],
    format: Option<Format>,
) -> Result<usize, String> {
    let path = dir.path().join("input.csv");
    std::fs::write(&path, bytes).map_err(|e| e.to_string())?;
    let opts = ReadOptions {
        format,
        ..ReadOptions::default()
    };
    read_ad_export(&path, &opts)
        .map(|e| e.users.len())
        .map_err(|e| e.to_string())
}

#[derive(Clone, Debug)]
struct User {
    upn: String,
    guid: [u8; 16],
    display_name: String,
    mail: Option<String>,
}

fn user() -> impl Strategy<Value = User> {
    (
        "[a-z0-9._-]{1,12}@[a-z]{1,8}\\.com",
        any::<[u8; 16]>(),
        // Anything a name can hold, delimiters, quotes and line breaks included.
        "[^\u{0}]{0,16}",
        proptest::option::of("[a-z]{1,8}@[a-z]{1,8}\\.org"),
    )
        .prop_map(|(upn, guid, display_name, mail)| User {
            upn,
            guid,
            display_name,
            mail,
        })
}

#[derive(Clone, Copy, Debug)]
enum Enc {
    Utf8,
    Utf8Bom,
    Utf16Le,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let _ = read_bytes(&dir, &bytes, Some(Format::Csv));
        let _ = read_bytes(&dir, &bytes, Some(Format::Csvde));
    }

    #[test]
    fn arbitrary_fields_under_a_real_header_never_panic(
        fields in proptest::collection::vec("[^\u{0}]{0,40}", 0..24),
        delimiter in prop::sample::select(vec![",", ";", "\t"]),
        type_line in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut text = String::new();
        if type_line {
            text.push_str("#TYPE Selected.Microsoft.ActiveDirectory.Management.ADUser\r\n");
        }
        text.push_str(&["UserPrincipalName", "ObjectGUID", "mS-DS-ConsistencyGuid", "proxyAddresses"].join(delimiter));
        text.push_str("\r\n");
        for (i, f) in fields.iter().enumerate() {
            text.push_str(f);
            text.push_str(if i % 4 == 3 { "\r\n" } else { delimiter });
        }
        let _ = read_bytes(&dir, text.as_bytes(), None);
        // The same garbage under an XLSX signature must be an error, not a panic.
        let mut zipish = b"PK\x03\x04".to_vec();
        zipish.extend_from_slice(text.as_bytes());
        prop_assert!(read_bytes(&dir, &zipish, None).is_err());
    }

    #[test]
    fn rows_written_by_the_csv_crate_read_back(
        users in proptest::collection::vec(user(), 1..12),
        delimiter in prop::sample::select(vec![b',', b';', b'\t']),
        always_quote in any::<bool>(),
        crlf in any::<bool>(),
        type_line in any::<bool>(),
        enc in prop::sample::select(vec![Enc::Utf8, Enc::Utf8Bom, Enc::Utf16Le]),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut text = String::new();
        let mut line = 1u64;
        if type_line {
            text.push_str(if crlf { "#TYPE Selected.Microsoft.ActiveDirectory.Management.ADUser\r\n" } else { "#TYPE X\n" });
            line += 1;
        }
        let record = |fields: &[&str]| -> String {
            let mut w = csv::WriterBuilder::new()
                .delimiter(delimiter)
                .quote_style(if always_quote { csv::QuoteStyle::Always } else { csv::QuoteStyle::Necessary })
                .terminator(if crlf { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') })
                .from_writer(Vec::new());
            w.write_record(fields).expect("write");
            String::from_utf8(w.into_inner().expect("flush")).expect("utf8")
        };
        let header = record(&["UserPrincipalName", "ObjectGUID", "DisplayName", "mail"]);
        line += header.matches('\n').count() as u64;
        text.push_str(&header);
        let mut lines = Vec::new();
        for u in &users {
            let guid = SourceAnchor::from_bytes(u.guid).to_string();
            let r = record(&[&u.upn, &guid, &u.display_name, u.mail.as_deref().unwrap_or("")]);
            lines.push(line);
            line += r.matches('\n').count() as u64;
            text.push_str(&r);
        }
        let bytes = match enc {
            Enc::Utf8 => text.into_bytes(),
            Enc::Utf8Bom => [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat(),
            Enc::Utf16Le => {
                let mut v = vec![0xFF, 0xFE];
                for c in text.encode_utf16() {
                    v.extend_from_slice(&c.to_le_bytes());
                }
                v
            }
        };
        let path = dir.path().join("ad.csv");
        std::fs::write(&path, &bytes).expect("write");
        let e = read_ad_export(&path, &ReadOptions::default()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(e.format, Format::Csv);
        prop_assert_eq!(e.users.len(), users.len());
        for ((got, want), want_line) in e.users.iter().zip(&users).zip(&lines) {
            prop_assert_eq!(&got.upn, &want.upn);
            prop_assert_eq!(got.object_guid, Some(SourceAnchor::from_bytes(want.guid)));
            let name = want.display_name.trim();
            prop_assert_eq!(got.display_name.as_deref(), (!name.is_empty()).then_some(name));
            prop_assert_eq!(&got.mail, &want.mail);
            prop_assert_eq!(&got.location, &format!("ad.csv:{want_line}"));
            prop_assert!(got.problems.is_empty(), "{:?}", got.problems);
        }
    }
}
