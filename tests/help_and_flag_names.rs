//! One name per idea across commands (old names still accepted), and `--help` that describes
//! every flag without offering what a command does not do.

use std::process::{Command, Output};

fn hardmatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hardmatch"))
        .args(args)
        .output()
        .unwrap()
}

fn help(args: &[&str]) -> String {
    let mut a = args.to_vec();
    a.push("--help");
    let out = hardmatch(&a);
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_same_idea_has_the_same_flag_everywhere_and_old_names_still_work() {
    assert!(help(&["plan"]).contains("--hex-as"));
    let convert = help(&["convert"]);
    assert!(
        convert.contains("--hex-as") && !convert.contains("--as <"),
        "{convert}"
    );
    let hex = "0696b33a42c69b4884b658c038d3ef39";
    for flag in ["--hex-as", "--as"] {
        let out = hardmatch(&["convert", flag, "guid", hex]);
        assert!(
            out.status.success(),
            "{flag}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let sim = help(&["sim", "serve"]);
    assert!(
        sim.contains("--tenant <ID>") && sim.contains("--certificate <"),
        "{sim}"
    );
    assert!(
        !sim.contains("--tenant-id") && !sim.contains("--client-certificate"),
        "{sim}"
    );
    // The old names parse: the run gets as far as checking their values.
    let out = hardmatch(&["sim", "serve", "--tenant-id", "t", "--fault-429", "2"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--fault-429"));
    let out = hardmatch(&["sim", "serve", "--client-certificate", "no-such.pem"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no-such.pem: cannot read the certificate")
    );
}

#[test]
fn help_describes_every_flag_and_read_only_commands_offer_no_write_pacing() {
    for cmd in [&["plan"][..], &["cloud", "export"]] {
        let text = help(cmd);
        assert!(
            !text.contains("--write-quota") && !text.contains("--write-window"),
            "{cmd:?}: {text}"
        );
        assert!(text.contains("--read-quota"), "{cmd:?}");
        assert!(
            text.contains("[default: 3500]"),
            "{cmd:?}: the tier every tenant has"
        );
    }
    let plan = help(&["plan"]);
    let national = plan
        .split("--national-cloud <CLOUD>")
        .nth(1)
        .and_then(|t| t.lines().nth(1))
        .unwrap_or_default();
    assert!(
        national.contains("picks the login and Graph hosts")
            && !national.contains("national-cloud"),
        "not an alias of itself: {national}"
    );
    let sim = help(&["sim", "serve"]);
    for flag in ["--tenant <ID>", "--client-id <ID>"] {
        let line = sim.lines().find(|l| l.contains(flag)).unwrap_or_default();
        let described = line.split(flag).nth(1).unwrap_or_default();
        assert!(
            described.trim_start().len() > "[default: …]".len()
                && !described.trim_start().starts_with('['),
            "{flag} has a description: {line}"
        );
    }
}
