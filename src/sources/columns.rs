//! Column names and cell conventions shared by the AD and cloud readers.
//!
//! Admins hand us whatever `Select-Object`, Graph, csvde or Excel named the columns, so names are
//! compared after folding case and dropping everything that is not a letter or digit
//! (`mS-DS-ConsistencyGuid` = `msdsconsistencyguid`, `User Principal Name` = `userprincipalname`).
//! Alias lists are ordered: when a file has two candidates (`DisplayName` and `Name`), the earlier
//! alias wins.

/// Fold a header name for comparison.
pub(crate) fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The column for a field: the first alias (in priority order) that some header matches.
pub(crate) fn find(normalized_headers: &[String], aliases: &[&str]) -> Option<usize> {
    aliases
        .iter()
        .find_map(|alias| normalized_headers.iter().position(|h| h == alias))
}

/// Characters that show as nothing: zero-width space, joiners, word joiner, byte-order mark, soft
/// hyphen. Copy and paste (into the hand-filled template, say) brings them along unseen.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{feff}' | '\u{00ad}'
    )
}

/// `s` without blanks (a non-breaking space too) and invisible characters around it.
pub(crate) fn trim_invisible(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || is_invisible(c))
}

/// The text of an identifier cell: surrounding blanks, invisible characters and the apostrophe
/// Excel (or a formula-injection guard) puts in front of values such as `+7Byu5JQ…` are dropped.
pub(crate) fn identifier(raw: &str) -> &str {
    let t = trim_invisible(raw);
    t.strip_prefix('\'').map(trim_invisible).unwrap_or(t)
}

/// Excel's error values, as a CSV saved from Excel holds them where a formula failed.
const EXCEL_ERRORS: &[&str] = &[
    "#NAME?",
    "#VALUE!",
    "#REF!",
    "#N/A",
    "#DIV/0!",
    "#NUM!",
    "#NULL!",
    "#SPILL!",
    "#CALC!",
    "#FIELD!",
    "#BLOCKED!",
    "#CONNECT!",
    "#BUSY!",
    "#UNKNOWN!",
    "#GETTING_DATA",
    "#PYTHON!",
];

/// What Excel made of an identifier cell in a CSV it saved: an error value where a value
/// starting with `+` or `=` was evaluated as a formula (`#NAME?`), or a number or date it
/// displayed in its own way (`1.23457E+11`, `3/1/2024`). `None` for anything else. No GUID,
/// ImmutableId or UPN looks like these.
pub(crate) fn excel_rendering(value: &str) -> Option<&'static str> {
    let v = value.trim();
    if is_excel_error(v) {
        return Some("an Excel error value");
    }
    // Numbers and dates start with a digit or a sign; most identifiers do not get further.
    if !v.starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '-') {
        return None;
    }
    if is_scientific(v) {
        return Some("a number in Excel's scientific notation");
    }
    if is_date(v) {
        return Some("a date as Excel displays it");
    }
    None
}

/// `#NAME?`, `#N/A`…: a cell where Excel's formula failed.
pub(crate) fn is_excel_error(value: &str) -> bool {
    let v = value.trim();
    v.starts_with('#') && EXCEL_ERRORS.iter().any(|e| e.eq_ignore_ascii_case(v))
}

/// `1.23457E+11`, `1,23457E+11`, `5E-05`.
fn is_scientific(v: &str) -> bool {
    let Some((mantissa, exponent)) = v.split_once(['E', 'e']) else {
        return false;
    };
    let mantissa = mantissa.strip_prefix(['+', '-']).unwrap_or(mantissa);
    let (int, frac) = mantissa.split_once(['.', ',']).unwrap_or((mantissa, "0"));
    let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(int) && digits(frac) && digits(exponent) && exponent.len() <= 3
}

/// `3/1/2024`, `01.03.2024`, `2024-03-01`, optionally with a time (`3/1/2024 14:05`, `… 2:05 PM`).
fn is_date(v: &str) -> bool {
    let date = v.split_once(' ').map_or(v, |(d, time)| {
        let time = time.trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == ' ');
        if time
            .split(':')
            .all(|t| !t.is_empty() && t.len() <= 2 && t.bytes().all(|b| b.is_ascii_digit()))
        {
            d
        } else {
            ""
        }
    });
    let parts: Vec<&str> = date.split(['/', '.', '-']).collect();
    if parts.len() != 3
        || !parts
            .iter()
            .all(|p| (1..=4).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    let n: Vec<u32> = parts.iter().filter_map(|p| p.parse().ok()).collect();
    let years = parts.iter().filter(|p| p.len() == 4).count();
    let (a, b) = match (years, parts[0].len() == 4) {
        (1, true) => (n[1], n[2]),
        (0 | 1, false) => (n[0], n[1]),
        _ => return false,
    };
    // Month and day, in either order.
    (1..=12).contains(&a.min(b)) && (1..=31).contains(&a.max(b))
}

/// A cell PowerShell filled with a .NET type name instead of the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TypeNameCell {
    /// A multi-valued property (`ADPropertyValueCollection`, `System.String[]`) exported without `-join`.
    Collection,
    /// A binary property (`System.Byte[]`), e.g. mS-DS-ConsistencyGuid straight from Get-ADUser.
    Bytes,
}

pub(crate) const AD_COLLECTION: &str =
    "Microsoft.ActiveDirectory.Management.ADPropertyValueCollection";

pub(crate) fn type_name_cell(value: &str) -> Option<TypeNameCell> {
    let v = value.trim();
    if v == AD_COLLECTION
        || v == "System.String[]"
        || v == "System.Object[]"
        || v.starts_with("System.Collections.Generic.List`1")
    {
        Some(TypeNameCell::Collection)
    } else if v == "System.Byte[]" {
        Some(TypeNameCell::Bytes)
    } else {
        None
    }
}

/// What to tell the admin about a type-name cell in column `column`.
pub(crate) fn type_name_message(kind: TypeNameCell, column: &str, value: &str) -> (String, String) {
    match kind {
        TypeNameCell::Collection => (
            format!(
                "{column} holds the type name `{}` instead of its values: a multi-valued property was \
                 exported without -join",
                value.trim()
            ),
            format!(
                "export it as one joined string, e.g. Select-Object …,@{{n='{column}';e={{$_.{column} -join ';'}}}} | Export-Csv …"
            ),
        ),
        TypeNameCell::Bytes => (
            format!(
                "{column} holds the type name `System.Byte[]` instead of the GUID: a binary attribute was exported as is"
            ),
            format!(
                "export it as GUID text, e.g. Select-Object …,@{{n='{column}';e={{[guid]::new($_.'{column}')}}}} | Export-Csv …"
            ),
        ),
    }
}

/// Split a multi-valued cell (`SMTP:a@x;smtp:b@x`, csvde's `;`-joined values).
pub(crate) fn split_multi(value: &str) -> Vec<String> {
    value
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `0` → `A`, `25` → `Z`, `26` → `AA`: for cell references in messages.
pub(crate) fn column_letters(col: u32) -> String {
    // Excel has 16,384 columns; anything past XFD is clamped rather than wrapped.
    rust_xlsxwriter::utility::column_number_to_name(col.min(16_383) as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fold_case_and_punctuation() {
        assert_eq!(normalize("mS-DS-ConsistencyGuid"), "msdsconsistencyguid");
        assert_eq!(normalize(" User_Principal Name "), "userprincipalname");
        assert_eq!(normalize("\u{feff}objectGUID"), "objectguid");
    }

    #[test]
    fn earlier_alias_wins_over_column_order() {
        let h: Vec<String> = ["name", "displayname"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(find(&h, &["displayname", "name"]), Some(1));
        assert_eq!(find(&h, &["upn"]), None);
    }

    #[test]
    fn excel_apostrophe_is_dropped_from_identifiers() {
        assert_eq!(
            identifier(" '+7Byu5JQuU2TfrLSegT8VQ== "),
            "+7Byu5JQuU2TfrLSegT8VQ=="
        );
        assert_eq!(identifier("abc"), "abc");
    }

    #[test]
    fn excel_renderings_of_identifiers_are_recognised() {
        for v in [
            "#NAME?",
            "#name?",
            " #VALUE! ",
            "#REF!",
            "#N/A",
            "#DIV/0!",
            "#NUM!",
            "#NULL!",
        ] {
            assert_eq!(excel_rendering(v), Some("an Excel error value"), "{v}");
        }
        for v in ["1.23457E+11", "1,23457E+11", "5E-05", "-2.5e+15"] {
            assert_eq!(
                excel_rendering(v),
                Some("a number in Excel's scientific notation"),
                "{v}"
            );
        }
        for v in [
            "3/1/2024",
            "01.03.2024",
            "2024-03-01",
            "3/1/2024 14:05",
            "3/1/24 2:05 PM",
        ] {
            assert_eq!(
                excel_rendering(v),
                Some("a date as Excel displays it"),
                "{v}"
            );
        }
        for v in [
            "+7Byu5JQuU2TfrLSegT8VQ==",
            "BpazOkLGm0iEtljAONPvOQ==",
            "3ab39606-c642-489b-84b6-58c038d3ef39",
            "pat@contoso.com",
            "12345",
            "E5OAwHSJSkmSNluzzK/Z+A==",
            "1E5OAwHS",
            "12-34-56",
            "",
        ] {
            assert_eq!(excel_rendering(v), None, "{v}");
        }
    }

    #[test]
    fn type_names_are_recognised() {
        assert_eq!(
            type_name_cell(AD_COLLECTION),
            Some(TypeNameCell::Collection)
        );
        assert_eq!(type_name_cell("System.Byte[]"), Some(TypeNameCell::Bytes));
        assert_eq!(type_name_cell("SMTP:a@b.c"), None);
        let (msg, fix) =
            type_name_message(TypeNameCell::Collection, "proxyAddresses", AD_COLLECTION);
        assert!(msg.contains("without -join"));
        assert!(
            fix.contains("@{n='proxyAddresses';e={$_.proxyAddresses -join ';'}}"),
            "{fix}"
        );
    }

    #[test]
    fn column_letters_match_excel() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(16383), "XFD");
    }
}
