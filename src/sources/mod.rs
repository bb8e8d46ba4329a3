//! Read an on-premises AD export (PowerShell CSV, csvde CSV, XLSX, ldifde/ldapsearch LDIF) into
//! [`AdUser`] rows. One entry point, [`read_ad_export`]; the format is detected from the content.

mod ad;
pub(crate) mod columns;
pub(crate) mod csv;
mod ldif;
pub mod sniff;
pub(crate) mod stream;
pub(crate) mod table;
pub mod template;
pub mod text;
pub(crate) mod xlsx;

use crate::anchor::{HexAs, SourceAnchor};
use crate::error::InputError;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// One AD user as exported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdUser {
    /// UserPrincipalName as exported (the table readers drop blanks and invisible characters
    /// around it; matching trims blanks and folds case).
    pub upn: String,
    pub object_guid: Option<SourceAnchor>,
    /// mS-DS-ConsistencyGuid. When set, Entra Connect uses it as the sourceAnchor instead of objectGUID.
    pub consistency_guid: Option<SourceAnchor>,
    pub mail: Option<String>,
    /// All values, `SMTP:`/`smtp:` prefixes kept.
    pub proxy_addresses: Vec<String>,
    pub display_name: Option<String>,
    pub dn: Option<String>,
    pub sam_account_name: Option<String>,
    /// `ad.csv:12`, `ad.xlsx:Users!B7`, `ad.ldf:130`: where an admin finds the row.
    pub location: String,
    /// Row-level problems (bad GUID text, missing UPN…). A row with any becomes `InvalidInput`.
    pub problems: Vec<String>,
}

/// Why `upn` cannot be the UserPrincipalName it looks like: an invisible character or a blank
/// other than a plain space inside it (around it they are trimmed when read). Entra UPNs are
/// ASCII, so such a UPN matches no cloud user while it shows as one.
pub(crate) fn upn_problem(upn: &str) -> Option<String> {
    let odd = |c: char| (c.is_whitespace() && c != ' ') || columns::is_invisible(c);
    // Nearly every UPN is ASCII: only tabs and line breaks can be wrong there.
    if upn.is_ascii() && !upn.bytes().any(|b| b.is_ascii_whitespace() && b != b' ') {
        return None;
    }
    let (i, c) = upn.chars().enumerate().find(|&(_, c)| odd(c))?;
    let what = match c {
        '\u{200b}' => "a zero-width space",
        '\u{200c}' | '\u{200d}' | '\u{2060}' => "a zero-width joiner",
        '\u{feff}' => "a byte-order mark",
        '\u{00ad}' => "a soft hyphen",
        '\u{00a0}' | '\u{202f}' | '\u{2007}' => "a non-breaking space",
        _ => "a blank that is not a plain space",
    };
    Some(format!(
        "UserPrincipalName {upn:?} holds {what} (U+{:04X}) at character {}: it looks like a UPN but matches none; \
         retype it",
        u32::from(c),
        i + 1
    ))
}

impl AdUser {
    /// The anchor Entra Connect will use: ConsistencyGuid when set, else objectGUID.
    pub fn source_anchor(&self) -> Option<SourceAnchor> {
        self.consistency_guid.or(self.object_guid)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// PowerShell Export-Csv (5.1 or 7), Excel "Save as CSV", any delimiter and encoding.
    Csv,
    /// csvde export: `DN` first column, binary values as `X'…'`.
    Csvde,
    Xlsx,
    /// ldifde or ldapsearch output (RFC 2849).
    Ldif,
}

#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// Overrides detection.
    pub format: Option<Format>,
    /// XLSX sheet; default the first.
    pub sheet: Option<String>,
    /// How to read 32 plain hex digits in a GUID column.
    pub hex_as: Option<HexAs>,
    /// Attributes the caller never reads (CSV and XLSX exports; LDIF keeps everything).
    pub unread: Unread,
}

/// Attributes left out of each [`AdUser`] as it is read. Row checks still see them; only the
/// copies are not kept. At a million users, dropping them after the whole read instead left
/// about 300 MB of holes between the users that stay, which the allocator cannot give back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unread {
    pub dn: bool,
    pub sam_account_name: bool,
    pub proxy_addresses: bool,
}

/// What was read, plus what the Summary sheet reports about the input.
#[derive(Clone, Debug)]
pub struct AdExport {
    pub path: PathBuf,
    pub format: Format,
    pub users: Vec<AdUser>,
    /// File-level notes for the admin (Windows-1252 fallback, stray first line…).
    pub warnings: Vec<String>,
    /// Hex SHA-256 of the file's bytes.
    pub sha256: String,
    /// Whether mS-DS-ConsistencyGuid was read: the file has a column for it (or for the
    /// ImmutableId itself), or, in LDIF, which leaves out empty attributes, an entry has it.
    /// Without it, the anchor of a user moved between forests may be wrong.
    pub consistency_guid_read: bool,
}

/// Read an AD export. File-level problems (unreadable, no UPN or GUID column, corrupt XLSX) are an
/// [`InputError`]; row-level problems land in [`AdUser::problems`] and the run goes on.
pub fn read_ad_export(path: &Path, opts: &ReadOptions) -> Result<AdExport, InputError> {
    let scanned = match stream::scan(path)? {
        stream::Opened::Whole(bytes) => return read_ad_bytes(path, opts, bytes),
        stream::Opened::Text(scanned) => scanned,
    };
    if opts.format == Some(Format::Xlsx) {
        return Err(InputError::new(
            path,
            "",
            "--format xlsx was given but the file is not an XLSX workbook (no zip signature)",
            "leave out --format to detect the format, or give the .xlsx file",
        ));
    }
    let mut reader = scanned.open(path)?;
    let (prefix, complete) = stream::read_prefix_of(path, &mut reader)?;
    let head = std::str::from_utf8(&prefix[..complete]).unwrap_or_default();
    let format = opts.format.unwrap_or_else(|| detect_text(head));
    if format == Format::Ldif {
        // LDIF is parsed from the whole text.
        drop(reader);
        return read_ad_bytes(path, opts, read_file(path)?);
    }
    let mut warnings: Vec<String> = scanned.warning.iter().cloned().collect();
    let mut rows = ad::AdRows::new(path, format == Format::Csvde, opts.hex_as).unread(opts.unread);
    // The prefix ends at a line end unless it is the whole file; a line cut there is read again
    // from the stream.
    let (head, tail) = stream::split_prefix(path, &prefix, complete)?;
    let mut rest = tail.chain(reader);
    csv::visit_stream(path, head, &mut rest, &mut rows)?;
    let consistency_guid_read = rows.reads_consistency_guid();
    let (users, w) = rows.finish()?;
    warnings.extend(w);
    Ok(AdExport {
        path: path.to_path_buf(),
        format,
        users,
        warnings,
        sha256: scanned.sha256,
        consistency_guid_read,
    })
}

/// [`read_ad_export`] on the whole file in memory: XLSX, LDIF, and files that cannot be read
/// twice (pipes).
fn read_ad_bytes(path: &Path, opts: &ReadOptions, bytes: Vec<u8>) -> Result<AdExport, InputError> {
    let sha256 = sha256_hex(&bytes);
    let mut warnings = Vec::new();
    let kind = sniff_bytes(path, &bytes)?;
    let is_xlsx =
        match (opts.format, kind) {
            (None | Some(Format::Xlsx), ByteKind::Zip) => true,
            (Some(f), ByteKind::Zip) => {
                return Err(InputError::new(
                    path,
                    "",
                    format!(
                        "--format {} was given but the file is an XLSX workbook (zip)",
                        format_flag(f)
                    ),
                    "leave out --format, or use --format xlsx",
                ))
            }
            (Some(Format::Xlsx), ByteKind::Text) => return Err(InputError::new(
                path,
                "",
                "--format xlsx was given but the file is not an XLSX workbook (no zip signature)",
                "leave out --format to detect the format, or give the .xlsx file",
            )),
            (_, ByteKind::Text) => false,
        };
    let (format, users, consistency_guid_read) = if is_xlsx {
        let mut wb = xlsx::open(path, bytes)?;
        let sheet = xlsx::choose_sheet(path, &wb, opts.sheet.as_deref())?;
        let mut rows = ad::AdRows::new(path, false, opts.hex_as).unread(opts.unread);
        xlsx::visit(path, &mut wb, &sheet, &mut rows)?;
        let read = rows.reads_consistency_guid();
        let (users, w) = rows.finish()?;
        warnings.extend(w);
        (Format::Xlsx, users, read)
    } else {
        let (text, _encoding, warning) = text::decode_owned(path, bytes)?;
        warnings.extend(warning);
        check_text(path, &text)?;
        let format = opts.format.unwrap_or_else(|| detect_text(&text));
        let (users, read) = if format == Format::Ldif {
            let (users, w) = ldif::read(path, &text, opts.hex_as)?;
            warnings.extend(w);
            if users.is_empty() {
                return Err(InputError::new(
                    path,
                    "",
                    "the LDIF file holds no user entries",
                    "export the users again, e.g. ldifde -f users.ldf -r \"(objectClass=user)\" -l \"userPrincipalName,objectGUID,mS-DS-ConsistencyGuid,mail\"",
                ));
            }
            let read = users.iter().any(|u| u.consistency_guid.is_some());
            (users, read)
        } else {
            let mut rows =
                ad::AdRows::new(path, format == Format::Csvde, opts.hex_as).unread(opts.unread);
            csv::visit(path, &text, &mut rows)?;
            let read = rows.reads_consistency_guid();
            let (users, w) = rows.finish()?;
            warnings.extend(w);
            (users, read)
        };
        (format, users, read)
    };
    Ok(AdExport {
        path: path.to_path_buf(),
        format,
        users,
        warnings,
        sha256,
        consistency_guid_read,
    })
}

fn format_flag(f: Format) -> &'static str {
    match f {
        Format::Csv => "csv",
        Format::Csvde => "csvde",
        Format::Xlsx => "xlsx",
        Format::Ldif => "ldif",
    }
}

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, InputError> {
    std::fs::read(path).map_err(|e| {
        InputError::new(
            path,
            "",
            format!("cannot read the file: {e}"),
            "check the path and that the file is not open exclusively in another program",
        )
    })
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    sha256_hex_digest(&Sha256::digest(bytes))
}

pub(crate) fn sha256_hex_digest(digest: &[u8]) -> String {
    let mut s = String::with_capacity(64);
    for b in digest.iter() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ByteKind {
    Zip,
    Text,
}

/// What the first bytes say: a zip (XLSX), a text file, or something we cannot read at all.
pub(crate) fn sniff_bytes(path: &Path, bytes: &[u8]) -> Result<ByteKind, InputError> {
    if bytes.is_empty() {
        return Err(InputError::new(
            path,
            "",
            "the file is empty",
            "export the users again; the export may have failed or still be running",
        ));
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return Ok(ByteKind::Zip);
    }
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return Err(InputError::new(
            path,
            "",
            "this is an old Excel 97-2003 (.xls) workbook",
            "open it in Excel and save it as .xlsx or as \"CSV UTF-8\"",
        ));
    }
    if bytes.starts_with(&[0xFF, 0xFE, 0, 0]) || bytes.starts_with(&[0, 0, 0xFE, 0xFF]) {
        return Err(InputError::new(
            path,
            "",
            "the file is UTF-32, which is not supported",
            "export it again with -Encoding UTF8 (or Unicode)",
        ));
    }
    Ok(ByteKind::Text)
}

/// Text that is clearly not an export (binary data read as Windows-1252, UTF-16 without a BOM).
pub(crate) fn check_text(path: &Path, text: &str) -> Result<(), InputError> {
    if let Some(pos) = text.find('\0') {
        let line = text[..pos].matches('\n').count() + 1;
        return Err(InputError::new(
            path,
            format!("line {line}"),
            "the file holds NUL bytes: it is binary, or UTF-16 text without a byte-order mark",
            "export it again with Export-Csv -Encoding UTF8 (or save as \"CSV UTF-8\" in Excel)",
        ));
    }
    if text.trim().is_empty() {
        return Err(InputError::new(
            path,
            "",
            "the file holds only blank lines",
            "export the users again; the export may have failed",
        ));
    }
    Ok(())
}

/// Tell LDIF, csvde and PowerShell/Excel CSV apart by content.
fn detect_text(text: &str) -> Format {
    // LDIF: a `dn:` line, or several `attribute: value` lines (a fragment cut out of a dump), with
    // only comments, folded continuations and at most one stray line (`Enter LDAP Password:`)
    // before them. A CSV header line followed by a data line is two stray lines.
    let mut stray = 0;
    let mut attributes = 0;
    for line in text.lines().take(200) {
        let l = line.trim_end();
        if l.trim().is_empty()
            || l.starts_with(' ')
            || l.starts_with('\t')
            || l.starts_with('#') && !is_type_line(l)
        {
            continue;
        }
        if l.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("dn:")) {
            return Format::Ldif;
        }
        if is_ldif_attribute_line(l) {
            attributes += 1;
            if attributes >= 3 {
                return Format::Ldif;
            }
            continue;
        }
        stray += 1;
        if stray > 1 {
            break;
        }
    }
    let dialect = csv::sniff(text);
    let header = text[dialect.body_start..]
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let first = header
        .split(dialect.delimiter as char)
        .next()
        .unwrap_or_default()
        .trim()
        .trim_matches('"');
    if first.eq_ignore_ascii_case("dn") {
        Format::Csvde
    } else {
        Format::Csv
    }
}

/// `name: value`, `name:: base64`, `name;binary:< url`: an LDIF attribute line.
fn is_ldif_attribute_line(l: &str) -> bool {
    let Some((name, _)) = l.split_once(':') else {
        return false;
    };
    name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ';' || c == '.')
}

fn is_type_line(l: &str) -> bool {
    l.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("#type"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldif_is_detected_by_content() {
        assert_eq!(detect_text("version: 1\n\ndn: CN=a,DC=x\n"), Format::Ldif);
        assert_eq!(
            detect_text("# extended LDIF\n#\n\n# a, x\ndn: CN=a\n"),
            Format::Ldif
        );
        assert_eq!(
            detect_text("Enter LDAP Password: \ndn: CN=a\n"),
            Format::Ldif
        );
        assert_eq!(detect_text("DN: CN=a\n"), Format::Ldif);
        // A fragment of a dump without its dn: line, folded.
        assert_eq!(
            detect_text("distinguishedName: CN=x,CN=Users,DC=ulakha\n berlesme,DC=com\ninstanceType: 4\nname: x\n"),
            Format::Ldif
        );
        // Format-List console output has a space before the colon; it is not LDIF.
        assert_eq!(
            detect_text("userPrincipalName : a@x\nobjectGuid        : x\nmail : y\n"),
            Format::Csv
        );
        // A CSV whose values hold colons is still CSV.
        assert_eq!(
            detect_text(
                "UserPrincipalName,proxyAddresses\na@x,SMTP:a@x\nb@x,SMTP:b@x\nc@x,SMTP:c@x\n"
            ),
            Format::Csv
        );
    }

    #[test]
    fn csv_flavours_are_told_apart() {
        assert_eq!(
            detect_text("DN,objectClass,objectGUID\n\"CN=a\",user,X'00'\n"),
            Format::Csvde
        );
        assert_eq!(
            detect_text("\"UserPrincipalName\",\"ObjectGUID\"\n"),
            Format::Csv
        );
        assert_eq!(
            detect_text(
                "#TYPE Selected.Microsoft.ActiveDirectory.Management.ADUser\n\"DN\";\"x\"\n"
            ),
            Format::Csvde
        );
        assert_eq!(
            detect_text("#TYPE X\nUserPrincipalName;dn\na;b\nc;d\n"),
            Format::Csv
        );
    }

    #[test]
    fn sha256_is_lower_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
