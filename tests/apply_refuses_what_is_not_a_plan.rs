//! `apply` given something other than a plan workbook says what it was given, before it asks
//! for the plan key or the tenant: a wrong path is a likelier mistake than a missing key.

use std::path::Path;
use std::process::Command;

fn apply(path: &Path, key: &Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hardmatch"))
        .arg("apply")
        .arg(path)
        .arg("--key-file")
        .arg(key)
        .env_remove("HARDMATCH_KEY_FILE")
        .output()
        .expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn apply_names_what_it_was_given_instead_of_a_plan_workbook() {
    let dir = tempfile::tempdir().unwrap();
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let binary = dir.path().join("binary.xlsx");
    std::fs::write(&binary, [0u8, 159, 146, 150, 1, 2, 3, 200, 201].repeat(40)).unwrap();
    // No key exists: every case must be explained by its path, not by the key.
    let key = dir.path().join("no.key");
    for (path, says) in [
        (dir.path().join("nope.xlsx"), "file not found"),
        (
            samples.join("ad-users.csv"),
            "a CSV with the columns UserPrincipalName",
        ),
        (samples.join("ad-users.ldf"), "LDIF"),
        (dir.path().to_path_buf(), "a folder"),
        (binary, "neither a zip file nor text"),
    ] {
        let (code, stderr) = apply(&path, &key);
        assert_eq!(code, Some(2), "{}: {stderr}", path.display());
        assert!(stderr.contains(says), "{}: {stderr}", path.display());
        assert!(!stderr.contains("plan key"), "{}: {stderr}", path.display());
    }
    // A plan workbook without the key gets the key's explanation.
    let plan = dir.path().join("plan.xlsx");
    hardmatch::workbook::write_review(
        &plan,
        &[],
        &[],
        &hardmatch::workbook::ReviewMeta::default(),
        &hardmatch::workbook::WriteOptions::default(),
    )
    .unwrap();
    let (code, stderr) = apply(&plan, &key);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("no plan key"), "{stderr}");
}
