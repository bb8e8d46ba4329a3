//! Property tests (the fuzz suite for the GUID parser): any 16 bytes survive every notation we
//! print, no input makes the parser panic, and base64 is either rejected or read canonically.

use base64::Engine;
use hardmatch::anchor::{guid_based, parse, AnchorError, HexAs, Parsed, SourceAnchor};
use proptest::prelude::*;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn one(input: &str, hex_as: Option<HexAs>) -> Result<SourceAnchor, TestCaseError> {
    match parse(input, hex_as) {
        Ok(Parsed::One { anchor, .. }) => Ok(anchor),
        other => Err(TestCaseError::fail(format!("{input:?}: {other:?}"))),
    }
}

fn spaced(a: &SourceAnchor, sep: &str, upper: bool) -> String {
    let parts: Vec<String> = a
        .as_bytes()
        .iter()
        .map(|b| {
            if upper {
                format!("{b:02X}")
            } else {
                format!("{b:02x}")
            }
        })
        .collect();
    parts.join(sep)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_16_bytes_round_trip_through_every_notation(bytes in any::<[u8; 16]>()) {
        let a = SourceAnchor::from_bytes(bytes);
        let guid = a.guid().hyphenated().to_string();
        let id = a.immutable_id();
        let notations = [
            guid.clone(),
            guid.to_uppercase(),
            format!("{{{guid}}}"),
            id.clone(),
            id.trim_end_matches('=').to_string(),
            format!("'{id}"),
            format!("objectGUID:: {id}"),
            a.ldap_filter_escape(),
            a.ldap_filter_escape().to_uppercase(),
            format!("X'{}'", a.octet_hex()),
            spaced(&a, " ", true),
            spaced(&a, "-", false),
        ];
        for n in &notations {
            prop_assert_eq!(one(n, None)?, a, "{}", n);
        }
        prop_assert_eq!(one(&a.octet_hex(), Some(HexAs::Octets))?, a);
        prop_assert_eq!(one(&a.guid().simple().to_string(), Some(HexAs::Guid))?, a);
        prop_assert_eq!(guid_based(&id), Some(a));
        // Without --as, plain hex is ambiguous unless both readings agree, and one reading is ours.
        match parse(&a.octet_hex(), None) {
            Ok(Parsed::Ambiguous { as_octets, as_guid }) => {
                prop_assert_eq!(as_octets, a);
                prop_assert_ne!(as_guid, a);
            }
            Ok(Parsed::One { anchor, .. }) => prop_assert_eq!(anchor, a),
            Err(e) => prop_assert!(false, "{}", e),
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        for hex_as in [None, Some(HexAs::Guid), Some(HexAs::Octets)] {
            if let Err(AnchorError::Invalid(msg)) = parse(&s, hex_as) {
                prop_assert!(!msg.is_empty());
            }
        }
    }

    #[test]
    fn notation_shaped_strings_never_panic(
        s in r"[ '{(\\xX:=+/_\-0-9a-fA-FgsQw\u{fffd}]{0,60}",
    ) {
        let _ = parse(&s, None);
        let _ = guid_based(&s);
    }

    #[test]
    fn any_24_char_base64_is_rejected_or_read_canonically(s in "[A-Za-z0-9+/]{22}(==|[A-Za-z0-9+/=]{2})") {
        match parse(&s, None) {
            Ok(Parsed::One { anchor, .. }) => {
                // Accepted only when it is exactly how base64 writes those 16 bytes.
                prop_assert_eq!(anchor.immutable_id(), s.clone());
                prop_assert_eq!(guid_based(&s), Some(anchor));
            }
            Ok(Parsed::Ambiguous { .. }) => prop_assert!(false, "base64 is never ambiguous"),
            Err(_) => {
                prop_assert_eq!(guid_based(&s), None);
                let decoded = B64.decode(&s).ok();
                prop_assert!(decoded.is_none_or(|b| b.len() != 16), "valid 16-byte base64 rejected: {}", s);
            }
        }
    }

    #[test]
    fn any_22_char_unpadded_base64_matches_its_padded_form(s in "[A-Za-z0-9+/]{22}") {
        let padded = format!("{s}==");
        match (parse(&s, None), parse(&padded, None)) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(_), Err(_)) => {}
            (a, b) => prop_assert!(false, "{:?} vs {:?}", a, b),
        }
    }
}
