//! Cloud users from an export file: `Get-MgUser` / `Get-MsolUser` piped to Export-Csv, an Excel
//! sheet, or what `hardmatch cloud export` writes (an XLSX with a "Deleted users" sheet).
//!
//! Unlike the AD side, a bad cloud row cannot be shown as a plan row of its own, so row faults are
//! warnings (capped, so a million bad rows do not drown the report) and the row is kept whenever
//! it can still be matched. An identifier Excel destroyed (`#NAME?` where `+t70Y…==` was) is
//! different: it could be any user's ImmutableId, so nothing read from that file can be trusted
//! and the file is refused, naming the cell.
//!
//! A recycle-bin export is recognised for what it is even when its DeletedDateTime cells are
//! empty (`Get-MgDirectoryDeletedItemAsUser` leaves them empty unless selected): by its name
//! (`cloud-deleted.csv`, a sheet named like "Deleted users"), or per row by the object-id prefix
//! Entra puts in front of a soft-deleted user's UPN. A user is never taken as active just
//! because a column is empty.

use super::{strip_deleted_prefix, CloudSource, CloudState, CloudUser, Unchecked};
use crate::error::InputError;
use crate::sources::columns::{
    excel_rendering, find, identifier, is_excel_error, normalize, split_multi, type_name_cell,
    type_name_message, TypeNameCell,
};
use crate::sources::table::{file_label, Header, NotTextKind, Row, TableVisitor, Value};
use crate::sources::{self, csv, stream, text, xlsx, ByteKind, Unread};
use std::io::Read;
use std::path::{Path, PathBuf};

const ID: &[&str] = &["id", "objectid", "cloudobjectid"];
const UPN: &[&str] = &["userprincipalname", "upn"];
const IMMUTABLE_ID: &[&str] = &["onpremisesimmutableid", "immutableid"];
const SYNC_ENABLED: &[&str] = &["onpremisessyncenabled", "dirsyncenabled", "syncenabled"];
const MAIL: &[&str] = &["mail"];
const PROXY_ADDRESSES: &[&str] = &["proxyaddresses"];
const DISPLAY_NAME: &[&str] = &["displayname"];
const DELETED: &[&str] = &["deleteddatetime", "softdeletiontimestamp"];
const OBJECT_IDENTIFIER: &[&str] = &["onpremisesobjectidentifier"];
const PRIVILEGED_ROLES: &[&str] = &["privilegedroles"];

/// The sheet `hardmatch cloud export` writes soft-deleted users to.
pub(crate) const DELETED_SHEET: &str = "Deleted users";

/// A file or sheet named for the recycle bin: `cloud-deleted.csv`, "Deleted users", "Deleted",
/// "RecycleBin"…
fn names_recycle_bin(name: &str) -> bool {
    let n = normalize(name);
    n.contains("deleted") || n.contains("recyclebin")
}

/// Row warnings kept in full; the rest are counted.
const MAX_ROW_WARNINGS: usize = 50;

#[derive(Default, Clone, Copy)]
struct Columns {
    id: Option<usize>,
    upn: Option<usize>,
    immutable_id: Option<usize>,
    sync_enabled: Option<usize>,
    mail: Option<usize>,
    proxy_addresses: Option<usize>,
    display_name: Option<usize>,
    deleted: Option<usize>,
    object_identifier: Option<usize>,
    privileged_roles: Option<usize>,
}

/// The first identifier cell Excel destroyed, and how many there were.
struct ExcelDamage {
    place: String,
    message: String,
    count: usize,
}

struct CloudRows {
    /// See [`crate::sources::Unread::proxy_addresses`].
    skip_proxy_addresses: bool,
    path: PathBuf,
    /// Every row is a soft-deleted user: the file or sheet is the recycle bin.
    recycle_bin: bool,
    /// Soft-deleted users without a deletion date, and the first of them.
    undated_deleted: usize,
    undated_example: Option<String>,
    /// Rows left out as unreadable.
    skipped: usize,
    damage: Option<ExcelDamage>,
    cols: Columns,
    names: Vec<String>,
    header_place: String,
    users: Vec<CloudUser>,
    deleted: Vec<CloudUser>,
    warnings: Vec<String>,
    more_warnings: usize,
    non_guid: usize,
    non_guid_example: Option<String>,
    immutable_filled: usize,
    /// ProxyAddresses cells with a value, and those holding a .NET type name instead.
    proxy_filled: usize,
    proxy_type_names: usize,
}

impl CloudRows {
    fn new(path: &Path, recycle_bin: bool) -> Self {
        CloudRows {
            skip_proxy_addresses: false,
            path: path.to_path_buf(),
            recycle_bin,
            undated_deleted: 0,
            undated_example: None,
            skipped: 0,
            damage: None,
            cols: Columns::default(),
            names: Vec::new(),
            header_place: String::new(),
            users: Vec::new(),
            deleted: Vec::new(),
            warnings: Vec::new(),
            more_warnings: 0,
            non_guid: 0,
            non_guid_example: None,
            immutable_filled: 0,
            proxy_filled: 0,
            proxy_type_names: 0,
        }
    }

    fn warn(&mut self, w: String) {
        if self.warnings.len() < MAX_ROW_WARNINGS {
            self.warnings.push(w);
        } else {
            self.more_warnings += 1;
        }
    }

    fn name(&self, col: usize) -> &str {
        self.names.get(col).map(String::as_str).unwrap_or("?")
    }

    fn text(row: &Row<'_>, col: Option<usize>) -> Option<String> {
        let t = row.get(col).display()?.trim();
        (!t.is_empty()).then(|| t.to_owned())
    }

    fn skip(&mut self, w: String) {
        self.skipped += 1;
        self.warn(w);
    }

    /// Records an identifier cell Excel destroyed: an error value anywhere, and for the
    /// ImmutableId also a number or date Excel made of it. Returns whether it did.
    fn excel_damage(&mut self, row: &Row<'_>, col: Option<usize>, immutable_id: bool) -> bool {
        let Some(c) = col else { return false };
        let (what, shown) = match row.get(col) {
            Value::NotText { kind, shown } if immutable_id || *kind == NotTextKind::Error => {
                (kind.describe(), shown.as_str())
            }
            Value::Text(t) if immutable_id => match excel_rendering(t) {
                Some(what) => (what, t.trim()),
                None => return false,
            },
            Value::Text(t) if is_excel_error(t) => ("an Excel error value", t.trim()),
            _ => return false,
        };
        if let Some(d) = &mut self.damage {
            d.count += 1;
            return true;
        }
        let label = file_label(&self.path);
        let place = match row.location.strip_prefix(&format!("{label}:")) {
            Some(line) if line.bytes().all(|b| b.is_ascii_digit()) => format!("line {line}"),
            Some(cell) => cell.to_owned(),
            None => row.location.clone(),
        };
        self.damage = Some(ExcelDamage {
            place: format!("{place}, column {}{}", self.name(c), row.cell_ref(c)),
            message: format!(
                "the {} cell is {what} ({shown}), not the identifier: the file went through Excel, which \
                 evaluated or converted it (a value starting with + or = becomes a formula), so the real value is lost",
                self.name(c)
            ),
            count: 1,
        });
        true
    }
}

impl TableVisitor for CloudRows {
    fn header(&mut self, header: &Header) -> Result<(), InputError> {
        let norm: Vec<String> = header.names.iter().map(|n| normalize(n)).collect();
        let cols = Columns {
            id: find(&norm, ID),
            upn: find(&norm, UPN),
            immutable_id: find(&norm, IMMUTABLE_ID),
            sync_enabled: find(&norm, SYNC_ENABLED),
            mail: find(&norm, MAIL),
            proxy_addresses: find(&norm, PROXY_ADDRESSES),
            display_name: find(&norm, DISPLAY_NAME),
            deleted: find(&norm, DELETED),
            object_identifier: find(&norm, OBJECT_IDENTIFIER),
            privileged_roles: find(&norm, PRIVILEGED_ROLES),
        };
        let shown: Vec<&str> = header
            .names
            .iter()
            .filter(|n| !n.is_empty())
            .take(20)
            .map(String::as_str)
            .collect();
        let missing: Vec<&str> = [
            (cols.id, "Id"),
            (cols.upn, "UserPrincipalName"),
            (cols.immutable_id, "OnPremisesImmutableId"),
        ]
        .into_iter()
        .filter_map(|(c, n)| c.is_none().then_some(n))
        .collect();
        if !missing.is_empty() {
            return Err(InputError::new(
                &self.path,
                header.place.clone(),
                format!(
                    "no {} column (the columns are: {})",
                    missing.join(", "),
                    if shown.is_empty() { "none".to_owned() } else { shown.join(", ") }
                ),
                "export them, e.g. Get-MgUser -All -Property Id,UserPrincipalName,OnPremisesImmutableId,\
                 OnPremisesSyncEnabled,Mail,ProxyAddresses,DisplayName | Select-Object Id,UserPrincipalName,\
                 OnPremisesImmutableId,OnPremisesSyncEnabled,Mail,@{n='ProxyAddresses';e={$_.ProxyAddresses -join ';'}},\
                 DisplayName | Export-Csv cloud.csv -NoTypeInformation (or use `hardmatch cloud export`)",
            ));
        }
        self.cols = cols;
        self.names = header.names.clone();
        self.header_place = header.place.clone();
        Ok(())
    }

    fn row(&mut self, row: Row<'_>) {
        let loc = row.location.clone();
        let cols = self.cols;

        let needed = [cols.id, cols.upn, cols.immutable_id]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(0);
        if let Some(p) = row.shape_problem(self.names.len(), needed) {
            // A shifted row could pair a user with another user's ImmutableId: leave it out.
            self.skip(format!("{loc}: {p}; row skipped"));
            return;
        }
        let damaged = [
            (cols.immutable_id, true),
            (cols.id, false),
            (cols.upn, false),
            (cols.object_identifier, false),
        ]
        .into_iter()
        .fold(false, |any, (c, iid)| {
            self.excel_damage(&row, c, iid) || any
        });
        if damaged {
            // The file is refused in `finish`; nothing of this row is kept.
            return;
        }
        let upn = Self::text(&row, cols.upn)
            .map(|s| identifier(&s).to_owned())
            .unwrap_or_default();
        let id = Self::text(&row, cols.id)
            .map(|s| identifier(&s).to_owned())
            .unwrap_or_default();
        if upn.is_empty() {
            self.skip(format!("{loc}: no UserPrincipalName; row skipped"));
            return;
        }
        if id.is_empty() {
            self.warn(format!(
                "{loc}: {upn} has no Id; apply will address it by UPN"
            ));
        }

        // Not text (an Excel number, date or error) was refused above as damage.
        let immutable_id = match row.get(cols.immutable_id) {
            Value::Text(s) => {
                let s = identifier(s);
                (!s.is_empty()).then(|| s.to_owned())
            }
            _ => None,
        };
        if let Some(i) = &immutable_id {
            self.immutable_filled += 1;
            if crate::anchor::guid_based(i).is_none() {
                self.non_guid += 1;
                if self.non_guid_example.is_none() {
                    self.non_guid_example = Some(format!("{i} at {loc}"));
                }
            }
        }

        let sync_enabled = match row.get(cols.sync_enabled) {
            Value::Empty => None,
            Value::NotText {
                kind: NotTextKind::Bool(b),
                ..
            } => Some(*b),
            v => {
                let s = v.display().unwrap_or_default().trim();
                match s.to_ascii_lowercase().as_str() {
                    "" => None,
                    "true" | "1" | "yes" => Some(true),
                    "false" | "0" | "no" => Some(false),
                    _ => {
                        let name = cols
                            .sync_enabled
                            .map(|c| self.name(c).to_owned())
                            .unwrap_or_default();
                        self.warn(format!(
                            "{loc}: {name} of {upn} is \"{s}\", not True/False; treated as unknown"
                        ));
                        None
                    }
                }
            }
        };

        let proxy_addresses = match cols.proxy_addresses {
            Some(c) => match Self::text(&row, Some(c)) {
                Some(t) if type_name_cell(&t).is_some() => {
                    self.proxy_filled += 1;
                    self.proxy_type_names += 1;
                    Vec::new()
                }
                Some(t) => {
                    self.proxy_filled += 1;
                    if self.skip_proxy_addresses {
                        // Dropped as read: freed now, the next row reuses the memory.
                        Vec::new()
                    } else {
                        let mut v = split_multi(&t);
                        v.shrink_to_fit();
                        v
                    }
                }
                None => Vec::new(),
            },
            None => Vec::new(),
        };
        let privileged_roles = cols.privileged_roles.map(|c| {
            Self::text(&row, Some(c))
                .map(|t| split_multi(&t))
                .unwrap_or_default()
        });
        // Soft-deleted: a deletion date, a recycle-bin file or sheet, or the object-id prefix
        // Entra gives a deleted user's UPN. An empty DeletedDateTime alone proves nothing.
        let deleted_date_time = match Self::text(&row, cols.deleted) {
            Some(d) => Some(d),
            None if self.recycle_bin || strip_deleted_prefix(&upn, &id).is_some() => {
                self.undated_deleted += 1;
                if self.undated_example.is_none() {
                    self.undated_example = Some(format!("{upn} at {loc}"));
                }
                Some(String::new())
            }
            None => None,
        };

        let user = CloudUser {
            id,
            upn,
            immutable_id,
            sync_enabled,
            mail: Self::text(&row, cols.mail),
            proxy_addresses,
            display_name: Self::text(&row, cols.display_name),
            deleted_date_time,
            on_prem_object_identifier: Self::text(&row, cols.object_identifier),
            privileged_roles,
            location: loc,
        };
        if user.is_deleted() {
            self.deleted.push(user);
        } else {
            self.users.push(user);
        }
    }
}

impl CloudRows {
    /// Whole-file checks, then hand the rows and warnings to `state`.
    fn finish(
        mut self,
        state: &mut CloudState,
        rows: usize,
        must_have_rows: bool,
    ) -> Result<(), InputError> {
        if let Some(d) = self.damage.take() {
            let more = match d.count {
                1 => String::new(),
                n => format!(" ({} more such cells)", n - 1),
            };
            return Err(InputError::new(
                &self.path,
                d.place,
                format!("{}{more}; it could be any user's ImmutableId", d.message),
                "export the cloud users again and do not open and save the CSV in Excel: use `hardmatch cloud export \
                 -o cloud.xlsx` (every cell text), or import the CSV in Excel with these columns set to Text",
            ));
        }
        // A recycle bin may be empty; an export of active users may not.
        if must_have_rows && !self.recycle_bin && rows == 0 {
            return Err(InputError::new(
                &self.path,
                self.header_place.clone(),
                "the cloud export has a header but no users",
                "export the cloud users again (Get-MgUser -All …)",
            ));
        }
        if let (Some(col), true) = (self.cols.proxy_addresses, self.proxy_type_names > 0) {
            let name = self.name(col).to_owned();
            let (msg, fix) = type_name_message(TypeNameCell::Collection, &name, "System.String[]");
            if self.proxy_type_names == self.proxy_filled {
                return Err(InputError::new(
                    &self.path,
                    format!("{}, column {name}", self.header_place),
                    format!("every row: {msg}"),
                    fix,
                ));
            }
            self.warnings.push(format!(
                "{}: {} row(s): {msg}; their proxy addresses are ignored. Fix: {fix}",
                self.path.display(),
                self.proxy_type_names
            ));
        }
        if self.non_guid > 0 {
            self.warnings.push(format!(
                "{}: {} user(s) have an OnPremisesImmutableId that is not base64 of a 16-byte GUID \
                 (kept as is, e.g. {})",
                self.path.display(),
                self.non_guid,
                self.non_guid_example.as_deref().unwrap_or_default()
            ));
        }
        if rows > 0 && self.immutable_filled == 0 && !self.recycle_bin {
            self.warnings.push(format!(
                "{}: every OnPremisesImmutableId is empty. If the file came from Get-MgUser, it returns \
                 that property only when asked: add -Property …,OnPremisesImmutableId and export again",
                self.path.display()
            ));
        }
        let unchecked = self.unchecked_and_warn();
        state.unchecked = state.unchecked.and(unchecked);
        if self.more_warnings > 0 {
            self.warnings.push(format!(
                "{}: … and {} more row warnings",
                self.path.display(),
                self.more_warnings
            ));
        }
        // Moved, not copied, into an empty state: `append` would briefly hold a second copy of a
        // million users' vector (a quarter of a GB).
        for (to, from) in [
            (&mut state.users, &mut self.users),
            (&mut state.deleted, &mut self.deleted),
        ] {
            if to.is_empty() {
                std::mem::swap(to, from);
            } else {
                to.append(from);
            }
        }
        state.warnings.append(&mut self.warnings);
        Ok(())
    }

    /// What this file or sheet could not check, with a warning for each thing missing.
    fn unchecked_and_warn(&mut self) -> Unchecked {
        let path = self.path.display().to_string();
        if let Some(example) = &self.undated_example {
            let why = if self.recycle_bin {
                "it is the recycle bin"
            } else {
                "its UPN carries the object-id prefix Entra gives soft-deleted users"
            };
            self.warnings.push(format!(
                "{path}: {} soft-deleted user(s) have no DeletedDateTime (e.g. {example}; read as soft-deleted because \
                 {why}); their deletion date is unknown. Get-MgDirectoryDeletedItemAsUser fills it only when asked: \
                 -Property …,DeletedDateTime",
                self.undated_deleted
            ));
        }
        let mut unchecked = Unchecked {
            deleted_users: !self.recycle_bin && self.deleted.is_empty(),
            skipped_rows: self.skipped > 0,
            ..Unchecked::default()
        };
        // Columns that only matter for active users (a recycle bin needs none of them).
        if self.users.is_empty() {
            return unchecked;
        }
        let missing = [
            (
                self.cols.sync_enabled.is_none(),
                &mut unchecked.sync_enabled,
                "no OnPremisesSyncEnabled column: users still synced from another forest cannot be told apart",
            ),
            (
                self.cols.object_identifier.is_none(),
                &mut unchecked.object_identifier,
                "no OnPremisesObjectIdentifier column: a user with it set, whose hard match Entra blocks since \
                 2026, cannot be told apart (add it to Get-MgUser -Property)",
            ),
            (
                self.cols.privileged_roles.is_none(),
                &mut unchecked.privileged_roles,
                "no PrivilegedRoles column: privileged roles, assigned or eligible, which block hard match since \
                 2026, were not checked (Get-MgUser cannot export them; `hardmatch cloud export` reads them)",
            ),
        ];
        for (is_missing, flag, what) in missing {
            if is_missing {
                *flag = true;
                self.warnings.push(format!("{path}: {what}"));
            }
        }
        unchecked
    }
}

/// A state before any file part is read: in particular, no recycle bin yet.
fn nothing_read() -> CloudState {
    CloudState {
        unchecked: Unchecked {
            deleted_users: true,
            ..Unchecked::default()
        },
        ..CloudState::default()
    }
}

/// `cloud-deleted.csv` (as `cloud export` names it), `deleted-users.xlsx`, `RecycleBin.csv`…
fn file_is_recycle_bin(path: &Path) -> bool {
    path.file_stem()
        .is_some_and(|s| names_recycle_bin(&s.to_string_lossy()))
}

/// See [`super::read_cloud_export`].
pub(crate) fn read(path: &Path, unread: Unread) -> Result<CloudState, InputError> {
    let scanned = match stream::scan(path)? {
        stream::Opened::Whole(bytes) => return read_bytes(path, bytes, unread),
        stream::Opened::Text(scanned) => scanned,
    };
    let mut state = nothing_read();
    state.warnings.extend(scanned.warning.clone());
    let mut reader = scanned.open(path)?;
    let (prefix, complete) = stream::read_prefix_of(path, &mut reader)?;
    let (head, tail) = stream::split_prefix(path, &prefix, complete)?;
    let mut rest = tail.chain(reader);
    let mut rows = CloudRows::new(path, file_is_recycle_bin(path));
    rows.skip_proxy_addresses = unread.proxy_addresses;
    let n = csv::visit_stream(path, head, &mut rest, &mut rows)?;
    rows.finish(&mut state, n, true)?;
    state.sources.push(CloudSource {
        description: path.display().to_string(),
        sha256: Some(scanned.sha256),
        rows: n,
    });
    Ok(state)
}

/// [`read`] on the whole file in memory: XLSX, and files that cannot be read twice (pipes).
fn read_bytes(path: &Path, bytes: Vec<u8>, unread: Unread) -> Result<CloudState, InputError> {
    let sha256 = sources::sha256_hex(&bytes);
    let mut state = nothing_read();
    let mut description = path.display().to_string();
    let mut total = 0;
    match sources::sniff_bytes(path, &bytes)? {
        ByteKind::Zip => {
            let mut wb = xlsx::open(path, bytes)?;
            let first = xlsx::choose_sheet(path, &wb, None)?;
            let mut rows = CloudRows::new(path, file_is_recycle_bin(path));
            rows.skip_proxy_addresses = unread.proxy_addresses;
            let n = xlsx::visit(path, &mut wb, &first, &mut rows)?;
            rows.finish(&mut state, n, true)?;
            total += n;
            // The recycle bin under any usual name ("Deleted users" as `cloud export` writes
            // it, "Deleted", "Recycle bin"); any other sheet but the snapshot's tenant
            // description (read by `export::read_snapshot_info`) is named as not read.
            let (bins, others): (Vec<String>, Vec<String>) = xlsx::sheet_names(&wb)
                .into_iter()
                .skip(1)
                .filter(|s| !s.eq_ignore_ascii_case(super::export::TENANT_SHEET))
                .partition(|s| names_recycle_bin(s));
            let mut read = vec![first];
            for sheet in bins {
                let mut rows = CloudRows::new(path, true);
                rows.skip_proxy_addresses = unread.proxy_addresses;
                let n = xlsx::visit(path, &mut wb, &sheet, &mut rows)?;
                rows.finish(&mut state, n, false)?;
                total += n;
                read.push(sheet);
            }
            if !others.is_empty() {
                state.warnings.push(format!(
                    "{}: sheet(s) {} not read: only the first sheet (active users) and sheets named like \
                     \"{DELETED_SHEET}\" (the recycle bin) are",
                    path.display(),
                    others.join(", ")
                ));
            }
            description = format!("{description} (sheet {})", read.join(" and "));
        }
        ByteKind::Text => {
            let (text, _encoding, warning) = text::decode_owned(path, bytes)?;
            state.warnings.extend(warning);
            sources::check_text(path, &text)?;
            let mut rows = CloudRows::new(path, file_is_recycle_bin(path));
            rows.skip_proxy_addresses = unread.proxy_addresses;
            let n = csv::visit(path, &text, &mut rows)?;
            // The users own their values; the file's text is not needed for the checks below.
            drop(text);
            rows.finish(&mut state, n, true)?;
            total += n;
        }
    }
    state.sources.push(CloudSource {
        description,
        sha256: Some(sha256),
        rows: total,
    });
    Ok(state)
}
