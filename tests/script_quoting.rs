//! Nothing in a workbook value can break out of where `hardmatch script` puts it.
//!
//! No PowerShell runs here, so the PowerShell side is checked against a model of its tokenizer
//! for the parts that matter (PowerShell's tokenizer.cs `ScanStringLiteral`/`ScanLineComment`
//! and CharTraits.cs `IsSingleQuote`/`IsDoubleQuote`): a single-quoted string ends at any of
//! ' ‘ ’ ‚ ‛ not doubled, a line comment at CR or LF. A script with hostile values must have
//! exactly the code of the same script with tame values, and every value must read back as the
//! exact text it came from. The LDIF side is read back with an RFC 2849 reader.

mod script_support;

use base64::Engine;
use hardmatch::review::{ReviewRow, SelectOptions, Verdict};
use hardmatch::script::{self, quote, AdDirectory, Format};
use proptest::prelude::*;
use script_support::*;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Code(char),
    Str(String),
    Comment(String),
}

fn is_single_quote(c: char) -> bool {
    matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}')
}

fn is_double_quote(c: char) -> bool {
    matches!(c, '"' | '\u{201C}' | '\u{201D}' | '\u{201E}')
}

/// PowerShell's view of strings and comments in `src`.
fn tokenize(src: &str) -> Vec<Tok> {
    let chars: Vec<char> = src.trim_start_matches('\u{feff}').chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '<' && chars.get(i + 1) == Some(&'#') {
            let start = i;
            i += 2;
            while i < chars.len() && !(chars[i] == '#' && chars.get(i + 1) == Some(&'>')) {
                i += 1;
            }
            i += 2;
            out.push(Tok::Comment(
                chars[start..i.min(chars.len())].iter().collect(),
            ));
        } else if c == '#' {
            let start = i;
            while i < chars.len() && chars[i] != '\r' && chars[i] != '\n' {
                i += 1;
            }
            out.push(Tok::Comment(chars[start..i].iter().collect()));
        } else if is_single_quote(c) {
            let mut s = String::new();
            i += 1;
            loop {
                let c = *chars.get(i).expect("unterminated single-quoted string");
                if is_single_quote(c) {
                    if chars.get(i + 1).is_some_and(|n| is_single_quote(*n)) {
                        s.push(chars[i + 1]);
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                s.push(c);
                i += 1;
            }
            out.push(Tok::Str(s));
        } else if is_double_quote(c) {
            let mut s = String::new();
            i += 1;
            loop {
                let c = *chars.get(i).expect("unterminated double-quoted string");
                if c == '`' {
                    s.push(chars[i + 1]);
                    i += 2;
                    continue;
                }
                if is_double_quote(c) {
                    if chars.get(i + 1).is_some_and(|n| is_double_quote(*n)) {
                        s.push(chars[i + 1]);
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                s.push(c);
                i += 1;
            }
            out.push(Tok::Str(s));
        } else {
            out.push(Tok::Code(c));
            i += 1;
        }
    }
    out
}

/// The script's code with every value (a literal, or `ps_string`'s `('' + 'a' + [char]0x0A)`)
/// replaced by `§`, and the values in order.
fn skeleton(src: &str) -> (String, Vec<String>, Vec<String>) {
    let toks = tokenize(src);
    let mut code = String::new();
    let mut values = Vec::new();
    let mut comments = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if let Some((value, next)) = concatenation(&toks, i) {
            code.push('§');
            values.push(value);
            i = next;
            continue;
        }
        match &toks[i] {
            Tok::Code(c) => code.push(*c),
            Tok::Str(s) => {
                code.push('§');
                values.push(s.clone());
            }
            Tok::Comment(c) => {
                code.push('¶');
                comments.push(c.clone());
            }
        }
        i += 1;
    }
    (code, values, comments)
}

/// `( 'a' + [char]0x000A + 'b' )` starting at `i`: its value and the index after it.
fn concatenation(toks: &[Tok], i: usize) -> Option<(String, usize)> {
    let code_at = |j: usize| match toks.get(j) {
        Some(Tok::Code(c)) => Some(*c),
        _ => None,
    };
    if code_at(i) != Some('(') {
        return None;
    }
    let mut j = i + 1;
    let mut units: Vec<u16> = Vec::new();
    let mut first = true;
    loop {
        while code_at(j) == Some(' ') {
            j += 1;
        }
        if !first {
            match code_at(j) {
                Some(')') => return Some((String::from_utf16(&units).ok()?, j + 1)),
                Some('+') => j += 1,
                _ => return None,
            }
            while code_at(j) == Some(' ') {
                j += 1;
            }
        }
        match toks.get(j) {
            Some(Tok::Str(s)) => {
                units.extend(s.encode_utf16());
                j += 1;
            }
            Some(Tok::Code('[')) if !first => {
                let text: String = (j..j + 12).filter_map(code_at).collect();
                let hex = text.strip_prefix("[char]0x")?;
                units.push(u16::from_str_radix(hex, 16).ok()?);
                j += 12;
            }
            _ => return None,
        }
        first = false;
    }
}

fn render(rows: &[ReviewRow], format: Format) -> String {
    let users = ad_users();
    let ad = AdDirectory::new(&users, "ad.csv");
    let opts = SelectOptions {
        allow_replace: true,
        purge_deleted_conflicts: true,
        trust_workbook: false,
    };
    let opts = if format == Format::Ldif {
        SelectOptions::default()
    } else {
        opts
    };
    let built = script::build(rows, format, &key(), &opts, Some(&ad));
    let mut out = Vec::new();
    built.render(&header("x"), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// The same rows with `HOSTILE` replaced by a tame word, re-signed where they were signed.
fn tame(rows: &[ReviewRow]) -> Vec<ReviewRow> {
    let k = key();
    rows.iter()
        .map(|r| {
            let mut r = r.clone();
            let valid = k.verify(&r.plan, &r.fingerprint) == Verdict::Valid;
            let p = &mut r.plan;
            for s in [&mut p.upn, &mut p.cloud_upn, &mut p.cloud_immutable_id] {
                *s = s.replace(HOSTILE, "x").replace(HOSTILE_ASCII, "x");
            }
            for c in &mut p.checks {
                *c = c.replace(HOSTILE, "x").replace(HOSTILE_ASCII, "x");
            }
            if valid {
                r.fingerprint = k.sign(&r.plan);
            }
            r
        })
        .collect()
}

#[test]
fn hostile_values_leave_the_powershell_code_exactly_as_with_tame_values() {
    let hostile_rows = rows();
    assert!(hostile_rows.iter().any(|r| r.plan.upn.contains(HOSTILE)));
    let hostile = render(&hostile_rows, Format::GraphPowershell);
    let tame = render(&tame(&hostile_rows), Format::GraphPowershell);
    let (h_code, h_values, h_comments) = skeleton(&hostile);
    let (t_code, t_values, t_comments) = skeleton(&tame);
    assert_eq!(h_code, t_code, "hostile values changed the script's code");
    assert_eq!(h_comments.len(), t_comments.len());
    assert_eq!(h_values.len(), t_values.len());
    let mut hostile_seen = 0;
    for (h, t) in h_values.iter().zip(&t_values) {
        if h != t {
            // Each value reads back as exactly the hostile text it came from.
            assert_eq!(&h.replace(HOSTILE, "x").replace(HOSTILE_ASCII, "x"), t);
            hostile_seen += 1;
        }
    }
    // UPNs of rows 10, 11 and 14, and the current ImmutableIds of rows 10 and 14 (twice each:
    // -Planned and -Undo).
    assert_eq!(hostile_seen, 7, "{h_values:?}");
    // Comments carry the text, every line break shown rather than made.
    assert!(h_comments
        .iter()
        .any(|c| c.contains("judyo'brien’") && c.contains("<U+000A>Write-Host pwned")));
}

#[test]
fn hostile_values_add_no_ldif_record_line_or_value() {
    let hostile_rows = rows();
    let ldif = render(&hostile_rows, Format::Ldif);
    let records = read_ldif(&ldif);
    let expected: Vec<Record> = ad_users()[..2]
        .iter()
        .zip([2u64, 3])
        .map(|(u, id)| {
            (
                u.dn.clone().unwrap(),
                vec![
                    ("changetype".to_string(), b"modify".to_vec()),
                    ("replace".to_string(), b"mS-DS-ConsistencyGuid".to_vec()),
                    (
                        "mS-DS-ConsistencyGuid".to_string(),
                        anchor(&old_guid(id)).as_bytes().to_vec(),
                    ),
                    ("-".to_string(), Vec::new()),
                ],
            )
        })
        .collect();
    assert_eq!(records, expected);
    // The cloud ImmutableId's bytes are written as they are: base64 of them is that ImmutableId.
    let b64 = base64::engine::general_purpose::STANDARD.encode(&records[0].1[2].1);
    assert_eq!(b64, iid(&old_guid(2)));
}

/// An LDIF record: its DN, and its lines after it as (name, value bytes).
type Record = (String, Vec<(String, Vec<u8>)>);

/// RFC 2849, strictly: CRLF or LF line ends, folded lines joined (exactly one leading space
/// removed), comments (with their continuations) dropped, records split by blank lines,
/// `name:: base64` decoded.
fn read_ldif(text: &str) -> Vec<Record> {
    let mut logical: Vec<String> = Vec::new();
    for line in text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)) {
        assert!(!line.contains('\r'), "bare CR in {line:?}");
        match line.strip_prefix(' ') {
            Some(rest) => logical
                .last_mut()
                .expect("fold before any line")
                .push_str(rest),
            None => logical.push(line.to_string()),
        }
    }
    let mut records = Vec::new();
    let mut current: Option<Record> = None;
    for line in logical {
        if line.starts_with('#') {
            continue;
        }
        if line.is_empty() {
            records.extend(current.take());
            continue;
        }
        if line == "-" {
            current
                .as_mut()
                .expect("- outside a record")
                .1
                .push(("-".into(), Vec::new()));
            continue;
        }
        let (name, value) = line.split_once(':').expect("name: value");
        let value = match value.strip_prefix(':') {
            Some(b64) => base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .expect("base64"),
            None => value.strip_prefix(' ').unwrap_or(value).as_bytes().to_vec(),
        };
        match &mut current {
            None => {
                assert!(name.eq_ignore_ascii_case("dn"), "record starts with {name}");
                current = Some((String::from_utf8(value).unwrap(), Vec::new()));
            }
            Some((_, attrs)) => attrs.push((name.to_string(), value)),
        }
    }
    records.extend(current);
    records
}

proptest! {
    #[test]
    fn any_text_reads_back_from_ps_string_as_one_value(s in "\\PC*|[\\x00-\\x20'\u{2018}-\u{201F}`$#\"]*") {
        let expr = quote::ps_string(&s);
        prop_assert!(expr.is_ascii(), "{expr}");
        let (code, values, comments) = skeleton(&expr);
        prop_assert_eq!(code, "§");
        prop_assert_eq!(values, vec![s]);
        prop_assert!(comments.is_empty());
    }

    #[test]
    fn any_text_stays_inside_its_comment(s in "\\PC*|[\\x00-\\x20\u{85}\u{2028}\u{2029}'#<>]*") {
        let line = format!("# {}\r\nWrite-Host 1", quote::comment_text(&s));
        let (code, _, comments) = skeleton(&line);
        prop_assert_eq!(code, "¶\r\nWrite-Host 1");
        prop_assert_eq!(comments.len(), 1);
    }

    #[test]
    fn any_dn_reads_back_from_its_ldif_line(dn in "\\PC{1,200}|[\\x00-\\x7f]{1,120}") {
        let text = format!("{}changetype: modify\r\n", quote::ldif_text_line("dn", &dn));
        let records = read_ldif(&text);
        prop_assert_eq!(records.len(), 1);
        prop_assert_eq!(&records[0].0, &dn);
        prop_assert!(text.is_ascii());
        for line in text.split("\r\n") {
            prop_assert!(line.len() <= 76, "{line:?}");
        }
    }
}
