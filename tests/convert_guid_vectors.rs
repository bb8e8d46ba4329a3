//! Every published GUID / ImmutableId / octet string in tests/fixtures/guid-vectors.csv converts
//! to the true values, invalid GUID text is rejected, and the published big-endian ("RFC byte
//! order") ImmutableIds are shown not to be what hardmatch produces.

use base64::Engine;
use hardmatch::anchor::{parse, parse_one, AnchorError, HexAs, Parsed, SourceAnchor};
use uuid::Uuid;

#[derive(Debug, serde::Deserialize)]
struct Vector {
    id: String,
    published_guid: String,
    published_immutableid: String,
    published_hex: String,
    correct_immutableid: String,
    correct_guid: String,
    verdict: String,
}

fn vectors() -> Vec<Vector> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/guid-vectors.csv"
    );
    let mut rdr = csv::Reader::from_path(path).expect("fixture guid-vectors.csv");
    let rows: Vec<Vector> = rdr
        .deserialize()
        .collect::<Result<_, _>>()
        .expect("fixture rows");
    // The fixture as published holds 17 rows; fewer would mean the file was "cleaned".
    assert_eq!(rows.len(), 17, "guid-vectors.csv row count");
    rows
}

fn one(input: &str, hex_as: Option<HexAs>) -> SourceAnchor {
    parse_one(input, hex_as).unwrap_or_else(|e| panic!("{input:?} should convert: {e}"))
}

fn guid(s: &str) -> String {
    Uuid::parse_str(s)
        .expect("correct_guid is valid")
        .hyphenated()
        .to_string()
}

#[test]
fn correct_columns_are_a_consistent_pair_in_both_directions() {
    for v in vectors() {
        let from_id = one(&v.correct_immutableid, None);
        assert_eq!(from_id.immutable_id(), v.correct_immutableid, "{}", v.id);
        if v.verdict.contains("PAIR_WRONG") {
            // For these rows correct_guid is the GUID the published (wrong) ImmutableId belongs to.
            continue;
        }
        assert_eq!(
            from_id.guid().hyphenated().to_string(),
            guid(&v.correct_guid),
            "{}",
            v.id
        );
        let from_guid = one(&v.correct_guid, None);
        assert_eq!(from_guid.immutable_id(), v.correct_immutableid, "{}", v.id);
        // Upper case and braces are the same GUID.
        let braced = format!("{{{}}}", v.correct_guid.to_uppercase());
        assert_eq!(one(&braced, None), from_guid, "{}", v.id);
    }
}

#[test]
fn published_guids_convert_to_the_correct_immutableid() {
    let mut checked = 0;
    for v in vectors() {
        if v.published_guid.is_empty() || v.verdict.contains("INVALID_GUID_TEXT") {
            continue;
        }
        assert_eq!(
            one(&v.published_guid, None).immutable_id(),
            v.correct_immutableid,
            "{}",
            v.id
        );
        checked += 1;
    }
    assert!(checked >= 14, "only {checked} published GUIDs checked");
}

#[test]
fn published_immutableids_convert_to_the_correct_guid() {
    let mut checked = 0;
    for v in vectors() {
        if v.published_immutableid.is_empty() {
            continue;
        }
        let a = one(&v.published_immutableid, None);
        assert_eq!(
            a.guid().hyphenated().to_string(),
            guid(&v.correct_guid),
            "{}",
            v.id
        );
        assert_eq!(
            a.immutable_id(),
            v.published_immutableid,
            "{}: round trip",
            v.id
        );
        checked += 1;
    }
    assert!(
        checked >= 10,
        "only {checked} published ImmutableIds checked"
    );
}

#[test]
fn published_octet_strings_convert_to_the_correct_immutableid() {
    let mut checked = 0;
    for v in vectors() {
        if v.published_hex.is_empty() {
            continue;
        }
        let a = one(&v.published_hex, Some(HexAs::Octets));
        assert_eq!(a.immutable_id(), v.correct_immutableid, "{}", v.id);
        // Spaced, escaped and csvde forms are unambiguous; only plain 32 hex needs --as.
        let plain = v.published_hex.len() == 32;
        match parse(&v.published_hex, None) {
            Ok(Parsed::Ambiguous { as_octets, as_guid }) => {
                assert!(plain, "{}: only plain hex is ambiguous", v.id);
                assert_eq!(as_octets, a, "{}", v.id);
                assert_ne!(as_guid, a, "{}", v.id);
            }
            Ok(Parsed::One { anchor, .. }) => {
                assert!(!plain || anchor == a, "{}", v.id);
                assert_eq!(anchor, a, "{}", v.id);
            }
            Err(e) => panic!("{}: {e}", v.id),
        }
        checked += 1;
    }
    assert!(checked >= 11, "only {checked} octet strings checked");
}

#[test]
fn invalid_guid_text_rows_are_rejected_with_a_reason() {
    let mut checked = 0;
    for v in vectors()
        .iter()
        .filter(|v| v.verdict.contains("INVALID_GUID_TEXT"))
    {
        match parse(&v.published_guid, None) {
            Err(AnchorError::Invalid(msg)) => {
                assert!(msg.contains("GUID text"), "{}: {msg}", v.id);
                assert!(
                    msg.contains("'s'"),
                    "{}: names the bad character: {msg}",
                    v.id
                );
            }
            other => panic!(
                "{}: {:?} must be rejected, got {other:?}",
                v.id, v.published_guid
            ),
        }
        checked += 1;
    }
    assert_eq!(checked, 1);
}

#[test]
fn big_endian_published_immutableids_are_not_what_we_produce() {
    let mut checked = 0;
    for v in vectors()
        .iter()
        .filter(|v| v.verdict.contains("PAIR_WRONG(big-endian"))
    {
        let ours = one(&v.published_guid, None).immutable_id();
        assert_ne!(ours, v.published_immutableid, "{}", v.id);
        assert_eq!(ours, v.correct_immutableid, "{}", v.id);
        // The published value is exactly the RFC 4122 (big-endian) byte order: the classic mistake.
        let big_endian = Uuid::parse_str(&v.published_guid).expect("valid GUID");
        let rfc = base64::engine::general_purpose::STANDARD.encode(big_endian.as_bytes());
        assert_eq!(rfc, v.published_immutableid, "{}", v.id);
        checked += 1;
    }
    assert_eq!(checked, 2);
}
