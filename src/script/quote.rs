//! Putting workbook values into PowerShell and LDIF text so that none can break out of the place
//! it was put: a string literal, a comment, an LDIF value.
//!
//! Every value here went through a workbook many people handle. The plan key stops an edited
//! value from being *executed* by `apply`; a script, though, is read by a PowerShell parser
//! first, where a quote or a newline in a UPN would be code. So values are quoted by
//! construction, not by hoping they are tame.

use base64::Engine;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Line ending of both outputs: they are run on Windows (PowerShell, ldifde), and CRLF is what
/// RFC 2849 and every Windows tool read.
pub const EOL: &str = "\r\n";

/// A PowerShell expression whose value is exactly `s`.
///
/// Printable ASCII goes into a single-quoted literal, where only `'` is special (doubled).
/// Everything else (control characters, and every non-ASCII character, among them the four
/// Unicode single quotes ‘ ’ ‚ ‛ that PowerShell's tokenizer also ends a string on) is written
/// as `[char]0xXXXX` and joined with `+`. The script is then pure ASCII in its code: re-saved
/// without its byte-order mark and read by Windows PowerShell 5.1 as ANSI, a UTF-8 byte can no
/// longer turn into a quote (in Windows-1252, 0x91 and 0x92 are ‘ and ’).
pub fn ps_string(s: &str) -> String {
    let plain = |c: char| (' '..='~').contains(&c);
    if s.chars().all(plain) {
        return format!("'{}'", s.replace('\'', "''"));
    }
    // Starts with a string so that `+` concatenates: [char] + 'text' would try to make 'text' a char.
    let mut out = String::from("(''");
    let mut literal = String::new();
    let flush = |literal: &mut String, out: &mut String| {
        if !literal.is_empty() {
            out.push_str(" + '");
            out.push_str(&literal.replace('\'', "''"));
            out.push('\'');
            literal.clear();
        }
    };
    for c in s.chars() {
        if plain(c) {
            literal.push(c);
            continue;
        }
        flush(&mut literal, &mut out);
        let mut units = [0u16; 2];
        for u in c.encode_utf16(&mut units) {
            out.push_str(&format!(" + [char]0x{u:04X}"));
        }
    }
    flush(&mut literal, &mut out);
    out.push(')');
    out
}

/// `s` made safe for the rest of a comment line (`#` in PowerShell and LDIF): control
/// characters and the Unicode line and paragraph separators, which would end the line in some
/// reader, become `<U+000A>`. Everything else, non-ASCII names included, stays readable.
pub fn comment_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
            out.push_str(&format!("<U+{:04X}>", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Longest physical LDIF line: a common convention (RFC 2849 sets no width; ldapsearch uses 78).
const LDIF_WIDTH: usize = 76;

/// One LDIF `name: value` line, as `name:: base64` when the value is not a SAFE-STRING in
/// RFC 2849's sense (non-ASCII, NUL/CR/LF, a leading space, `:` or `<`, or a trailing space,
/// which readers may trim), then folded to [`LDIF_WIDTH`] columns, with CRLF line ends.
pub fn ldif_text_line(name: &str, value: &str) -> String {
    let safe = value
        .bytes()
        .all(|b| (1..0x80).contains(&b) && b != b'\n' && b != b'\r')
        && !value.starts_with([' ', ':', '<'])
        && !value.ends_with(' ');
    if safe {
        ldif_fold(&format!("{name}: {value}"))
    } else {
        ldif_binary_line(name, value.as_bytes())
    }
}

/// `name:: base64(bytes)`, folded.
pub fn ldif_binary_line(name: &str, bytes: &[u8]) -> String {
    ldif_fold(&format!("{name}:: {}", B64.encode(bytes)))
}

/// RFC 2849 folding of one ASCII line: after [`LDIF_WIDTH`] characters, a line break and one
/// space, which the reader removes. Ends with CRLF.
fn ldif_fold(line: &str) -> String {
    debug_assert!(line.is_ascii(), "only ASCII lines are folded: {line:?}");
    let mut out = String::with_capacity(line.len() + line.len() / LDIF_WIDTH * 3 + 2);
    let mut rest = line;
    let mut width = LDIF_WIDTH;
    while rest.len() > width {
        let (head, tail) = rest.split_at(width);
        out.push_str(head);
        out.push_str(EOL);
        out.push(' ');
        rest = tail;
        // The continuation's leading space counts towards its width.
        width = LDIF_WIDTH - 1;
    }
    out.push_str(rest);
    out.push_str(EOL);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_are_single_quoted_with_quotes_doubled() {
        assert_eq!(ps_string("alice@contoso.com"), "'alice@contoso.com'");
        assert_eq!(ps_string(""), "''");
        assert_eq!(ps_string("o'brien@x"), "'o''brien@x'");
        assert_eq!(ps_string("$(rm -rf /)`n\""), "'$(rm -rf /)`n\"'");
    }

    #[test]
    fn control_and_non_ascii_characters_become_char_codes() {
        assert_eq!(ps_string("a\nb"), "('' + 'a' + [char]0x000A + 'b')");
        assert_eq!(ps_string("’"), "('' + [char]0x2019)");
        assert_eq!(ps_string("é'"), "('' + [char]0x00E9 + '''')");
        // Outside the BMP: the two UTF-16 units PowerShell strings are made of.
        assert_eq!(ps_string("😀"), "('' + [char]0xD83D + [char]0xDE00)");
    }

    #[test]
    fn comments_keep_names_but_never_a_line_break() {
        assert_eq!(comment_text("José Müller"), "José Müller");
        assert_eq!(
            comment_text("a\r\nb\u{85}c\u{2028}d\0"),
            "a<U+000D><U+000A>b<U+0085>c<U+2028>d<U+0000>"
        );
    }

    #[test]
    fn ldif_values_are_plain_only_when_rfc_2849_allows() {
        assert_eq!(ldif_text_line("dn", "CN=A,DC=x"), "dn: CN=A,DC=x\r\n");
        for v in [" lead", ":colon", "<url", "trail ", "CN=Jérôme", "a\nb"] {
            let line = ldif_text_line("dn", v);
            assert!(line.starts_with("dn:: "), "{v:?} → {line:?}");
            let b64 = line.trim_start_matches("dn:: ").trim_end();
            assert_eq!(B64.decode(b64).unwrap(), v.as_bytes());
        }
    }

    #[test]
    fn long_lines_fold_at_76_columns_and_unfold_to_the_same_text() {
        let dn = format!("CN={},OU=Users,DC=contoso,DC=com", "x".repeat(200));
        let text = ldif_text_line("dn", &dn);
        let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert!(lines.len() > 2);
        assert!(lines.iter().all(|l| l.len() <= LDIF_WIDTH), "{lines:?}");
        assert!(lines[1..].iter().all(|l| l.starts_with(' ')));
        let unfolded: String = lines
            .iter()
            .enumerate()
            .map(|(i, l)| if i == 0 { *l } else { &l[1..] })
            .collect();
        assert_eq!(unfolded, format!("dn: {dn}"));
        // Exactly the width: not folded.
        let exact = "a".repeat(LDIF_WIDTH);
        assert_eq!(ldif_fold(&exact), format!("{exact}\r\n"));
    }
}
