//! What a file looks like from its first lines (or its workbook's sheet names and first row),
//! without reading it: for messages that must say "this is a cloud export, did you swap the two
//! files?" or "this file is LDIF, not CSV" instead of "column X is missing".

use super::Format;
use std::io::Read;
use std::path::Path;

/// Enough of the start of a text file for its header, even after a `#TYPE` line and a BOM.
const HEAD_BYTES: u64 = 64 * 1024;

/// A file's format and the names of its columns, as found at its start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sniffed {
    /// What the content is, whatever `--format` says; `None` when it is none of the four.
    pub format: Option<Format>,
    /// The header's column names as written (CSV, csvde, and a workbook's first sheet).
    pub columns: Vec<String>,
    /// A workbook's sheets, in order.
    pub sheets: Vec<String>,
}

/// Columns only an AD export has (normalized: lower case, no `-`, `_` or spaces).
const AD_ONLY: &[&str] = &[
    "objectguid",
    "msdsconsistencyguid",
    "samaccountname",
    "distinguishedname",
    "dn",
];

impl Sniffed {
    fn has(&self, names: &[&str]) -> bool {
        self.columns
            .iter()
            .any(|c| names.contains(&super::columns::normalize(c).as_str()))
    }

    /// An Entra export (`Get-MgUser`, `cloud export`): an object id and the cloud's anchor or
    /// sync flag, and nothing only AD has.
    pub fn looks_like_cloud_export(&self) -> bool {
        self.has(&["id", "objectid"])
            && self.has(&["onpremisesimmutableid", "onpremisessyncenabled"])
            && !self.has(AD_ONLY)
    }

    /// An AD export: LDIF or csvde, or a column only AD has, and no cloud object id.
    pub fn looks_like_ad_export(&self) -> bool {
        matches!(self.format, Some(Format::Ldif | Format::Csvde))
            || (self.has(AD_ONLY) && !self.has(&["id", "objectid"]))
    }

    /// The hand-filled input workbook `hardmatch template` writes: an AD export never has an
    /// Approve column.
    pub fn looks_like_template(&self) -> bool {
        self.format == Some(Format::Xlsx)
            && self.has(&["userprincipalname"])
            && self.has(&["approve"])
    }

    /// "LDIF (dn: lines)", "a CSV with the columns A, B, C", … for messages.
    pub fn describe(&self) -> String {
        let columns = || {
            let shown: Vec<&str> = self
                .columns
                .iter()
                .filter(|c| !c.is_empty())
                .take(8)
                .map(String::as_str)
                .collect();
            if shown.is_empty() {
                String::new()
            } else {
                format!(" with the columns {}", shown.join(", "))
            }
        };
        match self.format {
            Some(Format::Ldif) => {
                "LDIF (ldifde or ldapsearch: `dn:` and `attribute: value` lines)".into()
            }
            Some(Format::Csvde) => format!("a csvde export{}", columns()),
            Some(Format::Csv) => format!("a CSV{}", columns()),
            Some(Format::Xlsx) => format!(
                "an XLSX workbook with the sheets {}",
                self.sheets
                    .iter()
                    .map(|s| format!("\"{s}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => "neither CSV, XLSX nor LDIF".into(),
        }
    }
}

/// Looks at the start of `path`; `None` when it cannot be read at all (the reader says why).
pub fn sniff(path: &Path) -> Option<Sniffed> {
    let mut head = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(HEAD_BYTES)
        .read_to_end(&mut head)
        .ok()?;
    if head.starts_with(b"PK\x03\x04") {
        return Some(sniff_xlsx(path));
    }
    // A cut UTF-16 text must not end in half a character.
    if head.len() % 2 == 1 && (head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF")) {
        head.pop();
    }
    let (text, _, _) = super::text::decode(path, &head).ok()?;
    let format = super::detect_text(&text);
    let columns = match format {
        Format::Ldif | Format::Xlsx => Vec::new(),
        Format::Csv | Format::Csvde => header(&text),
    };
    Some(Sniffed {
        format: Some(format),
        columns,
        sheets: Vec::new(),
    })
}

/// The header line's names, after `#TYPE` / `sep=` lines, quotes removed.
fn header(text: &str) -> Vec<String> {
    let dialect = super::csv::sniff(text);
    let body = &text[dialect.body_start..];
    let Some(line) = body.lines().find(|l| !l.trim().is_empty()) else {
        return Vec::new();
    };
    ::csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(dialect.delimiter)
        .flexible(true)
        .from_reader(line.as_bytes())
        .records()
        .next()
        .and_then(Result::ok)
        .map(|r| r.iter().map(|c| c.trim().to_string()).collect())
        .unwrap_or_default()
}

fn sniff_xlsx(path: &Path) -> Sniffed {
    use calamine::Reader;
    let mut sniffed = Sniffed {
        format: Some(Format::Xlsx),
        ..Sniffed::default()
    };
    let opened = std::fs::File::open(path)
        .ok()
        .and_then(|f| calamine::Xlsx::new(std::io::BufReader::new(f)).ok());
    let Some(mut wb) = opened else {
        return sniffed;
    };
    sniffed.sheets = wb.sheet_names();
    if let Some(first) = sniffed.sheets.first().cloned() {
        sniffed.columns = first_row(&mut wb, &first);
    }
    sniffed
}

/// The first non-empty row of a sheet, streamed: a million-row sheet is not loaded for it.
fn first_row<R: std::io::Read + std::io::Seek>(
    wb: &mut calamine::Xlsx<R>,
    sheet: &str,
) -> Vec<String> {
    let Ok(mut cells) = wb.worksheet_cells_reader(sheet) else {
        return Vec::new();
    };
    let mut row: Option<u32> = None;
    let mut names: Vec<(u32, String)> = Vec::new();
    while let Ok(Some(cell)) = cells.next_cell() {
        let (r, c) = cell.get_position();
        let text = match cell.get_value() {
            calamine::DataRef::String(s) => s.clone(),
            calamine::DataRef::SharedString(s) => s.to_string(),
            _ => continue,
        };
        if text.trim().is_empty() {
            continue;
        }
        match row {
            Some(first) if r != first => break,
            _ => row = Some(r),
        }
        names.push((c, text.trim().to_string()));
    }
    names.sort();
    names.into_iter().map(|(_, n)| n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sniff_text(name: &str, text: &[u8]) -> Sniffed {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        sniff(&path).expect("readable")
    }

    #[test]
    fn cloud_and_ad_exports_are_told_apart() {
        let cloud = sniff_text(
            "c.csv",
            b"\xEF\xBB\xBF\"Id\",\"UserPrincipalName\",\"OnPremisesImmutableId\",\"OnPremisesSyncEnabled\"\r\n",
        );
        assert!(cloud.looks_like_cloud_export() && !cloud.looks_like_ad_export());
        let mut utf16 = vec![0xFF, 0xFE];
        for ch in "#TYPE Selected.Microsoft.ActiveDirectory.Management.ADUser\r\n\"UserPrincipalName\",\"ObjectGUID\"\r\n".encode_utf16() {
            utf16.extend(ch.to_le_bytes());
        }
        utf16.push(0x41); // cut in half a character
        let ad = sniff_text("ad.csv", &utf16);
        assert_eq!(ad.columns, ["UserPrincipalName", "ObjectGUID"]);
        assert!(ad.looks_like_ad_export() && !ad.looks_like_cloud_export());
        let ldif = sniff_text(
            "ad.txt",
            b"dn: CN=A,DC=x\r\nobjectGUID:: BpazOkLGm0iEtljAONPvOQ==\r\n",
        );
        assert_eq!(ldif.format, Some(Format::Ldif));
        assert!(ldif.looks_like_ad_export() && ldif.describe().starts_with("LDIF"));
        // A hand-made AD list with an ImmutableId column is neither for sure.
        let list = sniff_text("list.csv", b"UserPrincipalName;OnPremisesImmutableId\n");
        assert!(!list.looks_like_cloud_export() && !list.looks_like_ad_export());
    }
}
