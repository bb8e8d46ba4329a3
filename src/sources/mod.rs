//! Read an on-premises AD export (PowerShell CSV, csvde CSV, XLSX, ldifde/ldapsearch LDIF) into
//! [`AdUser`] rows. One entry point, [`read_ad_export`]; the format is detected from the content.

mod ldif;
pub mod text;

use crate::anchor::{HexAs, SourceAnchor};
use crate::error::InputError;
use std::path::{Path, PathBuf};

/// One AD user as exported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdUser {
    /// UserPrincipalName as exported (untrimmed; matching trims and folds case).
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
}

/// Read an AD export. File-level problems (unreadable, no UPN or GUID column, corrupt XLSX) are an
/// [`InputError`]; row-level problems land in [`AdUser::problems`] and the run goes on.
pub fn read_ad_export(path: &Path, opts: &ReadOptions) -> Result<AdExport, InputError> {
    let _ = (path, opts);
    todo!("sources::read_ad_export")
}
