//! Writes a [`CloudState`] as the cloud export `plan --cloud` reads back: an XLSX with a "Users",
//! a "Deleted users" and a "Tenant" sheet, or a CSV plus `<stem>-deleted.csv` and
//! `<stem>-tenant.csv`. Every cell is text, so an ImmutableId such as `+AbC…` or `=x` stays a
//! value and is never a formula. The tenant part ([`SnapshotInfo`]: which tenant, when, its sync
//! features and the read's warnings) is what makes a snapshot plan exactly like the live read;
//! [`read_snapshot_info`] reads it back.

use super::file::DELETED_SHEET;
use super::{CloudState, CloudUser, TenantFeatures};
use crate::error::InputError;
use crate::fsutil::AtomicFile;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The sheet of active users.
pub const USERS_SHEET: &str = "Users";
/// The sheet (or, for a CSV, the `<stem>-tenant.csv` file) describing the tenant and the read.
pub const TENANT_SHEET: &str = "Tenant";

/// What a snapshot records about the tenant and the read, besides its users.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The tenant signed in to, as given (`--tenant`: an id or a verified domain); empty when
    /// an access token chose it.
    pub tenant: String,
    /// The Graph service root read, e.g. `https://graph.microsoft.com/v1.0`.
    pub graph: String,
    /// When the read started, RFC 3339 UTC.
    pub read_at: String,
    /// The tenant's sync features; `None` when they could not be read (the warnings say why).
    pub features: Option<TenantFeatures>,
    /// Whether privileged roles were read (not with `--no-roles`).
    pub roles_read: bool,
    /// The live read's warnings, so a plan from the snapshot repeats them.
    pub warnings: Vec<String>,
    /// The hardmatch version that wrote it.
    pub tool_version: String,
}

const P_TENANT: &str = "Tenant";
const P_GRAPH: &str = "Graph";
const P_READ_AT: &str = "ReadAt";
const P_BLOCK_TAKEOVER: &str = "BlockCloudObjectTakeoverThroughHardMatchEnabled";
const P_BLOCK_SOFT: &str = "BlockSoftMatchEnabled";
const P_ROLES: &str = "PrivilegedRoles";
const P_WARNING: &str = "Warning";
const P_VERSION: &str = "ToolVersion";
const UNKNOWN: &str = "unknown";

impl SnapshotInfo {
    /// Property/value pairs, as the Tenant sheet and the `-tenant.csv` hold them.
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let flag = |f: Option<bool>| match f {
            Some(true) => "True".to_string(),
            Some(false) => "False".to_string(),
            None => UNKNOWN.to_string(),
        };
        let f = self.features.as_ref();
        let mut pairs = vec![
            (P_TENANT, self.tenant.clone()),
            (P_GRAPH, self.graph.clone()),
            (P_READ_AT, self.read_at.clone()),
            (
                P_BLOCK_TAKEOVER,
                flag(f.map(|f| f.block_cloud_object_takeover_through_hard_match)),
            ),
            (P_BLOCK_SOFT, flag(f.map(|f| f.block_soft_match))),
            (
                P_ROLES,
                if self.roles_read { "read" } else { "not read" }.to_string(),
            ),
            (P_VERSION, self.tool_version.clone()),
        ];
        pairs.extend(self.warnings.iter().map(|w| (P_WARNING, w.clone())));
        pairs
    }

    fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> SnapshotInfo {
        let mut info = SnapshotInfo::default();
        let (mut takeover, mut soft) = (None, None);
        let flag = |v: &str| match v.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        };
        for (k, v) in pairs {
            match k.trim() {
                k if k.eq_ignore_ascii_case(P_TENANT) => info.tenant = v,
                k if k.eq_ignore_ascii_case(P_GRAPH) => info.graph = v,
                k if k.eq_ignore_ascii_case(P_READ_AT) => info.read_at = v,
                k if k.eq_ignore_ascii_case(P_BLOCK_TAKEOVER) => takeover = flag(&v),
                k if k.eq_ignore_ascii_case(P_BLOCK_SOFT) => soft = flag(&v),
                k if k.eq_ignore_ascii_case(P_ROLES) => info.roles_read = v.trim() == "read",
                k if k.eq_ignore_ascii_case(P_VERSION) => info.tool_version = v,
                k if k.eq_ignore_ascii_case(P_WARNING) && !v.trim().is_empty() => {
                    info.warnings.push(v)
                }
                _ => {}
            }
        }
        if let (Some(t), Some(s)) = (takeover, soft) {
            info.features = Some(TenantFeatures {
                block_cloud_object_takeover_through_hard_match: t,
                block_soft_match: s,
            });
        }
        info
    }
}

/// Column names, as Graph / `Get-MgUser` spell them (the names the cloud reader accepts).
const COLUMNS: [&str; 9] = [
    "Id",
    "UserPrincipalName",
    "OnPremisesImmutableId",
    "OnPremisesSyncEnabled",
    "Mail",
    "ProxyAddresses",
    "DisplayName",
    "OnPremisesObjectIdentifier",
    "DeletedDateTime",
];
const ROLES_COLUMN: &str = "PrivilegedRoles";

/// The file kinds `cloud export` writes, chosen by the output's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Xlsx,
    Csv,
}

impl ExportFormat {
    /// `.xlsx` or `.csv` (any case); anything else is refused.
    pub fn from_path(path: &Path) -> Result<ExportFormat, InputError> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("xlsx") => Ok(ExportFormat::Xlsx),
            Some("csv") => Ok(ExportFormat::Csv),
            _ => Err(InputError::new(
                path,
                "",
                "the output must end in .xlsx or .csv",
                "name the snapshot cloud.xlsx (one workbook, deleted users on a second sheet) \
                 or cloud.csv (deleted users go to cloud-deleted.csv)",
            )),
        }
    }
}

/// Where a CSV export puts the deleted users: `<stem>-deleted.csv` next to `path`.
pub fn deleted_csv_path(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "cloud".into());
    path.with_file_name(format!("{stem}-deleted.csv"))
}

/// Where a CSV export describes the tenant: `<stem>-tenant.csv` next to `path`. For the
/// `-deleted.csv` of a snapshot, the same file as for its main CSV.
pub fn tenant_csv_path(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "cloud".into());
    let stem = stem.strip_suffix("-deleted").unwrap_or(&stem);
    path.with_file_name(format!("{stem}-tenant.csv"))
}

/// Every file `write_export(path, …)` writes: the one workbook, or the three CSVs.
pub fn snapshot_files(path: &Path) -> Result<Vec<PathBuf>, InputError> {
    Ok(match ExportFormat::from_path(path)? {
        ExportFormat::Xlsx => vec![path.to_path_buf()],
        ExportFormat::Csv => vec![
            path.to_path_buf(),
            deleted_csv_path(path),
            tenant_csv_path(path),
        ],
    })
}

/// What a cloud export file says about its tenant: the "Tenant" sheet of an XLSX, or the
/// `<stem>-tenant.csv` beside a CSV (or the file itself, when `path` is that file). `None` for
/// an export that has none (not written by `cloud export`, or by an older version).
pub fn read_snapshot_info(path: &Path) -> Result<Option<(PathBuf, SnapshotInfo)>, InputError> {
    if is_tenant_csv(path) {
        return read_tenant_csv(path).map(|i| i.map(|i| (path.to_path_buf(), i)));
    }
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("csv") => {
            let side = tenant_csv_path(path);
            if side.is_file() {
                read_tenant_csv(&side).map(|i| i.map(|i| (side, i)))
            } else {
                Ok(None)
            }
        }
        Some("xlsx") => Ok(read_tenant_sheet(path).map(|i| (path.to_path_buf(), i))),
        _ => Ok(None),
    }
}

/// Whether `path` is a `<stem>-tenant.csv` (the name and its `Property,Value` header).
pub fn is_tenant_csv(path: &Path) -> bool {
    let named = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .is_some_and(|n| n.ends_with("-tenant.csv"));
    named
        && std::fs::File::open(path).is_ok_and(|f| {
            let mut r = csv::ReaderBuilder::new().has_headers(false).from_reader(f);
            r.records().next().is_some_and(|rec| {
                rec.is_ok_and(|rec| {
                    rec.len() == 2
                        && rec[0]
                            .trim_start_matches('\u{feff}')
                            .eq_ignore_ascii_case("Property")
                        && rec[1].eq_ignore_ascii_case("Value")
                })
            })
        })
}

fn read_tenant_csv(path: &Path) -> Result<Option<SnapshotInfo>, InputError> {
    let bad = |e: &dyn std::fmt::Display| {
        InputError::new(
            path,
            "",
            format!("not a readable tenant description: {e}"),
            "export the tenant again with hardmatch cloud export, or remove this file",
        )
    };
    let text = std::fs::read(path).map_err(|e| bad(&e))?;
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text);
    let mut pairs = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| bad(&e))?;
        pairs.push((
            rec.get(0).unwrap_or_default().to_string(),
            rec.get(1).unwrap_or_default().to_string(),
        ));
    }
    Ok(Some(SnapshotInfo::from_pairs(pairs)))
}

/// The "Tenant" sheet, if the workbook has one. Anything unreadable is left to the users'
/// reader, which names the problem.
fn read_tenant_sheet(path: &Path) -> Option<SnapshotInfo> {
    use calamine::Reader;
    let file = std::fs::File::open(path).ok()?;
    let mut wb = calamine::Xlsx::new(std::io::BufReader::new(file)).ok()?;
    let name = wb
        .sheet_names()
        .into_iter()
        .find(|n| n.eq_ignore_ascii_case(TENANT_SHEET))?;
    let range = wb.worksheet_range(&name).ok()?;
    let pairs = range.rows().skip(1).map(|r| {
        let cell = |i: usize| r.get(i).map(|c| c.to_string()).unwrap_or_default();
        (cell(0), cell(1))
    });
    Some(SnapshotInfo::from_pairs(pairs))
}

/// Why an export could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Xlsx {
        path: PathBuf,
        source: rust_xlsxwriter::XlsxError,
    },
    #[error("cannot write {}: {source}", path.display())]
    Csv { path: PathBuf, source: csv::Error },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `state` to `path` (format from its extension), with `info` on the Tenant sheet or in
/// `<stem>-tenant.csv`, and returns the files written, the active users' first. Nothing is
/// left behind on failure: each file is written beside its target and renamed only when all of
/// them are complete.
pub fn write_export(
    path: &Path,
    state: &CloudState,
    info: &SnapshotInfo,
) -> Result<Vec<PathBuf>, ExportError> {
    let with_roles = state.users.iter().any(|u| u.privileged_roles.is_some());
    match ExportFormat::from_path(path)? {
        ExportFormat::Xlsx => {
            let mut out = AtomicFile::create(path).map_err(io_err(path))?;
            write_xlsx(&mut out, state, info, with_roles).map_err(|source| ExportError::Xlsx {
                path: path.to_path_buf(),
                source,
            })?;
            out.commit().map_err(io_err(path))?;
            Ok(vec![path.to_path_buf()])
        }
        ExportFormat::Csv => {
            let deleted_path = deleted_csv_path(path);
            let tenant_path = tenant_csv_path(path);
            let active = write_csv(path, &state.users, with_roles)?;
            let deleted = write_csv(&deleted_path, &state.deleted, with_roles)?;
            let tenant = write_pairs_csv(&tenant_path, info)?;
            // All are complete; only now do they replace what was there.
            active.commit().map_err(io_err(path))?;
            deleted.commit().map_err(io_err(&deleted_path))?;
            tenant.commit().map_err(io_err(&tenant_path))?;
            Ok(vec![path.to_path_buf(), deleted_path, tenant_path])
        }
    }
}

fn header(with_roles: bool) -> Vec<&'static str> {
    let mut h = COLUMNS.to_vec();
    if with_roles {
        h.push(ROLES_COLUMN);
    }
    h
}

fn cells(u: &CloudUser, with_roles: bool) -> Vec<String> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut row = vec![
        u.id.clone(),
        u.upn.clone(),
        opt(&u.immutable_id),
        match u.sync_enabled {
            Some(true) => "True".into(),
            Some(false) => "False".into(),
            None => String::new(),
        },
        opt(&u.mail),
        u.proxy_addresses.join(";"),
        opt(&u.display_name),
        opt(&u.on_prem_object_identifier),
        opt(&u.deleted_date_time),
    ];
    if with_roles {
        row.push(
            u.privileged_roles
                .as_ref()
                .map(|r| r.join(";"))
                .unwrap_or_default(),
        );
    }
    row
}

fn write_xlsx(
    out: &mut AtomicFile,
    state: &CloudState,
    info: &SnapshotInfo,
    with_roles: bool,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (name, users) in [(USERS_SHEET, &state.users), (DELETED_SHEET, &state.deleted)] {
        // Constant memory: rows go straight to a temp file, so a million users cost megabytes.
        let sheet = workbook.add_worksheet_with_constant_memory()?;
        sheet.set_name(name)?;
        for (c, h) in header(with_roles).iter().enumerate() {
            sheet.write_string_with_format(0, c as u16, *h, &bold)?;
        }
        for (r, u) in users.iter().enumerate() {
            let row = r as u32 + 1;
            for (c, v) in cells(u, with_roles).iter().enumerate() {
                if !v.is_empty() {
                    sheet.write_string(row, c as u16, v)?;
                }
            }
        }
        sheet.set_freeze_panes(1, 0)?;
        if !users.is_empty() {
            sheet.autofilter(
                0,
                0,
                users.len() as u32,
                header(with_roles).len() as u16 - 1,
            )?;
        }
    }
    let sheet = workbook.add_worksheet();
    sheet.set_name(TENANT_SHEET)?;
    sheet.write_string_with_format(0, 0, "Property", &bold)?;
    sheet.write_string_with_format(0, 1, "Value", &bold)?;
    for (r, (k, v)) in info.pairs().iter().enumerate() {
        sheet.write_string(r as u32 + 1, 0, *k)?;
        sheet.write_string(r as u32 + 1, 1, v)?;
    }
    sheet.set_column_width(0, 48)?;
    sheet.set_column_width(1, 60)?;
    workbook.save_to_writer(out.file())
}

fn write_pairs_csv(path: &Path, info: &SnapshotInfo) -> Result<AtomicFile, ExportError> {
    let csv_err = |source| ExportError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut out = AtomicFile::create(path).map_err(io_err(path))?;
    out.write_all(b"\xEF\xBB\xBF").map_err(io_err(path))?;
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(std::io::BufWriter::new(&mut out));
        w.write_record(["Property", "Value"]).map_err(csv_err)?;
        for (k, v) in info.pairs() {
            w.write_record([k, v.as_str()]).map_err(csv_err)?;
        }
        w.flush().map_err(io_err(path))?;
    }
    Ok(out)
}

fn write_csv(
    path: &Path,
    users: &[CloudUser],
    with_roles: bool,
) -> Result<AtomicFile, ExportError> {
    let csv_err = |source| ExportError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut out = AtomicFile::create(path).map_err(io_err(path))?;
    // A BOM, so Excel opens non-ASCII names correctly; the cloud reader skips it.
    out.write_all(b"\xEF\xBB\xBF").map_err(io_err(path))?;
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(std::io::BufWriter::new(&mut out));
        w.write_record(header(with_roles)).map_err(csv_err)?;
        for u in users {
            w.write_record(cells(u, with_roles)).map_err(csv_err)?;
        }
        w.flush().map_err(io_err(path))?;
    }
    Ok(out)
}

/// What the snapshots say about the tenant goes where the live read puts it: the sync features
/// (the plan warns from them as for `--cloud graph`) and the read's warnings; plus how old the
/// read is. Without any, the features are unknown, and the plan says so.
pub fn apply_snapshots(
    cloud: &mut CloudState,
    snapshots: &[(PathBuf, SnapshotInfo)],
    now: chrono::DateTime<chrono::Utc>,
) {
    if snapshots.is_empty() {
        cloud.warnings.push(
            "the cloud export carries no tenant description (it was not written by hardmatch cloud export, or by an \
             older version), so BlockCloudObjectTakeoverThroughHardMatchEnabled was not checked: if it is on, Entra \
             Connect refuses every hard match. Plan with --cloud graph, or from a new cloud export, to check it."
                .into(),
        );
        return;
    }
    for (path, info) in snapshots {
        cloud.features = cloud.features.clone().or(info.features.clone());
        for w in &info.warnings {
            if !cloud.warnings.contains(w) {
                cloud.warnings.push(w.clone());
            }
        }
        if let Some(age) = snapshot_age(info, now) {
            if age > chrono::Duration::hours(24) {
                cloud.warnings.push(format!(
                    "{} describes a read of the tenant {}: what changed since (new users, deletions, \
                     ImmutableIds set) is not in this plan. Export the tenant again, or plan with --cloud graph.",
                    path.display(),
                    describe_age(age)
                ));
            }
        }
    }
}

/// How long before `now` the snapshot was read; `None` when its time is missing or unreadable.
pub fn snapshot_age(
    info: &SnapshotInfo,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<chrono::Duration> {
    let read = chrono::DateTime::parse_from_rfc3339(info.read_at.trim()).ok()?;
    Some(now.signed_duration_since(read.with_timezone(&chrono::Utc)))
}

/// "3 days ago", "5 hours ago", "12 minutes ago", "less than a minute ago".
pub fn describe_age(age: chrono::Duration) -> String {
    if age.num_minutes() < 1 {
        return "less than a minute ago".into();
    }
    let (n, unit) = if age.num_days() >= 2 {
        (age.num_days(), "days")
    } else if age.num_hours() >= 2 {
        (age.num_hours(), "hours")
    } else {
        (age.num_minutes().max(0), "minutes")
    };
    if n == 1 {
        format!("1 {} ago", unit.trim_end_matches('s'))
    } else {
        format!("{n} {unit} ago")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_brings_its_features_and_warnings_and_an_old_one_is_named_old() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-05T12:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let info = SnapshotInfo {
            tenant: "contoso.onmicrosoft.com".into(),
            graph: "https://graph.microsoft.com/v1.0".into(),
            read_at: "2026-11-02T09:00:00Z".into(),
            features: Some(crate::cloud::TenantFeatures {
                block_cloud_object_takeover_through_hard_match: true,
                block_soft_match: false,
            }),
            warnings: vec!["read warning".into()],
            ..SnapshotInfo::default()
        };
        let mut cloud = CloudState::default();
        let snapshots = vec![(PathBuf::from("cloud.xlsx"), info.clone())];
        apply_snapshots(&mut cloud, &snapshots, now);
        assert_eq!(cloud.features, info.features);
        assert_eq!(cloud.warnings[0], "read warning");
        assert!(
            cloud.warnings[1].contains("cloud.xlsx describes a read of the tenant 3 days ago"),
            "{:?}",
            cloud.warnings
        );
        let line =
            crate::workbook::InputSummary::for_snapshot(Path::new("cloud.xlsx"), &info, now).path;
        assert!(
            line.contains("tenant contoso.onmicrosoft.com") && line.contains("(3 days ago)"),
            "{line}"
        );

        let fresh = SnapshotInfo {
            read_at: "2026-11-05T11:15:00Z".into(),
            ..info
        };
        let mut cloud = CloudState::default();
        apply_snapshots(&mut cloud, &[(PathBuf::from("c.csv"), fresh)], now);
        assert_eq!(cloud.warnings, ["read warning"], "45 minutes is not old");

        let mut cloud = CloudState::default();
        apply_snapshots(&mut cloud, &[], now);
        assert!(cloud.features.is_none());
        assert!(
            cloud.warnings[0].contains("was not checked"),
            "{:?}",
            cloud.warnings
        );
    }
}
