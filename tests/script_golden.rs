//! `hardmatch script` output, byte for byte, against reviewed golden files
//! (tests/fixtures/script/). After an intended change, regenerate them with
//! `HARDMATCH_BLESS=1 cargo test --test script_golden` and review the diff like code: these
//! files are what an admin runs against a tenant or a directory.

mod script_support;

use hardmatch::review::SelectOptions;
use hardmatch::script::{self, AdDirectory, Format, Header};
use script_support::*;
use std::path::PathBuf;

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/script")
        .join(name)
}

fn check(name: &str, actual: &[u8]) {
    let path = golden(name);
    if std::env::var_os("HARDMATCH_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run HARDMATCH_BLESS=1 cargo test --test script_golden",
            path.display()
        )
    });
    if expected != actual {
        let (e, a) = (
            String::from_utf8_lossy(&expected),
            String::from_utf8_lossy(actual),
        );
        let line = e
            .lines()
            .zip(a.lines())
            .position(|(x, y)| x != y)
            .unwrap_or_else(|| e.lines().count().min(a.lines().count()));
        panic!(
            "{name} differs from the golden file at line {}:\n  golden: {:?}\n  actual: {:?}\n(HARDMATCH_BLESS=1 to accept after review)",
            line + 1,
            e.lines().nth(line),
            a.lines().nth(line)
        );
    }
}

fn render(format: Format, opts: &SelectOptions, header: &Header) -> Vec<u8> {
    let rows = rows();
    let users = ad_users();
    let ad = AdDirectory::new(&users, "ad.csv");
    let built = script::build(&rows, format, &key(), opts, Some(&ad));
    let mut out = Vec::new();
    built.render(header, &mut out).unwrap();
    out
}

/// Every line ends in CRLF, and nothing but a comment holds a non-ASCII byte.
fn assert_crlf_and_ascii_code(text: &str, comment: &str) {
    assert!(text.ends_with("\r\n"));
    for (i, line) in text.split("\r\n").enumerate() {
        assert!(
            !line.contains('\n') && !line.contains('\r'),
            "line {} holds a bare line break: {line:?}",
            i + 1
        );
        if !line.trim_start().starts_with(comment) {
            assert!(
                line.trim_start_matches('\u{feff}').is_ascii(),
                "line {} is code with non-ASCII text: {line:?}",
                i + 1
            );
        }
    }
}

#[test]
fn graph_powershell_script_matches_the_golden_file() {
    let opts = SelectOptions {
        allow_replace: true,
        purge_deleted_conflicts: true,
        trust_workbook: false,
    };
    let mut h = header("hardmatch.ps1");
    h.options = vec!["--allow-replace".into(), "--purge-deleted-conflicts".into()];
    let out = render(Format::GraphPowershell, &opts, &h);
    assert!(
        out.starts_with("\u{feff}".as_bytes()),
        "UTF-8 byte-order mark, for Windows PowerShell 5.1"
    );
    let text = String::from_utf8(out.clone()).unwrap();
    assert_crlf_and_ascii_code(&text, "#");
    check("graph-powershell.ps1", &out);
}

#[test]
fn graph_powershell_script_without_flags_leaves_replace_and_purge_rows_out() {
    let out = render(
        Format::GraphPowershell,
        &SelectOptions::default(),
        &header("hardmatch.ps1"),
    );
    let text = String::from_utf8(out.clone()).unwrap();
    // No purge: no recycle-bin scope and no DirectoryManagement module.
    assert!(!text.contains("User.DeleteRestore.All"));
    assert!(!text.contains("Remove-MgDirectoryDeletedItem"));
    check("graph-powershell-no-flags.ps1", &out);
}

#[test]
fn ldif_file_matches_the_golden_file() {
    let mut h = header("hardmatch.ldf");
    h.ad_export = Some(("ad.csv".into(), "1".repeat(64)));
    let out = render(Format::Ldif, &SelectOptions::default(), &h);
    assert!(!out.starts_with("\u{feff}".as_bytes()), "ldifde reads ANSI");
    let text = String::from_utf8(out.clone()).unwrap();
    assert_crlf_and_ascii_code(&text, "#");
    check("ldif.ldf", &out);
}
