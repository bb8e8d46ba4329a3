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

/// The text of an identifier cell: surrounding blanks and the apostrophe Excel (or a
/// formula-injection guard) puts in front of values such as `+7Byu5JQ…` are dropped.
pub(crate) fn identifier(raw: &str) -> &str {
    let t = raw.trim();
    t.strip_prefix('\'').map(str::trim).unwrap_or(t)
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
