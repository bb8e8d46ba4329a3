//! Table rows → [`AdUser`]s, for every tabular AD export (PowerShell CSV, csvde, XLSX).
//!
//! A file-level fault (no UPN column, no GUID column, a whole column of .NET type names) stops the
//! read with one error, because every row would be wrong in the same way. Anything wrong with a
//! single row is recorded on that row and the read goes on, so the plan can show it as
//! `InvalidInput` next to the good rows.

use super::columns::{
    excel_rendering, find, identifier, normalize, split_multi, trim_invisible, type_name_cell,
    type_name_message, TypeNameCell,
};
use super::table::{Header, Row, TableVisitor, Value};
use super::AdUser;
use crate::anchor::{self, HexAs, SourceAnchor};
use crate::error::InputError;
use std::borrow::Cow;
use std::path::{Path, PathBuf};

const UPN: &[&str] = &["userprincipalname", "upn"];
const OBJECT_GUID: &[&str] = &["objectguid", "guid"];
const IMMUTABLE_ID: &[&str] = &["immutableid", "onpremisesimmutableid", "sourceanchor"];
const CONSISTENCY_GUID: &[&str] = &["msdsconsistencyguid", "consistencyguid"];
const MAIL: &[&str] = &["mail", "emailaddress", "primarysmtpaddress"];
const PROXY_ADDRESSES: &[&str] = &["proxyaddresses"];
const DISPLAY_NAME: &[&str] = &["displayname", "name"];
const DN: &[&str] = &["dn", "distinguishedname"];
const SAM: &[&str] = &["samaccountname"];

#[derive(Default, Clone, Copy)]
struct Columns {
    upn: Option<usize>,
    object_guid: Option<usize>,
    immutable_id: Option<usize>,
    consistency_guid: Option<usize>,
    mail: Option<usize>,
    proxy_addresses: Option<usize>,
    display_name: Option<usize>,
    dn: Option<usize>,
    sam: Option<usize>,
}

/// Per column: cells with a value, and cells holding a .NET type name instead.
#[derive(Default, Clone, Copy)]
struct TypeNameTally {
    filled: usize,
    type_names: usize,
    kind: Option<TypeNameCell>,
}

pub(crate) struct AdRows {
    path: PathBuf,
    csvde: bool,
    hex_as: Option<HexAs>,
    cols: Columns,
    names: Vec<String>,
    header_place: String,
    tally: Vec<TypeNameTally>,
    pub users: Vec<AdUser>,
    /// Rows whose names hold `?`: the mark of Windows PowerShell 5.1's ASCII Export-Csv.
    question_marks: usize,
    first_question_mark: Option<String>,
    /// Anchor cells written as decimal bytes (`6 150 179 58 …`), and the first of them.
    decimal_bytes: usize,
    first_decimal_bytes: Option<String>,
    unread: super::Unread,
}

impl AdRows {
    /// Attributes to drop from each user as it is read (see [`super::Unread`]).
    pub(crate) fn unread(mut self, unread: super::Unread) -> Self {
        self.unread = unread;
        self
    }

    pub(crate) fn new(path: &Path, csvde: bool, hex_as: Option<HexAs>) -> Self {
        AdRows {
            path: path.to_path_buf(),
            csvde,
            hex_as,
            cols: Columns::default(),
            names: Vec::new(),
            header_place: String::new(),
            tally: Vec::new(),
            users: Vec::new(),
            question_marks: 0,
            first_question_mark: None,
            decimal_bytes: 0,
            first_decimal_bytes: None,
            unread: super::Unread::default(),
        }
    }

    fn name(&self, col: usize) -> &str {
        self.names.get(col).map(String::as_str).unwrap_or("?")
    }

    /// Text of a cell: csvde writes non-ASCII and multi-line strings as `X'<utf-8 hex>'`.
    fn text<'v>(&self, v: &'v Value<'_>) -> Option<Cow<'v, str>> {
        let s = v.display()?;
        if self.csvde {
            if let Some(bytes) = csvde_hex(s) {
                if let Ok(t) = String::from_utf8(bytes) {
                    return Some(Cow::Owned(t));
                }
            }
        }
        Some(Cow::Borrowed(s))
    }

    fn tally(&mut self, col: usize, v: &Value<'_>) -> Option<TypeNameCell> {
        let t = self.tally.get_mut(col)?;
        let s = v.display()?;
        t.filled += 1;
        let kind = type_name_cell(s);
        if kind.is_some() {
            t.type_names += 1;
            t.kind = kind;
        }
        kind
    }

    /// An anchor column: `Ok(None)` when empty, `Err(problem)` when it is not a GUID.
    fn anchor(
        &mut self,
        row: &Row<'_>,
        col: Option<usize>,
    ) -> Result<Option<SourceAnchor>, String> {
        let Some(c) = col else { return Ok(None) };
        let v = row.get(col);
        let kind = self.tally(c, v);
        let name = self.name(c).to_owned();
        let cell = row.cell_ref(c);
        let raw = match v {
            Value::Empty => return Ok(None),
            Value::NotText { kind, shown } => {
                return Err(format!(
                    "{name}{cell} is {} ({shown}), not text: Excel converted the identifier. \
                     Format the column as Text and enter the values again (or re-export)",
                    kind.describe()
                ))
            }
            Value::Text(s) => s,
        };
        let s = identifier(raw);
        if s.is_empty() {
            return Ok(None);
        }
        if let Some(what) = excel_rendering(s) {
            return Err(format!(
                "{name}{cell} is {what} ({s}), not a GUID: the AD export went through Excel, which evaluated or \
                 converted the cell, so the GUID is lost. Export {name} from AD again and do not open and save the \
                 CSV in Excel (or import it with the column set to Text)"
            ));
        }
        if let Some(kind) = kind {
            let (msg, fix) = type_name_message(kind, &name, s);
            return Err(format!("{msg}; {fix}"));
        }
        if self.csvde {
            if let Some(bytes) = csvde_hex(s) {
                return match <[u8; 16]>::try_from(bytes.as_slice()) {
                    Ok(b) => Ok(Some(SourceAnchor::from_bytes(b))),
                    Err(_) => Err(format!(
                        "{name}{cell} holds {} bytes, not the 16 bytes of a GUID",
                        bytes.len()
                    )),
                };
            }
        }
        let (anchor, notation) = anchor::parse_one_as(s, self.hex_as)
            .map_err(|e| format!("{name}{cell} \"{s}\" is not a GUID: {e}"))?;
        if notation == anchor::Notation::DecimalBytes {
            self.decimal_bytes += 1;
            if self.first_decimal_bytes.is_none() {
                self.first_decimal_bytes = Some(format!("{name} at {}", row.location));
            }
        }
        Ok(Some(anchor))
    }

    fn optional_text(&mut self, row: &Row<'_>, col: Option<usize>) -> Option<String> {
        let c = col?;
        let v = row.get(col);
        self.tally(c, v);
        let t = self.text(v)?;
        let t = t.trim();
        (!t.is_empty()).then(|| t.to_owned())
    }
}

/// The bytes of a csvde `X'…'` value.
fn csvde_hex(s: &str) -> Option<Vec<u8>> {
    let hex = s
        .strip_prefix("X'")
        .or_else(|| s.strip_prefix("x'"))?
        .strip_suffix('\'')?;
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

impl TableVisitor for AdRows {
    fn header(&mut self, header: &Header) -> Result<(), InputError> {
        let norm: Vec<String> = header.names.iter().map(|n| normalize(n)).collect();
        let cols = Columns {
            upn: find(&norm, UPN),
            object_guid: find(&norm, OBJECT_GUID),
            immutable_id: find(&norm, IMMUTABLE_ID),
            consistency_guid: find(&norm, CONSISTENCY_GUID),
            mail: find(&norm, MAIL),
            proxy_addresses: find(&norm, PROXY_ADDRESSES),
            display_name: find(&norm, DISPLAY_NAME),
            dn: find(&norm, DN),
            sam: find(&norm, SAM),
        };
        let found = || {
            let shown: Vec<&str> = header
                .names
                .iter()
                .filter(|n| !n.is_empty())
                .take(20)
                .map(String::as_str)
                .collect();
            if shown.is_empty() {
                "no column names".to_owned()
            } else {
                format!("the columns are: {}", shown.join(", "))
            }
        };
        if cols.upn.is_none() {
            return Err(InputError::new(
                &self.path,
                header.place.clone(),
                format!("no UserPrincipalName column ({})", found()),
                if self.csvde {
                    "add userPrincipalName to the csvde -l attribute list"
                } else {
                    "export UserPrincipalName too, e.g. Get-ADUser -Filter * | Select-Object UserPrincipalName,ObjectGUID,mail,DisplayName | Export-Csv users.csv"
                },
            ));
        }
        if cols.object_guid.is_none()
            && cols.consistency_guid.is_none()
            && cols.immutable_id.is_none()
        {
            return Err(InputError::new(
                &self.path,
                header.place.clone(),
                format!(
                    "no objectGUID, mS-DS-ConsistencyGuid or ImmutableId column ({})",
                    found()
                ),
                "export objectGUID too (Get-ADUser … | Select-Object UserPrincipalName,ObjectGUID,…). \
                 csvde -m / -n and ldifde -m leave objectGUID out: run them without those switches",
            ));
        }
        self.cols = cols;
        self.names = header.names.clone();
        self.header_place = header.place.clone();
        self.tally = vec![TypeNameTally::default(); header.names.len()];
        Ok(())
    }

    fn row(&mut self, row: Row<'_>) {
        let mut problems = Vec::new();
        let cols = self.cols;

        let needed = [
            cols.upn,
            cols.object_guid,
            cols.consistency_guid,
            cols.immutable_id,
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0);
        problems.extend(row.shape_problem(self.names.len(), needed));

        // UPN: kept as exported, apart from an Excel apostrophe and invisible characters around it.
        let upn = match (cols.upn, row.get(cols.upn)) {
            (Some(c), v @ Value::NotText { kind, shown }) => {
                self.tally(c, v);
                problems.push(format!(
                    "{}{} is {} ({shown}), not a UserPrincipalName",
                    self.name(c),
                    row.cell_ref(c),
                    kind.describe()
                ));
                shown.clone()
            }
            (Some(c), v) => {
                self.tally(c, v);
                let t = self.text(v).unwrap_or_default();
                let t = trim_invisible(&t);
                trim_invisible(t.strip_prefix('\'').unwrap_or(t)).to_owned()
            }
            (None, _) => String::new(),
        };
        if upn.trim().is_empty() {
            problems.push("empty UserPrincipalName".to_owned());
        } else if type_name_cell(&upn).is_some() {
            problems.push(format!("UserPrincipalName holds a type name ({upn})"));
        } else {
            problems.extend(super::upn_problem(&upn));
        }

        let mut take = |r: Result<Option<SourceAnchor>, String>| match r {
            Ok(a) => a,
            Err(p) => {
                problems.push(p);
                None
            }
        };
        let object_guid = take(self.anchor(&row, cols.object_guid));
        let immutable_id = take(self.anchor(&row, cols.immutable_id));
        let consistency_guid = take(self.anchor(&row, cols.consistency_guid));
        let object_guid = match (object_guid, immutable_id) {
            (Some(g), Some(i)) if g != i => {
                problems.push(format!(
                    "objectGUID {g} and ImmutableId {} name different objects; keep one of the two columns",
                    i.immutable_id()
                ));
                Some(g)
            }
            (g, i) => g.or(i),
        };
        let anchor_cells_empty = [cols.object_guid, cols.immutable_id, cols.consistency_guid]
            .into_iter()
            .flatten()
            .all(|c| {
                row.get(Some(c))
                    .display()
                    .is_none_or(|s| identifier(s).is_empty())
            });
        if anchor_cells_empty {
            problems.push("no objectGUID: the GUID cell is empty".to_owned());
        }

        // Compared like a UPN: invisible characters around it would hide a match.
        let mail = self.optional_text(&row, cols.mail).and_then(|m| {
            let t = trim_invisible(&m);
            match t.len() {
                0 => None,
                n if n == m.len() => Some(m),
                _ => Some(t.to_owned()),
            }
        });
        let proxy_addresses = match cols.proxy_addresses {
            Some(c) => {
                let v = row.get(Some(c));
                match self.tally(c, v) {
                    Some(kind) => {
                        let (msg, fix) =
                            type_name_message(kind, self.name(c), v.display().unwrap_or_default());
                        problems.push(format!("{msg}; {fix}"));
                        Vec::new()
                    }
                    None => self.text(v).map(|t| split_multi(&t)).unwrap_or_default(),
                }
            }
            None => Vec::new(),
        };
        let display_name = self.optional_text(&row, cols.display_name);
        let dn = self.optional_text(&row, cols.dn);
        let sam_account_name = self.optional_text(&row, cols.sam);
        let lossy = [Some(&upn), display_name.as_ref(), dn.as_ref()]
            .into_iter()
            .flatten()
            .any(|s| s.contains('?'));
        if lossy {
            self.question_marks += 1;
            if self.first_question_mark.is_none() {
                self.first_question_mark = Some(row.location.clone());
            }
        }

        // Dropped now rather than after the whole read: freed right away, the next row reuses the
        // memory instead of leaving holes between the users that stay.
        let unread = self.unread;
        let mut proxy_addresses = proxy_addresses;
        if unread.proxy_addresses {
            proxy_addresses = Vec::new();
        } else {
            proxy_addresses.shrink_to_fit();
        }
        self.users.push(AdUser {
            upn,
            object_guid,
            consistency_guid,
            mail,
            proxy_addresses,
            display_name,
            dn: dn.filter(|_| !unread.dn),
            sam_account_name: sam_account_name.filter(|_| !unread.sam_account_name),
            location: row.location,
            problems,
        });
    }
}

impl AdRows {
    /// File-level checks that need every row: no users at all, or a column made only of type names.
    /// Whether the file has a column for mS-DS-ConsistencyGuid, or for the ImmutableId itself
    /// (which is the anchor, whatever it was computed from).
    pub(crate) fn reads_consistency_guid(&self) -> bool {
        self.cols.consistency_guid.is_some() || self.cols.immutable_id.is_some()
    }

    pub(crate) fn finish(self) -> Result<(Vec<AdUser>, Vec<String>), InputError> {
        if self.users.is_empty() {
            return Err(InputError::new(
                &self.path,
                self.header_place.clone(),
                "the file has a header but no users",
                "check the export's filter (Get-ADUser -Filter / -SearchBase) and export again",
            ));
        }
        for (col, t) in self.tally.iter().enumerate() {
            if let (Some(kind), true) = (t.kind, t.filled > 0 && t.type_names == t.filled) {
                let name = self.name(col);
                let sample = if kind == TypeNameCell::Bytes {
                    "System.Byte[]"
                } else {
                    super::columns::AD_COLLECTION
                };
                let (msg, fix) = type_name_message(kind, name, sample);
                return Err(InputError::new(
                    &self.path,
                    format!("{}, column {name}", self.header_place),
                    format!("every row: {msg}"),
                    fix,
                ));
            }
        }
        let mut warnings = Vec::new();
        if let Some(first) = &self.first_decimal_bytes {
            warnings.push(format!(
                "{} GUID cell(s) hold 16 byte values in decimal (first: {first}), what PowerShell's -join ' ' makes \
                 of a byte array such as mS-DS-ConsistencyGuid: read as the bytes in AD order. To be sure, export it \
                 as GUID text: @{{n='mS-DS-ConsistencyGuid';e={{if($_.'mS-DS-ConsistencyGuid'){{[guid]$_.'mS-DS-ConsistencyGuid'}}}}}}",
                self.decimal_bytes
            ));
        }
        if let Some(first) = &self.first_question_mark {
            warnings.push(format!(
                "{} row(s) have `?` in a UPN, display name or DN (first at {first}): Windows PowerShell 5.1 \
                 Export-Csv writes ASCII and replaces letters such as é with `?`. Export again with \
                 -Encoding UTF8 if names look wrong",
                self.question_marks
            ));
        }
        Ok((self.users, warnings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csvde_hex_values_decode() {
        assert_eq!(csvde_hex("X'c3a9'"), Some(vec![0xc3, 0xa9]));
        assert_eq!(csvde_hex("X'c3a'"), None);
        assert_eq!(csvde_hex("X'zz'"), None);
        assert_eq!(csvde_hex("plain"), None);
    }
}
