//! LDIF (RFC 2849) as ldifde and ldapsearch write it.

use super::AdUser;
use crate::anchor::HexAs;
use crate::error::InputError;
use std::path::Path;

/// Parse decoded LDIF text into users. Returns the users and file-level warnings.
pub(crate) fn read(
    path: &Path,
    text: &str,
    hex_as: Option<HexAs>,
) -> Result<(Vec<AdUser>, Vec<String>), InputError> {
    let _ = (path, text, hex_as);
    todo!("sources::ldif::read")
}
