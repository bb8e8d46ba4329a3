//! Writes a [`CloudState`] as the cloud export `plan --cloud` reads back: an XLSX with a "Users"
//! and a "Deleted users" sheet, or a CSV plus `<stem>-deleted.csv`. Every cell is text, so an
//! ImmutableId such as `+AbC…` or `=x` stays a value and is never a formula.

use super::file::DELETED_SHEET;
use super::{CloudState, CloudUser};
use crate::error::InputError;
use crate::fsutil::AtomicFile;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The sheet of active users.
pub const USERS_SHEET: &str = "Users";

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

/// Writes `state` to `path` (format from its extension) and returns the files written, the
/// active users' first. Nothing is left behind on failure: each file is written beside its
/// target and renamed only when all of them are complete.
pub fn write_export(path: &Path, state: &CloudState) -> Result<Vec<PathBuf>, ExportError> {
    let with_roles = state.users.iter().any(|u| u.privileged_roles.is_some());
    match ExportFormat::from_path(path)? {
        ExportFormat::Xlsx => {
            let mut out = AtomicFile::create(path).map_err(io_err(path))?;
            write_xlsx(&mut out, state, with_roles).map_err(|source| ExportError::Xlsx {
                path: path.to_path_buf(),
                source,
            })?;
            out.commit().map_err(io_err(path))?;
            Ok(vec![path.to_path_buf()])
        }
        ExportFormat::Csv => {
            let deleted_path = deleted_csv_path(path);
            let active = write_csv(path, &state.users, with_roles)?;
            let deleted = write_csv(&deleted_path, &state.deleted, with_roles)?;
            // Both are complete; only now do they replace what was there.
            active.commit().map_err(io_err(path))?;
            deleted.commit().map_err(io_err(&deleted_path))?;
            Ok(vec![path.to_path_buf(), deleted_path])
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
    workbook.save_to_writer(out.file())
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
