//! `hardmatch convert`: text and JSON output, both readings of ambiguous hex, exit codes.

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn convert() -> Command {
    let mut cmd = Command::cargo_bin("hardmatch").expect("binary");
    cmd.arg("convert");
    cmd
}

fn json(args: &[&str]) -> (Vec<Value>, Option<i32>) {
    let out = convert().args(args).arg("--json").output().expect("run");
    let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    (v.as_array().expect("JSON array").clone(), out.status.code())
}

#[test]
fn guid_text_prints_every_notation_and_lookup_snippets() {
    convert()
        .arg("3ab39606-c642-489b-84b6-58c038d3ef39")
        .assert()
        .success()
        .stdout(predicate::str::contains("GUID text"))
        .stdout(predicate::str::contains("ImmutableId    BpazOkLGm0iEtljAONPvOQ=="))
        .stdout(predicate::str::contains("0696b33a42c69b4884b658c038d3ef39"))
        .stdout(predicate::str::contains(
            "Get-ADUser -Filter \"ObjectGUID -eq '3ab39606-c642-489b-84b6-58c038d3ef39'\"",
        ))
        .stdout(predicate::str::contains(
            r#"ldifde -f user.ldf -r "(objectGUID=\06\96\b3\3a\42\c6\9b\48\84\b6\58\c0\38\d3\ef\39)""#,
        ))
        .stdout(predicate::str::contains(
            "Get-MgUser -Filter \"onPremisesImmutableId eq 'BpazOkLGm0iEtljAONPvOQ=='\"",
        ));
}

#[test]
fn immutable_id_with_plus_is_percent_encoded_in_the_graph_url() {
    convert()
        .arg("'+7Byu5JQuU2TfrLSegT8VQ==")
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "bb72b0fb-5092-4db9-937e-b2d27a04fc55",
        ))
        .stdout(predicate::str::contains("%2B7Byu5JQuU2TfrLSegT8VQ%3D%3D"));
}

#[test]
fn json_has_stable_fields() {
    let (list, code) = json(&[
        "BpazOkLGm0iEtljAONPvOQ",
        "X'9a6b3176c5dbd2118bd00000f875b660'",
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(list.len(), 2);
    let first = &list[0];
    assert_eq!(first["input"], "BpazOkLGm0iEtljAONPvOQ");
    assert_eq!(first["status"], "ok");
    assert_eq!(first["notation"], "immutable_id");
    assert_eq!(first["guid"], "3ab39606-c642-489b-84b6-58c038d3ef39");
    assert_eq!(first["immutable_id"], "BpazOkLGm0iEtljAONPvOQ==");
    assert_eq!(first["octet_hex"], "0696b33a42c69b4884b658c038d3ef39");
    assert_eq!(
        first["ldap_filter_escape"],
        r"\06\96\b3\3a\42\c6\9b\48\84\b6\58\c0\38\d3\ef\39"
    );
    for key in ["get_aduser", "ldifde", "get_mguser", "graph_url"] {
        assert!(first[key].as_str().is_some_and(|s| !s.is_empty()), "{key}");
    }
    assert_eq!(list[1]["notation"], "csvde_hex");
    assert_eq!(list[1]["immutable_id"], "mmsxdsXb0hGL0AAA+HW2YA==");
}

#[test]
fn ambiguous_hex_shows_both_readings_and_exits_2() {
    let hex = "32c34a8c5f971747ad7bba4a4e968fff";
    convert()
        .arg(hex)
        .assert()
        .code(2)
        .stdout(predicate::str::contains("AMBIGUOUS"))
        .stdout(predicate::str::contains("MsNKjF+XF0ete7pKTpaP/w=="))
        .stdout(predicate::str::contains(
            "32c34a8c-5f97-1747-ad7b-ba4a4e968fff",
        ))
        .stdout(predicate::str::contains("--hex-as"));
    let (list, code) = json(&[hex]);
    assert_eq!(code, Some(2));
    assert_eq!(list[0]["status"], "ambiguous");
    let readings = list[0]["readings"].as_array().expect("readings");
    assert_eq!(readings.len(), 2);
    assert_eq!(readings[0]["as"], "guid");
    assert_eq!(readings[0]["guid"], "32c34a8c-5f97-1747-ad7b-ba4a4e968fff");
    assert_eq!(readings[1]["as"], "octets");
    assert_eq!(readings[1]["immutable_id"], "MsNKjF+XF0ete7pKTpaP/w==");
}

#[test]
fn as_decides_ambiguous_hex() {
    let hex = "32c34a8c5f971747ad7bba4a4e968fff";
    let (list, code) = json(&["--hex-as", "octets", hex]);
    assert_eq!(code, Some(0));
    assert_eq!(list[0]["notation"], "octet_hex");
    assert_eq!(list[0]["guid"], "8c4ac332-975f-4717-ad7b-ba4a4e968fff");
    // `--as`, the old spelling, still works.
    let (list, code) = json(&["--as", "guid", hex]);
    assert_eq!(code, Some(0));
    assert_eq!(list[0]["notation"], "guid_hex");
    assert_eq!(list[0]["guid"], "32c34a8c-5f97-1747-ad7b-ba4a4e968fff");
}

#[test]
fn invalid_values_get_a_reason_the_rest_still_convert_exit_2() {
    convert()
        .args([
            "e6b4csdc-des6-4d34-bdfe-9adff2cbc017",
            "f+bH/Mb+ZUq4IS9AopLRhQ==",
            "77+9O++/vVEhb3hJ77+9alnvv71oKmlJ",
        ])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("invalid GUID text"))
        .stdout(predicate::str::contains(
            "fcc7e67f-fec6-4a65-b821-2f40a292d185",
        ))
        .stdout(predicate::str::contains("decoded as text"))
        .stderr(predicate::str::contains("2 of 3 values"));
    let (list, code) = json(&["+BvWnS9ShECZOKC//54xHQ----", "f+bH/Mb+ZUq4IS9AopLRhQ=="]);
    assert_eq!(code, Some(2));
    assert_eq!(list[0]["status"], "invalid");
    assert!(list[0]["error"]
        .as_str()
        .is_some_and(|e| e.contains("broken base64")));
    assert!(list[0].get("guid").is_none());
    assert_eq!(list[1]["status"], "ok");
}

#[test]
fn values_from_stdin() {
    let out = convert()
        .args(["-", "--json"])
        .write_stdin("3ab39606-c642-489b-84b6-58c038d3ef39\r\n\n44 31 E2 46 77 83 3E 48 A8 7E B6 76 9D B6 2E ED\n")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let list = v.as_array().expect("array");
    assert_eq!(list.len(), 2);
    assert_eq!(list[1]["notation"], "spaced_hex");
    assert_eq!(list[1]["immutable_id"], "RDHiRneDPkiofrZ2nbYu7Q==");
}

#[test]
fn no_value_is_a_usage_error() {
    convert()
        .assert()
        .code(2)
        .stderr(predicate::str::contains("VALUE"));
}

#[test]
fn empty_and_garbage_values_are_reported_not_panicked() {
    let (list, code) = json(&["", "john@contoso.com", "\u{fffd}\u{fffd}"]);
    assert_eq!(code, Some(2));
    assert_eq!(list.len(), 3);
    assert_eq!(list[0]["error"], "empty value");
    assert!(list[1]["error"]
        .as_str()
        .is_some_and(|e| e.contains("not GUID-based")));
    assert!(list[2]["error"]
        .as_str()
        .is_some_and(|e| e.contains("U+FFFD")));
}
